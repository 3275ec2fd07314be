"""The weight-free CPU backend and the segment stage on the demo archive's truth, plus bad prompts."""
import dataclasses
import shutil

import duckdb
import numpy as np
import pytest

from curation.io.tables import read_records
from curation.dicom.volume import SliceRef, Volume, build_geometry
from schemas import AnnotationRecord, MaskRecord, QuarantineRecord
from segmentation.classical import ClassicalSegmenter
from curation.demo.truth import DemoTruth
from segmentation.evaluate import evaluate_demo
from schemas.mask_nifti import decode, encode, paste
from segmentation.recist import recist_axes
from segmentation.stage import run_segment, segment_series


@pytest.fixture(scope="module")
def segmented(demo_out, tmp_path_factory):
    out = tmp_path_factory.mktemp("seg") / "out"
    shutil.copytree(demo_out, out)
    run_segment(out)
    return out


def test_default_backend_quality_on_demo_truth(segmented, demo_dir):
    result = evaluate_demo(segmented, DemoTruth(demo_dir))
    s = result["summary"]
    assert {"line", "bidimensional", "arrow", "ellipse"} <= set(s)
    for kind in ("line", "bidimensional"):
        assert s[kind]["dice_mean"] >= 0.80, (kind, s[kind])
    assert s["arrow"]["dice_mean"] >= 0.70, s["arrow"]
    lo, hi = s["line"]["dice_ci95"]
    assert lo <= s["line"]["dice_mean"] <= hi


def test_every_mask_row_is_labelled_and_pastes_back(segmented):
    masks = read_records(segmented, MaskRecord)
    ok = [m for m in masks if m.error is None]
    assert ok and all(m.backend.startswith("classical-cpu") and m.checkpoint is None for m in masks)
    for m in ok:
        img = decode(m.mask)
        c0, r0, s0, c1, r1, s1 = m.bbox
        assert img.shape == (c1 - c0, r1 - r0, s1 - s0)
        assert m.n_slices == m.slice_range[1] - m.slice_range[0] + 1 and m.volume_ml > 0
        assert m.stop_reason_superior in ("empty_slice", "volume_edge", "size_limit")
        affine = np.asarray(m.affine).reshape(4, 4)
        # the NIfTI affine (RAS) is the full affine moved to the bbox corner
        corner = affine @ np.array([c0, r0, s0, 1.0])
        assert np.allclose(img.affine[:3, 3], corner[:3] * [-1, -1, 1], atol=1e-4)
    n = duckdb.sql(f"select count(*) from read_parquet('{segmented}/masks/*.parquet') where error is null").fetchall()[0][0]
    assert n == len(ok)


def test_bad_prompts_are_recorded_and_the_rest_completes(segmented):
    masks = {m.annotation_id: m for m in read_records(segmented, MaskRecord)}
    anns = read_records(segmented, AnnotationRecord)
    no_slice = [a for a in anns if a.slice_index is None and a.kind != "text"]
    assert no_slice and all(masks[a.annotation_id].error.startswith("no_slice") for a in no_slice)

    base = next(a for a in anns if a.kind == "line" and a.slice_index is not None)
    vol_rows = 64
    hu = np.full((6, vol_rows, vol_rows), 40.0, np.float32)
    hu[1:5, 20:40, 20:40] = 150.0
    geo = build_geometry([SliceRef(f"1.{i}", None, (0.0, 0.0, float(i)), (1, 0, 0, 0, 1, 0), vol_rows, vol_rows, (1.0, 1.0))
                          for i in range(6)])
    good = dataclasses.replace(base, annotation_id="good", slice_index=2, points_px=[[22.0, 30.0], [38.0, 30.0]], length_mm=16.0)
    outside = dataclasses.replace(good, annotation_id="outside", points_px=[[500.0, 30.0], [520.0, 30.0]])
    zero = dataclasses.replace(good, annotation_id="zero", points_px=[[30.0, 30.0], [30.0, 30.0]], length_mm=0.0)
    rows, bad = segment_series(Volume(hu, geo, "s"), [good, outside, zero], ClassicalSegmenter())
    by_id = {r.annotation_id: r for r in rows}
    assert by_id["good"].error is None and by_id["good"].n_slices == 4
    assert by_id["outside"].error.startswith("prompt_outside_image")
    assert by_id["zero"].error.startswith("zero_length_line")
    assert {q.entity_id for q in bad} == {"outside", "zero"} and all(isinstance(q, QuarantineRecord) for q in bad)
    one = build_geometry([SliceRef("1.0", None, (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0), vol_rows, vol_rows, (1.0, 1.0))])
    rows, _ = segment_series(Volume(hu[:1], one, "s1"), [dataclasses.replace(good, slice_index=0)], ClassicalSegmenter())
    assert rows[0].error.startswith("single_slice_series")


def test_propagation_stops_at_empty_slices_both_ways():
    hu = np.full((12, 48, 48), 40.0, np.float32)
    hu[3:8, 14:34, 14:34] = 160.0  # a box lesion on slices 3..7
    geo = build_geometry([SliceRef(f"1.{i}", None, (0.0, 0.0, 2.0 * i), (1, 0, 0, 0, 1, 0), 48, 48, (1.0, 1.0)) for i in range(12)])
    a = AnnotationRecord(annotation_id="x", source_kind="gsps", source_sop_uid="1", source_path="p", kind="line",
                         slice_index=5, points_px=[[15.0, 24.0], [33.0, 24.0]], length_mm=18.0)
    rows, _ = segment_series(Volume(hu, geo, "s"), [a], ClassicalSegmenter())
    m = rows[0]
    assert m.slice_range == [3, 7]
    assert m.stop_reason_superior == m.stop_reason_inferior == "empty_slice"


def test_mask_bytes_round_trip_and_recist_of_a_known_ellipse():
    rr, cc = np.mgrid[0:200, 0:200]
    mask = np.zeros((5, 200, 200), bool)
    mask[2] = ((cc - 100) * 0.5 / 20) ** 2 + ((rr - 100) * 0.5 / 15) ** 2 <= 1  # 40 x 30 mm at 0.5 mm
    long, short, z = recist_axes(mask, (0.5, 0.5))
    assert z == 2 and abs(long - 40) < 1.0 and abs(short - 30) < 1.0
    affine = np.eye(4)
    affine[:3, :3] = np.diag([0.5, 0.5, 2.0])
    data, bbox = encode(mask, affine)
    assert (paste(data, bbox, mask.shape) == mask).all() and len(data) < 2000


def test_a_file_that_is_not_a_checkpoint_is_recorded_per_annotation(demo_out, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(demo_out, out)
    before = (out / "annotations" / "part-00000.parquet").read_bytes()
    bogus = tmp_path / "model.pt"
    bogus.write_bytes(b"\x00" * 100)
    summary = run_segment(out, backend="sam2ct", checkpoint=bogus)
    masks = read_records(out, MaskRecord)
    assert masks and all(m.error.startswith("not_a_checkpoint") and str(bogus) in m.error for m in masks)
    assert summary.errors["not_a_checkpoint"] == len(masks) and summary.n_masks == 0
    assert (out / "annotations" / "part-00000.parquet").read_bytes() == before
    assert any(q.reason == "not_a_checkpoint" for q in read_records(out, QuarantineRecord))


def test_paper_protocol_on_a_generated_nifti_dataset(tmp_path):
    import json as _json

    from typer.testing import CliRunner

    from curation.cli import app
    from curation.demo.nifti_dataset import write_nifti_dataset

    data = write_nifti_dataset(tmp_path / "Task99_Demo", n_cases=2, size=128)
    res = CliRunner().invoke(app, ["eval", str(data), "--report", str(tmp_path / "ev.json")])
    assert res.exit_code == 0, res.output
    result = _json.loads((tmp_path / "ev.json").read_text())
    assert set(result["summary"]) == {"arrow", "line", "point", "box", "mask"}
    assert result["summary"]["line"]["n"] >= 2 and "recist_error_pct_mean" in result["summary"]["line"]
    table = (tmp_path / "ev.md").read_text()
    assert table.startswith("| dataset |") and "Task99_Demo" in table
