"""The weight-free CPU default: a 3D random walker seeded and bounded by the prompt's geometry.

Why this and not intensity growing: on real CT a lesion touches vessels, pleura or an organ of the same
density, and a grown region follows them. Here the prompt fixes both sides of the cut in 3D:
- lesion seeds from the drawing (the middle of a line, the core of a box or contour, a point, the target an
  arrow's tip points at; see ``prompt_geometry``), kept where they look like the lesion;
- background seeds outside the ellipsoid the drawn size allows (in-plane radius from the length, the same
  physical extent across slices, so anisotropic slices are handled in mm), outside a drawn box/contour on its
  slice (and in a drawn box's corners beyond the ellipse inscribed in it: ``drawn_box``), and wherever the HU is
  on the far side of the per-lesion model (lesion HU from the seeds, background HU from a ring just outside the
  bound, on the side of the lesion's HU where most of that ring lies);
- the random walker (scikit-image, with the voxel spacing) then places the boundary where the image changes
  most between the two, so a vessel or the chest wall is cut at its narrowest/weakest link inside the bound.
The mask is the walk's lesion plus its partial-volume rim (LIDC readers include it), kept where lesion-like
against the lesion's own HU, that of its densest slice (a prompt drawn on a faint partial-volume slice reads a
fainter HU; ``_densest_slice``);
a line drawn between edge-pixel centres says the reader leaves the rim out: the mask overshoots it, and its points lie
on voxels at least half lesion-like (``_drawn_level``: the reader's edge level, read from the image at the drawing;
an ellipse's axis ends alone tell it); then each slice keeps what is at least half its own plateau
(``_slice_levels``: a thick slice the lesion half fills keeps its section) and stands out of the noise; a caliper is
a chord of the lesion, so its slice's mask spans it end to end (``_span``).
A contour drawn by the reader is kept as drawn on its slice; a drawn mask also bounds the other slices (a shape
prior around it and its own HU cut, never above its faintest pixels, ``_bound_by_drawing``), and may outgrow itself
towards a clearly denser neighbour slice (it was drawn on the lesion's faint partial-volume end, ``_cap_sides``). A
drawn region's mask (a box, an ellipse, a contour) has no strokes thinner than a drawn outline has
(``_without_thin_strokes``). For a caliper, an arrow or a point, what the prompt slice's own walk cut the lesion from
(the chest wall, a vessel: lesion-like tissue just outside its section that runs on past the bound) is background on
the other slices (``_walled_off``). Big lesions are solved on a coarser grid (at most ``MAX_SOLVE_VOXELS``) and the
probability is resampled back. Deterministic, no weights; every mask row is labelled with ``BACKEND``.
"""
from __future__ import annotations

import dataclasses
import functools
import time

import numpy as np
from scipy import ndimage
from skimage.transform import resize

from segmentation.drawn_box import beyond_inscribed_ellipse
from segmentation.morphology import fill_holes_per_slice, grow_one
from segmentation.prompt_geometry import MAX_POINT_RADIUS_MM, footprint
from segmentation.prompts import Prompt, PromptError
from segmentation.resample import upsample_linear
from segmentation.result import SegmentResult
from segmentation.walker import lesion_probability

BACKEND = "classical-cpu 0.8.2"   # 0.8.2: a point's bound is capped by its blob's scale, as an arrow's is; an arrow
                                  #   saved as its tip only takes the blob curved both ways (arrow_target)
                                  # 0.8.1: a drawn box's corners beyond its inscribed ellipse are background
                                  # 0.8.0: what a caliper's/arrow's/point's slice walk cut the lesion from stays out
                                  # 0.7.0: drawn regions' masks without strokes under 3 px, the drawing's faintest kept
                                  # 0.6.0: rim against the densest slice; 0.5.1: one walk system, symmetric SuperLU / PMISc CG
SMOOTH_SIGMA_PX = 0.6
BETA = 1500.0
BACKGROUND_LEVEL = 0.15      # voxels this close to the background HU (0 = background, 1 = lesion) are seeds
Z_REACH = 1.1                # half-extent across slices vs the in-plane bound radius (mm for mm)
LINE_Z_REACH = 1.3           # a caliper's: drawn on one of the largest slices, its bound radius is near the lesion's
TYPICAL_PERCENTILE = 30.0   # seeds' lesion-likeness taken as "fully lesion" for the walk
PROB_LEVEL = 0.3            # the walk's lesion: probability at least this (0.4 for outlines, see below)
RIM_LEVEL = 0.25             # rim voxels at least this lesion-like join the mask (and the walk's voxels stay)
OUTLINE_PROB_LEVEL, OUTLINE_RIM_LEVEL = 0.4, 0.35  # stricter for a box/ellipse drawn around the lesion: its walk
                                                    # grows into the corners
OUTLINE_KINDS = ("polygon", "ellipse", "circle")
REGION_KINDS = OUTLINE_KINDS + ("mask",)   # a region drawn on the slice: around the lesion, or the lesion itself
OUTLINE_STROKE = np.ones((3, 3), bool)     # what a drawn region's outline never follows: strokes narrower than this
MIN_OPENED_SECTION_PX = 30                  # a smaller section (under ~6 px across) is too small to tell a stroke from its
                                            # own outline: kept as it is
OVERSHOOT_PX = 1.0           # a line's mask longer than the line by more than this: its rim may be left out
STRICT_RIM_LEVEL = 0.5       # the rim left out: voxels at least half lesion-like only (truth = voxel centre inside)
NOISE_SIGMAS = 3.0           # a voxel the walk's lesion does not reach stands out of the noise by this much
CALIPER_KINDS = ("line", "bidimensional")   # drawn lengths: chords of the lesion, measured against its mask
EDGE_DRAWN_KINDS = CALIPER_KINDS + ("ellipse",)  # drawings whose points lie on the lesion's edge
# The walk's linear system (one, the lesion's: segmentation.walker): a direct sparse solve (exact) while it is small;
# SuperLU's fill-in on a 3D grid makes it ~0.1-0.25 CPU s at 7-15k unknowns, where conjugate gradients with pyamg's
# multigrid preconditioner take a third of that (set-up included) and agree to ITERATIVE_TOL; the two break even
# near 6,000 unknowns (benchmarks/bench_walker.py). A system CG does not settle in 30 iterations is solved directly.
DIRECT_MAX_UNKNOWNS = 6_000
ITERATIVE_TOL = 1e-7
MAX_SOLVE_VOXELS = 40_000     # direct solve stays well under a second; bigger boxes are solved coarser
MIN_CONTRAST_HU = 40.0
CONE_MM, CONE_SLOPE = 1.0, 0.5  # a drawn mask: dz mm off its slice the lesion lies within 1 mm + 0.5 dz of it
CUT_FROM_MM = 3.0            # a drawn mask: lesion-like tissue this close outside it is what the reader cut it from
MASK_CUT_MARGIN = 0.15       # a drawn mask: voxels this far below its own edge level (``_drawn_cut``) are background
DRAWN_KEPT_PERCENTILE = 5.0  # ... but never those as lesion-like as the faintest pixels the reader drew (this percentile)
CAP_HU = 100.0               # a drawn mask's neighbour slice this much denser inside it: the drawing is a faint end
OUTLINE_Z = 0.6             # a drawn region reaches across slices this times its long diameter
CORE_LEVEL = 0.5             # the walk's own lesion (probability at least this), where the lesion's HU is re-read
MIN_CORE_VOXELS = 5          # a slice with fewer of them says nothing of the lesion's HU
WALL_KINDS = CALIPER_KINDS + ("arrow", "point")  # prompts whose slice's walk tells what the lesion was cut from (``_walled_off``)
WALL_MAX_CONTACT = 0.7       # ... unless lesion-like tissue holds more than this share of the ring round its section
SOFT_TISSUE_MAX_HU = 200.0   # denser is calcium or bone (as ``arrow_target.HU_CLIP``): not read as the lesion's HU


@functools.cache
def _blas():
    """The process's BLAS libraries (found once, at the first segmentation: the walker's solvers are loaded by then)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


class PerPromptSegmenter:
    """Backends that segment each prompt on its own: ``segment_many`` collects results or PromptErrors.
    They are single-core (one CPU per worker), so BLAS runs on one thread: its threads only spin on the walker's
    vector-sized dot products, and one thread gives the same masks whatever the machine's core count.
    They read windows around each prompt, so the volume may come as stored (int16, memory-mapped)."""

    checkpoint = None
    reads_windows = True

    def segment_many(self, hu: np.ndarray, spacing_mm, prompts: list[Prompt]) -> list:
        out = []
        with _blas().limit(limits=1, user_api="blas"):
            for p in prompts:
                try:
                    out.append(self.segment(hu, spacing_mm, p))
                except PromptError as exc:
                    out.append(exc)
        return out


def _shift(p: Prompt, r0: int, c0: int, rows: slice, cols: slice) -> Prompt:
    return dataclasses.replace(p, points=p.points - [r0, c0], tip=None if p.tip is None else p.tip - [r0, c0],
                               mask=None if p.mask is None else p.mask[rows, cols])


def _window(centre: np.ndarray, half: float, n_rows: int, n_cols: int) -> tuple[slice, slice]:
    r0, r1 = int(max(0, np.floor(centre[0] - half))), int(min(n_rows, np.ceil(centre[0] + half)))
    c0, c1 = int(max(0, np.floor(centre[1] - half))), int(min(n_cols, np.ceil(centre[1] + half)))
    return slice(r0, r1), slice(c0, c1)


def _walk(data: np.ndarray, labels: np.ndarray, spacing) -> np.ndarray:
    """The random walker's lesion probability, by the solver that is fastest for the system's size."""
    return lesion_probability(data, labels, BETA, spacing, int((labels == 0).sum()) > DIRECT_MAX_UNKNOWNS, ITERATIVE_TOL)


def _coarse_labels(labels: np.ndarray, shape) -> np.ndarray:
    """Seed labels on a coarser grid: nearest-neighbour sampling, but every lesion seed keeps the coarse voxel
    it falls in (they are a few voxels on one slice, which sampling alone drops, and a walk without lesion seeds
    says nothing about the lesion)."""
    lab = resize(labels, shape, order=0, preserve_range=True, anti_aliasing=False).astype(labels.dtype)
    seeds = np.nonzero(labels == 1)
    lab[tuple(np.minimum(((i + 0.5) * c / o).astype(int), c - 1) for i, o, c in zip(seeds, labels.shape, shape))] = 1
    return lab


def _solve(data: np.ndarray, labels: np.ndarray, spacing) -> np.ndarray:
    """Lesion probability from the random walker, on a coarser grid when the box is large."""
    n = data.size
    if n <= MAX_SOLVE_VOXELS:
        return _walk(data, labels, spacing)
    f = (MAX_SOLVE_VOXELS / n) ** (1 / 3)
    shape = tuple(max(2, int(round(s * f))) for s in data.shape)
    small = resize(data, shape, order=1, preserve_range=True, anti_aliasing=True)
    lab = _coarse_labels(labels, shape)
    sp = tuple(s * o / c for s, o, c in zip(spacing, data.shape, shape))
    prob = _walk(small, lab, sp)
    return upsample_linear(prob, data.shape)


def _surroundings(img: np.ndarray, fp, px_mm: float) -> np.ndarray:
    """Prompt-slice HU just outside where the lesion may be: a band outside a drawn box/contour, else a ring."""
    if fp.outside is not None:
        return img[fp.outside & ndimage.binary_dilation(~fp.outside, iterations=int(6 / px_mm) + 2)]
    rr, cc = np.ogrid[0:img.shape[0], 0:img.shape[1]]   # broadcast: the same distances, no grid arrays
    d = np.hypot(rr + 0.5 - fp.centre[0], cc + 0.5 - fp.centre[1])
    ring = (d > fp.radius_px) & (d <= fp.radius_px + 6.0 / px_mm)
    return img[ring] if ring.sum() >= 20 else img.ravel()


def _dominant_background(values: np.ndarray, lesion: float, background: float) -> float:
    """The background is the tissue the lesion sits in, i.e. the side of the lesion's HU that most of its
    surroundings fall on. The most contrasting side alone picks a rib next to a lung nodule, or fat next to a
    liver lesion, and then the lung (or the liver) reads as more lesion-like than the lesion itself."""
    darker = float((values < lesion - MIN_CONTRAST_HU).mean())
    brighter = float((values > lesion + MIN_CONTRAST_HU).mean())
    if background > lesion and darker > brighter:
        return float(np.percentile(values, 15))
    if background < lesion and brighter > darker:
        return float(np.percentile(values, 85))
    return background


def _diameter(region: np.ndarray) -> float:
    """A drawn region's long diameter (px), near enough: its largest extent over four directions."""
    r, c = np.nonzero(region)
    return max(float(np.ptp(v)) + 1.0 for v in (r, c, (r + c) / np.sqrt(2), (r - c) / np.sqrt(2)))


def _at_level(core: np.ndarray, f: np.ndarray, labels: np.ndarray, level) -> np.ndarray:
    """The walk's lesion grown by one voxel, kept where more lesion-like than ``level`` (one for all, or per slice:
    shape (slices, 1, 1)); seeds stay."""
    return grow_one(core) & (f > level) & (labels != 2) | (labels == 1)


def _drawn_level(f2d: np.ndarray, points: np.ndarray) -> float:
    """Lesion-likeness where the drawing's points lie (bilinear; points (row, col), pixel centre at +0.5): the level
    at which the reader put the lesion's edge. A caliper's ends or an ellipse's axis ends on the centres of the edge
    pixels read at least half (the rim left out); on their outer corners, where LIDC readers' rim ends, less. A point
    more lesion-like than the lesion itself lies on what it touches (the chest wall, a vessel), not on its edge, and
    says nothing (0 when no point is left: no sign the rim is left out)."""
    at = ndimage.map_coordinates(f2d, (np.asarray(points) - 0.5).T, order=1, mode="nearest")
    return float(at[at <= 1.0].mean()) if (at <= 1.0).any() else 0.0


def _slice_levels(core: np.ndarray, f: np.ndarray, level: float, noise: float) -> np.ndarray:
    """Per slice, ``level`` of what the walk's lesion reaches on that slice (its plateau, at most 1): a slice the
    lesion only partly fills across its thickness (its end, on thick slices) is fainter throughout, and its in-plane
    edge lies at ``level`` of its own plateau, not of the full lesion's. Never below RIM_LEVEL (for outlines too: the
    drawing, not the walk's growth into a box's corners, says where the edge is), nor below what stands out of the
    image noise (``noise``: the background's spread in the walk's units; capped at ``level``): on a slice the lesion
    does not reach (past a faint lesion's end, where the walk may leak) noise alone reaches RIM_LEVEL, while a section
    smaller than the blur (a sharp lesion's tip) never reaches ``level``."""
    plateau = np.array([np.percentile(f[z][core[z]], 75) if core[z].any() else 0.0 for z in range(f.shape[0])])
    floor = max(RIM_LEVEL, min(level, NOISE_SIGMAS * noise))
    return np.maximum(floor, level * np.clip(plateau, 0.0, 1.0))[:, None, None]


def _noise(f: np.ndarray, outside: np.ndarray) -> float:
    """The image noise in the walk's units: the robust spread (MAD) of what lies outside the bound."""
    vals = f[outside]
    return float(1.4826 * np.median(np.abs(vals - np.median(vals)))) if vals.size >= 20 else 0.0


def _drawn_cut(f2d: np.ndarray, drawn: np.ndarray, band_px: int) -> float:
    """The lesion-likeness level that best tells the drawn mask from the band around it on its own slice (Dice
    of the thresholded zone against the drawing): the reader's own edge, in the walk's units."""
    zone = ndimage.binary_dilation(drawn, iterations=band_px)
    vals = f2d[zone]
    best, best_d = 0.0, -1.0
    for t in np.unique(np.percentile(vals, np.arange(2, 99, 2))):
        pick = zone & (f2d >= t)
        d = 2 * (pick & drawn).sum() / (pick.sum() + drawn.sum())
        if d > best_d:
            best, best_d = float(t), d
    return best


def _bound_by_drawing(labels: np.ndarray, f: np.ndarray, drawn: np.ndarray, kk: int, ds: float, px, band_px: int):
    """A drawn mask is the lesion's exact edge on its slice; it bounds the neighbouring slices three ways (labels
    set to background in place): a shape prior (a slice dz mm away lies within CONE_MM + CONE_SLOPE * dz of the
    drawing: lesions change slowly across slices and shrink towards their ends) and the reader's own HU cut
    (what is clearly fainter than the level that separates the drawing from the band around it is background,
    e.g. the ground-glass halo a reader left out of a part-solid nodule, but never what is as lesion-like as the
    faintest pixels the reader drew); and lesion-like tissue just outside the drawing (what the reader cut it from:
    the chest wall, a vessel) is background on every slice."""
    gap = ndimage.distance_transform_edt(~drawn, sampling=px)
    cut = _drawn_cut(f[kk], drawn, band_px)
    # what the reader cut the lesion from on its slice (tissue at least as lesion-like as the drawing's edge just
    # outside it: the chest wall, a vessel) goes on across slices, and is background on the other slices too
    cut_from = (f[kk] >= cut) & ~ndimage.binary_dilation(drawn) & (gap <= CUT_FROM_MM)
    for z in range(labels.shape[0]):
        if z != kk:   # the other slices hold no lesion seed
            labels[z][(gap > CONE_MM + CONE_SLOPE * abs(z - kk) * ds) | cut_from] = 2
    # the faintest pixels the reader drew are lesion by the reader's word: the cut never goes above them (the level
    # that best separates drawing and band sits half way up a sharp edge, and 0.15 below it still cut off, on every
    # other slice, the partial-volume rim the reader drew on this one: on 81 of the 294 tune drawings)
    floor = cut - MASK_CUT_MARGIN
    if drawn.any():   # the cap: never above the drawing's faintest pixels (an empty drawing keeps the plain cut)
        floor = min(floor, float(np.percentile(f[kk][drawn], DRAWN_KEPT_PERCENTILE)))
    labels[(f < floor) & (labels != 1)] = 2


def _walled_off(data: np.ndarray, labels: np.ndarray, f: np.ndarray, kk: int, spacing, cap: float) -> None:
    """What the lesion was cut from on the prompt slice stays out on the other slices (labels set to background in
    place): the prompt slice's walk alone (cheap: one slice) gives the lesion's section there; tissue at least half
    lesion-like just outside it (within CUT_FROM_MM; the chest wall or pleura a juxtapleural nodule touches, a
    vessel) is what the walk cut it from, and goes on across slices, where a 3D walk seeded on one slice otherwise
    flows into it round the contact (as ``_bound_by_drawing`` does for a drawn mask's neighbours). Nothing is walled
    off where what surrounds the section may be the lesion itself: on its faint end slice, or round a section that
    lesion-like tissue holds nearly all round (a large lesion the prompt's bound cut short)."""
    lab = labels[kk:kk + 1]
    if not (lab == 0).any():
        return
    prob = _walk(data[kk:kk + 1], lab, spacing)[0]
    section = _at_level(prob >= PROB_LEVEL, f[kk], labels[kk], RIM_LEVEL)
    if not section.any() or any(f[z][section].mean() >= 1.0 + cap for z in (kk - 1, kk + 1) if 0 <= z < f.shape[0]):
        # a neighbour slice clearly denser (``cap``) than the lesion read on the prompt slice: that slice is the lesion's
        # faint partial-volume end (as ``_cap_sides`` for drawn masks), and what lies round its section is the lesion
        return
    gap = ndimage.distance_transform_edt(~section, sampling=spacing[1:])
    near = grow_one(section)
    dense = (f[kk] >= STRICT_RIM_LEVEL) & ~near
    ring = grow_one(near) & ~near
    if dense[ring].mean() > WALL_MAX_CONTACT:   # lesion-like all round: the section is part of a larger lesion
        return
    # only tissue that runs on past the bound (a wall, a vessel larger than the lesion; not the lesion's own fringe)
    comp, _ = ndimage.label(dense)
    beyond = dense & (labels[kk] == 2)
    beyond[[0, -1]] |= dense[[0, -1]]
    beyond[:, [0, -1]] |= dense[:, [0, -1]]
    wall = np.isin(comp, np.unique(comp[beyond])) & (gap <= CUT_FROM_MM)
    if wall.any():
        for z in range(labels.shape[0]):
            if z != kk:
                labels[z][wall & (labels[z] != 1)] = 2


def _cap_sides(hu: np.ndarray, k: int, rows: slice, cols: slice, drawn: np.ndarray) -> tuple[bool, bool]:
    """(below, above): whether the slice on that side is clearly denser than the drawn slice inside the drawing,
    i.e. the drawing is the lesion's partial-volume end and the lesion lies mostly on that side."""
    own = float(hu[k, rows, cols].astype(np.float32)[drawn].mean())   # float32 whatever the volume's stored type
    return tuple(0 <= z < hu.shape[0] and float(hu[z, rows, cols].astype(np.float32)[drawn].mean()) >= own + CAP_HU
                 for z in (k - 1, k + 1))


def _span(points: np.ndarray, shape) -> np.ndarray:
    """The pixels a caliper's axes run through (each pair of points an axis; centres within half a pixel of its
    ends left out; face-connected, so the mask stays one component): a caliper is a chord of the lesion, so its
    slice's mask spans it end to end."""
    out = np.zeros(shape, bool)
    for a, b in zip(points[0::2], points[1::2]):
        n = float(np.linalg.norm(b - a))
        if n < 1.0:
            continue
        t = np.linspace(0.5 / n, 1 - 0.5 / n, int(np.ceil(4 * n)) + 1)[:, None]
        ij = np.floor(a + t * (b - a)).astype(int)
        diagonal = (ij[1:] != ij[:-1]).all(axis=1)   # a corner step: the pixel beside it keeps the span face-connected
        ij = np.vstack([ij, np.column_stack([ij[:-1][diagonal, 0], ij[1:][diagonal, 1]])])
        ij = ij[(ij >= 0).all(axis=1) & (ij < shape).all(axis=1)]
        out[ij[:, 0], ij[:, 1]] = True
    return out


def _without_thin_strokes(seg: np.ndarray, skip) -> np.ndarray:
    """Each slice's mask (but ``skip``'s) opened by OUTLINE_STROKE: a region a reader draws has no strokes narrower
    than three pixels, while the walk's mask follows a vessel leaving the lesion, or a one-pixel tongue along the
    chest wall, for as far as it is lesion-like. A section (2D component) under MIN_OPENED_SECTION_PX, or one the
    opening would remove whole (a small lesion's end slice), is kept as it is."""
    out = seg.copy()
    for z in np.flatnonzero(seg.any(axis=(1, 2))):
        if z == skip:
            continue
        opened = ndimage.binary_opening(seg[z], OUTLINE_STROKE)
        comp, n = ndimage.label(seg[z])
        kept = np.bincount(comp.ravel(), minlength=n + 1) < MIN_OPENED_SECTION_PX
        kept[np.setdiff1d(np.arange(1, n + 1), comp[opened])] = True
        kept[0] = False
        out[z] = np.where(kept[comp], seg[z], opened)
    return out


def _extent(mask2d: np.ndarray, u: np.ndarray) -> float:
    """Extent (px) of a slice mask's pixel squares along the unit direction u."""
    r, c = np.nonzero(mask2d)
    if not len(r):
        return 0.0
    proj = (r + 0.5) * u[0] + (c + 0.5) * u[1]
    return float(np.ptp(proj) + abs(u[0]) + abs(u[1]))


def _densest_slice(f: np.ndarray, walk: np.ndarray, lesion_hu: float, background_hu: float) -> float:
    """How many times more lesion-like than its seeds the lesion is on its densest slice (1 if not clearly so).

    The seeds' HU is read on the prompt slice; a slice a few mm thick through a small lesion, or near its end, holds
    lesion and lung together (partial volume across slices), so its HU is fainter than the lesion's own. The rim
    levels measured against it then take in the partial-volume rim of the denser slices (lung at -700 HU next to a
    "lesion" at -600 HU) and the faint slice's whole smudge. The lesion's own HU is that of the slice where the walk's
    lesion is most lesion-like (its median there, calcium counted as soft tissue), when that is clearly
    (``MIN_CONTRAST_HU``) more so."""
    if lesion_hu > background_hu:   # calcium is no soft-tissue lesion's own HU (a calcified nodule's rim is tissue)
        f = np.minimum(f, (SOFT_TISSUE_MAX_HU - background_hu) / (lesion_hu - background_hu))
    best = 1.0
    for z in range(walk.shape[0]):
        if walk[z].sum() >= MIN_CORE_VOXELS:
            best = max(best, float(np.median(f[z][walk[z]])))
    return best if (best - 1.0) * abs(lesion_hu - background_hu) > MIN_CONTRAST_HU else 1.0


def _certainty(prob: np.ndarray) -> float:
    """How sure the walk is of its cut: overlap (Dice) of the masks at probabilities 0.25 and 0.75. A lesion
    with a clear edge gives nearly the same mask at both; a cut through same-density tissue (a leak) does not."""
    lo, hi = prob >= 0.25, prob >= 0.75
    total = lo.sum() + hi.sum()
    return float(2 * (lo & hi).sum() / total) if total else 0.0


class ClassicalSegmenter(PerPromptSegmenter):
    """3D random walker per prompt on an HU volume (slice, row, column)."""

    name = BACKEND

    def segment(self, hu: np.ndarray, spacing_mm: tuple[float, float, float], prompt: Prompt) -> SegmentResult:
        t0, k = time.perf_counter(), prompt.slice_index
        ds, dr, dc = spacing_mm
        px_mm = (dr + dc) / 2
        # the prompt slice around the prompt: where the footprint is read
        rows, cols = _window(prompt.centre, MAX_POINT_RADIUS_MM * 1.3 / px_mm + 8, *hu.shape[1:])
        img = ndimage.gaussian_filter(hu[k, rows, cols].astype(np.float32), SMOOTH_SIGMA_PX)
        local = _shift(prompt, rows.start, cols.start, rows, cols)
        fp, lesion, background = footprint(local, img, px_mm)
        background = _dominant_background(_surroundings(img, fp, px_mm), lesion, background)
        if abs(lesion - background) < MIN_CONTRAST_HU:
            raise PromptError("no_contrast", f"lesion {lesion:.0f} HU vs surroundings {background:.0f} HU")
        centre = fp.centre + [rows.start, cols.start]
        # the 3D box the lesion may occupy (the bound ellipsoid plus a rim of background)
        radius = fp.radius_px
        # across slices a drawn region reaches as far as a line of its long diameter would (0.6 x; its
        # circumradius, about 0.5 x for a round contour, cut lesions short at their top and bottom)
        half_z_px = radius if fp.outside is None else OUTLINE_Z * _diameter(~fp.outside) + 1.0
        reach_z_mm = half_z_px * px_mm * (LINE_Z_REACH if prompt.kind in CALIPER_KINDS else Z_REACH) + ds
        # a contour drawn on the lesion's faint end (a partial-volume cap) says nothing of how large it is towards
        # its denser side: there it may grow as far as the shape prior of ``_bound_by_drawing`` allows
        cap = _cap_sides(hu, k, rows, cols, fp.inside) if prompt.kind == "mask" else (False, False)
        grow_px = (CONE_MM + CONE_SLOPE * reach_z_mm) / px_mm if any(cap) else 0.0
        box_r, box_c = _window(centre, radius + grow_px + 3, *hu.shape[1:])
        # within the prompt-slice window, where the footprint is known
        box_r = slice(max(box_r.start, rows.start), min(box_r.stop, rows.stop))
        box_c = slice(max(box_c.start, cols.start), min(box_c.stop, cols.stop))
        nz = int(np.ceil(reach_z_mm / ds)) + 1
        z0, z1 = max(0, k - nz), min(hu.shape[0], k + nz + 1)
        crop = ndimage.gaussian_filter(hu[z0:z1, box_r, box_c].astype(np.float32), (0, SMOOTH_SIGMA_PX, SMOOTH_SIGMA_PX))
        f = (crop - background) / (lesion - background)
        zz, rr, cc = np.meshgrid((np.arange(z0, z1) - k) * ds, np.arange(box_r.start, box_r.stop) + 0.5 - centre[0],
                                 np.arange(box_c.start, box_c.stop) + 0.5 - centre[1], indexing="ij")
        side = np.arange(z0, z1) - k
        r_z = radius + grow_px * ((side < 0) & cap[0] | (side > 0) & cap[1])
        bound = (rr ** 2 + cc ** 2) / r_z[:, None, None] ** 2 + zz ** 2 / reach_z_mm ** 2 <= 1.0
        labels = np.zeros(crop.shape, np.int8)
        labels[~bound | (f < BACKGROUND_LEVEL)] = 2
        kk = k - z0
        off = np.array([box_r.start - rows.start, box_c.start - cols.start])
        if fp.outside is not None:
            labels[kk][fp.outside[off[0]:off[0] + crop.shape[1], off[1]:off[1] + crop.shape[2]]] = 2
        if prompt.kind == "polygon":   # a drawn box's corners beyond the round lesion it bounds (``drawn_box``)
            corners = beyond_inscribed_ellipse(local.points - off, crop.shape[1:])
            if corners is not None:
                labels[kk][corners] = 2
        seed_idx = np.floor(fp.seeds - off).astype(int)
        seed_idx = seed_idx[(seed_idx >= 0).all(axis=1) & (seed_idx < crop.shape[1:]).all(axis=1)]
        if not len(seed_idx):
            raise PromptError("seeds_outside_image", "the prompt's seeds fall outside the image")
        lesion_like = f[kk, seed_idx[:, 0], seed_idx[:, 1]] > 0.5
        seed_idx = seed_idx[lesion_like] if lesion_like.any() else seed_idx
        labels[kk, seed_idx[:, 0], seed_idx[:, 1]] = 1
        drawn = None
        if fp.inside is not None:
            drawn = fp.inside[off[0]:off[0] + crop.shape[1], off[1]:off[1] + crop.shape[2]]
            labels[kk][drawn] = 1
            if prompt.kind == "mask":
                _bound_by_drawing(labels, f, drawn, kk, ds, (dr, dc), int(6 / px_mm) + 2)
        # texture inside the lesion must not block the walk: what is at least as lesion-like as its darker
        # (fainter) seeds is one flat level, the background another
        typical = np.percentile(f[kk, seed_idx[:, 0], seed_idx[:, 1]], TYPICAL_PERCENTILE)
        data = np.clip(f / max(typical, 0.5), 0.0, 1.0)
        if prompt.kind in WALL_KINDS:
            _walled_off(data, labels, f, kk, (ds, dr, dc), CAP_HU / abs(lesion - background))
        prob = _solve(data, labels, (ds, dr, dc)) if (labels == 0).any() else (labels == 1).astype(float)
        score = _certainty(prob)
        # the rim is measured against the lesion's own HU, that of its densest slice (the walk itself is unchanged);
        # the drawing's edge level is read against the HU of the slice it was drawn on, as _slice_levels judges that
        # slice's edge against its own plateau (a drawing on a faint slice would otherwise read too faint)
        f_drawn = f[kk]
        f = f / _densest_slice(f, prob >= CORE_LEVEL, lesion, background)
        # give back the partial-volume rim the walk leaves between lesion and background (readers include it),
        # and keep only what is at least that lesion-like (the walk also takes in faint voxels between seeds)
        p_level, level = (OUTLINE_PROB_LEVEL, OUTLINE_RIM_LEVEL) if prompt.kind in OUTLINE_KINDS else (PROB_LEVEL, RIM_LEVEL)
        core = prob >= p_level
        seg = _at_level(core, f, labels, level)
        over = None
        if prompt.kind in CALIPER_KINDS:
            a, b = local.points[0] - off, local.points[1] - off
            length, u = float(np.linalg.norm(b - a)), (b - a) / (float(np.linalg.norm(b - a)) or 1.0)
            over = _extent(seg[kk], u) - length
        if prompt.kind in EDGE_DRAWN_KINDS and (over is None or over > OVERSHOOT_PX) \
                and _drawn_level(f_drawn, local.points - off) >= STRICT_RIM_LEVEL:
            # the drawing lies on voxels at least half lesion-like (and a caliper is overshot by the mask with its rim,
            # as one drawn to the edge pixels' centres is): the reader's edge leaves the partial-volume rim out
            seg = _at_level(core, f, labels, _slice_levels(core, f, STRICT_RIM_LEVEL, _noise(f, ~bound)))
        elif over is not None and over > OVERSHOOT_PX:
            # overshot, but the ends read below half: the stricter level is kept if it brings the mask's extent
            # closer to the drawn length (0.3.0's rule)
            strict = _at_level(core, f, labels, STRICT_RIM_LEVEL)
            if abs(_extent(strict[kk], u) - length) < over:
                seg = strict
        if prompt.kind in REGION_KINDS:   # not on a slice the drawing gives the edge of (a mask's, an ellipse's)
            seg = _without_thin_strokes(seg, kk if drawn is not None or prompt.kind in EDGE_DRAWN_KINDS else None)
        if prompt.kind in CALIPER_KINDS:   # not where clearly background: a line drawn past it stays visible
            seg[kk] |= _span(local.points - off, seg.shape[1:]) & (labels[kk] != 2)
        comp, _ = ndimage.label(seg)
        hit = np.unique(comp[labels == 1])
        seg = np.isin(comp, hit[hit > 0])
        seg = fill_holes_per_slice(seg)
        if drawn is not None:
            seg[kk] = drawn
        if not seg[kk].any():
            raise PromptError("empty_prompt_slice", "nothing on the prompt slice matches the prompt's intensity")
        stops = {}
        for name, end, edge in (("superior", z1 - 1, hu.shape[0] - 1), ("inferior", z0, 0)):
            reached = seg[end - z0].any()
            stops[name] = ("volume_edge" if end == edge else "size_limit") if reached else "empty_slice"
        return SegmentResult.within(seg, hu.shape, (slice(z0, z1), box_r, box_c), stops["superior"], stops["inferior"],
                                    score, time.perf_counter() - t0)
