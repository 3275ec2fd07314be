"""De-identification: identifiers planted in headers, GSPS/SR text and reports never reach a published file;
pseudonyms stay consistent; measurements survive scrubbing; push is only allowed on de-identified output."""
import datetime as dt
import gzip
import json
import re

import pyarrow.parquet as pq
import pytest

from curation.deid.text import TextScrubber, identifier_variants
from curation.demo import generate_archive
from curation.demo.phi import plant_phi
from curation.publish.dataset import deidentification_status, push_to_hub
from curation.io.query import connect
from curation.pipeline.run import run_pipeline
from linking.measure import sizes

SECRET = "a-test-secret-of-enough-length-0123456789"


@pytest.fixture(scope="module")
def scrubber():
    return TextScrubber()


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
    """Every published file as searchable text: Parquet values (incl. nested and binary), NIfTI headers, text."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "_private" not in p.parts):
        if path.suffix == ".parquet":
            rows = pq.read_table(path).to_pylist()
            yield path, "\n".join(s for r in rows for s in _strings(r)) + path.read_bytes().decode("latin-1")
        elif path.name.endswith(".nii.gz"):
            yield path, gzip.decompress(path.read_bytes())[:352].decode("latin-1")  # the NIfTI-1 header
        elif path.suffix in (".md", ".html", ".json"):
            yield path, path.read_text()


def test_planted_identifiers_reach_no_published_file(phi_run):
    demo, out, planted = phi_run
    needles = {s for values in planted.values() for s in values if s}
    assert len(needles) > 30
    folders = [out / "hf", out / "report", out / "deid"]
    scanned = 0
    for folder in folders:
        for path, text in _published_text(folder):
            scanned += 1
            for needle in needles:
                pattern = re.escape(needle) if not needle[0].isalnum() else rf"(?<![A-Za-z0-9]){re.escape(needle)}(?![A-Za-z0-9])"
                assert not re.search(pattern, text, re.IGNORECASE), f"{needle!r} found in {path}"
    assert scanned > 20
    # the identifiers really were in the input, and in the identifiable tables that are never published
    raw = connect(out).sql("select string_agg(text, ' ') from reports").fetchall()[0][0]
    assert all(v[1] in raw for v in planted.values())  # each MRN


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
    from curation.deid.secret import ProjectSecret
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


def test_measurement_sentences_survive_scrubbing(scrubber):
    from test_linking_sentences import CASES

    for sentence, current, prior, _ in CASES:
        res = scrubber.scrub(sentence, shift_date=lambda d: d)
        assert sizes(res.text) == sizes(sentence), (sentence, res.text)


def test_report_recognisers(scrubber):
    known = tuple(identifier_variants(["Lovelace^Ada"], ["DEMO00001", "48213570"], ["19620315"], ["(617) 555-1200"]))
    text = ("Patient: Ada Lovelace, MRN 48213570, DOB 03/15/1962. Accession: ACC12345. Compared with CT of 2024-05-06.\n"
            "Findings discussed with Dr. Gregory House by phone at 617-555-1200 on 06/01/2025.\n"
            "Electronically signed by: Meredith Grey, MD\nLesion measures 2.4 x 1.7 cm (series 3, image 45).")
    res = scrubber.scrub(text, known, lambda d: d + dt.timedelta(days=-100))
    for gone in ("Ada", "Lovelace", "48213570", "1962", "ACC12345", "Gregory", "House", "555-1200", "Meredith", "Grey"):
        assert gone not in res.text, (gone, res.text)
    assert "2024-01-27" in res.text  # moved by the patient's offset, format kept
    assert "Lesion measures 2.4 x 1.7 cm (series 3, image 45)." in res.text
    start = text.index("Lesion")
    assert res.text[res.remap(start):res.remap(len(text), end=True)] == text[start:]


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
