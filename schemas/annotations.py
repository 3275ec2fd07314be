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
    annotation_id: str = col(pa.string(), "Stable id: hash of source SOP UID + position of the mark in it")
    source_kind: str = col(pa.string(), "gsps | sr")
    source_sop_uid: str = col(pa.string(), "SOP Instance UID of the GSPS / SR object")
    source_path: str = col(pa.string(), "File the mark was read from")
    study_uid: Optional[str] = col(pa.string(), "Study Instance UID", None)
    series_uid: Optional[str] = col(pa.string(), "Series Instance UID of the referenced image", None)
    referenced_sop_uid: Optional[str] = col(pa.string(), "SOP Instance UID of the image the mark is drawn on", None)
    referenced_frame: Optional[int] = col(pa.int64(), "1-based frame number in a multi-frame image", None)
    kind: str = col(pa.string(), "line | arrow | bidimensional | ellipse | circle | point | polygon | polyline | text")
    points_px: Optional[list] = col(POINTS, "Points [[column, row], ...] in PIXEL convention; kind-specific order", None)
    tip_px: Optional[list] = col(pa.list_(pa.float64()), "Arrow tip [column, row]", None)
    points_patient: Optional[list] = col(POINTS, "Points in patient LPS mm (when the image geometry is known)", None)
    length_mm: Optional[float] = col(pa.float64(), "Line length / long axis / major axis / diameter, recomputed from points", None)
    short_mm: Optional[float] = col(pa.float64(), "Bidimensional short axis or ellipse minor axis", None)
    spacing_source: Optional[str] = col(
        pa.string(), "pixel_spacing | imager_pixel_spacing | presentation_pixel_spacing | sr_value | null", None)
    pixel_spacing: Optional[list] = col(pa.list_(pa.float64()), "[row, column] spacing used for lengths", None)
    slice_index: Optional[int] = col(pa.int64(), "0-based index in the sorted CT volume (null when unknown)", None)
    text: Optional[str] = col(pa.string(), "Text paired with the mark (GSPS text object, SR finding/label)", None)
    text_value: Optional[float] = col(pa.float64(), "Measurement parsed from the text (cross-check), in text_unit", None)
    text_unit: Optional[str] = col(pa.string(), "Unit of text_value as written (mm, cm, cm2, ...)", None)
    text_pairing: Optional[str] = col(pa.string(), "compound_id | group_id | proximity | sr_group | null", None)
    source_units: Optional[str] = col(pa.string(), "PIXEL | DISPLAY | SCOORD (how the source stored the points)", None)
    graphic_layer: Optional[str] = col(pa.string(), "GSPS Graphic Layer", None)
    group_id: Optional[int] = col(pa.int64(), "GSPS Graphic Group ID", None)
    compound_id: Optional[int] = col(pa.int64(), "GSPS Compound Graphic Instance ID", None)
    tracking_uid: Optional[str] = col(pa.string(), "SR Tracking Unique Identifier / GSPS Tracking UID", None)
    reader: Optional[str] = col(pa.string(), "Who made the mark: GSPS Content Creator's Name or SR Person Observer Name "
                                             "(a keyed pseudonym once de-identified)", None)  # PHI: key (a name before deid)
    flags: list = col(pa.list_(pa.string()), "Warnings: applies_to_all_images, image_not_in_archive, ...", factory=list)
    extractor: str = col(pa.string(), "opseg version that produced the row", "")
