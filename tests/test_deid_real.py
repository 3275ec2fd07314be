"""De-identification of the real DICOM samples in tests/data (AGFA and Larvitar GSPS, dcmjs TID 1500 SR, a GE CT) and
a real Siemens CT slice (tests/data_headers): every identifying header value of theirs is gone from the de-identified
tables, also where a report repeats them; measurement texts and sentences stay."""
import json
import re
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pydicom
import pytest

from curation.deid.secret import ProjectSecret
from curation.deid.tables import deidentify
from curation.extract.stage import extract
from curation.io.query import connect
from opseg_testdata import DATA

HEADERS = Path(__file__).parent / "data_headers"
REPORT = ("FINDINGS:\nPET/CT at the Basel site (Petersgraben), station PETCT2, device 60064, accession TSEX0001, "
          "on 8 December and 12/8. Liver lesion 2.1 cm (series 2, image 10).")

IDENTIFYING = ("PatientName", "OtherPatientNames", "PatientID", "OtherPatientIDs", "AccessionNumber", "PatientBirthDate",
               "StudyDate", "InstitutionName", "InstitutionAddress", "StationName", "ReferringPhysicianName",
               "PerformingPhysicianName", "NameOfPhysiciansReadingStudy", "OperatorsName", "PhysiciansOfRecord")


@pytest.fixture(scope="module")
def real_deid(tmp_path_factory):
    src = tmp_path_factory.mktemp("real")
    shutil.copytree(DATA, src / "data")
    shutil.copytree(HEADERS, src / "siemens")
    reports = src.parent / "reports.jsonl"
    reports.write_text(json.dumps({"accession_number": "TSEX0001", "report_date": "2022-12-08", "report_text": REPORT}))
    out = tmp_path_factory.mktemp("real_out")
    extract(src, out, reports=[reports])
    deidentify(out, out / "deid", ProjectSecret(b"a-real-sample-secret-0123"))
    return src, out


def _header_needles(folder) -> set[str]:
    """Read independently of opseg: each identifying element's value, and each part of each person name."""
    needles = set()
    for path in sorted(folder.rglob("*.dcm")):
        ds = pydicom.dcmread(path, stop_before_pixels=True)

        def visit(_, elem):
            if elem.keyword in IDENTIFYING and elem.value:
                for v in (elem.value if elem.VM > 1 else [elem.value]):
                    needles.add(str(v))
                    if elem.VR == "PN":
                        needles.update(p for p in re.split(r"[\^=]", str(v)) if len(p) >= 3 and p.strip(".") not in ("Mr", "Sr"))
        ds.walk(visit)
    return {n for n in needles if len(n) >= 4 or n.isalpha() and len(n) >= 3}


def test_real_header_identifiers_are_gone(real_deid):
    src, out = real_deid
    needles = _header_needles(src)
    assert {"Kunde", "Kreszenz", "LUNAR", "111-222-333", "5551212", "19640612", "Doe", "JANCT000", "PETCT2"} <= needles
    needles |= {"Petersgraben", "Basel", "60064", "8 December", "12/8"}  # the report repeats header values
    text = "\n".join(str(v) for p in sorted((out / "deid").rglob("*.parquet")) if "_private" not in p.parts
                     for row in pq.read_table(p).to_pylist() for v in row.values() if v is not None)
    found = [n for n in needles if re.search(rf"(?<![A-Za-z0-9]){re.escape(n)}(?![A-Za-z0-9])", text, re.IGNORECASE)]
    assert not found, found
    raw = connect(out).sql("select string_agg(patient_id, ' ') from studies").fetchall()[0][0]
    assert "111-222-333" in raw  # the identifiers were there before


def test_real_measurement_texts_survive(real_deid):
    _, out = real_deid
    texts = {r[0] for r in connect(out / "deid").sql("select text from annotations").fetchall()}
    assert "Distance measurement 1\nLength: 11.1mm[proj]" in texts
    assert "BA: 180.1 Months (Bone Age)" in texts and "cornerstoneTools@^4.0.0:ArrowAnnotate" in " ".join(texts)
    report = connect(out / "deid").sql("select text from reports").fetchall()[0][0]
    assert report.startswith("FINDINGS:\nPET/CT at the [REDACTED] site ([REDACTED]), station [REDACTED], device ")
    assert report.endswith(". Liver lesion 2.1 cm (series 2, image 10).")
    layers = {r[0] for r in connect(out / "deid").sql("select distinct graphic_layer from annotations").fetchall()}
    assert {"CUSTOM", "INFO"} <= layers  # viewer layer names are not identifiers
