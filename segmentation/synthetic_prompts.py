"""Radiologist-like prompts drawn from a lesion mask, as the SAM2CT paper (§2.2, §3) describes.

- lesions are the 3D connected components of a label;
- training prompt slice: sampled with probability proportional to the lesion's area on it; evaluation:
  one of the three largest-area axial slices;
- line: a pair of boundary pixels, drawn from the longest half of all pairs in training and the longest
  10% in evaluation;
- arrow: centroid c, random boundary point e; the tip lies on the ray c→e up to 0.5·|e-c| beyond the
  boundary; a tail ``arrow_tail_px`` away (the setting inference normalises drawn arrows to,
  ``segmentation.prompts.ARROW_TAIL_PX`` by default) points back at the centroid with up to 15° perturbation;
- point: the interior pixel farthest from the boundary; box: the slice mask's bounding box; mask: the
  slice mask itself.
Coordinates follow ``segmentation.prompts``: (row, col) with the pixel centre at +0.5.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from scipy import ndimage

from segmentation.prompts import ARROW_TAIL_PX, Prompt, arrow_tail

PROMPT_KINDS = ("arrow", "line", "point", "box", "mask")
ARROW_MAX_DEG = 15.0


def lesions(labels: np.ndarray, lesion_label: int, min_voxels: int = 10) -> list[np.ndarray]:
    """Boolean masks of the 3D connected components of ``labels == lesion_label``."""
    comp, n = ndimage.label(labels == lesion_label)
    sizes = ndimage.sum_labels(np.ones_like(comp), comp, index=np.arange(1, n + 1))
    return [comp == i + 1 for i in range(n) if sizes[i] >= min_voxels]


def prompt_slice(mask: np.ndarray, rng: np.random.Generator, training: bool) -> int:
    areas = mask.reshape(mask.shape[0], -1).sum(axis=1).astype(float)
    if training:
        return int(rng.choice(len(areas), p=areas / areas.sum()))
    top = np.argsort(-areas)[:3]
    top = top[areas[top] > 0]
    return int(rng.choice(top))


def _boundary(mask2d: np.ndarray) -> np.ndarray:
    edge = mask2d & ~ndimage.binary_erosion(mask2d)
    rows, cols = np.nonzero(edge)
    return np.column_stack([rows + 0.5, cols + 0.5])


def line_prompt(mask2d: np.ndarray, k: int, rng: np.random.Generator, top_fraction: float) -> Prompt:
    pts = _boundary(mask2d)
    if len(pts) > 400:  # keep the pair count bounded on big lesions
        pts = pts[rng.choice(len(pts), 400, replace=False)]
    i, j = np.triu_indices(len(pts), k=1)
    if len(i) == 0:
        p = pts[0] if len(pts) else np.array([0.5, 0.5])
        return Prompt("line", k, np.array([p, p + [0.0, 1.0]]), length_px=1.0)
    d = np.linalg.norm(pts[i] - pts[j], axis=1)
    keep = np.argsort(-d)[: max(1, int(np.ceil(len(d) * top_fraction)))]
    pick = int(rng.choice(keep))
    a, b = pts[i[pick]], pts[j[pick]]
    return Prompt("line", k, np.array([a, b]), length_px=float(d[pick]))


def arrow_prompt(mask2d: np.ndarray, k: int, rng: np.random.Generator, tail_px: Optional[float] = ARROW_TAIL_PX) -> Prompt:
    rows, cols = np.nonzero(mask2d)
    c = np.array([rows.mean() + 0.5, cols.mean() + 0.5])
    edge = _boundary(mask2d)
    e = edge[rng.integers(len(edge))]
    v = e - c
    dist = np.linalg.norm(v)
    u = v / dist if dist > 0 else np.array([0.0, 1.0])
    tip = e + u * rng.uniform(0, 0.5 * max(dist, 1.0))
    ang = np.deg2rad(rng.uniform(-ARROW_MAX_DEG, ARROW_MAX_DEG))
    rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    tail = tip + arrow_tail(tail_px) * (rot @ u)
    return Prompt("arrow", k, np.array([tail, tip]), tip=tip)


def make_prompt(kind: str, mask: np.ndarray, rng: np.random.Generator, training: bool = False,
                arrow_tail_px: Optional[float] = ARROW_TAIL_PX) -> Prompt:
    k = prompt_slice(mask, rng, training)
    m = mask[k]
    if kind == "line":
        return line_prompt(m, k, rng, 0.5 if training else 0.1)
    if kind == "arrow":
        return arrow_prompt(m, k, rng, arrow_tail_px)
    if kind == "point":
        dist = ndimage.distance_transform_edt(m)
        r, c = np.unravel_index(int(np.argmax(dist)), dist.shape)
        return Prompt("point", k, np.array([[r + 0.5, c + 0.5]]))
    if kind == "box":
        rows, cols = np.nonzero(m)
        return Prompt("polygon", k, np.array([[rows.min(), cols.min()], [rows.min(), cols.max() + 1.0],
                                              [rows.max() + 1.0, cols.max() + 1.0], [rows.max() + 1.0, cols.min()],
                                              [rows.min(), cols.min()]], float),
                      length_px=float(np.hypot(np.ptp(rows) + 1, np.ptp(cols) + 1)))
    if kind == "mask":
        rows, cols = np.nonzero(m)
        return Prompt("mask", k, np.column_stack([rows + 0.5, cols + 0.5]), mask=m.copy(),
                      length_px=float(np.hypot(np.ptp(rows) + 1, np.ptp(cols) + 1)))
    raise ValueError(f"unknown prompt kind {kind!r}; use one of {PROMPT_KINDS}")
