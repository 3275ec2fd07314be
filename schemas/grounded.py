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
    lesion_id: str = col(pa.string(), "The lesion (lesions.lesion_id; the link id for a mark no lesion holds)",
        phi="key")
    split: str = col(pa.string(), "train | validation | test, by patient", phi="code")
    patient_key: str = col(pa.string(), "Patient the split was drawn by", phi="dicom_id", dicom="PatientID")
    study_uid: str = col(pa.string(), "Study Instance UID", phi="uid", dicom="StudyInstanceUID")
    series_uid: str = col(pa.string(), "CT series the mask lies in", phi="uid", dicom="SeriesInstanceUID")
    annotation_id: str = col(pa.string(), "Prompt annotation (the lesion's primary)", phi="key")
    mask_id: str = col(pa.string(), "Mask (the lesion's primary mask)", phi="key")
    finding_id: str = col(pa.string(), "Finding (report sentence)", phi="key")
    mask: dict = col(NIFTI_REF, "Mask cropped to its bbox as NIfTI (RAS affine with the crop offset)", phi="image")
    mask_bbox: list = col(pa.list_(pa.int64()), "[c0, r0, s0, c1, r1, s1] voxel indices in the CT volume, end exclusive",
        phi="numeric")
    affine_lps: list = col(pa.list_(pa.float64()), "CT volume voxel (column, row, slice) -> LPS mm, 4x4 row-major",
        phi="numeric")
    ct_file: Optional[str] = col(pa.string(), "CT volume NIfTI, relative to the dataset folder (null if not exported)", None,
        phi="path")
    ct_shape: Optional[list] = col(pa.list_(pa.int64()), "CT volume shape (columns, rows, slices) as stored in ct_file", None,
        phi="numeric")
    prompt_kind: str = col(pa.string(), "line | arrow | bidimensional | ellipse | ...", phi="code")
    prompt_source: str = col(pa.string(), "gsps | sr", phi="code")
    prompt_slice: Optional[int] = col(pa.int64(), "Annotated slice index", None, phi="numeric")
    prompt_points_px: Optional[list] = col(POINTS, "Prompt points [[column, row], ...] on that slice", None,
        phi="numeric")
    prompt_points_lps: Optional[list] = col(POINTS, "The same points in patient LPS mm", None, phi="numeric")
    prompt_length_mm: Optional[float] = col(pa.float64(), "Length / long axis the radiologist drew", None,
        phi="numeric")
    prompt_short_mm: Optional[float] = col(pa.float64(), "Short axis the radiologist drew", None, phi="numeric")
    n_marks: int = col(pa.int64(), "Marks of the lesion (1 when it was marked once)", 1, phi="numeric")
    member_prompts: list = col(pa.list_(PROMPT), "Every member mark's prompt (the primary's included), by "
                                                 "annotation_id", factory=list, phi="numeric")  # built from the de-identified copy: ids already keyed
    finding_text: str = col(pa.string(), "The sentence that measures the lesion", phi="free_text")
    section: Optional[str] = col(pa.string(), "Report section of the sentence (and its label line, scrubbed)", None,
        phi="free_text")
    report_text: str = col(pa.string(), "Full report text", phi="free_text")
    char_start: int = col(pa.int64(), "Sentence start in report_text", phi="numeric")
    char_end: int = col(pa.int64(), "Sentence end in report_text (exclusive)", phi="numeric")
    observation: Optional[str] = col(pa.string(), "Observation of the finding", None, phi="free_text")
    anatomy: Optional[str] = col(pa.string(), "Anatomy of the finding", None, phi="free_text")
    laterality: Optional[str] = col(pa.string(), "left | right | bilateral | null", None, phi="code")
    reported_sizes_mm: Optional[list] = col(pa.list_(pa.list_(pa.float64())), "Sizes written in the sentence", None,
        phi="numeric")
    mask_long_mm: Optional[float] = col(pa.float64(), "RECIST long axis of the mask", None, phi="numeric")
    mask_short_mm: Optional[float] = col(pa.float64(), "RECIST short axis of the mask", None, phi="numeric")
    mask_volume_ml: Optional[float] = col(pa.float64(), "Mask volume", None, phi="numeric")
    link_tier: str = col(pa.string(), "A | B | C", phi="code")
    link_score: float = col(pa.float64(), "Match score", phi="numeric")
    link_evidence: list = col(pa.list_(pa.string()), "Rules that fired", factory=list, phi="code")
    qc_passed: Optional[bool] = col(pa.bool_(), "Per-mask QC verdict", None, phi="numeric")
    qc_failed: list = col(pa.list_(pa.string()), "QC metrics that failed", factory=list, phi="code")
    segmentation_backend: str = col(pa.string(), "Backend and version that made the mask", phi="none")
    checkpoint: Optional[str] = col(pa.string(), "Checkpoint name + sha256 prefix", None, phi="path")
    finding_backend: str = col(pa.string(), "Report parser and version", phi="none")
    linker: str = col(pa.string(), "Linker version", phi="none")
