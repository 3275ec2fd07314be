"""De-identification end to end: identifiers planted in headers, GSPS texts and layers, SR and reports never reach a
published byte; pseudonyms stay consistent; the linker grounds the same marks on scrubbed reports; publish and push
refuse copies made for other columns or none."""
import dataclasses
import datetime as dt
import gzip
import json
import re
import shutil

import pyarrow.parquet as pq
import pytest

from curation.deid.policy import ColumnPolicy
from curation.deid.secret import ProjectSecret
from curation.deid.text import TextScrubber
from curation.demo import generate_archive
from curation.demo.phi import plant_phi
from curation.io.query import connect
from curation.io.tables import read_records, write_records
from curation.pipeline.run import run_pipeline
from curation.publish.dataset import PublishError, deidentification_status, publish, push_to_hub
from curation.demo.truth import DemoTruth
from linking.evaluate import evaluate_links
from linking.stage import run_link
from schemas import AnnotationRecord, ReportRecord
from schemas.phi import PHI_CLASSES

SECRET = "a-test-secret-of-enough-length-0123456789"


@pytest.fixture(scope="module")
def phi_run(tmp_path_factory):
    demo = tmp_path_factory.mktemp("phi") / "demo"
    generate_archive(demo, seed=4, n_studies=3, bad_input=True)
    planted = plant_phi(demo)
    secret = tmp_path_factory.mktemp("secret") / "deid.key"
    secret.write_text(SECRET)
    out = demo / "out"
    run_pipeline(demo / "dicom", out, reports=[demo / "reports.jsonl"], shards=2, secret_file=secret)
    return demo, out, planted


def _strings(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, (str, bytes)):
        yield value if isinstance(value, str) else value.decode("latin-1")


def _published_text(folder):
    """Every published file as searchable text: its name, Parquet values (incl. nested and binary) and raw bytes,
    NIfTI headers, and the bytes of every other file (HTML, JSON, Markdown, pictures)."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "_private" not in p.parts):
        name = str(path.relative_to(folder))
        if path.suffix == ".parquet":
            rows = pq.read_table(path).to_pylist()
            yield path, name + "\n" + "\n".join(s for r in rows for s in _strings(r)) + path.read_bytes().decode("latin-1")
        elif path.name.endswith(".nii.gz"):
            yield path, name + "\n" + gzip.decompress(path.read_bytes())[:352].decode("latin-1")  # the NIfTI-1 header
        else:
            yield path, name + "\n" + path.read_bytes().decode("latin-1")


def test_planted_identifiers_reach_no_published_file(phi_run):
    demo, out, planted = phi_run
    needles = {s for values in planted.values() for s in values if s}
    assert len(needles) > 100
    folders = [out / "hf", out / "report", out / "deid"]
    scanned, kinds = 0, set()
    patterns = [re.compile(re.escape(n) if not n[0].isalnum() else rf"(?<![A-Za-z0-9]){re.escape(n)}(?![A-Za-z0-9])",
                           re.IGNORECASE) for n in sorted(needles)]
    for folder in folders:
        for path, text in _published_text(folder):
            scanned += 1
            kinds.add(path.suffix)
            for pattern in patterns:
                assert not pattern.search(text), f"{pattern.pattern!r} found in {path}"
    assert scanned > 20 and {".parquet", ".html", ".json", ".gz", ".md"} <= kinds
    # the identifiers really were in the input, and in the identifiable tables that are never published
    raw = connect(out).sql("select string_agg(text, ' ') from reports").fetchall()[0][0]
    assert all(v[1] in raw for v in planted.values())  # each MRN
    layers = {r[0] for r in connect(out).sql("select distinct graphic_layer from annotations").fetchall()}
    assert {"RICHARD WEBBER", "ARIZONA ROBBINS", "CALLIE TORRES"} & layers
    quarantined = connect(out).sql("select string_agg(coalesce(path, '') || detail, ' ') from quarantine").fetchall()[0][0]
    assert "Lovelace" in quarantined  # a path with spaces and a name reached an error message


def test_pseudonyms_are_consistent_and_dates_shift_together(phi_run):
    demo, out, _ = phi_run
    raw, pub = connect(out), connect(out / "deid")
    assert deidentification_status(out / "deid")["deidentified"] is True
    # references survive: every de-identified annotation's series, and every mask's, is a de-identified series
    joined = "select count(*) from annotations a join series s using (series_uid)"
    assert pub.sql(joined).fetchall() == raw.sql(joined).fetchall() != [(0,)]
    joined = "select count(*) from masks m join series s using (series_uid) join annotations a using (annotation_id)"
    assert pub.sql(joined).fetchall() == raw.sql(joined).fetchall() != [(0,)]
    assert pub.sql("select count(*) from links l join masks m using (mask_id) join findings f using (finding_id)"
                   ).fetchall()[0][0] == raw.sql("select count(*) from links where mask_id is not null").fetchall()[0][0]
    # the interval between study and report date is kept (one offset per patient), the dates themselves move
    def gaps(con):
        rows = con.sql("select s.study_date, r.report_date from studies s join reports r using (study_uid) "
                       "where r.source = 'sidecar' order by s.patient_id").fetchall()
        day = lambda v: dt.date.fromisoformat(v) if "-" in v else dt.datetime.strptime(v, "%Y%m%d").date()
        return sorted((day(b) - day(a)).days for a, b in rows)
    assert gaps(raw) == gaps(pub) and len(gaps(pub)) >= 2
    assert not set(raw.sql("select study_date from studies").fetchall()) & set(pub.sql("select study_date from studies").fetchall())
    # sentences still sit at their offsets in the scrubbed report
    for text, report, a, b in pub.sql("select f.text, r.text, f.char_start, f.char_end from findings f "
                                      "join reports r using (report_id)").fetchall():
        assert report[a:b] == text


def test_same_secret_same_pseudonyms_other_secret_others(phi_run, tmp_path):
    from curation.deid.tables import deidentify

    _, out, _ = phi_run
    again = tmp_path / "again"
    deidentify(out, again, ProjectSecret(SECRET.encode()))
    for table in ("studies", "annotations", "reports", "findings", "masks", "links"):
        a = pq.read_table(next((out / "deid" / table).glob("*.parquet")))
        b = pq.read_table(next((again / table).glob("*.parquet")))
        assert a.equals(b), table
    other = tmp_path / "other"
    deidentify(out, other, ProjectSecret(b"another-secret-0123456789abcdef"))
    ids = lambda d: {r["annotation_id"] for r in pq.read_table(next((d / "annotations").glob("*.parquet"))).to_pylist()}
    assert not ids(again) & ids(other)


def test_links_ground_the_same_marks_after_scrubbing(phi_run, tmp_path):
    """The linker on the scrubbed reports (planted PHI removed) grounds the demo's marks exactly as on the raw ones."""
    demo, out, _ = phi_run
    copy = tmp_path / "out"
    # the lesion tables too: the linker grounds a finding once per lesion (repeated marks of one lesion share it)
    for table in ("studies", "series", "instances", "annotations", "masks", "lesions", "lesion_members", "quarantine"):
        shutil.copytree(out / table, copy / table)
    policy = ColumnPolicy(out, ProjectSecret(SECRET.encode()), TextScrubber("regex"))
    raw = read_records(out, ReportRecord)
    scrubbed = [dataclasses.replace(r, text=policy.scrub(r.text, r.study_uid).text) for r in raw]
    assert sum(a.text != b.text for a, b in zip(raw, scrubbed)) >= 3
    write_records(copy, ReportRecord, scrubbed)
    run_link(copy)
    truth = DemoTruth(demo)
    before, after = evaluate_links(out, truth), evaluate_links(copy, truth)
    assert before["n_marks"] >= 10 and before["recall_ab"] >= 0.9
    assert (after["precision_ab"], after["recall_ab"]) == (before["precision_ab"], before["recall_ab"]), (before, after)


def test_publish_refuses_a_copy_made_for_other_columns(phi_run, tmp_path):
    _, out, _ = phi_run
    stale = tmp_path / "deid"
    shutil.copytree(out / "deid", stale)
    manifest = json.loads((stale / "_deid" / "manifest.json").read_text())
    assert manifest["tables"]["annotations"]["schema_hash"] == AnnotationRecord.schema_hash()
    manifest["tables"]["annotations"]["schema_hash"] = "made-for-old-cols"
    (stale / "_deid" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(PublishError, match="annotations.*de-identified for schema made-for-old-cols"):
        publish(stale, tmp_path / "hf", volumes=False)
    with pytest.raises(PublishError, match="schema_changed|run `opseg deid` again"):
        push_to_hub(stale, out / "hf", "org/x")


def test_published_columns_carry_their_phi_class(phi_run):
    _, out, _ = phi_run
    for part in (next((out / "deid" / "annotations").glob("*.parquet")), next((out / "hf" / "data" / "annotations").glob("*.parquet"))):
        field = pq.read_schema(part).field("graphic_layer")
        assert field.metadata[b"opseg.phi"] == b"dicom_text" and field.metadata[b"opseg.dicom"] == b"GraphicLayer", part


def test_card_lists_phi_classes_and_what_was_done(phi_run):
    _, out, _ = phi_run
    card = (out / "hf" / "README.md").read_text()
    section = card[card.index("## De-identification"):]
    for phi in ("uid", "key", "dicom_id", "date", "free_text", "dicom_text", "path", "image", "json", "code"):
        assert f"| `{phi}` | {PHI_CLASSES[phi]} |" in section, phi
    assert "`annotations.graphic_layer`" in section and "`masks.checkpoint`" in section
    assert "Replacements in free text:" in section and "date " in section


def test_nifti_headers_carry_no_identifiers(phi_run):
    import nibabel as nib

    _, out, _ = phi_run
    for path in (out / "hf" / "volumes").glob("*.nii.gz"):
        h = nib.load(path).header
        assert all(bytes(h[k].tobytes()).strip(b"\x00 ") == b"" for k in ("descrip", "aux_file", "db_name", "intent_name"))


def test_push_goes_through_only_for_deidentified_output(phi_run, monkeypatch):
    import huggingface_hub

    _, out, _ = phi_run
    calls = []

    class RecordingApi:  # stands in for the Hub: no network here
        def __init__(self, token=None):
            pass

        def create_repo(self, repo_id, **kw):
            calls.append(("create", repo_id, kw))

        def upload_folder(self, **kw):
            calls.append(("upload", kw["repo_id"], kw["folder_path"]))
            return "uploaded"

    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingApi)
    assert push_to_hub(out / "deid", out / "hf", "org/opseg-demo") == "uploaded"
    assert calls[0][2]["private"] is True and calls[1] == ("upload", "org/opseg-demo", str(out / "hf"))
    card = (out / "hf" / "README.md").read_text()
    assert "NOT DE-IDENTIFIED" not in card and "De-identified" in card
    json.loads((out / "deid" / "_deid" / "manifest.json").read_text())
