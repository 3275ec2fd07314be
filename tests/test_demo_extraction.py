"""Extraction on the generated archive, checked against its truth folder."""
import duckdb
import numpy as np

from curation.extract.index import index_archive
from curation.io.tables import read_records
from schemas import AnnotationRecord, QuarantineRecord, ReportRecord


def _match(truth_row, candidates):
    """The extracted annotation of the same source object whose geometry is closest to the truth mark."""
    best = None
    for a in candidates:
        if a.source_sop_uid != truth_row["source_sop_uid"] or a.points_px is None:
            continue
        if truth_row["kind"] == "arrow":
            if a.tip_px is None:
                continue
            d = float(np.abs(np.subtract(a.tip_px, truth_row["tip_px"])).max())
        else:
            p, t = np.array(a.points_px), np.array(truth_row["points_px"])
            if p.shape != t.shape:
                continue
            d = float(np.abs(p - t).max())
            if len(p) == 2:
                d = min(d, float(np.abs(p[::-1] - t).max()))
        if best is None or d < best[0]:
            best = (d, a)
    return best


def test_every_truth_annotation_is_extracted_with_kind_slice_and_length(demo_out, truth):
    anns = read_records(demo_out, AnnotationRecord)
    styles = set()
    for t in truth["annotations"]:
        found = _match(t, anns)
        assert found is not None, f"{t['style']} {t['kind']} {t['mark_id']} not extracted"
        d, a = found
        assert d < 1e-3, (t["style"], t["kind"], d)
        assert a.kind == t["kind"], (t["style"], a.kind, t["kind"])
        assert a.slice_index == t["slice_index"] and a.referenced_sop_uid == t["referenced_sop_uid"]
        assert a.series_uid == t["series_uid"] and a.study_uid == t["study_uid"]
        if t["length_mm"] is not None:
            assert abs(a.length_mm - t["length_mm"]) <= 0.1, (t["style"], a.length_mm, t["length_mm"])
        if t["short_mm"] is not None:
            assert abs(a.short_mm - t["short_mm"]) <= 0.1
        assert a.points_patient is not None and a.spacing_source in (None, "pixel_spacing")
        styles.add(t["style"])
    assert styles == {"standard", "agfa", "weasis", "larvitar", "tid1500"}


def test_display_rotated_marks_land_on_their_pixel_twins(demo_out, truth):
    anns = read_records(demo_out, AnnotationRecord)
    display = [t for t in truth["annotations"] if t["units"] == "DISPLAY"]
    assert display, "the demo archive must hold DISPLAY-unit marks"
    for t in display:
        twin = next(x for x in truth["annotations"] if x["mark_id"] == t["mark_id"] and x["units"] == "PIXEL")
        _, a_disp = _match(t, anns)
        _, a_pix = _match(twin, anns)
        assert a_disp.kind == a_pix.kind and a_disp.slice_index == a_pix.slice_index
        pts_d, pts_p = np.array(a_disp.points_px), np.array(a_pix.points_px)
        if a_disp.kind == "line":  # a line has no direction: compare as a set of ends
            pts_d = pts_d[np.lexsort(pts_d.T[::-1])]
            pts_p = pts_p[np.lexsort(pts_p.T[::-1])]
        assert np.abs(pts_d - pts_p).max() < 1e-3


def test_reports_from_sidecar_and_text_sr(demo_out, truth):
    reports = read_records(demo_out, ReportRecord)
    by_study = {r.study_uid: r for r in reports if "study_not_in_archive" not in r.flags}
    for t in truth["reports"]:
        rep = by_study[t["study_uid"]]
        assert rep.source == t["source"]
        for s in t["sentences"]:
            assert s["text"] in rep.text
        assert "FINDINGS:" in rep.text and "IMPRESSION:" in rep.text
    orphan = [r for r in reports if "study_not_in_archive" in r.flags]
    assert len(orphan) == 1 and orphan[0].accession_number == "ACC-NOT-IN-ARCHIVE"


def test_bad_input_is_quarantined_and_the_rest_extracted(demo_out):
    quarantine = read_records(demo_out, QuarantineRecord)
    reasons = {(q.stage, q.reason, (q.path or "").rsplit("/", 1)[-1]) for q in quarantine}
    assert ("index", "truncated", "truncated_slice.dcm") in reasons
    assert ("index", "not_dicom", "notes.txt") in reasons
    assert ("gsps", "malformed_graphic_data", "gsps_malformed.dcm") in reasons
    assert ("gsps", "referenced_image_missing", "gsps_missing_series.dcm") in reasons
    assert ("reports", "study_not_in_archive", "reports.jsonl") in {(q.stage, q.reason, q.path.rsplit("/", 1)[-1]) for q in quarantine if q.path}
    details = [q.detail for q in quarantine if q.reason == "malformed_graphic_data"]
    assert any("odd number" in d for d in details) and any("NaN" in d for d in details)
    assert all("gsps_malformed.dcm" in d for d in details)
    anns = read_records(demo_out, AnnotationRecord)
    missing = [a for a in anns if a.source_path.endswith("gsps_missing_series.dcm")]
    assert missing and all("image_not_in_archive" in a.flags and a.slice_index is None for a in missing)
    broken = [a for a in anns if a.source_path.endswith("gsps_malformed.dcm") and a.kind != "text"]
    assert broken, "the intact marks of a partly malformed GSPS are still extracted"
    assert all(a.slice_index is not None and "image_not_in_archive" not in a.flags for a in broken)


def test_rerun_reads_only_new_or_changed_files(demo_dir, demo_out, tmp_path):
    out = tmp_path / "out"
    first = index_archive(demo_dir / "dicom", out, workers=1)
    again = index_archive(demo_dir / "dicom", out, workers=1)
    assert first.n_read == first.n_files and again.n_read == 0
    assert [r.sop_uid for r in again.instances] == [r.sop_uid for r in first.instances]
    assert {q.path for q in again.quarantine} == {q.path for q in first.quarantine}
    victim = next(p for p in sorted((demo_dir / "dicom").rglob("*.dcm")) if "bad" not in p.parts)
    import os
    os.utime(victim, ns=(victim.stat().st_atime_ns, victim.stat().st_mtime_ns + 10_000))
    third = index_archive(demo_dir / "dicom", out, workers=1)
    assert third.n_read == 1


def test_tables_are_queryable_with_duckdb(demo_out, truth):
    n = duckdb.sql(f"select count(*) from read_parquet('{demo_out}/annotations/*.parquet') where kind <> 'text'").fetchall()[0][0]
    assert n >= len(truth["annotations"])
    series = duckdb.sql(f"select geometry_status, count(*) from read_parquet('{demo_out}/series/*.parquet') "
                        "where category = 'ct_image' group by 1").fetchall()
    ct_series = {t["series_uid"] for t in truth["lesions"]} | {t["series_uid"] for t in truth["annotations"]}
    assert series == [("ok", len(ct_series))] and len(ct_series) == 4  # one a study + a second reconstruction
    studies = duckdb.sql(f"select count(*), sum(n_reports) from read_parquet('{demo_out}/studies/*.parquet')").fetchall()[0]
    assert studies == (3, 3)
