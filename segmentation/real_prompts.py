"""Prompts drawn from a real lesion mask the way a radiologist draws them, with human jitter.

Unlike ``synthetic_prompts`` (the SAM2CT paper's training recipe), these imitate a reader at a PACS:
- the slice is one of the three with the largest cross-section (readers measure where the lesion looks
  biggest, not always exactly there);
- line: the RECIST long axis of that slice, each endpoint moved by up to ~1 px (a mouse click);
- bidimensional: that long axis plus the longest chord perpendicular to it, jittered the same way;
- arrow: the tip at the edge or up to 3 mm outside it, pointing at the centre within 20°, with a shaft
  of 8-40 mm (readers draw arrows of every length);
- point: a click inside the lesion, within the inner half of its in-radius from the deepest point;
- box: the slice's bounding box, each side moved outwards by 0-2 px;
- mask: the slice mask itself (a contour tool's output).
Coordinates follow ``segmentation.prompts``: (row, col) with the pixel centre at +0.5.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from segmentation.prompts import Prompt

REAL_PROMPT_KINDS = ("line", "bidimensional", "arrow", "point", "box", "mask")
CLICK_JITTER_PX = 0.7
ARROW_GAP_MM = (0.0, 3.0)
ARROW_SHAFT_MM = (8.0, 40.0)
ARROW_MAX_DEG = 20.0


def measured_slice(mask: np.ndarray, rng: np.random.Generator) -> int:
    areas = mask.reshape(mask.shape[0], -1).sum(axis=1)
    top = np.argsort(-areas, kind="stable")[:3]
    return int(rng.choice(top[areas[top] > 0]))


def _corners(mask2d: np.ndarray) -> np.ndarray:
    """Outline points of the pixel squares (row, col), so a chord spans whole pixels as a caliper does."""
    edge = mask2d & ~ndimage.binary_erosion(mask2d)
    r, c = np.nonzero(edge)
    pts = np.concatenate([np.column_stack([r + dr, c + dc]) for dr in (0.0, 1.0) for dc in (0.0, 1.0)])
    return np.unique(pts, axis=0)


def long_axis(mask2d: np.ndarray, spacing_rc=(1.0, 1.0)) -> tuple[np.ndarray, np.ndarray]:
    """Endpoints of the longest in-plane chord (in mm if spacing is given) of the slice mask."""
    pts = _corners(mask2d)
    sc = np.asarray(spacing_rc, float)
    d = np.linalg.norm((pts[:, None] - pts[None]) * sc, axis=2)
    i, j = np.unravel_index(int(np.argmax(d)), d.shape)
    return pts[i], pts[j]


def short_axis(mask2d: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The longest chord perpendicular (within 5°) to a-b that stays in the lesion."""
    pts = _corners(mask2d)
    u = (b - a) / (np.linalg.norm(b - a) or 1.0)
    perp = np.array([-u[1], u[0]])
    along = (pts - a) @ u
    best, pair = -1.0, (a, a)
    for t in np.unique(np.round(along * 2) / 2):
        near = pts[np.abs(along - t) <= 0.75]
        if len(near) < 2:
            continue
        across = (near - a) @ perp
        lo, hi = near[np.argmin(across)], near[np.argmax(across)]
        if across.max() - across.min() > best:
            best, pair = float(across.max() - across.min()), (lo, hi)
    return pair


def _jitter(p: np.ndarray, rng: np.random.Generator, shape) -> np.ndarray:
    q = p + rng.normal(0, CLICK_JITTER_PX / 1.4, 2)
    return np.clip(q, 0.0, np.array(shape, float))


def real_prompt(kind: str, mask: np.ndarray, spacing: tuple[float, float, float], rng: np.random.Generator) -> Prompt:
    """One prompt of ``kind`` for the 3D (slice, row, col) lesion mask."""
    k = measured_slice(mask, rng)
    m = mask[k]
    shape = m.shape
    px_mm = (spacing[1] + spacing[2]) / 2
    if kind in ("line", "bidimensional"):
        a, b = long_axis(m, spacing[1:])
        a, b = _jitter(a, rng, shape), _jitter(b, rng, shape)
        length = float(np.linalg.norm(b - a))
        if kind == "line":
            return Prompt("line", k, np.array([a, b]), length_px=length)
        c, d = short_axis(m, a, b)
        c, d = _jitter(c, rng, shape), _jitter(d, rng, shape)
        return Prompt("bidimensional", k, np.array([a, b, c, d]), length_px=length, short_px=float(np.linalg.norm(d - c)))
    if kind == "arrow":
        rows, cols = np.nonzero(m)
        centre = np.array([rows.mean() + 0.5, cols.mean() + 0.5])
        edge = _corners(m)
        e = edge[rng.integers(len(edge))]
        u = (e - centre) / (np.linalg.norm(e - centre) or 1.0)
        tip = e + u * rng.uniform(*ARROW_GAP_MM) / px_mm
        ang = np.deg2rad(rng.uniform(-ARROW_MAX_DEG, ARROW_MAX_DEG))
        rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
        tail = tip + rng.uniform(*ARROW_SHAFT_MM) / px_mm * (rot @ u)
        return Prompt("arrow", k, np.array([tail, tip]), tip=tip)
    if kind == "point":
        dist = ndimage.distance_transform_edt(m)
        r, c = np.unravel_index(int(np.argmax(dist)), dist.shape)
        for _ in range(20):  # a click somewhere in the inner half, still inside the lesion
            off = rng.normal(0, 0.5 * dist[r, c] / 2, 2)
            q = np.array([r + 0.5, c + 0.5]) + off
            qi = np.floor(q).astype(int)
            if (0 <= qi).all() and (qi < shape).all() and m[qi[0], qi[1]] and np.linalg.norm(off) <= 0.5 * dist[r, c]:
                return Prompt("point", k, q[None])
        return Prompt("point", k, np.array([[r + 0.5, c + 0.5]]))
    if kind == "box":
        rows, cols = np.nonzero(m)
        lo = np.array([rows.min(), cols.min()], float) - rng.uniform(0, 2, 2)
        hi = np.array([rows.max() + 1, cols.max() + 1], float) + rng.uniform(0, 2, 2)
        lo, hi = np.clip(lo, 0, None), np.minimum(hi, shape)
        pts = np.array([lo, [lo[0], hi[1]], hi, [hi[0], lo[1]], lo])
        return Prompt("polygon", k, pts, length_px=float(np.linalg.norm(hi - lo)))
    if kind == "mask":
        rows, cols = np.nonzero(m)
        a, b = long_axis(m)
        return Prompt("mask", k, np.column_stack([rows + 0.5, cols + 0.5]), mask=m.copy(),
                      length_px=float(np.linalg.norm(b - a)))
    raise ValueError(f"unknown prompt kind {kind!r}; use one of {REAL_PROMPT_KINDS}")
