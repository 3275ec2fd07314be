"""Links between annotations/masks and report findings."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pyarrow as pa

from schemas.base import Record, col


@dataclass(kw_only=True)
class LinkRecord(Record):
    TABLE = "links"
    DOC = "One row per annotation-finding match with its confidence tier and evidence."
    link_id: str = col(pa.string(), "Stable id: annotation_id + finding_id", phi="key")
    study_uid: Optional[str] = col(pa.string(), "Study Instance UID", None, phi="uid", dicom="StudyInstanceUID")
    annotation_id: str = col(pa.string(), "Annotation linked", phi="key")
    mask_id: Optional[str] = col(pa.string(), "Mask of that annotation when one exists", None, phi="key")
    finding_id: str = col(pa.string(), "Finding linked", phi="key")
    tier: str = col(pa.string(), "A (image ref + size) | B (assignment with margin) | C (candidate)", phi="code")
    score: float = col(pa.float64(), "Match score (higher is better)", 0.0, phi="numeric")
    evidence: list = col(pa.list_(pa.string()), "Rules that fired (size_exact, image_ref, laterality, ...)", factory=list,
        phi="code")
    backend: str = col(pa.string(), "Linker version", "", phi="none")
