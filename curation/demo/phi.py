"""Plant identifiers where real archives carry them, to prove de-identification removes them.

DICOM headers: names (patient, referring, reading and operating physicians, content creator), MRN, phone,
address, institution, station, device serial, and names inside series/study descriptions. GSPS: a text label
(name, MRN, a date without a year), a person's name as the graphic layer, content label/description. SR:
names in TID 1500 tracking identifiers and the observer; the report SR's text. Reports (SR and sidecar):
a paragraph with dates with and without a year, bare names in other orders and cases, MRN and accession forms,
phones, e-mail, a URL, an age over 89, a path with spaces, "discussed with"/"called"/"dictated by" and a
signature. Patient folders are renamed "<Last> <First> <birth year>" (paths with spaces reach error messages),
and one bad file moves under such a folder. Only appended text is added to reports, so the truth offsets of the
report sentences stay valid.
"""
from __future__ import annotations

import json
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

REFERRING = ("HOUSE^GREGORY", "CUDDY^LISA", "WILSON^JAMES")
RADIOLOGIST = ("Meredith Grey", "Derek Shepherd", "Miranda Bailey")
OPERATOR = ("KAREV^ALEX", "STEVENS^IZZIE", "OMALLEY^GEORGE")
CALLED = ("Cristina Yang", "Preston Burke", "Addison Montgomery")   # named only in report text, after a cue
LAYER_OWNER = ("RICHARD WEBBER", "ARIZONA ROBBINS", "CALLIE TORRES")  # a person as GSPS graphic layer, nowhere else
INSTITUTION = ("Seattle Grace Hospital", "Princeton Plainsboro", "Sacred Heart Clinic")
NO_YEAR = (("June 3", "3rd of June", "6/3"), ("July 14", "14th of July", "7/14"), ("August 21", "21st of August", "8/21"))


def _phone(i: int) -> str:
    return f"(617) 555-{1200 + 37 * i:04d}"


def _mrn(i: int) -> str:
    return f"{48213570 + 7919 * i:08d}"


def _display_name(pn: str) -> str:
    last, _, first = pn.partition("^")
    return f"{first} {last}".strip()


def _pn(display: str) -> str:
    first, _, last = display.partition(" ")
    return f"{last}^{first}"


def _us_date(yyyymmdd: str) -> str:
    return f"{yyyymmdd[4:6]}/{yyyymmdd[6:8]}/{yyyymmdd[:4]}"


def _headers(ds: Dataset, i: int) -> None:
    last = str(ds.PatientName).split("^")[0].upper()
    ds.PatientTelephoneNumbers = _phone(i)
    ds.OtherPatientIDs = _mrn(i)
    ds.PatientAddress = f"{12 + i} Elm Street, Springfield"
    ds.ReferringPhysicianName = REFERRING[i % len(REFERRING)]
    ds.NameOfPhysiciansReadingStudy = _pn(RADIOLOGIST[i % len(RADIOLOGIST)])
    ds.OperatorsName = OPERATOR[i % len(OPERATOR)]
    ds.InstitutionName = INSTITUTION[i % len(INSTITUTION)]
    ds.InstitutionAddress = f"{300 + i} Grey Sloan Avenue, Seattle"
    ds.StationName = f"SGHCT{i:02d}"
    ds.DeviceSerialNumber = f"SN{77001 + i}"
    ds.StudyDescription = f"{ds.get('StudyDescription', 'CT')} {last}"
    if ds.Modality == "CT":
        ds.SeriesDescription = f"{ds.get('SeriesDescription', 'AXIAL')} {last}"


def _gsps(ds: Dataset, i: int) -> None:
    owner = LAYER_OWNER[i % len(LAYER_OWNER)]
    for layer in ds.get("GraphicLayerSequence", []):
        layer.GraphicLayer, layer.GraphicLayerDescription = owner, f"{owner.title()} measurements"
    for item in ds.GraphicAnnotationSequence:
        item.GraphicLayer = owner
    ds.ContentLabel = str(ds.PatientName).split("^")[0].upper()[:16]
    ds.ContentDescription = f"Read by {RADIOLOGIST[i % len(RADIOLOGIST)]}"
    ds.ContentCreatorName = _pn(RADIOLOGIST[i % len(RADIOLOGIST)])
    item = ds.GraphicAnnotationSequence[0]
    label = Dataset()
    label.UnformattedTextValue = f"{_display_name(str(ds.PatientName))} MRN {_mrn(i)} seen {NO_YEAR[i % 3][2]}"
    label.BoundingBoxAnnotationUnits = "PIXEL"
    label.BoundingBoxTopLeftHandCorner = [5.0, 5.0]
    label.BoundingBoxBottomRightHandCorner = [120.0, 20.0]
    label.BoundingBoxTextHorizontalJustification = "LEFT"
    item.TextObjectSequence = Sequence(list(item.get("TextObjectSequence", [])) + [label])


def _sr(ds: Dataset, i: int) -> None:
    """TID 1500: a name in every tracking identifier and as observer; a report SR: the PHI paragraph."""
    texts, tracking = [], []

    def visit(items):
        for item in items:
            code = item.ConceptNameCodeSequence[0].CodeValue if "ConceptNameCodeSequence" in item else None
            if item.get("ValueType") == "TEXT":
                (tracking if code == "112039" else texts).append(item)
            if item.get("ValueType") == "PNAME":
                item.PersonName = _pn(RADIOLOGIST[i % len(RADIOLOGIST)])
            if "ContentSequence" in item:
                visit(item.ContentSequence)
    visit(ds.ContentSequence)
    for item in tracking:
        item.TextValue = f"{_display_name(str(ds.PatientName))} {item.TextValue}"
    if texts and not tracking:
        texts[-1].TextValue = str(texts[-1].TextValue) + "\n" + _phi_paragraph(i, ds)


def plant_phi(demo_dir: Path) -> dict[str, list[str]]:
    """Returns, per patient ID, the identifying strings planted (what a published file must never contain)."""
    demo_dir = Path(demo_dir)
    planted: dict[str, list[str]] = {}
    patients = sorted(p for p in (demo_dir / "dicom").iterdir() if p.is_dir() and p.name != "bad")
    by_accession: dict[str, tuple[int, Dataset]] = {}
    for i, folder in enumerate(patients):
        for path in sorted(folder.rglob("*.dcm")):
            ds = pydicom.dcmread(path)
            _headers(ds, i)
            if ds.Modality == "PR":
                _gsps(ds, i)
            if ds.Modality == "SR" and "ContentSequence" in ds:
                _sr(ds, i)
            ds.save_as(path, enforce_file_format=True)
            by_accession.setdefault(str(ds.AccessionNumber), (i, ds))
        _, ds = next(v for v in by_accession.values() if v[0] == i)
        planted[str(ds.PatientID)] = _needles(i, ds)
        last, _, first = str(ds.PatientName).partition("^")
        folder.rename(folder.with_name(f"{last} {first} {str(ds.PatientBirthDate)[:4]}"))
        if i == 0 and (demo_dir / "dicom" / "bad" / "truncated_slice.dcm").exists():
            named = demo_dir / "dicom" / "bad" / f"{last} {first} {str(ds.PatientBirthDate)[:4]}"
            named.mkdir()
            (demo_dir / "dicom" / "bad" / "truncated_slice.dcm").rename(named / "truncated_slice.dcm")
    sidecar = demo_dir / "reports.jsonl"
    rows = [json.loads(line) for line in sidecar.read_text().splitlines()]
    for row in rows:
        if row.get("accession_number") in by_accession:
            i, ds = by_accession[row["accession_number"]]
            row["report_text"] += "\n\n" + _phi_paragraph(i, ds)
    sidecar.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    return planted


def _needles(i: int, ds: Dataset) -> list[str]:
    last, _, first = str(ds.PatientName).partition("^")
    return [
        str(ds.PatientID), _mrn(i), str(ds.AccessionNumber), _phone(i), "617-555-%04d" % (1200 + 37 * i),
        "617.555.%04d" % (1200 + 37 * i), "+1 617 555 %04d" % (1300 + i),
        str(ds.PatientBirthDate), _us_date(str(ds.PatientBirthDate)), last, first,
        *REFERRING[i % 3].split("^"), *RADIOLOGIST[i % 3].split(), *OPERATOR[i % 3].split("^"), *CALLED[i % 3].split(),
        *LAYER_OWNER[i % 3].split(), INSTITUTION[i % 3], f"SGHCT{i:02d}", f"SN{77001 + i}", "Elm Street",
        "Grey Sloan Avenue", str(ds.StudyInstanceUID), *NO_YEAR[i % 3], f"{91 + i}-year-old", f"{91 + i} year old",
        f"{first.lower()}.{last.lower()}@seattlegrace.org", "seattlegrace", f"/archive/{last} {first}",
        f"ext. 4{i}21"]


def _phi_paragraph(i: int, ds: Dataset) -> str:
    last, _, first = str(ds.PatientName).partition("^")
    name, dob = f"{first} {last}", _us_date(str(ds.PatientBirthDate))
    doctor = _display_name(REFERRING[i % len(REFERRING)])
    rad = RADIOLOGIST[i % len(RADIOLOGIST)]
    on, of, slash = NO_YEAR[i % 3]
    return (f"Patient: {name}, MRN {_mrn(i)}, DOB {dob}. Accession number: {ds.AccessionNumber}. MR# {_mrn(i)}.\n"
            f"{last.upper()}, {first.upper()} is a {91 + i}-year-old seen at {INSTITUTION[i % 3]}; "
            f"{first.lower()} {last.lower()} ({91 + i} year old) was also scanned on {on}, on the {of} and on {slash}.\n"
            f"Findings discussed with Dr. {doctor} by phone at {_phone(i)} on {dob[:6]}2025; also called "
            f"{CALLED[i % 3]} at 617.555.{1200 + 37 * i:04d}, ext. 4{i}21 or +1 617 555 {1300 + i:04d}.\n"
            f"Contact {first.lower()}.{last.lower()}@seattlegrace.org, images at "
            f"https://pacs.seattlegrace.org/viewer?mrn={_mrn(i)} and /archive/{last} {first} "
            f"{str(ds.PatientBirthDate)[:4]}/CT 2025/series 3.dcm\n"
            f"Dictated by: {rad}\n"
            f"Electronically signed by: {rad}, MD")
