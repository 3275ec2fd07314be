"""What a box drawn round a lesion says beyond its own outline: the lesion is round, so its corners are not it.

A reader's box is the lesion's bounding box on its slice: a nodule's section
touches each side and, being round or oval, fills the ellipse inscribed in the box. What lies in the box's corners
beyond that ellipse is what a rectangle cannot leave out: the chest wall beside a juxtapleural nodule, a vessel
leaving it, lung. A free-hand polygon is the lesion's own outline and says nothing of the kind. Box tools draw along
the image's rows and columns (a display turned by quarter turns keeps that), so only such a rectangle is a box: a
turned four-point polygon is more likely an outline clicked at the lesion's edges (four clicks at its top, right,
bottom and left make a turned square whose "corners" are the lesion).
"""
from __future__ import annotations

from typing import Optional

import numpy as np

RIGHT_ANGLE_TOL = 0.05   # |cos| of the angle between a rectangle's neighbouring sides
AXIS_TOL = 0.05          # |sin| of the angle between a box's side and the image's rows or columns


def rectangle(points: np.ndarray) -> Optional[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(centre, half side lengths, unit direction of the first side) of a polygon that is a rectangle along the
    image's rows and columns (four corners, the closing point repeated or not), else None."""
    pts = np.asarray(points, float)
    if len(pts) == 5 and np.allclose(pts[0], pts[-1]):
        pts = pts[:4]
    if len(pts) != 4:
        return None
    sides = np.roll(pts, -1, axis=0) - pts
    lengths = np.linalg.norm(sides, axis=1)
    if (lengths < 1e-6).any():
        return None
    cosines = np.abs(np.sum(sides * np.roll(sides, -1, axis=0), axis=1)) / (lengths * np.roll(lengths, -1))
    if (cosines > RIGHT_ANGLE_TOL).any():
        return None
    u = sides[0] / lengths[0]
    if min(abs(u[0]), abs(u[1])) > AXIS_TOL:
        return None
    return pts.mean(axis=0), np.array([lengths[0], lengths[1]]) / 2, u


def beyond_inscribed_ellipse(points: np.ndarray, shape) -> Optional[np.ndarray]:
    """Pixels (centres at +0.5, (row, col) as the points) outside the ellipse inscribed in the drawn rectangle,
    or None when the polygon is no rectangle."""
    rect = rectangle(points)
    if rect is None:
        return None
    centre, half, u = rect
    rr, cc = np.ogrid[0:shape[0], 0:shape[1]]
    dr, dc = rr + 0.5 - centre[0], cc + 0.5 - centre[1]
    along, across = dr * u[0] + dc * u[1], -dr * u[1] + dc * u[0]
    return (along / max(half[0], 0.5)) ** 2 + (across / max(half[1], 0.5)) ** 2 > 1.0
