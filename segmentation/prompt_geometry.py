"""What a prompt says about its lesion on the prompt slice, for the weight-free 3D backend.

Every kind becomes a ``Footprint``: a centre, seed pixels inside the lesion, pixels outside it on the prompt
slice (a box's outside, a contour's outside), and the largest in-plane radius the lesion may have. Lines give
the radius from the drawn length; a point or an arrow says nothing about size, so rays are cast from the
seed until the intensity leaves the lesion's side (a high percentile of them is robust to a vessel touching the
lesion), and the bound is capped at twice the blob's own scale-space radius (a wall the lesion sinks into takes
more rays than any percentile leaves out). An arrow's target is the blob its tip touches on its line of sight
(``arrow_target``), not the tissue the shaft crosses nor the first change past the tip.
All coordinates are (row, col) float indices on the prompt slice, pixel centre at +0.5.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy import ndimage
from skimage.draw import polygon as fill_polygon

from segmentation.arrow_target import blob_radius, find_target
from segmentation.prompts import Prompt, PromptError

RAYS = 24
ARROW_REACH = 1.2           # an arrow's bound radius is at least this times its tip-to-centre distance
BLOB_MAX_REACH = 2.0        # a point's bound radius is at most this times its blob's radius, an arrow's this times
                            # the larger of that and its tip-to-centre distance (rays along a wall do not widen it)
TIP_TISSUE_CONTRAST_HU = 100.0  # the tissue an arrow comes from is the background if it differs this much
MAX_POINT_RADIUS_MM = 40.0
MIN_CONTRAST_HU = 60.0
MIN_RING_PX = 40
LINE_SEEDS = 0.15           # a line's seeds run from this fraction of its length to 1 minus it
LINE_BOUND = 0.6            # a line bounds the lesion in-plane at this times its length from its middle


@dataclass
class Footprint:
    centre: np.ndarray               # (row, col)
    seeds: np.ndarray                # (n, 2) points inside the lesion
    radius_px: float                 # largest in-plane distance from centre the lesion may reach
    outside: Optional[np.ndarray]    # bool slice mask of pixels known to be outside (box, contour), or None
    inside: Optional[np.ndarray]     # bool slice mask the reader drew as the lesion (mask prompts), or None
    sized: bool                      # the size came from the drawing (line, box, contour), not from the image


def sample(img: np.ndarray, pts: np.ndarray) -> np.ndarray:
    idx = np.clip(np.floor(pts).astype(int), 0, np.array(img.shape) - 1)
    return img[idx[:, 0], idx[:, 1]]


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v)
    return v / n if n > 1e-9 else np.array([0.0, 1.0])


def ray_lengths(img: np.ndarray, start: np.ndarray, lesion: float, background: float, reach_px: float,
                directions: Optional[list] = None) -> np.ndarray:
    """Distance from start along each direction to the first two samples on the background's side."""
    mid, sign = (lesion + background) / 2, np.sign(lesion - background) or 1.0
    if directions is None:
        directions = [np.array([np.sin(a), np.cos(a)]) for a in np.linspace(0, 2 * np.pi, RAYS, endpoint=False)]
    steps = np.arange(0.0, reach_px, 0.5)
    out = []
    for d in directions:
        inside = (sample(img, start + d * steps[:, None]) - mid) * sign > 0
        gone = ~inside[:-1] & ~inside[1:]
        out.append(float(steps[int(np.argmax(gone))]) if gone.any() else reach_px)
    return np.asarray(out)


def _far_side(values: np.ndarray, lesion: float) -> float:
    """The surrounding tissue that contrasts most with the lesion (a lesion at an organ's edge touches two)."""
    lo, hi = np.percentile(values, [15, 85])
    return float(lo if abs(lo - lesion) > abs(hi - lesion) else hi)


def ring_background(img: np.ndarray, centre: np.ndarray, r_in: float, r_out: float, lesion: float) -> float:
    """Background HU from a ring just outside the bound; a lesion filling most of the image (a tight crop, a
    lesion at the image edge) leaves little ring, so the ring widens and then moves inwards until it has
    enough pixels."""
    rr, cc = np.ogrid[0:img.shape[0], 0:img.shape[1]]   # broadcast: the same distances, no grid arrays
    d = np.hypot(rr + 0.5 - centre[0], cc + 0.5 - centre[1])
    for lo, hi in ((r_in, r_out), (r_in, np.inf), (0.8 * r_in, np.inf), (0.6 * r_in, np.inf)):
        ring = (d > lo) & (d <= hi)
        if ring.sum() >= MIN_RING_PX:
            return _far_side(img[ring], lesion)
    return _far_side(img.ravel(), lesion)


def sized_by_rays(img: np.ndarray, seed: np.ndarray, px_mm: float) -> tuple[float, float, float]:
    """(radius_px, lesion HU, background HU) around a seed known to lie inside the lesion."""
    lesion = float(np.median(sample(img, seed + np.mgrid[-1:2, -1:2].reshape(2, -1).T * 0.7)))
    reach = MAX_POINT_RADIUS_MM / px_mm
    background = ring_background(img, seed, 3.0, 20.0 / px_mm, lesion)
    radius = 3.0
    for _ in range(2):  # re-estimate the background just outside the lesion found so far
        if abs(lesion - background) < MIN_CONTRAST_HU / 2:
            raise PromptError("no_contrast", f"lesion {lesion:.0f} HU vs surroundings {background:.0f} HU")
        radius = max(float(np.percentile(ray_lengths(img, seed, lesion, background, reach), 60)), 1.5)
        background = ring_background(img, seed, 1.3 * radius + 1, 1.3 * radius + 1 + 6.0 / px_mm, lesion)
    return radius, lesion, background


def _mostly_around(img: np.ndarray, centre: np.ndarray, r: float, lesion: float, tissue: float) -> bool:
    """Whether at least half of a circle around the lesion is on the given tissue's side of the lesion's HU."""
    a = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    ring = sample(img, centre + r * np.column_stack([np.sin(a), np.cos(a)]))
    return bool(np.mean((ring - (lesion + tissue) / 2) * np.sign(tissue - lesion) > 0) >= 0.5)


def arrow_footprint(img: np.ndarray, tail: np.ndarray, tip: np.ndarray, px_mm: float) -> tuple[Footprint, float, float]:
    """(footprint, lesion HU, background HU) of an arrow: the target ``arrow_target`` finds, sized by rays; seeds
    on the line of sight between the centre and the tip; the shaft behind the tip outside. When the tissue the
    arrow comes from lies on the other side of the lesion's HU than the ring's most contrasting side and
    surrounds most of the lesion (a ground-glass nodule by the chest wall, reached from the lung), that tissue
    is the background; a tip in the wall or a rib (the lesion's attachment, not its surroundings) is not."""
    t = find_target(img, tail, tip, px_mm)
    radius, lesion, background = sized_by_rays(img, t.centre, px_mm)
    gap = t.tip_tissue - lesion
    if TIP_TISSUE_CONTRAST_HU <= abs(gap) < abs(background - lesion) and np.sign(gap) != np.sign(background - lesion) \
            and _mostly_around(img, t.centre, 1.3 * radius + 1.0 + 3.0 / px_mm, lesion, t.tip_tissue):
        background = t.tip_tissue
        reach = MAX_POINT_RADIUS_MM / px_mm
        radius = max(float(np.percentile(ray_lengths(img, t.centre, lesion, background, reach), 60)), 1.5)
    seeds = np.vstack([t.centre + np.mgrid[-1:2, -1:2].reshape(2, -1).T * min(0.35 * radius, 2.0), t.inside])
    outside = None
    if len(t.outside):
        outside = np.zeros(img.shape, bool)
        ij = np.floor(t.outside).astype(int)
        outside[ij[:, 0], ij[:, 1]] = True
    # the lesion reaches (nearly) to the tip whatever the rays say, and no further than the arrow's own scale
    # allows (rays that run along a wall it touches do not make it bigger)
    bound = max(1.35 * radius + 2.0, ARROW_REACH * t.distance_px + 2.0)
    bound = min(bound, BLOB_MAX_REACH * max(t.radius_px, t.distance_px) + 2.0)
    return Footprint(t.centre, seeds, bound, outside, None, False), lesion, background


def _region(points: np.ndarray, shape, kind: str) -> np.ndarray:
    """The drawn closed shape filled: polygon/box as drawn, circle from centre + edge, ellipse from its axes."""
    out = np.zeros(shape, bool)
    if kind == "circle":
        c, r = points[0], np.linalg.norm(points[1] - points[0])
        rr, cc = np.ogrid[0:shape[0], 0:shape[1]]
        return (rr + 0.5 - c[0]) ** 2 + (cc + 0.5 - c[1]) ** 2 <= r ** 2
    if kind == "ellipse" and len(points) == 4:
        c = points.mean(axis=0)
        a, b = np.linalg.norm(points[1] - points[0]) / 2, np.linalg.norm(points[3] - points[2]) / 2
        u = _unit(points[1] - points[0])
        rr, cc = np.ogrid[0:shape[0], 0:shape[1]]
        dr, dc = rr + 0.5 - c[0], cc + 0.5 - c[1]
        along, across = dr * u[0] + dc * u[1], -dr * u[1] + dc * u[0]
        return (along / max(a, 0.5)) ** 2 + (across / max(b, 0.5)) ** 2 <= 1.0
    r, c = fill_polygon(points[:, 0], points[:, 1], shape)
    out[r, c] = True
    return out


def footprint(p: Prompt, img: np.ndarray, px_mm: float) -> tuple[Footprint, float, float]:
    """(footprint, lesion HU, background HU) of a prompt on its (smoothed) slice image."""
    shape = img.shape
    if p.kind in ("line", "bidimensional"):
        a, b = p.points[0], p.points[1]
        length = p.length_px or float(np.linalg.norm(b - a))
        # the long axis's ends are the lesion's edge, so its seeds reach near them; a short axis keeps to its middle
        spans = [np.linspace(LINE_SEEDS if i == 0 else 0.25, 0.75 if i else 1 - LINE_SEEDS, 11)[:, None]
                 for i in range(0, len(p.points) - 1, 2)]
        seeds = np.vstack([p.points[i] + t * (p.points[i + 1] - p.points[i]) for i, t in zip(range(0, len(p.points) - 1, 2), spans)])
        centre = (a + b) / 2
        fp = Footprint(centre, seeds, LINE_BOUND * length + 1.0, None, None, True)
    elif p.kind in ("polygon", "ellipse", "circle", "mask"):
        region = p.mask.astype(bool) if p.kind == "mask" else _region(p.points, shape, p.kind)
        if not region.any():
            raise PromptError("empty_region", f"the drawn {p.kind} covers no pixel")
        depth = ndimage.distance_transform_edt(region)
        core = depth >= max(1.0, 0.5 * depth.max())
        rows, cols = np.nonzero(core)
        centre = np.array([np.nonzero(region)[0].mean(), np.nonzero(region)[1].mean()]) + 0.5
        rr, cc = np.nonzero(region)
        radius = float(np.hypot(rr + 0.5 - centre[0], cc + 0.5 - centre[1]).max()) + 1.0
        outside = ~ndimage.binary_dilation(region, iterations=1)
        fp = Footprint(centre, np.column_stack([rows + 0.5, cols + 0.5]), radius, outside,
                       region if p.kind == "mask" else None, True)
    elif p.kind == "arrow":
        return arrow_footprint(img, p.points[0], p.tip if p.tip is not None else p.points[-1], px_mm)
    elif p.kind == "point":
        seed = p.points[0]
        radius, lesion, background = sized_by_rays(img, seed, px_mm)
        seeds = seed + np.mgrid[-1:2, -1:2].reshape(2, -1).T * min(0.35 * radius, 2.0)
        # as an arrow's target: no further than the blob's own scale allows (a click on a nodule by the chest wall
        # casts rays that run on into the wall, and its 60th-percentile ray is then the wall's)
        blob = blob_radius(img, seed, float(np.sign(lesion - background)) or 1.0, px_mm)
        bound = min(1.35 * radius + 2.0, BLOB_MAX_REACH * blob + 2.0)
        return Footprint(seed, seeds, bound, None, None, False), lesion, background
    else:
        raise PromptError("not_a_prompt", f"kind {p.kind!r} cannot prompt a segmentation")
    values = sample(img, fp.seeds)
    lesion = float(np.median(values))
    background = ring_background(img, fp.centre, fp.radius_px, fp.radius_px + 6.0 / px_mm, lesion)
    if fp.outside is not None:
        background = _far_side(img[fp.outside & ndimage.binary_dilation(~fp.outside, iterations=int(6 / px_mm) + 2)], lesion)
    return fp, lesion, background
