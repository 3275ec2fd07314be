"""Where the weight-free default loses Dice on real nodules: the same masks as ``opseg eval`` (same prompts, seed
and per-crop generator), with each prompt kind's wrong voxels sorted by where they lie.

    python benchmarks/lidc_loss_anatomy.py ../shared/real-data/lidc-dev [--half tune|holdout|all] [--kinds line,mask]

Two Markdown tables per run:
- by slice: the truth's slices by position (the prompt slice; interior slices 1, 2, 3 and 4+ away from it; the
  truth's two end slices; slices beyond its ends the mask reaches) and lesion height (slices the truth spans),
  voxels pooled: truth voxels, mask/truth, recall, precision, Dice;
- by location (isolated / juxtapleural, as ``opseg eval``): mean Dice, false positive and false negative voxels per
  truth voxel, and the share of them in the one-pixel ring round the truth's outline on its slice (where readers'
  own outlines differ), off the prompt slice, and (false positives) in the chest wall (``real_eval.wall_tissue``).
Pooled voxels weigh large nodules more than the per-lesion mean Dice does; both are printed.
"""
from __future__ import annotations

import argparse
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy import ndimage

from segmentation.real_eval import evaluate_crops, wall_tissue
from segmentation.stage import make_segmenter

HEIGHTS = ((1, 4, "<= 4 slices"), (5, 8, "5-8 slices"), (9, 10 ** 6, "> 8 slices"))
POSITIONS = ("prompt slice", "interior, 1 off", "interior, 2 off", "interior, 3 off", "interior, 4+ off",
             "end slice", "beyond the ends")
IN_PLANE = np.ones((1, 3, 3), bool)


def _position(z: int, k: int, first: int, last: int) -> str:
    if z == k:
        return "prompt slice"
    if z < first or z > last:
        return "beyond the ends"
    if z in (first, last):
        return "end slice"
    return f"interior, {min(abs(z - k), 4)}{'+' if abs(z - k) >= 4 else ''} off"


def _height(n: int) -> str:
    return next(name for lo, hi, name in HEIGHTS if lo <= n <= hi)


class LossAnatomy:
    """``evaluate_crops``' ``extra``: tallies each mask's voxels by slice position and kind of error."""

    def __init__(self):
        self.slices = defaultdict(lambda: np.zeros(3))     # (kind, height, position) -> truth, mask, overlap voxels
        self.cases = defaultdict(list)                     # (kind, location) -> per-case tallies

    def __call__(self, kind, prompt, res, hu, truth, spacing) -> dict:
        if isinstance(res, Exception):
            return {}
        mask, k = res.mask, prompt.slice_index
        zs = np.flatnonzero(truth.any(axis=(1, 2)))
        height = _height(len(zs))
        for z in np.flatnonzero(truth.any(axis=(1, 2)) | mask.any(axis=(1, 2))):
            t, m = truth[z], mask[z]
            self.slices[kind, height, _position(int(z), k, zs[0], zs[-1])] += (t.sum(), m.sum(), (t & m).sum())
        ring = ndimage.binary_dilation(truth, IN_PLANE) & ~ndimage.binary_erosion(truth, IN_PLANE)
        off = np.ones(truth.shape[0], bool)
        off[k] = False
        fp, fn = mask & ~truth, truth & ~mask
        return {"anatomy": {"truth": int(truth.sum()), "fp": int(fp.sum()), "fn": int(fn.sum()),
                            "fp_ring": int((fp & ring).sum()), "fn_ring": int((fn & ring).sum()),
                            "fp_off": int(fp[off].sum()), "fn_off": int(fn[off].sum()),
                            "fp_wall": int((fp & wall_tissue(hu, truth)).sum())}}


def slice_table(anatomy: LossAnatomy, kind: str) -> str:
    lines = [f"**{kind}**, by slice (voxels pooled)", "",
             "| slices of the truth | lesion height | truth voxels | mask / truth | recall | precision | Dice |",
             "|---|---|---|---|---|---|---|"]
    for pos in POSITIONS:
        for _, _, height in HEIGHTS:
            t, m, tp = anatomy.slices.get((kind, height, pos), np.zeros(3))
            if t == 0 and m == 0:
                continue
            ratio = f"{m / t:.3f}" if t else f"{int(m)} voxels"
            recall = f"{tp / t:.3f}" if t else "-"
            lines.append(f"| {pos} | {height} | {int(t)} | {ratio} | {recall} | {tp / m if m else 0:.3f} "
                         f"| {2 * tp / (t + m):.3f} |")
    return "\n".join(lines)


def location_table(rows: list[dict], kind: str) -> str:
    lines = [f"**{kind}**, by location", "",
             "| location | lesions | mean Dice | FP / truth | FN / truth | FP in the ring | FN in the ring "
             "| FP off the prompt slice | FN off the prompt slice | FP in the chest wall |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for loc in ("isolated", "juxtapleural", "all"):
        rs = [r for r in rows if r["kind"] == kind and "anatomy" in r and loc in ("all", r["location"])]
        if not rs:
            continue
        s = {f: sum(r["anatomy"][f] for r in rs) for f in rs[0]["anatomy"]}
        shares = " | ".join(f"{s[a] / s[b]:.2f}" if s[b] else "-" for a, b in
                            (("fp_ring", "fp"), ("fn_ring", "fn"), ("fp_off", "fp"), ("fn_off", "fn"), ("fp_wall", "fp")))
        lines.append(f"| {loc} | {len(rs)} | {np.mean([r['dice'] for r in rs]):.3f} | {s['fp'] / s['truth']:.3f} "
                     f"| {s['fn'] / s['truth']:.3f} | {shares} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data", type=Path)
    ap.add_argument("--half", default="tune", choices=("all", "tune", "holdout"))
    ap.add_argument("--kinds", default="line,mask", help="comma-separated prompt kinds (drawn as opseg eval draws all)")
    ap.add_argument("--max-cases", type=int)
    args = ap.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)
    anatomy = LossAnatomy()
    res = evaluate_crops(args.data, make_segmenter("classical"), half=args.half, max_cases=args.max_cases,
                         extra=anatomy)
    print(f"Backend `{res['backend']}` on {res['dataset']} ({res['cases']} cases, half: {args.half}, seed 0)\n")
    for kind in args.kinds.split(","):
        print(slice_table(anatomy, kind), "\n")
        print(location_table(res["rows"], kind), "\n")


if __name__ == "__main__":
    main()
