"""QC per prompt kind: an arrow's mask is checked by its tip and shaft (the lesion starts at the tip and lies in
front of it) and may pass; a point's never passes unchecked; the calibration judges stored metric values exactly
as the QC stage does, and its search keeps every kind that passes at the precision aim."""
import dataclasses

import numpy as np
import pytest
from scipy import ndimage

from curation.pipeline.qc_calibration import PERMISSIVE, UNCALIBRATED, passes, search, search_per_kind
from curation.qc.stage import QCThresholds, mask_metrics
from schemas import AnnotationRecord, MaskRecord
from schemas.mask_nifti import bbox_of
from schemas.qc import PER_KIND

SHAPE, SPACING = (9, 64, 64), (1.0, 0.7, 0.7)
TIP, TAIL = [41.3, 32.5], [60.5, 30.0]   # (column, row): just off the lesion's right edge, shaft from the right


def _lesion():
    z, r, c = np.ogrid[:SHAPE[0], :SHAPE[1], :SHAPE[2]]
    ball = ((z - 4) / 3.0) ** 2 + ((r - 32) / 8.0) ** 2 + ((c - 32) / 8.0) ** 2 <= 1
    hu = np.random.default_rng(0).normal(-850, 40, SHAPE).astype(np.float32)
    hu[ball] = np.random.default_rng(1).normal(30, 20, int(ball.sum()))
    return ball, hu


POINTS = {"arrow": [TAIL, TIP], "point": [[32.5, 32.5]], "line": [[24.3, 33.0], [40.6, 32.1]],
          "polygon": [[23.5, 23.8], [41.2, 23.8], [41.2, 41.0], [23.5, 41.0], [23.5, 23.8]]}


def _verdict(mask, hu, kind, th=QCThresholds()):
    a = AnnotationRecord(annotation_id="a", source_kind="gsps", source_sop_uid="g", source_path="g.dcm", kind=kind,
                         slice_index=4, points_px=POINTS[kind], tip_px=TIP if kind == "arrow" else None,
                         length_mm=11.4 if kind in ("line", "polygon") else None)
    m = MaskRecord(mask_id="m", annotation_id="a", series_uid="s", backend="classical-cpu", mask=b"", bbox=bbox_of(mask),
                   n_slices=int(mask.any(axis=(1, 2)).sum()), recist_long_mm=11.2, score=0.95,
                   stop_reason_superior="empty_slice", stop_reason_inferior="empty_slice")
    metrics = mask_metrics(mask, hu, a, m, SPACING, th)
    return [name for name, _, _, ok, _ in metrics if ok is False], {n: v for n, v, *_ in metrics}


def test_an_arrow_mask_in_front_of_its_tip_passes_and_one_over_the_shaft_fails():
    lesion, hu = _lesion()
    failed, values = _verdict(lesion, hu, "arrow")
    assert failed == [], values
    assert values["size_checkable"] == 1.0 and values["arrow_behind_fraction"] < 0.05 and values["arrow_aim_deg"] < 15
    leak = lesion.copy()
    leak[3:6, 28:38, 32:58] = True   # grown back along the shaft through tissue of the same density
    hu[leak] = hu[lesion].mean()
    failed, values = _verdict(leak, hu, "arrow")
    assert failed and all(f.startswith("arrow_") for f in failed), (failed, values)
    assert values["arrow_tip_depth_mm"] > 3 and values["arrow_behind_fraction"] > 0.2


def test_a_point_mask_never_passes_unchecked():
    lesion, hu = _lesion()
    failed, values = _verdict(lesion, hu, "point")
    assert failed == ["size_checkable"] and not any(n.startswith("arrow_") for n in values)


@pytest.mark.parametrize("kind", ["arrow", "line", "polygon"])
@pytest.mark.parametrize("seed", range(3))
def test_the_calibration_judges_stored_values_as_the_stage_does(seed, kind):
    rng = np.random.default_rng(seed)
    lesion, hu = _lesion()
    mask = lesion | ndimage.binary_dilation(rng.random(SHAPE) > 1 - 0.002 * seed, iterations=2)   # 0: clean; else split
    stored = {"segmented": True, "kind": kind, "metrics": _verdict(mask, hu, kind, PERMISSIVE)[1]}
    verdicts = set()
    for i in range(8):   # the loosest set, the strictest, then mixed ones
        pick = {f: float(v[1 - i] if f.startswith("max") else v[i]) if i < 2 else float(rng.choice(v)) for f, v in {
            "max_arrow_tip_mm": (0.5, 3.0), "max_arrow_tip_depth_mm": (0.5, 2.0), "max_arrow_behind_fraction": (0.05, 0.5),
            "max_arrow_aim_deg": (5.0, 40.0), "max_components": (1.0, 50.0), "min_outline_contrast": (0.2, 0.95),
            "max_recist_error_pct": (5.0, 80.0), "min_line_inside": (0.6, 1.0),
            "max_extent_log2_ratio": (0.2, 1.5)}.items()}
        th = QCThresholds(**pick)
        failed = [f for f in _verdict(mask, hu, kind, th)[0] if f not in UNCALIBRATED]
        assert passes(stored, th) == (not failed), (failed, stored["metrics"])
        verdicts.add(not failed)
    assert seed or verdicts == {True, False}   # the clean mask passes loose thresholds and fails strict ones


def _row(kind, dice, certainty):
    return {"segmented": True, "kind": kind, "dice": dice,
            "metrics": {"components": 1.0, "classical_certainty": certainty, "size_checkable": float(kind == "line")}}


def test_the_search_keeps_every_kind_that_passes_at_the_aim():
    # lines: certainty tells good from bad; points: 8 good of 10, nothing tells them apart. Letting the points
    # pass keeps the overall precision >= 0.9 (38/40), but then a point's pass means 80%: the search must not.
    rows = ([_row("line", 0.85, 0.9)] * 30 + [_row("line", 0.3, 0.55)] * 10
            + [_row("point", 0.8, 0.9)] * 8 + [_row("point", 0.3, 0.9)] * 2)
    th, s = search(rows, aim=0.9)
    assert th.min_size_checkable == 1.0 and th.min_classical_certainty > 0.55
    assert s["precision"] == 1.0 and s["passed"] == 30
    assert not any(passes(r, th) for r in rows if r["kind"] == "point")


def test_per_kind_thresholds_apply_to_their_kind_only():
    th = QCThresholds.from_pairs(["line.min_classical_certainty=0.99", "max_arrow_aim_deg=10"])
    assert th.for_kind("line").min_classical_certainty == 0.99
    assert th.for_kind("box").min_classical_certainty == QCThresholds().min_classical_certainty
    assert th.for_kind("arrow").max_arrow_aim_deg == 10.0   # a plain NAME=VALUE overrides the per-kind default too
    lesion, hu = _lesion()   # the walk's certainty is 0.95: below the line's 0.99, above the arrow's
    assert "classical_certainty" in _verdict(lesion, hu, "line", th)[0]
    assert "classical_certainty" not in _verdict(lesion, hu, "arrow", th)[0]
    with pytest.raises(ValueError, match="unknown QC threshold"):
        QCThresholds.from_pairs(["line.nonsense=1"])
    # a shared value set away from its default (as ``--set qc.NAME=V`` does) holds for every kind
    assert dataclasses.replace(QCThresholds(), min_classical_certainty=0.9).for_kind("line").min_classical_certainty == 0.9
    line_default = dict((f, v) for k, f, v in PER_KIND if k == "line")["min_classical_certainty"]
    assert QCThresholds().for_kind("line").min_classical_certainty == line_default != QCThresholds().min_classical_certainty


def test_a_per_kind_value_is_kept_only_where_it_changes_that_kinds_verdicts():
    # lines: certainty separates good from bad (0.9 vs 0.65); boxes: all good, half of them at certainty 0.55. The
    # shared search must keep the lines' bad masks out (0.7), which fails half the boxes; the boxes' own search lets
    # them pass at 0.5. Nothing else changes a verdict, so that is the only per-kind value.
    rows = ([_row("line", 0.85, 0.9)] * 20 + [_row("line", 0.3, 0.65)] * 5
            + [_row("box", 0.85, 0.55)] * 10 + [_row("box", 0.85, 0.95)] * 10)
    for r in rows:
        r["metrics"]["size_checkable"] = 1.0
    th, s = search_per_kind(rows, aim=0.9)
    assert s["precision"] == 1.0 and s["passed"] == 40
    assert th.min_classical_certainty == 0.7 and th.per_kind == (("polygon", "min_classical_certainty", 0.5),)
    assert all(passes(r, th) == (r["dice"] >= 0.7) for r in rows)


def test_the_per_kind_table_in_force_is_part_of_the_recorded_qc_config(monkeypatch):
    """Markers hash the recorded config: with per_kind left to PER_KIND, a change of that table must change it."""
    import schemas.qc as qc_schema
    from curation.io.stage import config_dict

    before = config_dict(qc_schema.QCThresholds())
    assert before["per_kind"] == [list(e) for e in qc_schema.PER_KIND]
    monkeypatch.setattr(qc_schema, "PER_KIND", qc_schema.PER_KIND[:-1])
    assert config_dict(qc_schema.QCThresholds()) != before


def test_a_misspelt_kind_in_a_per_kind_threshold_is_refused():
    import pytest

    from schemas.qc import QCThresholds

    with pytest.raises(ValueError, match="unknown annotation kind 'lien'"):
        QCThresholds.from_pairs(["lien.min_outline_contrast=0.3"])
    assert QCThresholds.from_pairs(["line.min_outline_contrast=0.3"]).for_kind("line").min_outline_contrast == 0.3
