"""Where the demo phantom's Dice is lost, per prompt kind: extra / missed voxels on the prompt slice, on the other
slices both the mask and the truth cover, on slices only the mask covers and on slices only the truth covers
(each as a fraction of the truth's voxels, mean over the masks of the kind).

    python benchmarks/demo_dice_breakdown.py OUT DEMO [--cases]

OUT: an opseg output folder after `opseg segment`; DEMO: the `opseg demo-archive` folder it was extracted from.
Synthetic phantom data: says nothing about real CT."""
from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np

from curation.demo.truth import DemoTruth
from curation.io.tables import read_records
from schemas import AnnotationRecord, MaskRecord
from schemas.mask_nifti import paste

PARTS = ("prompt-slice extra", "prompt-slice missed", "other-slice extra", "other-slice missed", "extra slices",
         "missed slices")


def breakdown(pred: np.ndarray, truth: np.ndarray, k: int) -> dict[str, float]:
    """The error parts of one mask (see the module docstring), as fractions of the truth's voxels."""
    mz, tz = pred.any(axis=(1, 2)), truth.any(axis=(1, 2))
    both = mz & tz
    both[k] = False
    n = float(truth.sum())
    parts = ((pred[k] & ~truth[k]).sum(), (truth[k] & ~pred[k]).sum(), (pred[both] & ~truth[both]).sum(),
             (truth[both] & ~pred[both]).sum(), pred[mz & ~tz].sum(), truth[tz & ~mz].sum())
    return {name: float(v) / n for name, v in zip(PARTS, parts)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("demo", type=Path)
    ap.add_argument("--cases", action="store_true", help="one line per mask too")
    args = ap.parse_args()
    truth = DemoTruth(args.demo)
    anns = {a.annotation_id: a for a in read_records(args.out, AnnotationRecord)}
    per_kind: dict[str, list[dict]] = defaultdict(list)
    for m in read_records(args.out, MaskRecord):
        a = anns.get(m.annotation_id)
        t = truth.mark_for(a) if a is not None else None
        if t is None or m.error is not None:
            continue
        lab = truth.lesion_labels(t["series_uid"]) == t["lesion_id"]
        pred = paste(m.mask, m.bbox, lab.shape)
        row = {"dice": 2 * float((pred & lab).sum()) / float(pred.sum() + lab.sum()), **breakdown(pred, lab, a.slice_index)}
        per_kind[a.kind].append(row)
        if args.cases:
            print(f"{a.kind:13s} {t['style']:9s} lesion {t['lesion_id']} slice {a.slice_index}: "
                  + ", ".join(f"{k} {v:.3f}" for k, v in row.items()))
    print("| prompt kind | n | Dice | " + " | ".join(PARTS) + " |")
    print("|---|---|---|" + "---|" * len(PARTS))
    for kind, rows in sorted(per_kind.items()):
        print(f"| {kind} | {len(rows)} | " + " | ".join(f"{np.mean([r[p] for r in rows]):.3f}" for p in ("dice", *PARTS)) + " |")


if __name__ == "__main__":
    main()
