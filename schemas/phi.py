"""The PHI policy of the contract: every column declares what kind of identifying information it can hold.

De-identification applies one transform per class to every table, so a new column is handled the day it is
declared (and a string or list column without a class makes a test and the de-identification fail, instead of
being published raw). DICOM-derived text columns name the element they came from; the action taken is the one
the DICOM PS3.15 Basic Application Level Confidentiality Profile (Table E.1-1) gives that element, with the
options opseg claims: Clean Descriptors, Clean Graphics, Clean Structured Content, and Retain Longitudinal
Temporal Information with Modified Dates.
"""
from __future__ import annotations

PHI_CLASSES: dict[str, str] = {
    "uid": "DICOM UID: replaced by dicognito's per-patient mapping (a new UID under root 2; profile action U), so references "
           "between tables still join",
    "key": "opseg id: replaced by an HMAC-SHA256 token under the project secret (the same id gets the same token in "
           "every table; an id that is a DICOM UID goes through the uid mapping)",
    "dicom_id": "DICOM identifier (Patient ID, Accession Number): replaced by dicognito's dummy ID for the patient "
                "(profile action D)",
    "date": "date: shifted by the patient's offset, format kept (Modified Dates option); unparseable dates removed",
    "datetime": "date and time: the date part shifted by the patient's offset, the time kept; unparseable removed",
    "free_text": "text: names (header values in any order and case, after cue phrases, signatures, NER when installed), "
                 "IDs, MRN/accession forms, phone numbers, e-mail, URLs, street addresses, institution names and ages "
                 "over 89 replaced by placeholders; dates shifted (or redacted when the year cannot be inferred); "
                 "paths and UIDs replaced by their pseudonyms",
    "dicom_text": "DICOM-derived text: the profile action of its element (C cleaned as free text; D a dummy label "
                  "unless every word is a known non-identifying term; X removed; Z emptied)",
    "person_name": "person name: replaced by dicognito's dummy name (profile action D)",
    "staff": "name of a staff member (a reviewer, the reader who made a mark): replaced by 'staff-<HMAC token>', the same "
             "for the same name in the whole project",
    "path": "file path: replaced as a whole (every component, spaces included) by 'file-<HMAC token><extension>'; "
            "a ':line' or '@sha256' tail is kept; a value that is a DICOM UID goes through the uid mapping",
    "code": "controlled vocabulary written by opseg or a DICOM CS value (kinds, units, flags, rule names): kept",
    "numeric": "numbers, booleans and geometry: kept",
    "image": "NIfTI bytes written by opseg: kept, with the header's free-text fields (descrip, aux_file, db_name, "
             "intent_name) blanked",
    "json": "JSON text: every string value cleaned as free text, keys kept",
    "none": "software names and versions written by opseg: kept",
}

# keyword -> (tag, Basic Profile action, action opseg applies with its options, why)
PROFILE: dict[str, tuple[str, str, str, str]] = {
    "SeriesDescription": ("0008,103E", "X", "C", "Clean Descriptors Option"),
    "StudyDescription": ("0008,1030", "X", "C", "Clean Descriptors Option"),
    "ProtocolName": ("0018,1030", "X/D", "C", "Clean Descriptors Option"),
    "UnformattedTextValue": ("0070,0006", "D", "C", "in Graphic Annotation Sequence (0070,0001): Clean Graphics Option"),
    "TextValue": ("0040,A160", "X", "C", "SR content: Clean Structured Content Option"),
    "GraphicLayer": ("0070,0002", "D", "D", "in Graphic Annotation Sequence (0070,0001), which the profile dummies"),
    "GraphicLayerDescription": ("0070,0068", "-", "D", "not in Table E.1-1: treated like the layer it describes"),
    "ContentLabel": ("0070,0080", "-", "D", "not in Table E.1-1: a label like a graphic layer"),
    "ContentDescription": ("0070,0081", "-", "C", "not in Table E.1-1: cleaned like a description"),
    "ContentCreatorName": ("0070,0084", "Z", "Z", ""),
    "InstitutionName": ("0008,0080", "X/Z/D", "X", ""),
    "InstitutionAddress": ("0008,0081", "X", "X", ""),
    "InstitutionalDepartmentName": ("0008,1040", "X", "X", ""),
    "StationName": ("0008,1010", "X/Z/D", "X", ""),
    "DeviceSerialNumber": ("0018,1000", "X/Z/D", "X", ""),
    "OperatorsName": ("0008,1070", "X/Z/D", "X", ""),
    "PerformingPhysicianName": ("0008,1050", "X", "X", ""),
    "NameOfPhysiciansReadingStudy": ("0008,1060", "X", "X", ""),
    "ReferringPhysicianName": ("0008,0090", "Z", "Z", ""),
    "PersonName": ("0040,A123", "D", "D", "SR observer names"),
    "PatientName": ("0010,0010", "Z", "D", "dicognito dummy name"),
    "PatientID": ("0010,0020", "Z", "D", "dicognito dummy ID"),
    "OtherPatientIDs": ("0010,1000", "X", "X", ""),
    "AccessionNumber": ("0008,0050", "Z", "D", "dicognito dummy ID"),
    "StudyID": ("0020,0010", "Z", "D", "dicognito dummy ID"),
    "PatientBirthDate": ("0010,0030", "Z", "X", ""),
    "PatientAddress": ("0010,1040", "X", "X", ""),
    "PatientTelephoneNumbers": ("0010,2154", "X", "X", ""),
    "StudyDate": ("0008,0020", "Z", "C", "Retain Longitudinal Temporal Information with Modified Dates Option"),
    "StudyInstanceUID": ("0020,000D", "U", "U", ""),
    "SeriesInstanceUID": ("0020,000E", "U", "U", ""),
    "SOPInstanceUID": ("0008,0018", "U", "U", ""),
    "FrameOfReferenceUID": ("0020,0052", "U", "U", ""),
    "TrackingUID": ("0062,0021", "U", "U", ""),
    "ReferencedSOPInstanceUID": ("0008,1155", "U", "U", ""),
}

# String-like Arrow types need a class; numbers and booleans without one are numeric.
CLASSLESS_OK = ("int", "uint", "float", "double", "bool", "halffloat")


def header_identifier_keywords() -> tuple[str, ...]:
    """Elements whose values identify someone: they are looked for (and replaced) in free text too."""
    return tuple(k for k, (_, _, action, _) in PROFILE.items() if action in ("X", "Z", "D") and "UID" not in k)
