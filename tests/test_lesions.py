"""Lesions, not marks: the demo's repeated marks (re-save, second reader, second reconstruction, GSPS + SR) group into
the truth's lesions; the rules and the primary choice on small cases with known answers; stable ids on rerun."""
import dataclasses
import shutil

import numpy as np
import pytest

from curation.demo.truth import DemoTruth
from curation.io.tables import read_records, read_table
from curation.lesions.evaluate import evaluate_lesions
from curation.lesions.grouping import LesionConfig, Study, group_study
from curation.lesions.marks import same_geometry
from curation.lesions.overlap import PatientMask, overlap
from curation.lesions.stage import run_lesions
from schemas import AnnotationRecord, LesionMemberRecord, LesionRecord, MaskRecord
from schemas.mask_nifti import encode


def test_grouping_matches_the_truth(processed_out, demo_dir):
    r = evaluate_lesions(processed_out, DemoTruth(demo_dir))
    assert r["same_lesion_pairs"] >= 15 and r["marks"] >= 20
    assert r["pair_precision"] >= 0.98 and r["pair_recall"] >= 0.98, r
    assert r["predicted_lesions"] == r["truth_lesions"] == r["pure_lesions"], r


def test_every_planted_case_is_grouped_with_the_first_reading(processed_out, demo_dir):
    truth = DemoTruth(demo_dir)
    anns = {a.annotation_id: a for a in read_records(processed_out, AnnotationRecord)}
    lesion_of = {m.annotation_id: m.lesion_id for m in read_records(processed_out, LesionMemberRecord)}
    first, repeats = {}, []
    for ann_id, lid in lesion_of.items():
        t = truth.mark_for(anns[ann_id])
        if t is None:
            continue
        key = (t["study_uid"], t["lesion_id"])
        if t["case"] == "first_reading":
            first.setdefault(key, set()).add(lid)
        else:
            repeats.append((t["case"], key, lid))
    assert {c for c, _, _ in repeats} == {"cumulative_resave", "second_reader", "second_reconstruction", "gsps_and_sr"}
    assert all(len(ids) == 1 for ids in first.values())  # twins of the first reading are one lesion
    assert all(first[key] == {lid} for _, key, lid in repeats), repeats


def test_lesion_rows_and_members_agree(processed_out):
    lesions = read_records(processed_out, LesionRecord)
    members = read_records(processed_out, LesionMemberRecord)
    assert sum(x.n_marks for x in lesions) == len(members)
    primaries = {m.lesion_id: m for m in members if m.role == "primary"}
    assert set(primaries) == {x.lesion_id for x in lesions}
    assert all(primaries[x.lesion_id].mask_id == x.primary_mask_id for x in lesions)
    compared = [m for m in members if m.dice_to_primary is not None]
    assert compared and all(m.disagrees == (m.dice_to_primary < LesionConfig().min_member_dice) for m in compared)


def test_rerun_gives_the_same_bytes_and_ids(processed_out, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(processed_out, out)
    before = {p.name: p.read_bytes() for t in ("lesions", "lesion_members") for p in (out / t).glob("*.parquet")}
    run_lesions(out)
    after = {p.name: p.read_bytes() for t in ("lesions", "lesion_members") for p in (out / t).glob("*.parquet")}
    assert before == after and read_table(out, LesionRecord).num_rows > 0


# --- the rules on cases with known answers ----------------------------------------------------------------------

def _ann(ann_id, kind, pts, image="img1", series="s1", tip=None, length=None, spacing=(0.8, 0.8)):
    return AnnotationRecord(annotation_id=ann_id, source_kind="gsps", source_sop_uid=f"pr-{ann_id}", source_path="x",
                            study_uid="st", series_uid=series, referenced_sop_uid=image, kind=kind,
                            points_px=[list(map(float, p)) for p in pts], tip_px=tip, length_mm=length,
                            pixel_spacing=list(spacing), slice_index=3)


def test_same_geometry_is_order_free_and_tolerant_in_mm():
    a = _ann("a", "line", [(10, 10), (40, 10)])
    assert same_geometry(a, _ann("b", "line", [(40, 10), (10, 10)]), 2.0)          # drawn the other way round
    assert same_geometry(a, _ann("b", "line", [(11.5, 10), (40, 11.5)]), 2.0)      # 1.2 mm off
    assert not same_geometry(a, _ann("b", "line", [(14, 10), (40, 10)]), 2.0)      # 3.2 mm off
    assert not same_geometry(a, _ann("b", "line", [(10, 10), (40, 10)], image="img2"), 2.0)  # another image
    arrow = _ann("c", "arrow", [(0, 0), (20, 20)], tip=[20.0, 20.0])
    point = _ann("d", "point", [(20.5, 20)], tip=[20.5, 20.0])  # an SR POINT at the GSPS arrow's tip
    assert same_geometry(arrow, point, 2.0)


def _sphere(radius_mm, spacing, centre=(0.0, 0.0, 0.0), n=40):
    """A ball on a grid with the given (column, row, slice) spacing, as a masks row."""
    sp = np.asarray(spacing, float)
    origin = -sp * (n // 2)
    idx = np.indices((n, n, n)).reshape(3, -1).T  # (column, row, slice)
    lps = idx * sp + origin
    inside = np.linalg.norm(lps - np.asarray(centre), axis=1) <= radius_mm
    vol = np.zeros((n, n, n), bool)  # (slice, row, column)
    vol[idx[inside, 2], idx[inside, 1], idx[inside, 0]] = True
    affine = np.diag([*sp, 1.0])
    affine[:3, 3] = origin
    data, bbox = encode(vol, affine)
    return MaskRecord(mask_id="m", annotation_id="a", series_uid="s", backend="t", mask=data, bbox=bbox,
                      affine=affine.ravel().tolist())


def test_patient_space_overlap_across_slice_thickness():
    thin, thick = PatientMask.of(_sphere(8, (0.8, 0.8, 1.0))), PatientMask.of(_sphere(8, (0.8, 0.8, 3.0)))
    o = overlap(thin, thick)
    assert o.iou > 0.75 and o.centroid_distance_mm < 1.0
    same = overlap(thin, PatientMask.of(_sphere(8, (0.8, 0.8, 1.0))))
    assert same.iou == pytest.approx(1.0) and same.dice == pytest.approx(1.0)
    apart = overlap(thin, PatientMask.of(_sphere(5, (0.8, 0.8, 1.0), centre=(0.0, 0.0, 14.0))))
    assert apart.iou == 0.0 and apart.centroid_distance_mm == pytest.approx(14.0, abs=0.5)


def test_primary_is_qc_pass_then_kind_then_thinnest_series():
    a = _ann("a", "line", [(10, 10), (40, 10)], series="thick", length=24.0)
    b = _ann("b", "bidimensional", [(10, 10), (40, 10), (25, 5), (25, 15)], series="thin", image="img2", length=24.0)
    c = _ann("c", "line", [(10, 10), (40, 10)], series="thin", image="img3", length=24.0)
    masks = {x: dataclasses.replace(_sphere(8, (0.8, 0.8, sp)), mask_id=f"m{x}", annotation_id=x)
             for x, sp in (("a", 3.0), ("b", 1.0), ("c", 1.0))}
    study = lambda qc: Study("st", [a, b, c], masks, {"thick": "for", "thin": "for"},  # noqa: E731
                             {"thick": 3.0, "thin": 1.0}, qc)
    cfg = LesionConfig()
    lesions, members = group_study(study({"ma": True, "mb": True, "mc": True}), cfg)
    assert len(lesions) == 1 and lesions[0].n_marks == 3 and lesions[0].primary_annotation_id == "b"  # kind
    assert group_study(study({"ma": True, "mb": False, "mc": True}), cfg)[0][0].primary_annotation_id == "c"  # qc
    lesions, _ = group_study(study({"ma": True, "mb": False, "mc": False}), cfg)
    assert lesions[0].primary_annotation_id == "a" and lesions[0].primary_rule.startswith("qc=pass")
    assert all(m.dice_to_primary is not None and m.dice_to_primary > 0.8 for m in members if m.role == "member")




def test_a_mark_without_a_mask_joins_the_mask_its_arrow_points_at():
    ball = dataclasses.replace(_sphere(8, (0.8, 0.8, 1.0)), mask_id="mb", annotation_id="b")
    b = _ann("b", "line", [(10, 10), (40, 10)], length=24.0)
    near = dataclasses.replace(_ann("n", "arrow", [(0, 0), (1, 1)], image="img2", tip=[1.0, 1.0]),
                               points_patient=[[30.0, 0.0, 0.0], [10.0, 0.0, 0.0]])   # tip 2 mm off the ball's edge
    far = dataclasses.replace(_ann("f", "arrow", [(0, 0), (1, 1)], image="img3", tip=[1.0, 1.0]),
                              points_patient=[[40.0, 0.0, 0.0], [20.0, 0.0, 0.0]])   # tip 12 mm off
    lesions, members = group_study(Study("st", [b, near, far], {"b": ball}, {"s1": "for"}, {"s1": 1.0}, {}),
                                   LesionConfig())
    lesion_of = {m.annotation_id: m.lesion_id for m in members}
    assert lesion_of["n"] == lesion_of["b"] != lesion_of["f"] and len(lesions) == 2
    assert "mark_in_mask" in next(m.evidence for m in members if m.annotation_id == "n")
