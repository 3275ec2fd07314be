"""A patient's identifiers as its DICOM headers hold them, to be found again in free text: every element the
confidentiality profile removes, empties or dummies (schemas.phi.PROFILE: names, IDs, institution and device
fields, birth date, phone, address) plus every person name (PN) anywhere in the file, sequences included.
Values made only of generic label words (a layer "MEASUREMENTS", a department "RADIOLOGY") are left out."""
from __future__ import annotations

from curation.deid.labels import label_is_safe
from curation.dicom.read import read_dicom
from schemas.phi import header_identifier_keywords

_DATES = ("PatientBirthDate",)
_PHONES = ("PatientTelephoneNumbers", "PatientAddress", "InstitutionAddress")


def header_identifiers(paths: list[str]) -> tuple[list[str], list[str], list[str], list[str]]:
    """(names, ids, dates, phones) from the headers of some files (one per series is enough)."""
    keywords = set(header_identifier_keywords())
    names, ids, dates, phones = set(), set(), set(), set()

    def values(elem):
        return [str(v) for v in (elem.value if elem.VM > 1 else [elem.value]) if v not in (None, "")]

    def visit(ds, elem):
        if not elem.value or elem.VR == "SQ":
            return
        if elem.VR == "PN":
            names.update(values(elem))
        elif elem.keyword in _DATES:
            dates.update(values(elem))
        elif elem.keyword in _PHONES:
            phones.update(values(elem))
        elif elem.keyword in keywords:  # a layer called MEASUREMENTS must not blank that word in every report
            ids.update(v for v in values(elem) if not label_is_safe(v))

    for p in paths:
        try:
            read_dicom(p, stop_before_pixels=True).walk(visit)
        except Exception:  # unreadable files are already in quarantine
            continue
    return sorted(names), sorted(ids), sorted(dates), sorted(phones)
