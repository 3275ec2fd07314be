"""The link stage on the demo archive's truth, with and without masks, and the inputs it must not drop."""
import dataclasses
import json
import shutil

import duckdb
import pytest

from curation.io.tables import read_records, write_records
from curation.demo.truth import DemoTruth
from linking.evaluate import evaluate_links
from curation.lesions.stage import run_lesions
from linking.stage import run_link
from schemas import (FindingRecord, LesionMemberRecord, LesionRecord, LinkRecord, MaskRecord, QuarantineRecord,
                     ReportRecord)


@pytest.fixture()
def linked(processed_out):
    return processed_out


def test_links_on_demo_truth_meet_the_aims(linked, demo_dir):
    r = evaluate_links(linked, DemoTruth(demo_dir))
    assert r["n_marks"] >= 10
    assert r["precision_ab"] >= 0.98 and r["recall_ab"] >= 0.90, r


def test_links_use_masks_and_carry_evidence(linked):
    links = read_records(linked, LinkRecord)
    assert links and all(link.tier in ("A", "B", "C") and link.evidence for link in links)
    # a mark whose own segmentation failed can still share its lesion's link (it was grouped with the lesion):
    # then the link has no mask of its own, but the lesion has its primary mask
    masked = {m.annotation_id for m in read_records(linked, MaskRecord) if m.error is None}
    assert all(link.mask_id for link in links if link.tier in ("A", "B") and link.annotation_id in masked)
    lesion_of = {m.annotation_id: m.lesion_id for m in read_records(linked, LesionMemberRecord)}
    primary_mask = {x.lesion_id: x.primary_mask_id for x in read_records(linked, LesionRecord)}
    assert all(primary_mask[lesion_of[link.annotation_id]] for link in links if link.tier in ("A", "B"))
    rows = duckdb.sql(f"select l.tier, count(*) from read_parquet('{linked}/links/*.parquet') l join "
                      f"read_parquet('{linked}/findings/*.parquet') f using (finding_id) group by 1").fetchall()
    assert rows


def test_findings_rows_follow_the_radgraph_schema(linked):
    findings = read_records(linked, FindingRecord)
    assert findings and all(f.backend.startswith("rules-spacy") for f in findings)
    f = next(f for f in findings if f.sizes_mm and f.image_refs)
    meta = json.loads(f.entities_json)
    ents = meta["radgraph"]["entities"]
    assert any(e["label"].startswith("OBS") for e in ents.values())
    assert all({"tokens", "label", "start_ix", "end_ix", "relations"} <= set(e) for e in ents.values())
    negated = [f for f in findings if f.negated]
    assert negated and all(f.sizes_mm is None for f in negated if "No " in f.text)


def test_links_without_masks(demo_out, demo_dir, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(demo_out, out)
    shutil.rmtree(out / "masks", ignore_errors=True)
    run_lesions(out)  # as the pipeline does: without masks the marks are grouped by geometry alone
    run_link(out)
    links = read_records(out, LinkRecord)
    assert links and all(link.mask_id is None for link in links)
    r = evaluate_links(out, DemoTruth(demo_dir))
    assert r["precision_ab"] >= 0.98 and r["recall_ab"] >= 0.90


def test_bad_reports_are_recorded_not_dropped(demo_out, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(demo_out, out)
    reports = read_records(out, ReportRecord)
    base = next(r for r in reports if r.study_uid)
    extra = [dataclasses.replace(base, report_id="empty", text="", n_chars=0),
             dataclasses.replace(base, report_id="noheader", text="Liver lesion measures 2.3 cm (series 3, image 20)."),
             dataclasses.replace(base, report_id="orphan", study_uid="1.2.3.999", text="FINDINGS: 1 cm liver lesion.")]
    dropped = next(r for r in reports if r.study_uid and r.study_uid != base.study_uid)  # its study keeps its marks
    write_records(out, ReportRecord, [r for r in reports if r is not dropped] + extra)
    run_link(out)
    q = {(x.reason, x.entity_id) for x in read_records(out, QuarantineRecord) if x.stage == "link"}
    assert ("empty_report", "empty") in q and ("no_findings_header", "noheader") in q
    assert ("report_without_annotations", "1.2.3.999") in q
    assert ("annotations_without_report", dropped.study_uid) in q
    findings = read_records(out, FindingRecord)
    assert any(f.report_id == "noheader" and f.sizes_mm == [[23.0]] for f in findings)
    assert not any(f.report_id == "empty" for f in findings)
