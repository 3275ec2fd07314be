"""The whole path on real nodules: LIDC-IDRI crops written as DICOM CT + one GSPS per mark (line,
bidimensional, arrow; the standard layout or a viewer's), through ``extract`` and ``segment``, against the same prompts given to the segmenter
directly (what ``opseg eval`` and calibrate_qc.py measure). Shows whether reading marks from DICOM (pixel
conventions, the GSPS writer/reader, the catalog's geometry, the volume cache) costs Dice anywhere.

    python benchmarks/lidc_whole_path.py ../shared/real-data/lidc-dev [--half tune|holdout|all] [--max-cases N]
    python benchmarks/lidc_whole_path.py ../shared/real-data/lidc-dev --half tune --tip-only [--misses]

``--tip-only`` writes no DICOM: it gives each arrow to the segmenter directly twice, as drawn and with its tail on
its tip (a TID 1500 SR arrow is a POINT at its tip), and prints both Dice per size bucket and location class (the
fast loop for the all-round search of a bare tip; ``--misses`` lists the arrows the bare tip loses most on).

Prompts are drawn as ``opseg eval`` draws them (same seed and per-crop generator). A mark point outside the crop (an arrow's
tail, a jittered calliper end) is moved onto it, for both paths alike: a GSPS point must lie on the image.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))   # the tests' LIDC-as-DICOM writer

from real_ct import write_lidc_study  # noqa: E402

from curation.demo.gsps_styles import STYLES  # noqa: E402
from curation.extract.stage import extract  # noqa: E402
from curation.io.tables import read_records  # noqa: E402
from schemas import AnnotationRecord, MaskRecord  # noqa: E402
from schemas.mask_nifti import paste  # noqa: E402
from segmentation.classical import ClassicalSegmenter  # noqa: E402
from segmentation.evaluate import bootstrap_ci, dice  # noqa: E402
from segmentation.prompts import Prompt  # noqa: E402
from segmentation.real_eval import drawn_cases, location_class, selected_cases, size_bucket  # noqa: E402
from segmentation.recist import recist_axes  # noqa: E402
from segmentation.stage import run_segment  # noqa: E402

GSPS_KINDS = ("line", "bidimensional", "arrow")


def on_image(prompt, shape) -> None:
    """Put a mark on the image (half a pixel in from the edge), as a GSPS requires: an arrow's tail moves along its
    shaft, any other point (a jittered calliper end past a small crop's edge) is clipped."""
    hi = np.array(shape, float) - 0.5
    if prompt.kind != "arrow":
        prompt.points = np.clip(prompt.points.astype(float), 0.5, hi)
        return
    prompt.tip = np.clip(prompt.tip.astype(float), 0.5, hi)
    tail, tip = prompt.points[0].astype(float), prompt.tip
    if np.all((tail >= 0.5) & (tail <= hi)):
        return
    d = tail - tip
    with np.errstate(divide="ignore", invalid="ignore"):
        limits = np.where(d > 0, (hi - tip) / d, np.where(d < 0, (0.5 - tip) / d, np.inf))
    prompt.points[0] = tip + d * min(1.0, float(limits.min()))


def on_canvas(hu: np.ndarray, truth: np.ndarray, marks, size: int):
    """The crop in the middle of a ``size`` x ``size`` image, its edge pixels carried outwards (the crops end a
    few mm past the nodule, where a reader's arrow starts: on a whole CT slice its tail lies on the image)."""
    pad = [(0, 0)] + [((size - n) // 2, size - n - (size - n) // 2) if n < size else (0, 0) for n in hu.shape[1:]]
    shift = np.array([pad[1][0], pad[2][0]], float)
    for p in marks:
        p.points = p.points + shift
        if p.tip is not None:
            p.tip = p.tip + shift
    return np.pad(hu, pad, mode="edge"), np.pad(truth, pad)


def tip_only(cases, seg, args) -> None:
    """Each crop's arrow (the prompt ``opseg eval`` draws, on the same canvas as the whole path) given as drawn and
    as a bare tip; mean Dice of both per size bucket and location class."""
    rows = []
    for image, hu, truth, spacing, prompts in drawn_cases(cases, args.seed):
        arrow = prompts["arrow"]
        strata = (size_bucket(recist_axes(truth, spacing[1:])[0]), location_class(hu, truth, spacing))
        hu, truth = on_canvas(hu, truth, [arrow], args.canvas)
        on_image(arrow, truth.shape[1:])
        bare = Prompt("arrow", arrow.slice_index, arrow.tip[None].copy(), tip=arrow.tip.copy())   # as SR reads it
        scores, seconds = [], []
        for p in (arrow, bare):
            t0 = time.perf_counter()
            res, = seg.segment_many(hu, spacing, [p])
            seconds.append(time.perf_counter() - t0)
            scores.append(0.0 if isinstance(res, Exception) else dice(res.mask, truth))
        rows.append((image.name.split(".nii")[0], *strata, *scores, *seconds))
    drawn_s, bare_s = (np.mean([r[i] for r in rows]) for i in (5, 6))
    print(f"{len(rows)} arrows ({args.half}), given directly: as drawn and as a bare tip (tail on tip); "
          f"{drawn_s:.3f} s and {bare_s:.3f} s per arrow")
    print("| group | n | Dice, as drawn | Dice, bare tip | bare - drawn | pairs differing > 0.01 |")
    print("|---|---|---|---|---|---|")
    groups = [("all", rows)] + [(f"{name}: {g}", [r for r in rows if r[i] == g])
                                for i, name in ((1, "size"), (2, "location")) for g in sorted({r[i] for r in rows})]
    for g, rs in groups:
        d, b = np.array([r[3] for r in rs]), np.array([r[4] for r in rs])
        print(f"| {g} | {len(rs)} | {d.mean():.3f} | {b.mean():.3f} | {np.mean(b - d):+.4f} | {int((np.abs(b - d) > 0.01).sum())} |")
    if args.misses:
        for name, size, where, d, b, *_ in sorted(rows, key=lambda r: r[4] - r[3])[:25]:
            print(f"  {name} ({size}, {where}): as drawn {d:.3f}, bare tip {b:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data", type=Path)
    ap.add_argument("--half", default="all", choices=("all", "tune", "holdout"))
    ap.add_argument("--max-cases", type=int)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--canvas", type=int, default=160, help="image size the crop is centred in (px; 0: the crop alone)")
    ap.add_argument("--misses", action="store_true", help="list the marks read back as another kind")
    ap.add_argument("--style", default="standard", choices=(*STYLES, "sr"),
                    help="how the viewer writes its GSPS (curation.demo.gsps_styles), or sr: a TID 1500 measurement report")
    ap.add_argument("--tip-only", action="store_true",
                    help="no DICOM: each arrow given directly as drawn and with its tail on its tip, Dice per stratum")
    args = ap.parse_args()
    cases = selected_cases(args.data, args.half, args.max_cases or None, args.seed)
    seg = ClassicalSegmenter()
    if args.tip_only:
        tip_only(cases, seg, args)
        return
    tmp = Path(tempfile.mkdtemp(prefix="lidc_path_"))
    truths, direct, unwritable = {}, {}, []
    t0 = time.perf_counter()
    for image, hu, truth, spacing, prompts in drawn_cases(cases, args.seed):   # as opseg eval draws them
        name = image.name.split(".nii")[0]
        marks = [prompts[k] for k in GSPS_KINDS]
        hu, truth = on_canvas(hu, truth, marks, args.canvas)
        for p in marks:
            on_image(p, truth.shape[1:])
        for k, res in zip(GSPS_KINDS, seg.segment_many(hu, spacing, marks)):
            direct[(name, k)] = 0.0 if isinstance(res, Exception) else dice(res.mask, truth)
        truths[name] = truth
        try:
            write_lidc_study(name, tmp / "archive" / name, marks, spacing, hu, style=args.style)
        except ValueError:   # an arrow head past the crop's edge (its tip at the edge): not a mark a GSPS can hold
            shutil.rmtree(tmp / "archive" / name)
            write_lidc_study(name, tmp / "archive" / name, marks[:2], spacing, hu, style=args.style)
            unwritable.append(name)
            del direct[(name, "arrow")]
    t_write = time.perf_counter() - t0
    out = tmp / "out"
    t0 = time.perf_counter()
    extract(tmp / "archive", out, workers=args.workers)
    run_segment(out)
    t_path = time.perf_counter() - t0
    by_ann = {a.annotation_id: a for a in read_records(out, AnnotationRecord)}
    whole, as_kind = {}, defaultdict(int)
    for m in read_records(out, MaskRecord):
        a = by_ann[m.annotation_id]
        name, drawn = Path(a.source_path).parent.name, Path(a.source_path).stem.removeprefix("pr_")
        as_kind[(drawn, a.kind)] += 1
        if args.misses and a.kind != drawn:
            print(f"  {name}: {drawn} read back as {a.kind} {a.points_px}")
        pred = None if m.error else paste(m.mask, m.bbox, truths[name].shape)
        score = 0.0 if pred is None else dice(pred, truths[name])   # a mark read back as several: its best mask
        whole[(name, drawn)] = max(score, whole.get((name, drawn), 0.0))
    print(f"{len(truths)} crops ({args.half}, GSPS as {args.style} writes it), written as DICOM in {t_write:.0f} s; extract + segment {t_path:.0f} s; "
          f"{len(unwritable)} arrows left out (head past the crop's edge)")
    print("| kind | marks | read back as | Dice, direct | Dice, whole path | whole - direct (mean [95% CI]) | pairs differing > 0.01 |")
    print("|---|---|---|---|---|---|---|")
    for k in GSPS_KINDS:
        keys = sorted(key for key in direct if key[1] == k)
        d = np.array([direct[key] for key in keys])
        w = np.array([whole.get(key, 0.0) for key in keys])   # a mark the path lost scores 0
        lo, hi = bootstrap_ci(w - d)
        read = ", ".join(f"{kind} {n}" for (drawn, kind), n in sorted(as_kind.items()) if drawn == k)
        print(f"| {k} | {len(keys)} | {read} | {d.mean():.3f} | {w.mean():.3f} | {np.mean(w - d):+.4f} [{lo:+.4f}, {hi:+.4f}] | "
              f"{int((np.abs(w - d) > 0.01).sum())} |")
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
