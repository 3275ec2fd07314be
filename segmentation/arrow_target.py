"""What an arrow points at, for the weight-free backend: found from the arrow's geometry, not from the first
intensity change past its tip.

A reader's arrow ends at the lesion's edge or a few mm outside it and points at its centre; the lesion is a
compact blob. So the target is the strongest blob (scale-normalised Laplacian of Gaussian over radii 1-20 mm)
whose centre lies on the line of sight (within ``CONE_DEG``) at a distance from the tip that its own radius
explains (radius + ``GAP_MM``), and that the line of sight reaches without crossing a gap: from just past the
tip to the centre the image stays on the blob's side of half its contrast. That rejects the air beyond a
wall-side tip (no blob), the chest wall itself (an edge, not a blob; and walls reach far past any radius the tip
allows), and a bright rib behind a lung nodule (the line of sight crosses air on the way). HU are clipped at
``HU_CLIP`` so that bone cannot outshine a soft-tissue lesion. Dark blobs (a hypodense liver lesion) count only
where the blob itself is soft tissue or fluid, never air.
The arrow also says which pixels are outside the lesion (its shaft behind the tip) and which are inside (the
line of sight from the centre to a few mm before the tip), and the tissue it comes from (just behind the tip).
Coordinates: (row, col) float indices on the slice, pixel centre at +0.5, as in ``segmentation.prompts``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy import ndimage

from segmentation.prompts import PromptError

GAP_MM = (-1.0, 3.5)          # tip distance outside the lesion's edge (negative: clicked just inside it)
CONE_DEG = 25.0               # the line of sight may miss the centre by this much
CONE_STEP_DEG = 5.0
RADII_MM = np.geomspace(1.0, 20.0, 14)
HU_CLIP = (-1000.0, 100.0)
DISC_RESPONSE = 0.736         # normalised LoG at a uniform disc's centre (sigma = r / sqrt 2), per HU of contrast
PROFILE_SIGMA_MM = 1.0        # smoothing of the line-of-sight profile (texture, not structure)
DARK_MIN_HU = -300.0          # a dark target must itself be tissue or fluid, not lung or air
TIP_TISSUE_MM = (1.0, 3.0)    # where, behind the tip, the tissue the arrow comes from is read
SHAFT_OUTSIDE_MM = 10.0       # this much of the shaft behind the tip is outside the lesion


@dataclass
class ArrowTarget:
    centre: np.ndarray        # (row, col)
    radius_px: float          # the blob's radius at its best scale
    distance_px: float        # tip to centre
    inside: np.ndarray        # (n, 2) points on the line of sight that the geometry puts inside the lesion
    outside: np.ndarray       # (n, 2) shaft points behind the tip (outside the lesion)
    tip_tissue: float         # HU of the tissue just behind the tip


def _at(img: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Bilinear samples at (row, col) points in the pixel-centre-at-+0.5 convention."""
    return ndimage.map_coordinates(img, (np.asarray(pts, float) - 0.5).T, order=1, mode="nearest")


def start_px(px_mm: float) -> float:
    """How far past the tip the lesion has surely begun (the largest gap, plus half a mm)."""
    return (GAP_MM[1] + 0.5) / px_mm


def _in_image(pts: np.ndarray, shape) -> np.ndarray:
    return (pts >= 0).all(axis=1) & (pts < np.asarray(shape, float)).all(axis=1)


def _directions(u: Optional[np.ndarray]) -> np.ndarray:
    """Unit vectors of the line of sight: the cone around u, straighter first; all round if the arrow has no
    direction (tail on the tip)."""
    if u is None:
        ang = np.deg2rad(np.arange(0.0, 360.0, CONE_STEP_DEG))
        base = 0.0
    else:
        half = np.arange(CONE_STEP_DEG, CONE_DEG + 1e-6, CONE_STEP_DEG)
        ang = np.deg2rad(np.concatenate([[0.0], np.ravel(np.column_stack([half, -half]))]))
        base = np.arctan2(u[0], u[1])
    return np.column_stack([np.sin(base + ang), np.cos(base + ang)])


def _reached(profile_img: np.ndarray, tip: np.ndarray, d: np.ndarray, s: float, contrast: float, sign: float,
             start: float) -> bool:
    """The line of sight from ``start`` past the tip to the centre stays within half the contrast of the centre."""
    t = np.arange(min(start, s), s + 1e-6, 0.5)
    p = _at(profile_img, tip + d * t[:, None]) * sign
    return bool(p.min() >= p[-1] - 0.5 * contrast)


def find_target(img: np.ndarray, tail: np.ndarray, tip: np.ndarray, px_mm: float) -> ArrowTarget:
    """The lesion an arrow (tail -> tip) points at on its (lightly smoothed) slice image, in HU."""
    tail, tip = np.asarray(tail, float), np.asarray(tip, float)
    shaft = tip - tail
    u = shaft / np.linalg.norm(shaft) if np.linalg.norm(shaft) > 1e-6 else None
    dirs = _directions(u)
    im = np.clip(img.astype(np.float32), *HU_CLIP)
    start = start_px(px_mm)
    candidates = []   # (score, sign, contrast, r_px, s_px, direction index, scale index)
    profiles = []
    for j, r_mm in enumerate(RADII_MM):
        r = r_mm / px_mm
        sigma = r / np.sqrt(2.0)
        log = -sigma ** 2 * ndimage.gaussian_laplace(im, sigma, mode="nearest")
        profiles.append(ndimage.gaussian_filter(im, max(0.7, min(r / 4, PROFILE_SIGMA_MM / px_mm)), mode="nearest"))
        s_all = np.arange(max(r_mm + GAP_MM[0], 0.5), r_mm + GAP_MM[1] + 1e-6, 0.5) / px_mm
        pts = tip + (dirs[:, None, :] * s_all[None, :, None]).reshape(-1, 2)
        di, si = np.divmod(np.arange(len(pts)), len(s_all))
        ok = _in_image(pts, img.shape)
        if not ok.any():
            continue
        resp = np.zeros(len(pts))
        resp[ok] = _at(log, pts[ok])
        level = np.full(len(pts), HU_CLIP[0])
        level[ok] = _at(im, pts[ok])
        for sign in (1.0, -1.0):
            good = ok & (sign * resp > 0) & ((sign > 0) | (level >= DARK_MIN_HU))
            for i in np.nonzero(good)[0]:
                candidates.append((sign * resp[i], sign, sign * resp[i] / DISC_RESPONSE, r, s_all[si[i]], di[i], j))
    for score, sign, contrast, r, s, di, j in sorted(candidates, key=lambda c: -c[0]):
        if _reached(profiles[j], tip, dirs[di], s, contrast, sign, start):
            centre = tip + dirs[di] * s
            return ArrowTarget(centre, r, s, _inside(centre, tip, s, px_mm), _shaft(tip, u, px_mm, img.shape),
                               _tip_tissue(img, tip, u, px_mm))
    raise PromptError("arrow_target_not_found", "no blob on the arrow's line of sight within reach of its tip")


def _inside(centre: np.ndarray, tip: np.ndarray, s: float, px_mm: float) -> np.ndarray:
    """From the centre towards the tip, up to where the lesion's edge may begin (the largest gap before the tip)."""
    reach = s - start_px(px_mm)
    if reach <= 0:
        return np.zeros((0, 2))
    t = np.arange(0.5, reach + 1e-6, 0.5)
    return centre + (tip - centre) / s * t[:, None]


def _shaft(tip: np.ndarray, u: Optional[np.ndarray], px_mm: float, shape) -> np.ndarray:
    """The shaft from a little behind the tip (the tip itself may touch the edge) back ``SHAFT_OUTSIDE_MM``."""
    if u is None:
        return np.zeros((0, 2))
    t = np.arange(max(1.0 / px_mm, 1.5), SHAFT_OUTSIDE_MM / px_mm, 0.5)
    pts = tip - u * t[:, None]
    return pts[_in_image(pts, shape)]


def _tip_tissue(img: np.ndarray, tip: np.ndarray, u: Optional[np.ndarray], px_mm: float) -> float:
    if u is None:
        return float(_at(img, tip[None])[0])
    t = np.arange(TIP_TISSUE_MM[0] / px_mm, TIP_TISSUE_MM[1] / px_mm, 0.5)
    return float(np.median(_at(img, tip - u * t[:, None])))

