"""Radiologists' scores of masks from `opseg review` (the SAM2CT paper's clinical evaluation scale)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Optional

import pyarrow as pa

from schemas.base import Record, col

REVIEW_SCORES = ("accept", "minor", "major")  # best first: clinically acceptable, minor edits, major edits


@dataclass(kw_only=True)
class ReviewRecord(Record):
    TABLE = "reviews"
    DOC = ("One row per score a reviewer gave a mask; rows are only appended, and a reviewer's latest score for a "
           "mask is the one that counts. `reviewer` and `comment` are typed by people: pseudonymise / scrub them "
           "before publishing (the de-identified copy does).")
    mask_id: str = col(pa.string(), "Mask scored (pseudonymised like masks.mask_id)", phi="key")
    reviewer: str = col(pa.string(), "Who scored it, as typed (a staff member: pseudonymised before publishing)",
                        phi="staff")
    score: str = col(pa.string(), "accept (clinically acceptable) | minor (minor edits) | major (major edits)",
                     phi="code")
    comment: Optional[str] = col(pa.string(), "Reviewer's remark (scrubbed before publishing)", None, phi="free_text")
    reviewed_at: dt.datetime = col(pa.timestamp("us", tz="UTC"), "When the score was given, UTC (the time of the "
                                                                  "review, not of the patient's care: kept)",
                                   phi="numeric")
