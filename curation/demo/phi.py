"""Plant identifiers where real archives carry them, to prove de-identification removes them: DICOM headers
(names, MRN, phone, referring physician), a GSPS text label, the text of report SRs and the sidecar reports
(name, MRN, birth date, accession, phone, "discussed with" and signature lines). Only appended text is added
to reports, so the truth offsets of the report sentences stay valid."""
from __future__ import annotations

import json
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

REFERRING = ("HOUSE^GREGORY", "CUDDY^LISA", "WILSON^JAMES")
RADIOLOGIST = ("Meredith Grey", "Derek Shepherd", "Miranda Bailey")


def _phone(i: int) -> str:
    return f"(617) 555-{1200 + 37 * i:04d}"


def _mrn(i: int) -> str:
    return f"{48213570 + 7919 * i:08d}"


def _display_name(pn: str) -> str:
    last, _, first = pn.partition("^")
    return f"{first} {last}".strip()


def _us_date(yyyymmdd: str) -> str:
    return f"{yyyymmdd[4:6]}/{yyyymmdd[6:8]}/{yyyymmdd[:4]}"


def plant_phi(demo_dir: Path) -> dict[str, list[str]]:
    """Returns, per patient ID, the identifying strings planted (what a published file must never contain)."""
    demo_dir = Path(demo_dir)
    planted: dict[str, list[str]] = {}
    patients = sorted(p for p in (demo_dir / "dicom").iterdir() if p.is_dir() and p.name != "bad")
    by_accession: dict[str, tuple[int, Dataset]] = {}
    for i, folder in enumerate(patients):
        for path in sorted(folder.rglob("*.dcm")):
            ds = pydicom.dcmread(path)
            ds.PatientTelephoneNumbers = _phone(i)
            ds.OtherPatientIDs = _mrn(i)
            ds.ReferringPhysicianName = REFERRING[i % len(REFERRING)]
            if ds.Modality == "PR":
                item = ds.GraphicAnnotationSequence[0]
                label = Dataset()
                label.UnformattedTextValue = f"{_display_name(str(ds.PatientName))} MRN {_mrn(i)}"
                label.BoundingBoxAnnotationUnits = "PIXEL"
                label.BoundingBoxTopLeftHandCorner = [5.0, 5.0]
                label.BoundingBoxBottomRightHandCorner = [120.0, 20.0]
                label.BoundingBoxTextHorizontalJustification = "LEFT"
                item.TextObjectSequence = Sequence(list(item.get("TextObjectSequence", [])) + [label])
            if ds.Modality == "SR" and "ContentSequence" in ds:
                _append_sr_text(ds, _phi_paragraph(i, ds))
            ds.save_as(path, enforce_file_format=True)
            by_accession.setdefault(str(ds.AccessionNumber), (i, ds))
        _, ds = next(v for v in by_accession.values() if v[0] == i)
        planted[str(ds.PatientID)] = [
            str(ds.PatientID), _mrn(i), str(ds.AccessionNumber), _phone(i), "617-555-%04d" % (1200 + 37 * i),
            str(ds.PatientBirthDate), _us_date(str(ds.PatientBirthDate)),
            *str(ds.PatientName).split("^"), *REFERRING[i % len(REFERRING)].split("^"),
            *RADIOLOGIST[i % len(RADIOLOGIST)].split(), str(ds.StudyInstanceUID)]
    sidecar = demo_dir / "reports.jsonl"
    rows = [json.loads(line) for line in sidecar.read_text().splitlines()]
    for row in rows:
        if row.get("accession_number") in by_accession:
            i, ds = by_accession[row["accession_number"]]
            row["report_text"] += "\n\n" + _phi_paragraph(i, ds)
    sidecar.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    return planted


def _phi_paragraph(i: int, ds: Dataset) -> str:
    name, dob = _display_name(str(ds.PatientName)), _us_date(str(ds.PatientBirthDate))
    doctor = _display_name(REFERRING[i % len(REFERRING)])
    return (f"Patient: {name}, MRN {_mrn(i)}, DOB {dob}. Accession number: {ds.AccessionNumber}.\n"
            f"Findings discussed with Dr. {doctor} by phone at {_phone(i)}.\n"
            f"Electronically signed by: {RADIOLOGIST[i % len(RADIOLOGIST)]}, MD")


def _append_sr_text(ds: Dataset, text: str) -> None:
    """Append to the last TEXT content item of an SR (the report's last section)."""
    last = None

    def visit(items):
        nonlocal last
        for item in items:
            if item.get("ValueType") == "TEXT":
                last = item
            if "ContentSequence" in item:
                visit(item.ContentSequence)
    visit(ds.ContentSequence)
    if last is not None:
        last.TextValue = str(last.TextValue) + "\n" + text
