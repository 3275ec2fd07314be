"""RECIST diameters of a 3D mask: per axial slice, the longest chord of the convex hull of the pixel
corners and the longest chord perpendicular to it; the slice with the longest long axis wins."""
from __future__ import annotations

import numpy as np
from scipy.spatial import ConvexHull, QhullError


def _slice_axes(mask2d: np.ndarray, dr: float, dc: float, origin: tuple[int, int] = (0, 0)) -> tuple[float, float]:
    """``origin``: the (row, col) of mask2d's first pixel in the slice (a crop gives the slice's own numbers)."""
    rows, cols = np.nonzero(mask2d)
    rows, cols = rows + origin[0], cols + origin[1]
    corners = np.concatenate([np.column_stack([cols + oc, rows + orr]) for oc in (0, 1) for orr in (0, 1)]) * [dc, dr]
    try:
        hull = corners[ConvexHull(corners).vertices]
    except QhullError:
        hull = corners
    d = np.linalg.norm(hull[:, None] - hull[None], axis=2)
    i, j = np.unravel_index(np.argmax(d), d.shape)
    long = float(d[i, j])
    u = (hull[j] - hull[i]) / (long or 1.0)
    perp = np.array([-u[1], u[0]])
    proj_long, proj_perp = hull @ u, hull @ perp
    # width across the long axis, measured on chords perpendicular to it (sampled along the axis, all 41 at once)
    t = np.linspace(proj_long.min(), proj_long.max(), 41)[:, None]
    near = np.abs(proj_long - t) <= (proj_long.max() - proj_long.min()) / 20 + max(dr, dc)
    width = np.where(near, proj_perp, -np.inf).max(axis=1) - np.where(near, proj_perp, np.inf).min(axis=1)
    short = max(0.0, float(width[near.sum(axis=1) >= 2].max(initial=0.0)))
    return long, min(short, long)


def recist_axes(mask: np.ndarray, spacing_rc: tuple[float, float], origin: tuple[int, int] = (0, 0)) -> tuple[float, float, int]:
    """(long mm, short mm, slice index) of a (slice, row, column) mask; (0, 0, -1) when empty. ``origin``: the (row,
    col) of mask's first pixel in its slices (a crop measures as the whole slice would: the same pixel numbers)."""
    best = (0.0, 0.0, -1)
    dr, dc = spacing_rc
    zs = np.flatnonzero(mask.any(axis=(1, 2)))
    # a slice's bounding-box diagonal bounds its long axis: slices are tried from the widest box down and the rest
    # skipped once no box can beat (or tie) the best; ties keep the lowest slice, as in a plain scan
    rows_any, cols_any = mask[zs].any(axis=2), mask[zs].any(axis=1)
    r0, r1 = np.argmax(rows_any, axis=1), rows_any.shape[1] - np.argmax(rows_any[:, ::-1], axis=1)
    c0, c1 = np.argmax(cols_any, axis=1), cols_any.shape[1] - np.argmax(cols_any[:, ::-1], axis=1)
    height, width = (r1 - r0) * dr, (c1 - c0) * dc
    bound = np.hypot(height, width)
    for i in np.argsort(-bound, kind="stable"):
        if bound[i] * (1 + 1e-9) < best[0]:   # slack: the hull's long axis may exceed the box's hypot by an ulp
            break
        long, short = _slice_axes(mask[zs[i], r0[i]:r1[i], c0[i]:c1[i]], dr, dc,
                                  (int(r0[i]) + origin[0], int(c0[i]) + origin[1]))
        if long > best[0] or (long == best[0] and zs[i] < best[2]):
            best = (long, short, int(zs[i]))
    return best
