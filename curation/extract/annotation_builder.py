"""Mark geometry + referenced image -> AnnotationRecord with physical sizes, slice and patient points.

Shared by the GSPS and SR readers so both produce the same rows for the same mark.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from scipy.spatial import ConvexHull, QhullError

from curation import EXTRACTOR
from curation.dicom.lookup import ImageInfo
from curation.extract.measure_text import parse_measurement
from curation.io.ids import stable_id
from schemas import AnnotationRecord


def mm_distance(p: np.ndarray, q: np.ndarray, spacing: list) -> float:
    """Distance in mm between two PIXEL points; spacing is [row, column] as in Pixel Spacing."""
    dr, dc = float(spacing[0]), float(spacing[1])
    d = np.asarray(q, float) - np.asarray(p, float)
    return float(np.hypot(d[0] * dc, d[1] * dr))


def longest_chord_mm(pts: np.ndarray, spacing: list) -> float:
    """Longest distance in mm between any two PIXEL points (the long axis of an outline).

    The diameter of a point set is reached between two convex hull vertices that are antipodal: for each hull
    edge, the vertex farthest from it. Hull (qhull) + antipodal search is O(n log n) in numpy, where all pairs
    were O(n^2) in Python (5,000 points: ~20 s)."""
    xy = np.asarray(pts, float).reshape(-1, 2) * [float(spacing[1]), float(spacing[0])]
    try:
        hull = xy[ConvexHull(xy).vertices]  # counter-clockwise in 2-D
    except (QhullError, ValueError):  # fewer than 3 points, or all on one line: the extremes along it
        far = xy[np.argmax(((xy - xy[0]) ** 2).sum(axis=1))]
        return float(np.sqrt(((xy - far) ** 2).sum(axis=1)).max())
    m = len(hull)
    edges = np.roll(hull, -1, axis=0) - hull
    turn = np.unwrap(np.arctan2(edges[:, 1], edges[:, 0]))  # increasing: the hull turns left at each vertex
    # edge k starts at vertex k; the vertex antipodal to edge i is where the edge direction passes turn[i] + pi
    k = np.searchsorted(np.concatenate([turn, turn + 2 * np.pi]), turn + np.pi) % m
    ends = np.arange(m), (np.arange(m) + 1) % m
    cands = [(e, (k + d) % m) for e in ends for d in (0, 1)]  # +1: parallel edges have two antipodal vertices
    return float(max(np.linalg.norm(hull[a] - hull[b], axis=1).max() for a, b in cands))


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
        return longest_chord_mm(pts, spacing), None
    return None, None


def pick_spacing(image: Optional[ImageInfo], presentation_spacing: Optional[list]) -> tuple[Optional[list], Optional[str]]:
    """Pixel Spacing, else Imager Pixel Spacing of the image, else the GSPS's Presentation Pixel Spacing; a value
    that is not two positive finite numbers is skipped (a zero spacing would make every length 0 mm)."""
    candidates = [(image.pixel_spacing if image else None, "pixel_spacing"),
                  (image.imager_pixel_spacing if image else None, "imager_pixel_spacing"),
                  (presentation_spacing, "presentation_pixel_spacing")]
    for spacing, source in candidates:
        if spacing is not None and len(spacing) == 2 and all(np.isfinite(float(v)) and float(v) > 0 for v in spacing):
            return [float(v) for v in spacing], source
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
        if (image.n_frames or 1) > 1 and ref_frame is None and "multiple_frames" not in flags:
            flags.append("frame_not_given")  # a multi-frame image without a frame: no slice
        if ref_frame is not None and not 1 <= ref_frame <= (image.n_frames or 1):
            flags.append("frame_not_in_image")  # frames are 1-based; no slice rather than a wrong one
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
