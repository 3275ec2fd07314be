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
    PRIVATE = True  # the catalog of source files: only its CT paths leave, privately (curation.deid)
    DOC = "One row per readable DICOM file (SOP instance); the incremental index keys on path + size + mtime."
    path: str = col(pa.string(), "File path as found under the source root (absolute)", phi="path")
    size: int = col(pa.int64(), "File size in bytes when indexed", phi="numeric")
    mtime_ns: int = col(pa.int64(), "File modification time (ns) when indexed", phi="numeric")
    sop_uid: str = col(pa.string(), "SOP Instance UID (0008,0018)", phi="uid", dicom="SOPInstanceUID")
    sop_class_uid: str = col(pa.string(), "SOP Class UID (0008,0016)", phi="code")
    study_uid: str = col(pa.string(), "Study Instance UID (0020,000D)", phi="uid", dicom="StudyInstanceUID")
    series_uid: str = col(pa.string(), "Series Instance UID (0020,000E)", phi="uid", dicom="SeriesInstanceUID")
    modality: Optional[str] = col(pa.string(), "Modality (0008,0060)", None, phi="code")
    category: str = col(pa.string(), "ct_image | gsps | sr | image | other", "other", phi="code")
    patient_id: Optional[str] = col(pa.string(), "Patient ID (0010,0020)", None, phi="dicom_id", dicom="PatientID")
    accession_number: Optional[str] = col(pa.string(), "Accession Number (0008,0050)", None,
        phi="dicom_id", dicom="AccessionNumber")
    study_date: Optional[str] = col(pa.string(), "Study Date (YYYYMMDD)", None, phi="date", dicom="StudyDate")
    series_number: Optional[int] = col(pa.int64(), "Series Number (0020,0011)", None, phi="numeric")
    instance_number: Optional[int] = col(pa.int64(), "Instance Number (0020,0013)", None, phi="numeric")
    rows: Optional[int] = col(pa.int64(), "Rows (0028,0010)", None, phi="numeric")
    columns: Optional[int] = col(pa.int64(), "Columns (0028,0011)", None, phi="numeric")
    n_frames: Optional[int] = col(pa.int64(), "Number of Frames (1 when absent on an image)", None, phi="numeric")
    pixel_spacing: Optional[list] = col(F64_LIST, "Pixel Spacing [row, column] mm", None, phi="numeric")
    imager_pixel_spacing: Optional[list] = col(F64_LIST, "Imager Pixel Spacing [row, column] mm (projection images)", None,
        phi="numeric")
    image_position: Optional[list] = col(F64_LIST, "Image Position (Patient) [x, y, z] LPS mm", None, phi="numeric")
    image_orientation: Optional[list] = col(F64_LIST, "Image Orientation (Patient), 6 direction cosines", None,
        phi="numeric")
    slice_thickness: Optional[float] = col(pa.float64(), "Slice Thickness mm", None, phi="numeric")
    frame_of_reference_uid: Optional[str] = col(pa.string(), "Frame of Reference UID", None,
        phi="uid", dicom="FrameOfReferenceUID")
    series_description: Optional[str] = col(pa.string(), "Series Description", None,
        phi="dicom_text", dicom="SeriesDescription")
    study_description: Optional[str] = col(pa.string(), "Study Description", None,
        phi="dicom_text", dicom="StudyDescription")
    transfer_syntax_uid: Optional[str] = col(pa.string(), "Transfer Syntax UID of the file", None, phi="code")


@dataclass(kw_only=True)
class SeriesRecord(Record):
    TABLE = "series"
    DOC = "One row per series; CT image series carry the volume geometry checked from headers."
    series_uid: str = col(pa.string(), "Series Instance UID", phi="uid", dicom="SeriesInstanceUID")
    study_uid: str = col(pa.string(), "Study Instance UID", phi="uid", dicom="StudyInstanceUID")
    category: str = col(pa.string(), "ct_image | gsps | sr | image | other", phi="code")
    modality: Optional[str] = col(pa.string(), "Modality", None, phi="code")
    series_number: Optional[int] = col(pa.int64(), "Series Number", None, phi="numeric")
    description: Optional[str] = col(pa.string(), "Series Description", None,
        phi="dicom_text", dicom="SeriesDescription")
    n_instances: int = col(pa.int64(), "Number of indexed instances", 0, phi="numeric")
    rows: Optional[int] = col(pa.int64(), "Rows of the images", None, phi="numeric")
    columns: Optional[int] = col(pa.int64(), "Columns of the images", None, phi="numeric")
    pixel_spacing: Optional[list] = col(pa.list_(pa.float64()), "Pixel Spacing [row, column] mm", None, phi="numeric")
    slice_spacing_mm: Optional[float] = col(pa.float64(), "Distance between slice centres along the normal (CT)", None,
        phi="numeric")
    slice_thickness: Optional[float] = col(pa.float64(), "Slice Thickness mm (header)", None, phi="numeric")
    n_slices: Optional[int] = col(pa.int64(), "Slices in the sorted volume (CT)", None, phi="numeric")
    affine: Optional[list] = col(
        pa.list_(pa.float64()),
        "4x4 row-major voxel->patient (LPS mm) affine for index (column, row, slice) (CT)", None, phi="numeric")
    geometry_status: Optional[str] = col(pa.string(), "ok | error | null (not a CT volume)", None, phi="code")
    geometry_error: Optional[str] = col(pa.string(), "Why the slices do not form one volume", None, phi="free_text")


@dataclass(kw_only=True)
class StudyRecord(Record):
    TABLE = "studies"
    DOC = "One row per study with counts of what it holds."
    study_uid: str = col(pa.string(), "Study Instance UID", phi="uid", dicom="StudyInstanceUID")
    patient_id: Optional[str] = col(pa.string(), "Patient ID", None, phi="dicom_id", dicom="PatientID")
    accession_number: Optional[str] = col(pa.string(), "Accession Number", None,
        phi="dicom_id", dicom="AccessionNumber")
    study_date: Optional[str] = col(pa.string(), "Study Date (YYYYMMDD)", None, phi="date", dicom="StudyDate")
    description: Optional[str] = col(pa.string(), "Study Description", None, phi="dicom_text", dicom="StudyDescription")
    n_series: int = col(pa.int64(), "Series indexed", 0, phi="numeric")
    n_ct_series: int = col(pa.int64(), "CT image series", 0, phi="numeric")
    n_gsps: int = col(pa.int64(), "GSPS objects", 0, phi="numeric")
    n_sr: int = col(pa.int64(), "SR objects", 0, phi="numeric")
    n_annotations: int = col(pa.int64(), "Annotations extracted", 0, phi="numeric")
    n_reports: int = col(pa.int64(), "Reports found (SR text or sidecar)", 0, phi="numeric")
