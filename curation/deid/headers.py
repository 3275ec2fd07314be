"""A patient's identifiers as its DICOM headers hold them, to be found again in free text: every element the
confidentiality profile removes, empties or dummies (schemas.phi.PROFILE: names, IDs, institution and device
fields, birth date, phone, address) plus every person name (PN) anywhere in the file, sequences included.
Values made only of generic label words (a layer "MEASUREMENTS", a department "RADIOLOGY") are left out.

Only elements that can hold one are decoded: most of a GSPS or SR header is numbers (graphic data, coordinates), and
decoding every value was ~90% of the time here."""
from __future__ import annotations

from pydicom.datadict import keyword_for_tag

from curation.deid.labels import label_is_safe
from curation.dicom.read import read_dicom
from schemas.phi import header_identifier_keywords

_DATES = ("PatientBirthDate",)
_PHONES = ("PatientTelephoneNumbers", "PatientAddress", "InstitutionAddress")
# VRs whose elements are always decoded: names, sequences (to reach their items), and a VR still unknown (implicit
# VR, UN), which pydicom resolves only when decoding; any other element is decoded only for a wanted keyword
_DECODE_VRS = frozenset({"PN", "SQ", "UN", None})


def _elements(ds, wanted: frozenset):
    """The decoded elements of a dataset and its sequences' items that may hold an identifier, in tag order."""
    for raw in ds.elements():  # raw (undecoded) where pydicom has not decoded them yet
        if raw.VR not in _DECODE_VRS and keyword_for_tag(raw.tag) not in wanted:
            continue  # an explicit VR other than PN/SQ/UN stays what it is once decoded
        elem = ds[raw.tag]
        if elem.VR == "SQ":
            for item in elem.value or ():
                yield from _elements(item, wanted)
        else:
            yield elem


def header_identifiers(paths: list[str]) -> tuple[list[str], list[str], list[str], list[str]]:
    """(names, ids, dates, phones) from the headers of some files (one per series is enough)."""
    keywords = set(header_identifier_keywords())
    names, ids, dates, phones = set(), set(), set(), set()

    def values(elem):
        return [str(v) for v in (elem.value if elem.VM > 1 else [elem.value]) if v not in (None, "")]

    def visit(elem):
        if not elem.value:
            return
        if elem.VR == "PN":
            names.update(values(elem))
        elif elem.keyword in _DATES:
            dates.update(values(elem))
        elif elem.keyword in _PHONES:
            phones.update(values(elem))
        elif elem.keyword in keywords:  # a layer called MEASUREMENTS must not blank that word in every report
            ids.update(v for v in values(elem) if not label_is_safe(v))

    wanted = frozenset(keywords) | frozenset(_DATES) | frozenset(_PHONES)
    for p in paths:
        try:
            for elem in _elements(read_dicom(p, stop_before_pixels=True), wanted):
                visit(elem)
        except Exception:  # unreadable files are already in quarantine
            continue
    return sorted(names), sorted(ids), sorted(dates), sorted(phones)
