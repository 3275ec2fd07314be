"""What a QC pass means on real lesions: QC metrics of default-backend masks next to their Dice vs truth.

Each real crop (``real_eval`` layout) gets the radiologist-like prompts of the kinds real archives hold (line,
bidimensional, arrow, point, box), is segmented, and each mask is run through ``curation.qc.stage.mask_metrics``
as the pipeline would. A QC pass is "good" when Dice >= ``GOOD_DICE``; precision = good passes / passes, recall =
good passes / good masks. ``search`` picks, on one half of the patients, the threshold set with the best recall
whose precision clears the aim; ``score`` reports any set on any rows (the other half: the honest figure).
"""
from __future__ import annotations

import dataclasses
import itertools
from typing import Callable, Optional

import numpy as np

from curation.qc.stage import SIZED_KINDS, QCThresholds, mask_metrics
from schemas.qc import GOOD_DICE
from schemas import AnnotationRecord, MaskRecord
from segmentation.real_eval import evaluate_crops
from segmentation.recist import recist_axes

QC_KINDS = ("line", "bidimensional", "arrow", "point", "box")
PERMISSIVE = QCThresholds(max_recist_error_pct=1e9, min_line_inside=0.0, max_arrow_tip_mm=1e9, max_components=1e9,
                          max_extent_log2_ratio=1e9, min_directions_stopped_on_empty=0.0, min_outline_contrast=0.0,
                          min_classical_certainty=0.0, min_size_checkable=0.0)
GRID = {
    "max_recist_error_pct": (10.0, 15.0, 20.0, 30.0),
    "min_line_inside": (0.6, 0.8, 0.9, 1.0),
    "max_arrow_tip_mm": (2.0, 3.0, 5.0),
    "max_extent_log2_ratio": (0.75, 1.0, 1.5),
    "min_outline_contrast": (0.0, 0.5, 0.7, 0.8, 0.9),
    "min_classical_certainty": (0.0, 0.5, 0.6, 0.7, 0.8, 0.9),
    "min_size_checkable": (0.0, 1.0),
}
# Not calibrated here: crops are cut at the lesion's own extent, so "touches the volume edge" and "stopped on an
# empty slice" say nothing on them; those two checks keep their defaults and are left out of the verdict below.


def _records(case: str, kind: str, prompt, res, spacing, backend: str) -> tuple[AnnotationRecord, MaskRecord]:
    px_mm = (spacing[1] + spacing[2]) / 2
    a = AnnotationRecord(annotation_id=f"{case}:{kind}", source_kind="gsps", source_sop_uid=case, source_path=case,
                         kind="polygon" if kind == "box" else kind, slice_index=prompt.slice_index,
                         points_px=prompt.points[:, ::-1].tolist(),
                         tip_px=None if prompt.tip is None else prompt.tip[::-1].tolist(),
                         length_mm=prompt.length_px * px_mm if prompt.length_px and kind != "box" else None,
                         short_mm=prompt.short_px * px_mm if prompt.short_px else None)
    zs = np.flatnonzero(res.mask.any(axis=(1, 2)))
    long, short, _ = recist_axes(res.mask, spacing[1:])
    m = MaskRecord(mask_id=a.annotation_id, annotation_id=a.annotation_id, series_uid=case, backend=backend, checkpoint=None,
                   recist_long_mm=long, recist_short_mm=short, n_slices=int(len(zs)),
                   stop_reason_superior=res.stop_superior, stop_reason_inferior=res.stop_inferior, score=res.score)
    return a, m


def qc_fields(segmenter_name: str):
    """An ``evaluate_crops`` row hook adding the QC metrics of each mask (kinds real archives hold)."""
    def fields(kind, prompt, res, hu, truth, spacing) -> dict:
        if kind not in QC_KINDS or isinstance(res, Exception):
            return {"segmented": False, "metrics": {}}
        a, m = _records(kind, kind, prompt, res, spacing, segmenter_name)
        return {"segmented": True, "metrics": {n: v for n, v, *_ in mask_metrics(res.mask, hu, a, m, spacing, PERMISSIVE)}}
    return fields


def measure(data, segmenter, seed: int = 0, max_cases: Optional[int] = None,
            tick: Optional[Callable[[int], None]] = None) -> dict:
    """The real-lesion evaluation (``evaluate_crops``) with each row's QC metric values (thresholds later)."""
    return evaluate_crops(data, segmenter, seed=seed, max_cases=max_cases, tick=tick, extra=qc_fields(segmenter.name))


def passes(row: dict, th: QCThresholds) -> bool:
    """The verdict of the calibrated checks with thresholds ``th``, from the stored metric values (so a grid
    search does not re-run ``mask_metrics`` per threshold set)."""
    if not row["segmented"]:
        return False
    m = row["metrics"]
    checks = [m.get("recist_error_pct", 0.0) <= th.max_recist_error_pct,
              m.get("line_inside_fraction", 1.0) >= th.min_line_inside,
              m.get("arrow_tip_distance_mm", 0.0) <= th.max_arrow_tip_mm,
              m["components"] <= th.max_components,
              m.get("extent_log2_ratio", 0.0) <= th.max_extent_log2_ratio,
              m.get("outline_contrast", 1.0) >= th.min_outline_contrast,
              m.get("classical_certainty", 1.0) >= th.min_classical_certainty,
              float(("polygon" if row["kind"] == "box" else row["kind"]) in SIZED_KINDS) >= th.min_size_checkable]
    return all(checks)


def score(rows: list[dict], th: QCThresholds) -> dict:
    good = np.array([r["dice"] >= GOOD_DICE for r in rows], bool)
    ok = np.array([passes(r, th) for r in rows], bool)
    tp = int((good & ok).sum())
    return {"masks": len(rows), "passed": int(ok.sum()), "good": int(good.sum()),
            "precision": tp / ok.sum() if ok.sum() else float("nan"), "recall": tp / good.sum() if good.sum() else float("nan")}


def search(rows: list[dict], aim: float = 0.9, base: QCThresholds = QCThresholds()) -> tuple[QCThresholds, dict]:
    """The grid point with the highest recall whose precision is >= aim (ties: higher precision)."""
    best, best_s = base, None
    for values in itertools.product(*GRID.values()):
        th = dataclasses.replace(base, **dict(zip(GRID, values)))
        s = score(rows, th)
        if s["precision"] >= aim and (best_s is None or (s["recall"], s["precision"]) > (best_s["recall"], best_s["precision"])):
            best, best_s = th, s
    return best, best_s or score(rows, base)
