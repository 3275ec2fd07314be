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
    report_id: str = col(pa.string(), "Stable id: hash of the source and its key")
    study_uid: Optional[str] = col(pa.string(), "Study Instance UID (resolved through the catalog for sidecars)", None)
    accession_number: Optional[str] = col(pa.string(), "Accession Number", None)
    source: str = col(pa.string(), "sr | sidecar", "sidecar")
    source_ref: str = col(pa.string(), "SR SOP Instance UID, or sidecar file:line", "")
    report_date: Optional[str] = col(pa.string(), "Report date as given (ISO date when parseable)", None)
    text: str = col(pa.string(), "Full report text", "")
    n_chars: int = col(pa.int64(), "Length of text", 0)
    flags: list = col(pa.list_(pa.string()), "Warnings (e.g. study_not_in_archive)", factory=list)


IMAGE_REF = pa.struct([("series", pa.int64()), ("image", pa.int64()), ("image_last", pa.int64()), ("text", pa.string())])


@dataclass(kw_only=True)
class FindingRecord(Record):
    TABLE = "findings"
    DOC = "One row per finding sentence/entity group in a report, in the RadGraph schema."
    finding_id: str = col(pa.string(), "Stable id: report_id + char span")
    report_id: str = col(pa.string(), "Report the finding comes from")
    study_uid: Optional[str] = col(pa.string(), "Study Instance UID", None)
    section: Optional[str] = col(pa.string(), "INDICATION | TECHNIQUE | COMPARISON | FINDINGS | IMPRESSION | ...", None)
    sentence_index: int = col(pa.int64(), "Sentence number within the report", 0)
    char_start: int = col(pa.int64(), "Start offset of the sentence in the report text", 0)
    char_end: int = col(pa.int64(), "End offset (exclusive)", 0)
    text: str = col(pa.string(), "Sentence text", "")
    observation: Optional[str] = col(pa.string(), "Main observation (e.g. 'lesion', 'nodule')", None)
    anatomy: Optional[str] = col(pa.string(), "Anatomy it is located at", None)
    laterality: Optional[str] = col(pa.string(), "left | right | bilateral | null", None)
    sizes_mm: Optional[list] = col(pa.list_(pa.list_(pa.float64())), "Current sizes, each 1-3 dimensions in mm", None)
    prior_sizes_mm: Optional[list] = col(pa.list_(pa.list_(pa.float64())), "Prior sizes in mm", None)
    temporal: Optional[str] = col(pa.string(), "current | prior | both | null", None)
    negated: bool = col(pa.bool_(), "Finding is negated", False)
    uncertain: bool = col(pa.bool_(), "Finding is hedged", False)
    image_refs: Optional[list] = col(pa.list_(IMAGE_REF), "'series N image M' references (image_last: end of a range of images, else null)", None)
    entities_json: Optional[str] = col(pa.string(), "RadGraph entities/relations for the sentence (JSON)", None)
    backend: str = col(pa.string(), "Parser backend and version (rules-spacy x.y | radgraph <model>)", "")
