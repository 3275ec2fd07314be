"""What an arrow points at, for the weight-free backend: found from the arrow's geometry, not from the first
intensity change past its tip (which, for an arrow drawn from the chest wall's side, is the air beyond the nodule).

A reader's arrow ends at the lesion's edge or a few mm outside it and points at its centre; the lesion is a
compact blob. So the target is the strongest blob (scale-normalised Laplacian of Gaussian over radii 1-20 mm, at
scales of at least a pixel) whose centre lies on the line of sight (within ``CONE_DEG``) at a distance from the tip
that its own radius explains (radius + ``GAP_MM``), whose centre looks like the blob (not a hole in a bigger one),
and that the line of sight reaches without a break: from a few mm past the tip to the centre the image stays
within half the blob's contrast of its centre. That rejects the air beyond a wall-side tip and the wall itself (an edge, not a blob),
and a rib behind a lung nodule (the line of sight crosses air on the way); HU are clipped at ``HU_CLIP`` so that
bone cannot outshine a soft-tissue lesion. Dark blobs (a hypodense kidney or liver lesion) are candidates only
away from the lung (in the lung every lesion is denser than its surroundings, and fat between chest-wall muscles
is dark too) and only where the blob is tissue or fluid; when the best bright and the best dark blob disagree,
the one the tip sits outside of wins (an arrow's tip is outside its lesion: a tip in a bright kidney points at
the dark lesion in it, not at the kidney).
An arrow saved as its tip only (a TID 1500 SR POINT) has no line of sight, so the search runs all round the tip,
where the chest wall and an in-plane vessel lie at some angle next to nearly every lung tip: both are curved
across only (an edge, a ridge), and their LoG, the sum of the two principal curvatures, is that of a blob. So a
bare tip's candidates rank by the LoG less the Hessian's anisotropy, twice the weaker curvature (a disc's LoG,
an edge's or a ridge's nearly nothing): the lesion is curved both ways.
The arrow also says which pixels are outside the lesion (its shaft behind the tip), which are inside (the line of
sight from the centre to where the edge may begin), and the tissue it comes from (just behind the tip).
Coordinates: (row, col) float indices on the slice, pixel centre at +0.5, as in ``segmentation.prompts``.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import NamedTuple, Optional

import numpy as np
from scipy import ndimage

from segmentation.prompts import PromptError

GAP_MM = (-1.0, 3.5)          # tip distance outside the lesion's edge (negative: clicked just inside it)
CONE_DEG = 25.0               # the line of sight may miss the centre by this much
CONE_STEP_DEG = 5.0
RADII_MM = np.geomspace(1.0, 20.0, 14)
MIN_BLOB_SIGMA_PX = 1.0       # the finest LoG a blob is looked for at: a narrower one measures pixel noise (on 3 mm
                              # pixels the 1 mm scale out-answered a vertebra's or a muscle's own scale 2-4x)
HU_CLIP = (-1000.0, 200.0)
DISC_RESPONSE = 0.736         # normalised LoG at a uniform disc's centre (sigma = r / sqrt 2), per HU of contrast
PROFILE_SIGMA_MM = 1.0        # smoothing of the line-of-sight profile (texture, not structure)
DARK_MIN_HU = -300.0          # a dark target must itself be tissue or fluid, not lung or air
LUNG_HU, LUNG_NEAR_MM, LUNG_FRACTION = -500.0, 20.0, 0.1   # lung around the tip: only bright targets
TIP_TISSUE_MM = (1.0, 3.0)    # where, behind the tip, the tissue the arrow comes from is read
SHAFT_OUTSIDE_MM = 10.0       # this much of the shaft behind the tip is outside the lesion


class _Blob(NamedTuple):
    score: float        # what candidates rank by: the normalised LoG on the blob's side (a bare tip: ``_compact``)
    sign: float         # +1 brighter than its surroundings, -1 darker
    contrast: float     # HU, estimated from the response
    radius: float       # px
    distance: float     # tip to centre, px
    direction: int
    scale: int
    level: float        # HU at the centre (lightly smoothed)


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


@functools.lru_cache(maxsize=256)
def _half_kernel(sigma: float, order: int) -> np.ndarray:
    """The weights scipy's ``gaussian_filter1d(..., sigma, order=order)`` applies at offsets 0, 1, ... radius (its
    kernel is symmetric: its correlation loop takes the centre tap, then each pair of taps with one weight), read
    back as the filter's response to an impulse: exactly those numbers (1 x w, plus zeros)."""
    radius = int(4.0 * float(sigma) + 0.5)
    impulse = np.zeros(2 * radius + 1)
    impulse[radius] = 1.0
    return ndimage.gaussian_filter1d(impulse, sigma, order=order, mode="constant")[radius:]


def _filter_at(x: np.ndarray, sigma: float, orders: tuple[int, ...], axis: int, lo: int, hi: int) -> list[np.ndarray]:
    """``ndimage.gaussian_filter1d(x, sigma, axis, order, mode="nearest")`` of a float32 image for each of
    ``orders``, at indices lo:hi along ``axis`` only, with scipy's numbers there: its symmetric-kernel loop (centre
    tap, then each pair of taps from the outermost in, in double precision, rounded to float32 once) on the same
    values (the border pixel repeated); the pairs' sums are shared by the orders."""
    if axis == 1:
        return [out.T for out in _filter_at(x.T, sigma, orders, 0, lo, hi)]
    halves = [_half_kernel(float(sigma), order) for order in orders]
    r, m = len(halves[0]) - 1, hi - lo
    src = x[np.clip(np.arange(lo - r, hi + r), 0, x.shape[0] - 1)].astype(np.float64)
    outs = [src[r:r + m] * half[0] for half in halves]
    pair, term = np.empty_like(outs[0]), np.empty_like(outs[0])
    for j in range(r, 0, -1):
        np.add(src[r - j:r - j + m], src[r + j:r + j + m], out=pair)
        for out, half in zip(outs, halves):
            np.multiply(pair, half[j], out=term)
            out += term
    return [out.astype(np.float32) for out in outs]


def _near(im: np.ndarray, sigma: float, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(``-sigma**2 * gaussian_laplace``, ``gaussian_filter``)(im, sigma, mode="nearest") (scipy's, default
    truncation) read by ``_at`` at pts, with scipy's numbers: both are separable passes (rows, then columns), run
    here only where the samples read them: the row passes on the rows the samples touch (over the columns the column
    pass needs), the column passes on the columns they touch; the samples are read on that window (its edges are the
    image's where the samples reach them, so the same pixels are read)."""
    q = np.floor(np.asarray(pts, float) - 0.5).astype(int)
    reach = int(4.0 * float(sigma) + 0.5)
    r0, r1 = max(int(q[:, 0].min()), 0), min(int(q[:, 0].max()) + 2, im.shape[0])   # rows _at reads
    c0, c1 = max(int(q[:, 1].min()), 0), min(int(q[:, 1].max()) + 2, im.shape[1])   # and columns
    lo, hi = max(c0 - reach, 0), min(c1 + reach, im.shape[1])
    band = im[:, lo:hi]
    smooth_rows, d2_by_rows = _filter_at(band, sigma, (0, 2), 0, r0, r1)
    d2_rows, = _filter_at(d2_by_rows, sigma, (0,), 1, c0 - lo, c1 - lo)
    d2_cols, blur = _filter_at(smooth_rows, sigma, (2, 0), 1, c0 - lo, c1 - lo)
    log = d2_rows + d2_cols    # scipy's generic_laplace: axis 0's term, then axis 1's added
    local = np.asarray(pts, float) - [r0, c0]   # exact: whole numbers off coordinates below 2**52
    return _at(-sigma ** 2 * log, local), _at(blur, local)


def _too_fine(sigma: float, j: int) -> bool:
    """Whether scale j of RADII_MM (its LoG's sigma in px) is under MIN_BLOB_SIGMA_PX; the coarsest never is."""
    return sigma < MIN_BLOB_SIGMA_PX and j < len(RADII_MM) - 1


def _anisotropy(im: np.ndarray, sigma: float, pts: np.ndarray) -> np.ndarray:
    """sigma**2 times the difference of the two principal curvatures of ``gaussian_filter(im, sigma,
    mode="nearest")`` at pts (its Hessian's eigenvalues): 0 for a disc, the whole LoG across an edge or a ridge.
    Filtered on a window around the samples: the filter's radius (scipy's truncation at 4 sigma) plus the pixel
    bilinear sampling reads past each sample, or the image's own edge, so the numbers are the whole image's."""
    reach = int(4.0 * float(sigma) + 0.5) + 2
    lo = np.maximum(np.floor(pts.min(axis=0)).astype(int) - reach, 0)
    hi = np.minimum(np.ceil(pts.max(axis=0)).astype(int) + reach, im.shape)
    win = im[lo[0]:hi[0], lo[1]:hi[1]]
    local = np.asarray(pts, float) - lo
    d_rr, d_cc, d_rc = (_at(ndimage.gaussian_filter(win, sigma, order=o, mode="nearest"), local)
                        for o in ((2, 0), (0, 2), (1, 1)))
    return sigma ** 2 * np.hypot(d_rr - d_cc, 2.0 * d_rc)


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


def _reached(profile_img: np.ndarray, tip: np.ndarray, d: np.ndarray, b: _Blob, px_mm: float) -> bool:
    """The line of sight from where the lesion has surely begun to the centre stays within half the blob's
    contrast of its centre (no air or fat between the tip's lesion and a blob behind it)."""
    t = np.arange(min(start_px(px_mm), b.distance), b.distance + 1e-6, 0.5)
    p = _at(profile_img, tip + d * t[:, None]) * b.sign
    return bool(p.min() >= p[-1] - 0.5 * b.contrast)


def find_target(img: np.ndarray, tail: np.ndarray, tip: np.ndarray, px_mm: float) -> ArrowTarget:
    """The lesion an arrow (tail -> tip) points at on its (lightly smoothed) slice image, in HU."""
    tail, tip = np.asarray(tail, float), np.asarray(tip, float)
    shaft = tip - tail
    u = shaft / np.linalg.norm(shaft) if np.linalg.norm(shaft) > 1e-6 else None
    dirs = _directions(u)
    im = np.clip(img.astype(np.float32), *HU_CLIP)
    signs = (1.0,) if _in_lung(img, tip, px_mm) else (1.0, -1.0)
    smooth: dict[float, np.ndarray] = {}   # the profile scales repeat (1 mm from a 4 mm radius up): filtered once

    def blur(s: float) -> np.ndarray:
        if s not in smooth:
            smooth[s] = ndimage.gaussian_filter(im, s, mode="nearest")
        return smooth[s]

    fine = blur(max(0.7, PROFILE_SIGMA_MM / px_mm))
    found = {sign: [] for sign in signs}   # per sign, per scale: the candidates' fields, in _Blob's order
    profile_sigmas = []   # the line-of-sight profile's scale per blob scale (filtered only if a candidate is checked)
    for j, r_mm in enumerate(RADII_MM):
        r = r_mm / px_mm
        sigma = r / np.sqrt(2.0)
        profile_sigmas.append(max(0.7, min(r / 4, PROFILE_SIGMA_MM / px_mm)))
        if _too_fine(sigma, j):
            continue
        s_all = np.arange(max(r_mm + GAP_MM[0], 0.5), r_mm + GAP_MM[1] + 1e-6, 0.5) / px_mm
        pts = tip + (dirs[:, None, :] * s_all[None, :, None]).reshape(-1, 2)
        di, si = np.divmod(np.arange(len(pts)), len(s_all))
        ok = _in_image(pts, img.shape)
        pts, di, si = pts[ok], di[ok], si[ok]
        if not len(pts):
            continue
        resp, blurred = _near(im, sigma, pts)
        level = _at(fine, pts)
        # the centre must look like the blob, not like a hole in it (a dark lesion inside a bright kidney)
        lift = level - blurred
        aniso = _anisotropy(im, sigma, pts) if u is None else None
        for sign in signs:
            good = (sign * resp > 0) & (sign * lift >= 0) & ((sign > 0) | (level >= DARK_MIN_HU))
            response = sign * resp[good]
            score = response if aniso is None else _compact(response, aniso[good])
            found[sign].append((score, response / DISC_RESPONSE, np.full(len(score), r), s_all[si[good]], di[good],
                                np.full(len(score), j), level[good]))
    best: dict[float, _Blob] = {}
    for sign in signs:   # each sign's strongest candidate (ties: the first found) that the line of sight reaches
        if not any(len(f[0]) for f in found[sign]):
            continue
        score, contrast, radius, distance, direction, scale, level = (np.concatenate(c) for c in zip(*found[sign]))

        def first_reached(order) -> Optional[_Blob]:
            for i in order:
                b = _Blob(score[i], sign, contrast[i], radius[i], distance[i], int(direction[i]), int(scale[i]), level[i])
                if _reached(blur(profile_sigmas[b.scale]), tip, dirs[b.direction], b, px_mm):
                    return b
            return None

        b = first_reached(np.argsort(-score, kind="stable"))
        if b is not None and u is None:   # a bare tip: the compact blob says where the lesion is, the LoG its scale
            # (among the candidates centred in that blob: a lobulated or wall-side nodule is most compact at a
            # scale smaller than its own)
            off = dirs[direction] * distance[:, None] - dirs[b.direction] * b.distance
            same = np.nonzero(np.hypot(off[:, 0], off[:, 1]) <= b.radius)[0]   # b itself among them, reached
            b = (first_reached(same[np.argsort(-contrast[same], kind="stable")]) or b)._replace(score=b.score)
        if b is not None:
            best[sign] = b
    # in the order one sorted list of both signs' candidates would have found them (a tie in score: the first)
    best = dict(sorted(best.items(), key=lambda kv: (-kv[1].score, kv[1].scale, signs.index(kv[0]))))
    if not best:
        raise PromptError("arrow_target_not_found", "no blob on the arrow's line of sight within reach of its tip")
    tissue = _tip_tissue(img, tip, u, px_mm)
    pick = max(best.values(), key=lambda b: b.score)
    other = best.get(-pick.sign)
    if other is not None and _holds_tip(pick, tissue) and not _holds_tip(other, tissue):
        pick = other
    centre = tip + dirs[pick.direction] * pick.distance
    return ArrowTarget(centre, pick.radius, pick.distance, _inside(centre, tip, pick.distance, px_mm),
                       _shaft(tip, u, px_mm, img.shape), tissue)


def blob_radius(img: np.ndarray, centre: np.ndarray, sign: float, px_mm: float) -> float:
    """Radius (px) of the blob at ``centre`` (brighter than its surroundings for ``sign`` +1, darker for -1): the
    radius of RADII_MM whose scale-normalised LoG there is strongest on that side. A lesion touching the chest wall
    or a vessel of its own density is still a blob at its own scale, where rays from its centre run on into the wall.
    In the lung the blob is the bright one whatever ``sign`` says, as in ``find_target``: every lesion there is
    denser than its surroundings, while a faint nodule's most contrasting neighbour may be the brighter wall. That
    holds where the centre itself is lung or ground glass (under DARK_MIN_HU): a hypodense lesion in tissue next to
    the lung is still dark."""
    at = np.asarray(centre, float)[None]
    if sign < 0 and float(_at(img, at)[0]) < DARK_MIN_HU and _in_lung(img, centre, px_mm):
        sign = 1.0
    im = np.clip(img.astype(np.float32), *HU_CLIP)
    sigmas = [s for j, s in enumerate(RADII_MM / px_mm / np.sqrt(2.0)) if not _too_fine(s, j)]
    resp = [sign * float(_near(im, s, at)[0][0]) for s in sigmas]
    return float(sigmas[int(np.argmax(resp))] * np.sqrt(2.0))


def _compact(response: np.ndarray, anisotropy: np.ndarray) -> np.ndarray:
    """A bare tip's rank of a candidate: its LoG response less the Hessian's anisotropy there, twice the weaker
    principal curvature (a disc keeps its LoG; the chest wall or an in-plane vessel, curved across only, keeps
    little)."""
    return response - anisotropy


def _holds_tip(b: _Blob, tissue: float) -> bool:
    """Whether the tissue at the tip is on the blob's side of half its contrast (the tip sits in the blob)."""
    return bool(b.sign * (tissue - (b.level - b.sign * 0.5 * b.contrast)) > 0)


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


def _in_lung(img: np.ndarray, tip: np.ndarray, px_mm: float) -> bool:
    """Whether lung (air-filled tissue) surrounds the tip: there every lesion is denser than its surroundings,
    and a dark blob (fat between chest-wall muscles) is never the target."""
    rr, cc = np.ogrid[0:img.shape[0], 0:img.shape[1]]   # broadcast: the same distances, no grid arrays
    near = np.hypot(rr + 0.5 - tip[0], cc + 0.5 - tip[1]) <= LUNG_NEAR_MM / px_mm
    return bool(np.mean(img[near] < LUNG_HU) >= LUNG_FRACTION) if near.any() else False


def _tip_tissue(img: np.ndarray, tip: np.ndarray, u: Optional[np.ndarray], px_mm: float) -> float:
    if u is None:
        return float(_at(img, tip[None])[0])
    t = np.arange(TIP_TISSUE_MM[0] / px_mm, TIP_TISSUE_MM[1] / px_mm, 0.5)
    return float(np.median(_at(img, tip - u * t[:, None])))

