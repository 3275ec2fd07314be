"""The published, denormalised view: one row per linked lesion, everything a grounded report model needs."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pyarrow as pa

from schemas.base import Record, col

NIFTI_REF = pa.struct([pa.field("bytes", pa.binary()), pa.field("path", pa.string())])  # datasets' Nifti storage
POINTS = pa.list_(pa.list_(pa.float64()))
PROMPT = pa.struct([pa.field("annotation_id", pa.string()), pa.field("kind", pa.string()), pa.field("source", pa.string()),
                    pa.field("series_uid", pa.string()), pa.field("slice", pa.int64()),
                    pa.field("points_px", POINTS), pa.field("points_lps", POINTS),
                    pa.field("length_mm", pa.float64()), pa.field("short_mm", pa.float64())])


@dataclass(kw_only=True)
class GroundedRecord(Record):
    TABLE = "grounded"
    DOC = ("Published only (`opseg publish`): one row per linked lesion, however many times it was marked (the "
           "primary mask, every member mark's prompt, the finding). `mask` is a datasets `Nifti` feature "
           "(the bbox-cropped mask, embedded); the CT volume is a referenced NIfTI file `ct_file`.")
    lesion_id: str = col(pa.string(), "The lesion (lesions.lesion_id; the link id for a mark no lesion holds)")
    split: str = col(pa.string(), "train | validation | test, by patient")
    patient_key: str = col(pa.string(), "Patient the split was drawn by")
    study_uid: str = col(pa.string(), "Study Instance UID")
    series_uid: str = col(pa.string(), "CT series the mask lies in")
    annotation_id: str = col(pa.string(), "Prompt annotation (the lesion's primary)")
    mask_id: str = col(pa.string(), "Mask (the lesion's primary mask)")
    finding_id: str = col(pa.string(), "Finding (report sentence)")
    mask: dict = col(NIFTI_REF, "Mask cropped to its bbox as NIfTI (RAS affine with the crop offset)")
    mask_bbox: list = col(pa.list_(pa.int64()), "[c0, r0, s0, c1, r1, s1] voxel indices in the CT volume, end exclusive")
    affine_lps: list = col(pa.list_(pa.float64()), "CT volume voxel (column, row, slice) -> LPS mm, 4x4 row-major")
    ct_file: Optional[str] = col(pa.string(), "CT volume NIfTI, relative to the dataset folder (null if not exported)", None)
    ct_shape: Optional[list] = col(pa.list_(pa.int64()), "CT volume shape (columns, rows, slices) as stored in ct_file", None)
    prompt_kind: str = col(pa.string(), "line | arrow | bidimensional | ellipse | ...")
    prompt_source: str = col(pa.string(), "gsps | sr")
    prompt_slice: Optional[int] = col(pa.int64(), "Annotated slice index", None)
    prompt_points_px: Optional[list] = col(POINTS, "Prompt points [[column, row], ...] on that slice", None)
    prompt_points_lps: Optional[list] = col(POINTS, "The same points in patient LPS mm", None)
    prompt_length_mm: Optional[float] = col(pa.float64(), "Length / long axis the radiologist drew", None)
    prompt_short_mm: Optional[float] = col(pa.float64(), "Short axis the radiologist drew", None)
    n_marks: int = col(pa.int64(), "Marks of the lesion (1 when it was marked once)", 1)  # PHI: numeric
    member_prompts: list = col(pa.list_(PROMPT), "Every member mark's prompt (the primary's included), by "
                                                 "annotation_id", factory=list)  # PHI: numeric
    finding_text: str = col(pa.string(), "The sentence that measures the lesion")
    section: Optional[str] = col(pa.string(), "Report section of the sentence", None)
    report_text: str = col(pa.string(), "Full report text")
    char_start: int = col(pa.int64(), "Sentence start in report_text")
    char_end: int = col(pa.int64(), "Sentence end in report_text (exclusive)")
    observation: Optional[str] = col(pa.string(), "Observation of the finding", None)
    anatomy: Optional[str] = col(pa.string(), "Anatomy of the finding", None)
    laterality: Optional[str] = col(pa.string(), "left | right | bilateral | null", None)
    reported_sizes_mm: Optional[list] = col(pa.list_(pa.list_(pa.float64())), "Sizes written in the sentence", None)
    mask_long_mm: Optional[float] = col(pa.float64(), "RECIST long axis of the mask", None)
    mask_short_mm: Optional[float] = col(pa.float64(), "RECIST short axis of the mask", None)
    mask_volume_ml: Optional[float] = col(pa.float64(), "Mask volume", None)
    link_tier: str = col(pa.string(), "A | B | C")
    link_score: float = col(pa.float64(), "Match score")
    link_evidence: list = col(pa.list_(pa.string()), "Rules that fired", factory=list)
    qc_passed: Optional[bool] = col(pa.bool_(), "Per-mask QC verdict", None)
    qc_failed: list = col(pa.list_(pa.string()), "QC metrics that failed", factory=list)
    segmentation_backend: str = col(pa.string(), "Backend and version that made the mask")
    checkpoint: Optional[str] = col(pa.string(), "Checkpoint name + sha256 prefix", None)
    finding_backend: str = col(pa.string(), "Report parser and version")
    linker: str = col(pa.string(), "Linker version")
