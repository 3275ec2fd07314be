"""Where a radiologist would draw on a lesion: RECIST long axis, perpendicular short axis, an arrow, an ellipse.

Computed from the lesion's mask on its largest axial slice, in PIXEL convention (pixel centre at +0.5).
"""
from __future__ import annotations

import numpy as np
from scipy.spatial import ConvexHull


def largest_slice(mask: np.ndarray) -> int:
    areas = mask.reshape(mask.shape[0], -1).sum(axis=1)
    return int(np.argmax(areas))


def long_short_axes(mask2d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """RECIST long axis (2 points) and the longest perpendicular chord crossing it (2 points)."""
    rows, cols = np.nonzero(mask2d)
    pts = np.column_stack([cols + 0.5, rows + 0.5]).astype(float)
    hull = pts[ConvexHull(pts).vertices] if len(pts) >= 3 else pts
    d = np.linalg.norm(hull[:, None] - hull[None], axis=2)
    i, j = np.unravel_index(np.argmax(d), d.shape)
    a, b = hull[i], hull[j]
    axis = (b - a) / np.linalg.norm(b - a)
    perp = np.array([-axis[1], axis[0]])
    best = None
    for t in np.linspace(0.2, 0.8, 25):
        c = a + t * (b - a)
        s = np.arange(-200, 200.01, 0.25)
        line = c + s[:, None] * perp
        ci, ri = np.floor(line[:, 0]).astype(int), np.floor(line[:, 1]).astype(int)
        ok = (ri >= 0) & (ri < mask2d.shape[0]) & (ci >= 0) & (ci < mask2d.shape[1])
        hit = np.zeros(len(s), bool)
        hit[ok] = mask2d[ri[ok], ci[ok]]
        if not hit.any():
            continue
        idx = np.nonzero(hit)[0]
        lo, hi = s[idx[0]], s[idx[-1]]
        if lo >= 0 or hi <= 0:
            continue
        if best is None or hi - lo > best[0]:
            best = (hi - lo, c + lo * perp, c + hi * perp)
    if best is None:
        c = (a + b) / 2
        best = (1.0, c - 0.5 * perp, c + 0.5 * perp)
    return np.array([a, b]), np.array([best[1], best[2]])


def arrow_for(mask2d: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(tail, tip): tip just outside the lesion edge, tail 25-45 px further out."""
    rows, cols = np.nonzero(mask2d)
    centre = np.array([cols.mean() + 0.5, rows.mean() + 0.5])
    ang = rng.uniform(0, 2 * np.pi)
    direction = np.array([np.cos(ang), np.sin(ang)])
    r = 0.0
    while True:
        p = centre + (r + 0.5) * direction
        ci, ri = int(np.floor(p[0])), int(np.floor(p[1]))
        if not (0 <= ri < mask2d.shape[0] and 0 <= ci < mask2d.shape[1]) or not mask2d[ri, ci]:
            break
        r += 0.5
    tip = centre + (r + rng.uniform(1.0, 3.0)) * direction
    tail = tip + rng.uniform(25, 45) * direction
    return tail, tip


def arrow_head(tail: np.ndarray, tip: np.ndarray, arm: float = 7.0) -> tuple[np.ndarray, np.ndarray]:
    """The two arm ends of an open arrow head at the tip (±30° back along the shaft)."""
    back = (tail - tip) / np.linalg.norm(tail - tip)
    ends = []
    for deg in (30, -30):
        a = np.deg2rad(deg)
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        ends.append(tip + arm * (rot @ back))
    return ends[0], ends[1]


def ellipse_points(long_axis: np.ndarray, short_len: float) -> np.ndarray:
    """Major-axis ends, then minor-axis ends through the major axis' midpoint (GSPS ELLIPSE order)."""
    a, b = long_axis
    c = (a + b) / 2
    u = (b - a) / np.linalg.norm(b - a)
    perp = np.array([-u[1], u[0]])
    return np.array([a, b, c - perp * short_len / 2, c + perp * short_len / 2])
