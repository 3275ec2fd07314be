"""What a QC pass means on real lesions: QC metrics of default-backend masks next to their Dice vs truth.

Each real crop (``real_eval`` layout) gets the radiologist-like prompts of the kinds real archives hold (line,
bidimensional, arrow, point, box), is segmented, and each mask is run through ``curation.qc.stage.mask_metrics``
as the pipeline would. A QC pass is "good" when Dice >= ``GOOD_DICE``; precision = good passes / passes, recall =
good passes / good masks. ``search`` picks, on one half of the patients, the threshold set with the best recall
whose precision clears the aim for every prompt kind that passes at all (a pass means the same whatever was
drawn); ``score`` / ``score_by_kind`` report any set on any rows (the other half: the honest figure).
"""
from __future__ import annotations

import dataclasses
import itertools
from typing import Callable, Optional

import numpy as np

from curation.qc.stage import mask_metrics
from schemas.qc import CHECKS, QCThresholds, judge
from schemas.qc import GOOD_DICE
from schemas import AnnotationRecord, MaskRecord
from segmentation.evaluate import bootstrap_ci
from segmentation.real_eval import evaluate_crops
from segmentation.recist import recist_axes

QC_KINDS = ("line", "bidimensional", "arrow", "point", "box")
ANNOTATION_KIND = {"box": "polygon"}   # the annotation kind a prompt kind arrives as (a box: a GSPS polygon)
PERMISSIVE = QCThresholds(max_recist_error_pct=1e9, min_line_inside=0.0, max_arrow_tip_mm=1e9, max_components=1e9,
                          max_extent_log2_ratio=1e9, min_directions_stopped_on_empty=0.0, min_outline_contrast=0.0,
                          min_classical_certainty=0.0, min_size_checkable=0.0)
GRID = {
    "max_recist_error_pct": (10.0, 15.0, 20.0, 30.0),
    "min_line_inside": (0.6, 0.8, 0.9, 1.0),
    "max_arrow_tip_mm": (1.0, 2.0, 3.0, 5.0),
    "max_arrow_tip_depth_mm": (0.5, 1.0, 2.0, 1e9),
    "max_arrow_behind_fraction": (0.05, 0.1, 0.2, 0.3, 1.0),
    "max_arrow_aim_deg": (15.0, 20.0, 30.0, 45.0, 180.0),
    "max_extent_log2_ratio": (0.75, 1.0, 1.5),
    "min_outline_contrast": (0.0, 0.5, 0.7, 0.8, 0.9),
    "min_classical_certainty": (0.0, 0.5, 0.6, 0.7, 0.8, 0.9),
    "min_size_checkable": (0.0, 1.0),
}
# Not calibrated here: crops are cut at the lesion's own extent, so "touches the volume edge" and "stopped on an
# empty slice" say nothing on them; those two checks keep their defaults and are left out of the verdict below.
UNCALIBRATED = ("touches_volume_edge", "directions_stopped_on_empty")


def _records(case: str, kind: str, prompt, res, spacing, backend: str) -> tuple[AnnotationRecord, MaskRecord]:
    px_mm = (spacing[1] + spacing[2]) / 2
    a = AnnotationRecord(annotation_id=f"{case}:{kind}", source_kind="gsps", source_sop_uid=case, source_path=case,
                         kind="polygon" if kind == "box" else kind, slice_index=prompt.slice_index,
                         points_px=prompt.points[:, ::-1].tolist(),
                         tip_px=None if prompt.tip is None else prompt.tip[::-1].tolist(),
                         length_mm=prompt.length_px * px_mm if prompt.length_px else None,  # a box: its diagonal,
                         # the longest chord extraction gives a polygon
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
        return {"segmented": True, "metrics": {n: v for n, v, *_ in mask_metrics(res.mask, hu, a, m, spacing, PERMISSIVE)},
                "mask_slices": m.n_slices, "mask_long_mm": m.recist_long_mm, "slice_mm": float(spacing[0])}
    return fields


def measure(data, segmenter, seed: int = 0, max_cases: Optional[int] = None,
            tick: Optional[Callable[[int], None]] = None) -> dict:
    """The real-lesion evaluation (``evaluate_crops``) with each row's QC metric values (thresholds later)."""
    return evaluate_crops(data, segmenter, seed=seed, max_cases=max_cases, tick=tick, extra=qc_fields(segmenter.name))


def passes(row: dict, th: QCThresholds) -> bool:
    """The verdict of the calibrated checks with thresholds ``th``, from the stored metric values (so a grid
    search does not re-run ``mask_metrics`` per threshold set); judged as the QC stage judges them."""
    if not row["segmented"]:
        return False
    th = th.for_kind(ANNOTATION_KIND.get(row["kind"], row["kind"]))
    return all(judge(name, v, th) for name, v in row["metrics"].items() if name in CHECKS and name not in UNCALIBRATED)


def score(rows: list[dict], th: QCThresholds) -> dict:
    good = np.array([r["dice"] >= GOOD_DICE for r in rows], bool)
    ok = np.array([passes(r, th) for r in rows], bool)
    tp = int((good & ok).sum())
    return {"masks": len(rows), "passed": int(ok.sum()), "good": int(good.sum()),
            "precision": tp / ok.sum() if ok.sum() else float("nan"), "recall": tp / good.sum() if good.sum() else float("nan"),
            "precision_ci95": bootstrap_ci(good[ok].astype(float).tolist())}


def score_by_kind(rows: list[dict], th: QCThresholds) -> dict:
    return {k: score([r for r in rows if r["kind"] == k], th) for k in QC_KINDS if any(r["kind"] == k for r in rows)}


class _Judged:
    """Rows as arrays: each calibrated metric's values (NaN where a row lacks it: no check, a pass), for judging
    many threshold sets fast."""

    def __init__(self, rows: list[dict]):
        self.kinds = np.array([r["kind"] for r in rows])
        self.good = np.array([r["dice"] >= GOOD_DICE for r in rows], bool)
        self.segmented = np.array([r["segmented"] for r in rows], bool)
        names = sorted({n for r in rows for n in r["metrics"] if n in CHECKS and n not in UNCALIBRATED})
        self.values = {n: np.array([r["metrics"].get(n, np.nan) for r in rows], float) for n in names}

    def ok(self, field: str, limit: float) -> np.ndarray:
        out = np.ones(len(self.kinds), bool)
        for name, v in self.values.items():
            if CHECKS[name][0] == field:
                out &= np.isnan(v) | ((v <= limit) if CHECKS[name][1] == "max" else (v >= limit))
        return out

    def fields_of(self, kind: str) -> set[str]:
        rows = self.kinds == kind
        return {CHECKS[n][0] for n, v in self.values.items() if (~np.isnan(v[rows])).any()}


def search(rows: list[dict], aim: float = 0.9, base: QCThresholds = QCThresholds(), grid: dict = GRID
           ) -> tuple[QCThresholds, dict]:
    """The grid point with the most good passes such that every prompt kind that passes at all has precision >= aim
    (so a pass means the same for each kind; ties: fewer passes). Exhaustive but separable: the thresholds every
    kind is judged by (``shared``) are enumerated; for each, the others are chosen per group of kinds they touch
    (line/bidimensional/box checks, arrow checks), since those groups' rows are disjoint."""
    base = dataclasses.replace(base, per_kind=())   # one value per field for every kind here (search_per_kind: own)
    J = _Judged(rows)
    kinds = sorted(set(J.kinds))
    fields = {k: J.fields_of(k) & set(grid) for k in kinds}
    shared = sorted(set.intersection(*fields.values()))   # a field no row is judged by keeps its base value
    groups: list[tuple[list[str], list[str]]] = []   # (fields, kinds) components of the kind-specific fields
    for k in kinds:
        own = fields[k] - set(shared)
        hit = [g for g in groups if set(g[0]) & own]
        merged = (sorted(own.union(*(g[0] for g in hit))), [k] + [x for g in hit for x in g[1]])
        groups = [g for g in groups if g not in hit] + [merged]
    cache = {(f, v): J.ok(f, v) for f in grid for v in grid[f]}
    base_ok = J.segmented.copy()
    for f in set(CHECKS[n][0] for n in J.values) - set(grid):
        base_ok &= J.ok(f, getattr(base, f))

    def feasible(ok: np.ndarray, within: np.ndarray) -> Optional[tuple[int, int]]:
        tp_total, n_total = 0, 0
        for k in set(J.kinds[within]):
            rows_k = within & (J.kinds == k)
            n, tp = int((ok & rows_k).sum()), int((ok & rows_k & J.good).sum())
            if n and tp < aim * n:
                return None
            tp_total, n_total = tp_total + tp, n_total + n
        return tp_total, -n_total

    best, best_key = base, None
    for svals in itertools.product(*(grid[f] for f in shared)):
        ok_shared = base_ok.copy()
        for f, v in zip(shared, svals):
            ok_shared &= cache[f, v]
        chosen, key = dict(zip(shared, svals)), (0, 0)
        for gfields, gkinds in groups:
            within = np.isin(J.kinds, gkinds)
            pick = None
            for gvals in itertools.product(*(grid[f] for f in gfields)):
                ok = ok_shared.copy()
                for f, v in zip(gfields, gvals):
                    ok &= cache[f, v]
                got = feasible(ok, within)
                if got is not None and (pick is None or got > pick[0]):
                    pick = (got, gvals)
            if pick is None:   # no setting keeps every kind of the group at the aim: fail the group entirely
                chosen = None
                break
            chosen.update(zip(gfields, pick[1]))
            key = (key[0] + pick[0][0], key[1] + pick[0][1])
        if chosen is not None and (best_key is None or key > best_key):
            best, best_key = dataclasses.replace(base, **chosen), key
    return best, score(rows, best)


def search_per_kind(rows: list[dict], aim: float = 0.9, base: QCThresholds = QCThresholds(), grid: dict = GRID
                    ) -> tuple[QCThresholds, dict]:
    """``search`` on all rows for the values every kind shares (and kinds never calibrated get), then on each
    kind's rows alone for that kind's own values; a per-kind value is kept only where it changes that kind's
    verdicts, and as near the shared value as gives the same verdicts (a check no row of the kind exercised keeps
    the shared value)."""
    shared, _ = search(rows, aim, dataclasses.replace(base, per_kind=()), grid)
    per_kind = []
    for kind in sorted({r["kind"] for r in rows}):
        mine = [r for r in rows if r["kind"] == kind]
        own, _ = search(mine, aim, shared, grid)
        diff = {f: getattr(own, f) for f in grid if getattr(own, f) != getattr(shared, f)}
        target = [passes(r, dataclasses.replace(shared, **diff)) for r in mine]
        for f in list(diff):   # each value as near the shared one as gives the same verdicts (the shared: dropped)
            for v in sorted(grid[f], key=lambda v: abs(v - getattr(shared, f))):
                if [passes(r, dataclasses.replace(shared, **{**diff, f: v})) for r in mine] == target:
                    diff[f] = v
                    break
            if diff[f] == getattr(shared, f):
                del diff[f]
        per_kind += [(ANNOTATION_KIND.get(kind, kind), f, float(v)) for f, v in sorted(diff.items())]
    th = dataclasses.replace(shared, per_kind=tuple(sorted(per_kind)))
    return th, score(rows, th)
