"""Mark-level grouping rules: two marks on the same image are one lesion when their geometry is (nearly) the same
(a re-saved or twin presentation state, an SR repeating a GSPS measurement), measured in mm in the image plane."""
from __future__ import annotations

from typing import Optional

import numpy as np

from schemas import AnnotationRecord


def points_mm(a: AnnotationRecord) -> Optional[np.ndarray]:
    """The mark's points in mm: patient LPS when the image geometry is known, else pixel points times the pixel
    spacing (row, column), else None."""
    if a.points_patient:
        return np.asarray(a.points_patient, float).reshape(-1, 3)
    if a.points_px and a.pixel_spacing:
        row, column = a.pixel_spacing
        return np.asarray(a.points_px, float).reshape(-1, 2) * np.array([column, row])
    return None


def image_key(a: AnnotationRecord) -> Optional[tuple]:
    return None if a.referenced_sop_uid is None else (a.referenced_sop_uid, a.referenced_frame or 1)


def hausdorff_mm(p: np.ndarray, q: np.ndarray) -> float:
    """Symmetric Hausdorff distance between two small point sets (order-free: a line drawn the other way round or an
    ellipse written from another vertex is the same geometry)."""
    d = np.linalg.norm(p[:, None, :] - q[None, :, :], axis=2)
    return float(max(d.min(axis=1).max(), d.min(axis=0).max()))


POINTING = ("arrow", "point")


def _tip_index(a: AnnotationRecord) -> int:
    pts = np.asarray(a.points_px, float).reshape(-1, 2)
    return int(np.argmin(np.linalg.norm(pts - np.asarray(a.tip_px, float), axis=1))) if a.tip_px is not None else -1


def tip_mm(a: AnnotationRecord) -> Optional[np.ndarray]:
    """Where an arrow or point mark points (its tip), in the units of points_mm."""
    p = points_mm(a)
    return None if p is None or not len(p) else p[_tip_index(a)]


def same_geometry(a: AnnotationRecord, b: AnnotationRecord, tol_mm: float) -> bool:
    """Same image, and every point of each mark within tol_mm of a point of the other; for an arrow or a point
    (what it shows is where it points: a GSPS arrow and the SR POINT of the same finding) the tips within tol_mm."""
    if image_key(a) is None or image_key(a) != image_key(b):
        return False
    p, q = points_mm(a), points_mm(b)
    if p is None or q is None or p.shape[1] != q.shape[1]:
        return False
    if a.kind in POINTING and b.kind in POINTING:
        return float(np.linalg.norm(tip_mm(a) - tip_mm(b))) <= tol_mm
    return hausdorff_mm(p, q) <= tol_mm


def anchor_lps(a: AnnotationRecord) -> Optional[np.ndarray]:
    """The patient-space point a mark shows: an arrow's tip, else the centre of its points."""
    if not a.points_patient:
        return None
    pts = np.asarray(a.points_patient, float).reshape(-1, 3)
    return pts[_tip_index(a)] if a.kind in POINTING else pts.mean(axis=0)


def same_measurement(a: AnnotationRecord, b: AnnotationRecord, length_tol_mm: float, radius_mm: float) -> bool:
    """One measurement stored twice (a GSPS ruler and the TID 1500 Length of the same lesion may differ in how the
    points were written): same image, lengths within length_tol_mm, centres within radius_mm."""
    if image_key(a) is None or image_key(a) != image_key(b) or a.length_mm is None or b.length_mm is None:
        return False
    if abs(a.length_mm - b.length_mm) > length_tol_mm:
        return False
    p, q = points_mm(a), points_mm(b)
    if p is None or q is None or p.shape[1] != q.shape[1]:
        return False
    return float(np.linalg.norm(p.mean(axis=0) - q.mean(axis=0))) <= radius_mm
