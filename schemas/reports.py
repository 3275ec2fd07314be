"""Reports and the findings parsed from them (findings are filled by the linking stage)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pyarrow as pa

from schemas.base import Record, col


@dataclass(kw_only=True)
class ReportRecord(Record):
    TABLE = "reports"
    DOC = "One row per report text, from SR text content or a sidecar table."
    report_id: str = col(pa.string(), "Stable id: hash of the source and its key", phi="key")
    study_uid: Optional[str] = col(pa.string(), "Study Instance UID (resolved through the catalog for sidecars)", None,
        phi="uid", dicom="StudyInstanceUID")
    accession_number: Optional[str] = col(pa.string(), "Accession Number", None,
        phi="dicom_id", dicom="AccessionNumber")
    source: str = col(pa.string(), "sr | sidecar", "sidecar", phi="code")
    source_ref: str = col(pa.string(), "SR SOP Instance UID, or sidecar file:line", "", phi="path")
    report_date: Optional[str] = col(pa.string(), "Report date as given (ISO date when parseable)", None, phi="date")
    text: str = col(pa.string(), "Full report text", "", phi="free_text")
    n_chars: int = col(pa.int64(), "Length of text", 0, phi="numeric")
    flags: list = col(pa.list_(pa.string()), "Warnings (e.g. study_not_in_archive)", factory=list, phi="code")


IMAGE_REF = pa.struct([("series", pa.int64()), ("image", pa.int64()), ("image_last", pa.int64()), ("text", pa.string())])


@dataclass(kw_only=True)
class FindingRecord(Record):
    TABLE = "findings"
    SPAN_OF = ("reports", "report_id", "text", "char_start", "char_end")
    DOC = "One row per finding sentence/entity group in a report, in the RadGraph schema."
    finding_id: str = col(pa.string(), "Stable id: report_id + char span", phi="key")
    report_id: str = col(pa.string(), "Report the finding comes from", phi="key")
    study_uid: Optional[str] = col(pa.string(), "Study Instance UID", None, phi="uid", dicom="StudyInstanceUID")
    section: Optional[str] = col(pa.string(), "INDICATION | TECHNIQUE | COMPARISON | FINDINGS | IMPRESSION | ..., then "
                                              "'/SUBSECTION' from the report's own label lines (free text: a label can "
                                              "hold a name, so it is scrubbed)", None, phi="free_text")
    sentence_index: int = col(pa.int64(), "Sentence number within the report", 0, phi="numeric")
    char_start: int = col(pa.int64(), "Start offset of the sentence in the report text", 0, phi="numeric")
    char_end: int = col(pa.int64(), "End offset (exclusive)", 0, phi="numeric")
    text: str = col(pa.string(), "Sentence text", "", phi="free_text")
    observation: Optional[str] = col(pa.string(), "Main observation (e.g. 'lesion', 'nodule')", None, phi="free_text")
    anatomy: Optional[str] = col(pa.string(), "Anatomy it is located at", None, phi="free_text")
    laterality: Optional[str] = col(pa.string(), "left | right | bilateral | null", None, phi="code")
    sizes_mm: Optional[list] = col(pa.list_(pa.list_(pa.float64())), "Current sizes, each 1-3 dimensions in mm", None,
        phi="numeric")
    prior_sizes_mm: Optional[list] = col(pa.list_(pa.list_(pa.float64())), "Prior sizes in mm", None, phi="numeric")
    temporal: Optional[str] = col(pa.string(), "current | prior | both | null", None, phi="code")
    negated: bool = col(pa.bool_(), "Finding is negated", False, phi="numeric")
    uncertain: bool = col(pa.bool_(), "Finding is hedged", False, phi="numeric")
    image_refs: Optional[list] = col(pa.list_(IMAGE_REF), "'series N image M' references (image_last: end of a range of images, else null)", None,
        phi="free_text")
    entities_json: Optional[str] = col(pa.string(), "RadGraph entities/relations for the sentence (JSON)", None,
        phi="json")
    backend: str = col(pa.string(), "Parser backend and version (rules-spacy x.y | radgraph <model>)", "", phi="none")
