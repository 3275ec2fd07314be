"""Mark geometry + referenced image -> AnnotationRecord with physical sizes, slice and patient points.

Shared by the GSPS and SR readers so both produce the same rows for the same mark.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from curation import EXTRACTOR
from curation.dicom.lookup import ImageInfo
from curation.extract.measure_text import parse_measurement
from curation.io.ids import stable_id  # noqa: F401  (re-exported for the extract readers)
from schemas import AnnotationRecord


def mm_distance(p: np.ndarray, q: np.ndarray, spacing: list) -> float:
    """Distance in mm between two PIXEL points; spacing is [row, column] as in Pixel Spacing."""
    dr, dc = float(spacing[0]), float(spacing[1])
    d = np.asarray(q, float) - np.asarray(p, float)
    return float(np.hypot(d[0] * dc, d[1] * dr))


def sizes_mm(kind: str, pts: np.ndarray, spacing: Optional[list]) -> tuple[Optional[float], Optional[float]]:
    """(length, short) in mm for a mark kind, or (None, None) without spacing."""
    if spacing is None or pts is None or len(pts) == 0:
        return None, None
    if kind == "line":
        return mm_distance(pts[0], pts[1], spacing), None
    if kind in ("bidimensional", "ellipse") and len(pts) >= 4:
        a, b = mm_distance(pts[0], pts[1], spacing), mm_distance(pts[2], pts[3], spacing)
        return max(a, b), min(a, b)
    if kind == "circle" and len(pts) >= 2:
        return 2.0 * mm_distance(pts[0], pts[1], spacing), None
    if kind in ("polygon", "polyline") and len(pts) >= 2:
        return max(mm_distance(p, q, spacing) for i, p in enumerate(pts) for q in pts[i + 1:]), None
    return None, None


def pick_spacing(image: Optional[ImageInfo], presentation_spacing: Optional[list]) -> tuple[Optional[list], Optional[str]]:
    """Pixel Spacing, else Imager Pixel Spacing of the image, else the GSPS's Presentation Pixel Spacing."""
    if image is not None and image.pixel_spacing:
        return list(image.pixel_spacing), "pixel_spacing"
    if image is not None and image.imager_pixel_spacing:
        return list(image.imager_pixel_spacing), "imager_pixel_spacing"
    if presentation_spacing:
        return list(presentation_spacing), "presentation_pixel_spacing"
    return None, None


def build_record(*, source_kind: str, source_sop_uid: str, source_path: str, study_uid: Optional[str],
                 position: str, kind: str, points: Optional[np.ndarray], tip: Optional[np.ndarray],
                 ref_sop: Optional[str], ref_series: Optional[str], ref_frame: Optional[int],
                 image: Optional[ImageInfo], presentation_spacing: Optional[list], text: Optional[str],
                 flags: list[str], **extra) -> AnnotationRecord:
    flags = list(flags)
    spacing, source = pick_spacing(image, presentation_spacing)
    pts = None if points is None else np.asarray(points, float).reshape(-1, 2)
    length, short = (None, None) if kind in ("arrow", "point", "text") else sizes_mm(kind, pts, spacing)
    if pts is not None and kind not in ("arrow", "point", "text") and spacing is None:
        flags.append("no_pixel_spacing")
    slice_index, patient = None, None
    if image is not None:
        slice_index = image.slice_index(ref_frame)
        if slice_index is not None and pts is not None:
            patient = image.geometry.pixel_to_patient(pts, slice_index).round(4).tolist()
        if image.rows and image.columns and pts is not None:
            inside = (pts[:, 0] >= 0) & (pts[:, 0] <= image.columns) & (pts[:, 1] >= 0) & (pts[:, 1] <= image.rows)
            if not inside.all():
                flags.append("points_outside_image")
    elif ref_sop is not None:
        flags.append("image_not_in_archive")
    value, unit = parse_measurement(text)
    return AnnotationRecord(
        annotation_id=stable_id(source_sop_uid, position), source_kind=source_kind, source_sop_uid=source_sop_uid,
        source_path=source_path, study_uid=study_uid,
        series_uid=(image.series_uid if image else ref_series), referenced_sop_uid=ref_sop, referenced_frame=ref_frame,
        kind=kind, points_px=None if pts is None else pts.tolist(),
        tip_px=None if tip is None else [float(v) for v in tip], points_patient=patient,
        length_mm=length, short_mm=short, spacing_source=source if length is not None else None,
        pixel_spacing=spacing, slice_index=slice_index, text=text or None, text_value=value, text_unit=unit,
        flags=sorted(set(flags)), extractor=EXTRACTOR, **extra)
