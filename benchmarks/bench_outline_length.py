"""Length of a freehand outline (its longest chord): convex hull + antipodal vertices vs all point pairs.

    python benchmarks/bench_outline_length.py [--lidc ../shared/real-data/lidc-dev]

Prints ms per outline for opseg's way at 500 to 50,000 points and for the all-pairs Python loop it replaced
(measured at 500 and 2,000 points; it grows as n^2), with the ratio where both ran. With --lidc, also the real
nodule outlines (the contour of each LIDC mask on its largest slice, in the crop's real pixel spacing): both
ways, their largest disagreement and their total time.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from curation.extract.annotation_builder import longest_chord_mm, mm_distance

SPACING = [0.8, 0.8]


def all_pairs(pts):
    return max(mm_distance(p, q, SPACING) for i, p in enumerate(pts) for q in pts[i + 1:])


def best_ms(fn, pts, repeat):
    """(best ms over the repeats, the value)"""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        value = fn(pts)
        times.append(time.perf_counter() - t)
    return 1e3 * min(times), value


def lidc_outlines(folder: Path):
    """(points (column, row) PIXEL, [row, column] spacing) of each nodule's contour on its largest axial slice."""
    import nibabel as nib
    from skimage.measure import find_contours

    for path in sorted((folder / "nodule_mask").glob("*.nii.gz")):
        img = nib.load(path)
        mask = np.asanyarray(img.dataobj) > 0  # (x, y, z) as stored
        if not mask.any():
            continue
        k = int(np.argmax(mask.sum(axis=(0, 1))))
        contour = max(find_contours(mask[:, :, k].T.astype(float), 0.5), key=len)  # (row, column)
        sx, sy = (float(v) for v in img.header.get_zooms()[:2])
        yield contour[:, ::-1] + 0.5, [sy, sx]


def real(folder: Path):
    outlines = list(lidc_outlines(folder))
    t = time.perf_counter()
    new = [longest_chord_mm(p, s) for p, s in outlines]
    t_new = time.perf_counter() - t
    t = time.perf_counter()
    old = [max(mm_distance(a, b, s) for i, a in enumerate(p) for b in p[i + 1:]) for p, s in outlines]
    t_old = time.perf_counter() - t
    sizes = [len(p) for p, _ in outlines]
    print(f"LIDC nodule outlines: {len(outlines)}, {min(sizes)}-{max(sizes)} points (median {int(np.median(sizes))}); "
          f"max |hull - all pairs| = {max(abs(a - b) for a, b in zip(new, old)):.2e} mm; "
          f"hull {t_new:.3f} s, all pairs {t_old:.2f} s in total ({t_old / t_new:.0f}x)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lidc", type=Path, help="LIDC dev folder (image/, nodule_mask/): also measure real outlines")
    args = ap.parse_args()
    if args.lidc:
        real(args.lidc)
    rng = np.random.default_rng(0)
    print(f"{'points':>8} {'hull ms':>10} {'all pairs ms':>14} {'ratio':>8}")
    for n in (500, 2000, 5000, 50_000):
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))  # a wobbly closed outline: most points on the hull
        r = 40 + rng.normal(0, 0.5, n)
        pts = np.column_stack([256 + r * np.cos(angles), 256 + r * np.sin(angles)])
        hull, length = best_ms(lambda p: longest_chord_mm(p, SPACING), pts, 5)
        naive, expected = best_ms(all_pairs, pts, 1) if n <= 2000 else (None, length)
        assert abs(length - expected) < 1e-9, (length, expected)
        print(f"{n:>8} {hull:>10.2f} {naive if naive is not None else float('nan'):>14.1f} "
              f"{naive / hull if naive is not None else float('nan'):>8.0f}")


if __name__ == "__main__":
    main()
