"""Catalog tables: what the archive holds, read from headers only."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pyarrow as pa

from schemas.base import Record, col

F64_LIST = pa.list_(pa.float64())


@dataclass(kw_only=True)
class InstanceRecord(Record):
    TABLE = "instances"
    DOC = "One row per readable DICOM file (SOP instance); the incremental index keys on path + size + mtime."
    path: str = col(pa.string(), "File path as found under the source root (absolute)")
    size: int = col(pa.int64(), "File size in bytes when indexed")
    mtime_ns: int = col(pa.int64(), "File modification time (ns) when indexed")
    sop_uid: str = col(pa.string(), "SOP Instance UID (0008,0018)")
    sop_class_uid: str = col(pa.string(), "SOP Class UID (0008,0016)")
    study_uid: str = col(pa.string(), "Study Instance UID (0020,000D)")
    series_uid: str = col(pa.string(), "Series Instance UID (0020,000E)")
    modality: Optional[str] = col(pa.string(), "Modality (0008,0060)", None)
    category: str = col(pa.string(), "ct_image | gsps | sr | image | other", "other")
    patient_id: Optional[str] = col(pa.string(), "Patient ID (0010,0020)", None)
    accession_number: Optional[str] = col(pa.string(), "Accession Number (0008,0050)", None)
    study_date: Optional[str] = col(pa.string(), "Study Date (YYYYMMDD)", None)
    series_number: Optional[int] = col(pa.int64(), "Series Number (0020,0011)", None)
    instance_number: Optional[int] = col(pa.int64(), "Instance Number (0020,0013)", None)
    rows: Optional[int] = col(pa.int64(), "Rows (0028,0010)", None)
    columns: Optional[int] = col(pa.int64(), "Columns (0028,0011)", None)
    n_frames: Optional[int] = col(pa.int64(), "Number of Frames (1 when absent on an image)", None)
    pixel_spacing: Optional[list] = col(F64_LIST, "Pixel Spacing [row, column] mm", None)
    imager_pixel_spacing: Optional[list] = col(F64_LIST, "Imager Pixel Spacing [row, column] mm (projection images)", None)
    image_position: Optional[list] = col(F64_LIST, "Image Position (Patient) [x, y, z] LPS mm", None)
    image_orientation: Optional[list] = col(F64_LIST, "Image Orientation (Patient), 6 direction cosines", None)
    slice_thickness: Optional[float] = col(pa.float64(), "Slice Thickness mm", None)
    frame_of_reference_uid: Optional[str] = col(pa.string(), "Frame of Reference UID", None)
    series_description: Optional[str] = col(pa.string(), "Series Description", None)
    study_description: Optional[str] = col(pa.string(), "Study Description", None)
    transfer_syntax_uid: Optional[str] = col(pa.string(), "Transfer Syntax UID of the file", None)


@dataclass(kw_only=True)
class SeriesRecord(Record):
    TABLE = "series"
    DOC = "One row per series; CT image series carry the volume geometry checked from headers."
    series_uid: str = col(pa.string(), "Series Instance UID")
    study_uid: str = col(pa.string(), "Study Instance UID")
    category: str = col(pa.string(), "ct_image | gsps | sr | image | other")
    modality: Optional[str] = col(pa.string(), "Modality", None)
    series_number: Optional[int] = col(pa.int64(), "Series Number", None)
    description: Optional[str] = col(pa.string(), "Series Description", None)
    n_instances: int = col(pa.int64(), "Number of indexed instances", 0)
    rows: Optional[int] = col(pa.int64(), "Rows of the images", None)
    columns: Optional[int] = col(pa.int64(), "Columns of the images", None)
    pixel_spacing: Optional[list] = col(pa.list_(pa.float64()), "Pixel Spacing [row, column] mm", None)
    slice_spacing_mm: Optional[float] = col(pa.float64(), "Distance between slice centres along the normal (CT)", None)
    slice_thickness: Optional[float] = col(pa.float64(), "Slice Thickness mm (header)", None)
    n_slices: Optional[int] = col(pa.int64(), "Slices in the sorted volume (CT)", None)
    affine: Optional[list] = col(
        pa.list_(pa.float64()),
        "4x4 row-major voxel->patient (LPS mm) affine for index (column, row, slice) (CT)", None)
    geometry_status: Optional[str] = col(pa.string(), "ok | error | null (not a CT volume)", None)
    geometry_error: Optional[str] = col(pa.string(), "Why the slices do not form one volume", None)


@dataclass(kw_only=True)
class StudyRecord(Record):
    TABLE = "studies"
    DOC = "One row per study with counts of what it holds."
    study_uid: str = col(pa.string(), "Study Instance UID")
    patient_id: Optional[str] = col(pa.string(), "Patient ID", None)
    accession_number: Optional[str] = col(pa.string(), "Accession Number", None)
    study_date: Optional[str] = col(pa.string(), "Study Date (YYYYMMDD)", None)
    description: Optional[str] = col(pa.string(), "Study Description", None)
    n_series: int = col(pa.int64(), "Series indexed", 0)
    n_ct_series: int = col(pa.int64(), "CT image series", 0)
    n_gsps: int = col(pa.int64(), "GSPS objects", 0)
    n_sr: int = col(pa.int64(), "SR objects", 0)
    n_annotations: int = col(pa.int64(), "Annotations extracted", 0)
    n_reports: int = col(pa.int64(), "Reports found (SR text or sidecar)", 0)
