"""Annotations: every GSPS/SR mark turned into a prompt with its geometry and physical size."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pyarrow as pa

from schemas.base import Record, col

ANNOTATION_KINDS = ("line", "arrow", "bidimensional", "ellipse", "circle", "point", "polygon", "polyline", "text")
POINTS = pa.list_(pa.list_(pa.float64()))


@dataclass(kw_only=True)
class AnnotationRecord(Record):
    TABLE = "annotations"
    DOC = ("One row per radiologist mark. Geometry is in the referenced image's PIXEL frame "
           "((column, row), (0,0) = top-left corner of the top-left pixel) whatever units the source used.")
    annotation_id: str = col(pa.string(), "Stable id: hash of source SOP UID + position of the mark in it", phi="key")
    source_kind: str = col(pa.string(), "gsps | sr", phi="code")
    source_sop_uid: str = col(pa.string(), "SOP Instance UID of the GSPS / SR object",
        phi="uid", dicom="SOPInstanceUID")
    source_path: str = col(pa.string(), "File the mark was read from", phi="path")
    study_uid: Optional[str] = col(pa.string(), "Study Instance UID", None, phi="uid", dicom="StudyInstanceUID")
    series_uid: Optional[str] = col(pa.string(), "Series Instance UID of the referenced image", None,
        phi="uid", dicom="SeriesInstanceUID")
    referenced_sop_uid: Optional[str] = col(pa.string(), "SOP Instance UID of the image the mark is drawn on", None,
        phi="uid", dicom="ReferencedSOPInstanceUID")
    referenced_frame: Optional[int] = col(pa.int64(), "1-based frame number in a multi-frame image", None,
        phi="numeric")
    kind: str = col(pa.string(), "line | arrow | bidimensional | ellipse | circle | point | polygon | polyline | text",
        phi="code")
    points_px: Optional[list] = col(POINTS, "Points [[column, row], ...] in PIXEL convention; kind-specific order", None,
        phi="numeric")
    tip_px: Optional[list] = col(pa.list_(pa.float64()), "Arrow tip [column, row]", None, phi="numeric")
    points_patient: Optional[list] = col(POINTS, "Points in patient LPS mm (when the image geometry is known)", None,
        phi="numeric")
    length_mm: Optional[float] = col(pa.float64(), "Line length / long axis / major axis / diameter, recomputed from points", None,
        phi="numeric")
    short_mm: Optional[float] = col(pa.float64(), "Bidimensional short axis or ellipse minor axis", None, phi="numeric")
    spacing_source: Optional[str] = col(
        pa.string(), "pixel_spacing | imager_pixel_spacing | presentation_pixel_spacing | sr_value | null", None, phi="code")
    pixel_spacing: Optional[list] = col(pa.list_(pa.float64()), "[row, column] spacing used for lengths", None,
        phi="numeric")
    slice_index: Optional[int] = col(pa.int64(), "0-based index in the sorted CT volume (null when unknown)", None,
        phi="numeric")
    text: Optional[str] = col(pa.string(), "Text paired with the mark (GSPS text object, SR finding/label)", None,
        phi="dicom_text", dicom="UnformattedTextValue")
    text_value: Optional[float] = col(pa.float64(), "Measurement parsed from the text (cross-check), in text_unit", None,
        phi="numeric")
    text_unit: Optional[str] = col(pa.string(), "Unit of text_value as written (mm, cm, cm2, ...)", None, phi="code")
    text_pairing: Optional[str] = col(pa.string(), "compound_id | group_id | proximity | sr_group | null", None,
        phi="code")
    source_units: Optional[str] = col(pa.string(), "PIXEL | DISPLAY | SCOORD (how the source stored the points)", None,
        phi="code")
    graphic_layer: Optional[str] = col(pa.string(), "GSPS Graphic Layer", None, phi="dicom_text", dicom="GraphicLayer")
    group_id: Optional[int] = col(pa.int64(), "GSPS Graphic Group ID", None, phi="numeric")
    compound_id: Optional[int] = col(pa.int64(), "GSPS Compound Graphic Instance ID", None, phi="numeric")
    tracking_uid: Optional[str] = col(pa.string(), "SR Tracking Unique Identifier / GSPS Tracking UID", None,
        phi="uid", dicom="TrackingUID")
    reader: Optional[str] = col(pa.string(), "Who made the mark: GSPS Content Creator's Name or SR Person Observer Name "
                                             "(a keyed pseudonym once de-identified)", None, phi="staff")
    flags: list = col(pa.list_(pa.string()), "Warnings: applies_to_all_images, image_not_in_archive, ...", factory=list,
        phi="code")
    extractor: str = col(pa.string(), "opseg version that produced the row", "", phi="none")
