"""The first weight-free CPU backend (opseg 0.1, ``--backend classical-2d``): prompt-seeded intensity model +
2D region growing propagated slice by slice. Kept for comparison (benchmarks/bench_segment.py, opseg eval);
the default is now ``segmentation.classical`` (3D random walker).

On the prompt slice the prompt gives seeds (inside the lesion) and a bound (how far it can reach); the
lesion/background intensities come from the seeds and from a ring just outside the bound (for an arrow:
from the tissue the arrow comes from). Each next slice keeps the components that overlap the previous
slice's mask inside a slightly dilated copy of it, and a direction stops at the first empty slice, the
volume's edge, or a physical size limit from the prompt. No weights, deterministic, labelled
``classical-cpu 0.1.0`` in every output row (the name it had as the default).
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from segmentation.classical import PerPromptSegmenter, SegmentResult
from segmentation.prompts import Prompt, PromptError

BACKEND = "classical-cpu 0.1.0"
SMOOTH_SIGMA_PX = 1.0
MIN_AREA_FRACTION = 0.03
ARROW_REACH_MM = 30.0


@dataclass
class IntensityModel:
    lesion: float
    background: float
    spread: float

    def classify(self, hu: np.ndarray) -> np.ndarray:
        """Lesion side of the midpoint to the background, and not too far the other way."""
        mid = (self.lesion + self.background) / 2
        far = max(5 * self.spread, 60.0)
        if self.lesion < self.background:
            return (hu < mid) & (hu > self.lesion - far)
        return (hu > mid) & (hu < self.lesion + far)

    def core(self, hu: np.ndarray) -> np.ndarray:
        """Only what looks like the lesion itself (no size prior to stop a leak into similar tissue)."""
        return np.abs(hu - self.lesion) < min(abs(self.lesion - self.background) / 2, max(2.5 * self.spread, 10.0))


def _sample(img: np.ndarray, pts: np.ndarray) -> np.ndarray:
    idx = np.clip(np.floor(pts).astype(int), 0, np.array(img.shape) - 1)
    return img[idx[:, 0], idx[:, 1]]


def _first_change(img: np.ndarray, origin: np.ndarray, d: np.ndarray, background: float, noise: float,
                  reach_px: float) -> float | None:
    """Distance along d from origin to the first sustained departure from the background intensity."""
    steps = np.arange(0.0, reach_px, 0.5)
    along = _sample(img, origin + d * steps[:, None])
    off = np.abs(along - background) > max(4 * noise, 25.0)
    run = np.convolve(off.astype(int), np.ones(4, int), mode="valid") == 4
    return float(steps[int(np.argmax(run))]) if run.any() else None


def _arrow_seeds(img: np.ndarray, p: Prompt, px_mm: float) -> tuple[np.ndarray, float]:
    """Walk past the arrow tip until the intensity departs from the tissue the arrow comes from.

    An arrow saved as its tip only (an SR "Center" point) is searched in 16 directions, nearest change wins.
    """
    tip = p.tip if p.tip is not None else p.points[-1]
    tail = p.points[0]
    reach = ARROW_REACH_MM / px_mm
    if np.linalg.norm(tip - tail) > 1e-6:
        d = (tip - tail) / np.linalg.norm(tip - tail)
        behind = _sample(img, tip - d * np.arange(2.0, 7.0)[:, None])
        directions = [d]
    else:
        rr, cc = np.mgrid[-1:2, -1:2]
        behind = _sample(img, tip + np.column_stack([rr.ravel(), cc.ravel()]))
        angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
        directions = [np.array([np.sin(a), np.cos(a)]) for a in angles]
    background = float(np.median(behind))
    # a tip next to the lesion puts lesion pixels in this sample: cap the noise estimate so they cannot hide it
    noise = min(max(float(np.median(np.abs(behind - background))) * 1.5, 8.0), 30.0)
    found = [(t, d) for d in directions if (t := _first_change(img, tip, d, background, noise, reach)) is not None]
    if not found:
        raise PromptError("arrow_target_not_found", "no tissue change within reach of the arrow tip")
    start, d = min(found, key=lambda x: x[0])
    start += 1.5
    return tip + d * np.arange(start, start + 3.0, 0.5)[:, None], background


def _ring_background(img: np.ndarray, bound: np.ndarray, lesion: float) -> float:
    """The surrounding tissue that contrasts most: a lesion at an organ's edge touches two tissues and the
    one that looks like the lesion cannot delimit it, so take the ring's far side (15th/85th percentile)."""
    ring = ndimage.binary_dilation(bound, iterations=4) & ~bound
    values = img[ring] if ring.any() else img.ravel()
    lo, hi = np.percentile(values, [15, 85])
    return float(lo if abs(lo - lesion) > abs(hi - lesion) else hi)


def _component(candidate: np.ndarray, keep: np.ndarray) -> np.ndarray:
    labels, n = ndimage.label(candidate)
    if n == 0:
        return np.zeros_like(candidate)
    hits = np.unique(labels[keep & candidate])
    hits = hits[hits > 0]
    out = np.isin(labels, hits)
    return ndimage.binary_fill_holes(ndimage.binary_opening(out) | (out & keep)) if out.any() else out


def _closed_region(candidate: np.ndarray, seeds: np.ndarray, centre: np.ndarray, reach_px: float, px_mm: float) -> np.ndarray:
    """For prompts without a size (arrows): the smallest disk in which the seeded region closes on itself.

    Disks grow in 2.5 mm steps; a region still touching its disk's rim is leaking into similar tissue. If it
    never closes, the radius where the area grew least is taken (the lesion's edge is a plateau).
    """
    rr, cc = np.mgrid[0:candidate.shape[0], 0:candidate.shape[1]]
    dist = np.hypot(rr + 0.5 - centre[0], cc + 0.5 - centre[1])
    best, areas = [], []
    for radius in np.arange(5.0 / px_mm, reach_px + 1e-6, 2.5 / px_mm):
        disk = dist <= radius
        comp = _component(candidate & disk, seeds)
        rim = disk & (dist > radius - 1.5)
        if comp.any() and not (comp & rim).any():
            return comp
        best.append(comp)
        areas.append(comp.sum())
    growth = np.diff(areas) / np.maximum(1, np.array(areas[:-1]))
    return best[int(np.argmin(growth))] if len(growth) else best[-1]


class Classical2DSegmenter(PerPromptSegmenter):
    """2D region growing per prompt, propagated slice by slice (the 0.1 default)."""

    name = BACKEND

    def segment(self, hu: np.ndarray, spacing_mm: tuple[float, float, float], prompt: Prompt) -> SegmentResult:
        t0 = time.perf_counter()
        ds, dr, dc = spacing_mm
        px_mm = (dr + dc) / 2
        reach_px = (prompt.length_px or ARROW_REACH_MM / px_mm) * 1.5 + 8
        c = prompt.centre
        r0, r1 = int(max(0, c[0] - reach_px)), int(min(hu.shape[1], c[0] + reach_px + 1))
        c0, c1 = int(max(0, c[1] - reach_px)), int(min(hu.shape[2], c[1] + reach_px + 1))
        crop = ndimage.gaussian_filter(hu[:, r0:r1, c0:c1].astype(np.float32), sigma=(0, SMOOTH_SIGMA_PX, SMOOTH_SIGMA_PX))
        local = dataclasses.replace(prompt, points=prompt.points - [r0, c0],
                                    tip=None if prompt.tip is None else prompt.tip - [r0, c0],
                                    mask=None if prompt.mask is None else prompt.mask[r0:r1, c0:c1])
        k = prompt.slice_index
        img = crop[k]
        if local.kind == "arrow":
            seeds, background = _arrow_seeds(img, local, px_mm)
            bound = Prompt("point", k, seeds, None, ARROW_REACH_MM / px_mm).bound_mask(img.shape)
        else:
            seeds = local.seeds()
            bound = local.bound_mask(img.shape)
        values = _sample(img, seeds)
        lesion = float(np.median(values))
        if local.kind != "arrow":
            background = _ring_background(img, bound, lesion)
        spread = max(float(np.median(np.abs(values - lesion))) * 1.4826, 4.0)
        if abs(lesion - background) < 15.0:
            raise PromptError("no_contrast", f"lesion {lesion:.0f} HU vs surroundings {background:.0f} HU")
        model = IntensityModel(lesion, background, spread)
        seed_mask = np.zeros(img.shape, bool)
        idx = np.clip(np.floor(seeds).astype(int), 0, np.array(img.shape) - 1)
        seed_mask[idx[:, 0], idx[:, 1]] = True
        candidate = model.classify(img)
        out = np.zeros(crop.shape, bool)
        if prompt.kind == "arrow":
            core = _closed_region(model.core(img), seed_mask, seeds.mean(axis=0), ARROW_REACH_MM / px_mm, px_mm)
            out[k] = core | (ndimage.binary_dilation(core) & candidate)  # give back the partial-volume rim
        else:
            out[k] = _component(candidate & bound, seed_mask)
        if not out[k].any():
            raise PromptError("empty_prompt_slice", "nothing on the prompt slice matches the prompt's intensity")
        # away from the prompt slice a lesion stays within a margin of its measured cross-section
        diameter_px = 2 * np.sqrt(out[k].sum() / np.pi)
        bound = bound & ndimage.binary_dilation(out[k], iterations=max(2, int(round(0.3 * diameter_px))))
        size_px = prompt.length_px or diameter_px
        max_extent = size_px * px_mm * 0.75 / ds + 1
        stops = {}
        for name, step in (("superior", 1), ("inferior", -1)):
            prev, z, reason = out[k], k + step, None
            ref_area = prev.sum()
            while reason is None:
                if not 0 <= z < crop.shape[0]:
                    reason = "volume_edge"
                    break
                if abs(z - k) > max_extent:
                    reason = "size_limit"
                    break
                # the measured slice is (near) the largest cross-section: allow one pixel of growth per slice
                grow = ndimage.binary_dilation(prev, iterations=1 if abs(z - k) > 1 else 2) & bound
                cur = _component(model.classify(crop[z]) & grow, ndimage.binary_erosion(prev) | prev & (prev.sum() < 9))
                if cur.sum() < max(3, MIN_AREA_FRACTION * ref_area):
                    reason = "empty_slice"
                    break
                if abs(z - k) > 1 and cur.sum() > prev.sum():  # growing away from the measured slice: a leak
                    cur = cur & prev
                out[z], prev = cur, cur
                z += step
            stops[name] = reason
        # volume order is inferior -> superior along the normal for axial CT (sorted by position)
        mask = np.zeros(hu.shape, bool)
        mask[:, r0:r1, c0:c1] = out
        return SegmentResult(mask, stops["superior"], stops["inferior"], None, time.perf_counter() - t0,
                             (slice(None), slice(r0, r1), slice(c0, c1)))
