"""Lesions: the marks and masks that show one lesion of a study, grouped (however many times it was marked).

Why a members table rather than a ``lesion_id`` column on annotations and masks: those tables are written by the
extract and segment stages, before any grouping can be done; a later stage rewriting them would break their
per-stage completion markers and input fingerprints (and the byte-identical reruns that rest on them). So the
grouping lives in two tables of its own, and ``lesion_members`` maps every grouped mark (and its mask) to its
lesion; DuckDB's ``lesion_marks`` view joins it back onto annotations.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pyarrow as pa

from schemas.base import Record, col

STRINGS = pa.list_(pa.string())


@dataclass(kw_only=True)
class LesionRecord(Record):
    TABLE = "lesions"
    DOC = ("One row per lesion of a study: the marks (GSPS, SR) and masks that show it grouped into one, with the "
           "primary mask chosen by the documented rule (QC pass, then prompt kind, then the thinnest series).")
    lesion_id: str = col(pa.string(), "Stable id: study + the smallest annotation_id among its members", phi="key")
    study_uid: str = col(pa.string(), "Study Instance UID", phi="uid", dicom="StudyInstanceUID")
    frame_of_reference_uid: Optional[str] = col(pa.string(), "Frame of Reference of the primary's series", None, phi="uid", dicom="FrameOfReferenceUID")
    primary_annotation_id: str = col(pa.string(), "The member whose mask is the lesion's mask", phi="key")
    primary_mask_id: Optional[str] = col(pa.string(), "Primary mask (null when no member has a mask)", None, phi="key")
    primary_series_uid: Optional[str] = col(pa.string(), "CT series of the primary", None, phi="uid", dicom="SeriesInstanceUID")
    primary_rule: str = col(pa.string(), "Why the primary won: qc=<pass|none|fail>, kind=<kind>, slice=<mm>", phi="none")
    n_marks: int = col(pa.int64(), "Marks grouped into the lesion (annotations)", phi="numeric")
    n_masks: int = col(pa.int64(), "Members with a mask", phi="numeric")
    n_series: int = col(pa.int64(), "CT series the marks are drawn on", phi="numeric")
    n_sources: int = col(pa.int64(), "GSPS / SR objects the marks come from", phi="numeric")
    kinds: list = col(STRINGS, "Prompt kinds of the members, sorted", factory=list, phi="code")
    grouped_by: list = col(STRINGS, "Rules that joined members: same_geometry | same_measurement | mask_overlap | "
                                    "mark_in_mask | marks_near", factory=list, phi="code")
    centroid_lps: Optional[list] = col(pa.list_(pa.float64()), "Primary mask centroid, patient LPS mm", None, phi="numeric")
    n_disagreeing: int = col(pa.int64(), "Member masks whose Dice to the primary is below the threshold", 0, phi="numeric")


@dataclass(kw_only=True)
class LesionMemberRecord(Record):
    TABLE = "lesion_members"
    DOC = ("One row per grouped mark (annotation) with its mask: which lesion it shows, the rules that joined it, and "
           "how its mask agrees with the primary in patient space (QC flag `disagrees`).")
    lesion_id: str = col(pa.string(), "Lesion", phi="key")
    annotation_id: str = col(pa.string(), "The mark", phi="key")
    mask_id: Optional[str] = col(pa.string(), "Its mask, when segmentation made one", None, phi="key")
    study_uid: str = col(pa.string(), "Study Instance UID", phi="uid", dicom="StudyInstanceUID")
    series_uid: Optional[str] = col(pa.string(), "CT series the mark is drawn on", None, phi="uid", dicom="SeriesInstanceUID")
    source_kind: str = col(pa.string(), "gsps | sr", phi="code")
    source_sop_uid: str = col(pa.string(), "GSPS / SR object the mark comes from", phi="uid", dicom="SOPInstanceUID")
    kind: str = col(pa.string(), "Prompt kind of the mark", phi="code")
    role: str = col(pa.string(), "primary | member", phi="code")
    evidence: list = col(STRINGS, "Rules that tie it to another member (same_geometry, same_measurement, mark_in_mask, "
                                  "mask_overlap); empty for a lesion of one mark", factory=list, phi="code")
    dice_to_primary: Optional[float] = col(pa.float64(), "Dice of its mask with the primary mask in patient space", None, phi="numeric")
    iou_to_primary: Optional[float] = col(pa.float64(), "IoU of its mask with the primary mask in patient space", None, phi="numeric")
    centroid_distance_mm: Optional[float] = col(pa.float64(), "Mask centroid to the primary's, mm", None, phi="numeric")
    disagrees: Optional[bool] = col(pa.bool_(), "QC flag: Dice to the primary below lesions.min_member_dice", None, phi="code")
