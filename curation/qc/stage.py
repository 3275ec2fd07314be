"""QC metrics for every mask, in long format (entity, metric, value, threshold, passed), plus a per-mask
verdict with the reasons. Thresholds are configurable; metrics without a threshold are informative."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Optional

import numpy as np
from scipy import ndimage

from curation.dicom.cache import series_volumes
from curation.dicom.volume import VolumeError
from curation.io.partition import Partition
from curation.io.stage import Stage, run_alone
from schemas import AnnotationRecord, InstanceRecord, MaskRecord, QCRecord, SeriesRecord
from schemas.qc import CHECKS, QCThresholds, judge  # noqa: F401  (the stage's config; CHECKS/judge for calibration)


SIZED_KINDS = ("line", "bidimensional", "ellipse", "circle", "polygon")
ARROW_CHECKS = {"arrow_tip_distance_mm", "arrow_tip_depth_mm", "arrow_behind_fraction", "arrow_aim_deg"}


def _line_points(pts: np.ndarray, n: int = 25) -> np.ndarray:
    t = np.linspace(0.1, 0.9, n)[:, None]
    return np.vstack([a + t * (b - a) for a, b in (pts[i:i + 2] for i in range(0, len(pts) - 1, 2))])


def mask_metrics(mask: np.ndarray, hu: Optional[np.ndarray], a: AnnotationRecord, m: MaskRecord,
                 spacing: tuple[float, float, float], th: QCThresholds,
                 origin: tuple[int, int, int] = (0, 0, 0), shape: Optional[tuple[int, int, int]] = None,
                 ) -> list[tuple[str, float, Optional[float], Optional[bool], str]]:
    """[(metric, value, threshold, passed, detail)] for one mask on its (slice, row, column) grid. ``mask`` (and
    ``hu``) may be a window of the volume at ``origin`` (``shape``: the volume's), holding the whole mask and a
    one-voxel in-plane margin (``mask_window``): every metric is then the one the full volume gives, for a
    fraction of the cost (a mask is a few thousand voxels of a volume of millions)."""
    th = th.for_kind(a.kind)
    out = []
    ds, dr, dc = spacing
    shape = tuple(shape or mask.shape)
    oz, orow, ocol = origin
    if a.length_mm and a.kind in ("line", "bidimensional", "ellipse") and m.recist_long_mm:
        err = abs(m.recist_long_mm - a.length_mm) / a.length_mm * 100
        out.append(("recist_error_pct", err, th.max_recist_error_pct, err <= th.max_recist_error_pct,
                    f"mask {m.recist_long_mm:.1f} mm vs drawn {a.length_mm:.1f} mm"))
    k = a.slice_index
    if a.points_px and k is not None and 0 <= k < shape[0]:
        on_slice = mask[k - oz] if 0 <= k - oz < mask.shape[0] else np.zeros(mask.shape[1:], bool)
        pts = np.asarray(a.points_px, float)[:, ::-1]  # (row, col)
        if a.kind in ("line", "bidimensional"):
            samples = np.floor(_line_points(pts)).astype(int)
            ok = (samples[:, 0] >= 0) & (samples[:, 0] < shape[1]) & (samples[:, 1] >= 0) & (samples[:, 1] < shape[2])
            frac = float(_sample(on_slice, samples[ok] - (orow, ocol)).mean()) if ok.any() else 0.0
            out.append(("line_inside_fraction", frac, th.min_line_inside, frac >= th.min_line_inside, "drawn line inside the mask"))
        if a.kind == "arrow" and a.tip_px is not None:
            out += _arrow_metrics(on_slice, pts, np.asarray(a.tip_px, float)[::-1], (orow, ocol), shape, (dr, dc), th)
    if m.score is not None and m.backend.startswith("classical-cpu"):  # calibrated for this backend's score only
        out.append(("classical_certainty", float(m.score), th.min_classical_certainty, m.score >= th.min_classical_certainty,
                    f"{m.backend}: overlap of the random walk's 0.25 and 0.75 masks"))
    out.append(_size_checkable(a.kind, {n for n, *_ in out}, th))
    c0, r0, s0, c1, r1, s1 = m.bbox or (0, 0, 0, shape[2], shape[1], shape[0])
    n_comp = ndimage.label(mask[s0 - oz:s1 - oz, max(r0 - orow, 0):r1 - orow, max(c0 - ocol, 0):c1 - ocol])[1]  # the
    # bbox crop has the same components, at a fraction of the cost
    out.append(("components", float(n_comp), th.max_components, n_comp <= th.max_components, "3D connected components"))
    edge = _touches_edge(mask, origin, shape)
    out.append(("touches_volume_edge", float(edge), 0.0, not edge, "mask reaches the volume's border"))
    if a.length_mm and m.n_slices:
        ratio = m.n_slices * ds / a.length_mm
        lr = abs(float(np.log2(max(ratio, 1e-6))))
        out.append(("extent_log2_ratio", lr, th.max_extent_log2_ratio, lr <= th.max_extent_log2_ratio,
                    f"{m.n_slices} slices x {ds:.1f} mm vs {a.length_mm:.1f} mm measured"))
    stops = [m.stop_reason_superior, m.stop_reason_inferior]
    n_empty = float(sum(s == "empty_slice" for s in stops))
    out.append(("directions_stopped_on_empty", n_empty, th.min_directions_stopped_on_empty,
                n_empty >= th.min_directions_stopped_on_empty, f"stops: {stops[0]}, {stops[1]}"))
    if hu is not None and mask.any():
        frac = outline_contrast(mask, hu)
        out.append(("outline_contrast", frac, th.min_outline_contrast, frac >= th.min_outline_contrast,
                    "share of the mask's outline that borders background-like HU (a cut through tissue is not)"))
        vals = hu[mask]
        out.append(("hu_mean", float(vals.mean()), None, None, "HU inside the mask"))
        out.append(("hu_std", float(vals.std()), None, None, "HU inside the mask"))
    # plain floats and bools: verdicts test ``ok is False``, which a numpy bool (numpy-typed thresholds) never is
    return [(n, float(v), t, None if ok is None else bool(ok), d) for n, v, t, ok, d in out]


def _size_checkable(kind: str, measured: set[str], th: QCThresholds) -> tuple:
    """Whether the mark's own geometry bounds the mask: a drawn size does; an arrow's tip does (the reader puts it on
    the lesion's edge, pointing in, so the mask must start at the tip and lie in front of it: checked by the
    arrow_* metrics when the arrow has a shaft); a point or a bare tip says where, never how far."""
    if kind in SIZED_KINDS:
        return "size_checkable", 1.0, th.min_size_checkable, 1.0 >= th.min_size_checkable, "the mark gives a size to check the mask against"
    ok = float(kind == "arrow" and ARROW_CHECKS <= measured)
    return ("size_checkable", ok, th.min_size_checkable, ok >= th.min_size_checkable,
            "the arrow's tip and shaft bound the mask (arrow_* metrics)" if ok else
            f"a {kind} gives no size or edge: on real lesions such masks are right too rarely to pass unchecked")


def _arrow_metrics(plane: np.ndarray, pts: np.ndarray, tip: np.ndarray, offset: tuple[int, int], shape: tuple,
                   sampling: tuple[float, float], th: QCThresholds) -> list[tuple]:
    """The arrow's tip on the mask's outline (distance from outside; depth inside: a mask that covers the tip has
    grown over the edge the reader marked) and the mask in front of it:
    the share of the mask's slice behind the line through the tip across the shaft, and the angle between the
    shaft and the tip-to-mask-centre direction. ``tip`` and ``pts`` are (row, col), pixel centres at +0.5."""
    cell = np.clip(np.floor(tip).astype(int), 0, np.array(shape[1:]) - 1) - offset
    if not plane.any():
        return [("arrow_tip_distance_mm", float("inf"), th.max_arrow_tip_mm, False, "no mask on the arrow's slice")]
    d = _tip_distance(plane, cell, sampling)
    out = [("arrow_tip_distance_mm", d, th.max_arrow_tip_mm, d <= th.max_arrow_tip_mm, "arrow tip to the mask")]
    depth = _tip_distance(~plane, cell, sampling) if d == 0 else 0.0
    out.append(("arrow_tip_depth_mm", depth, th.max_arrow_tip_depth_mm, depth <= th.max_arrow_tip_depth_mm,
                "tip's pixel to the nearest pixel outside the mask: at least a pixel whenever the mask covers the tip"))
    tail = pts[int(np.argmax(np.linalg.norm(pts - tip, axis=1)))]
    sc = np.asarray(sampling, float)
    shaft = (tip - tail) * sc
    if np.linalg.norm(shaft) < 1e-6:
        return out   # a tip without a shaft: where, not from which side
    u = shaft / np.linalg.norm(shaft)
    rs, cs = np.nonzero(plane)
    rel = (np.column_stack([rs, cs]) + np.asarray(offset) + 0.5 - tip) * sc
    behind = float(np.mean(rel @ u < 0))
    out.append(("arrow_behind_fraction", behind, th.max_arrow_behind_fraction, behind <= th.max_arrow_behind_fraction,
                "share of the mask's slice behind the arrow's tip (on the shaft's side)"))
    centre = rel.mean(axis=0)
    n = np.linalg.norm(centre)
    aim = float(np.degrees(np.arccos(np.clip(centre @ u / n, -1, 1)))) if n > 1e-6 else 0.0
    out.append(("arrow_aim_deg", aim, th.max_arrow_aim_deg, aim <= th.max_arrow_aim_deg,
                "angle between the shaft and the direction from the tip to the mask's centre"))
    return out


def mask_window(bbox: list[int], shape: tuple[int, int, int]) -> tuple[slice, slice, slice]:
    """The (slice, row, column) window of a mask's bbox plus one in-plane voxel (the outline ring), clipped."""
    c0, r0, s0, c1, r1, s1 = bbox
    return (slice(s0, s1), slice(max(r0 - 1, 0), min(r1 + 1, shape[1])), slice(max(c0 - 1, 0), min(c1 + 1, shape[2])))


def _sample(plane: np.ndarray, rc: np.ndarray) -> np.ndarray:
    """plane[r, c] for each point, False where a point lies outside the window (the mask is empty there)."""
    inside = (rc[:, 0] >= 0) & (rc[:, 0] < plane.shape[0]) & (rc[:, 1] >= 0) & (rc[:, 1] < plane.shape[1])
    got = np.zeros(len(rc), bool)
    got[inside] = plane[rc[inside, 0], rc[inside, 1]]
    return got


def _tip_distance(plane: np.ndarray, tip: np.ndarray, sampling: tuple[float, float]) -> float:
    """Distance (mm) from the tip to the nearest mask pixel of the plane: the EDT of the smallest box holding the
    mask's pixels and the tip (the nearest pixel is always inside it, so the value is the full slice's)."""
    rs, cs = np.nonzero(plane)
    lo = np.minimum([rs.min(), cs.min()], tip)
    hi = np.maximum([rs.max(), cs.max()], tip) + 1
    box = np.ones(hi - lo, bool)
    box[rs - lo[0], cs - lo[1]] = False
    return float(ndimage.distance_transform_edt(box, sampling=sampling)[tuple(tip - lo)])


def _touches_edge(mask: np.ndarray, origin: tuple[int, int, int], shape: tuple[int, ...]) -> bool:
    for axis in range(3):
        first, last = origin[axis] == 0, origin[axis] + mask.shape[axis] == shape[axis]
        if first and np.take(mask, 0, axis=axis).any() or last and np.take(mask, -1, axis=axis).any():
            return True
    return False


class QCStage(Stage):
    """QC metrics per mask into OUT/qc; the thresholds are the stage's config (``opseg run -t NAME=VALUE``)."""

    name = "qc"
    reads = (MaskRecord, AnnotationRecord, SeriesRecord, InstanceRecord)
    work_table = MaskRecord
    writes = (QCRecord,)
    Config = QCThresholds

    def process(self, part: Partition) -> dict:
        return qc_partition(part, self.config)


def outline_contrast(mask: np.ndarray, hu: np.ndarray) -> float:
    """Fraction of the in-plane ring just outside the mask whose HU lies on the far side of the midpoint
    between the mask's median HU and the ring's most contrasting decile: ~1 for a lesion cut out along its own
    edge, lower where the mask was cut through a vessel, the pleura or an organ of the same density."""
    zs = np.flatnonzero(mask.any(axis=(1, 2)))
    sub = mask[zs[0]:zs[-1] + 1]
    ring = ndimage.binary_dilation(sub, structure=np.array([[[0, 0, 0]] * 3, [[0, 1, 0], [1, 1, 1], [0, 1, 0]], [[0, 0, 0]] * 3], bool)) & ~sub
    if not ring.any():
        return 0.0
    vals, inside = hu[zs[0]:zs[-1] + 1][ring], float(np.median(hu[zs[0]:zs[-1] + 1][sub]))
    far = float(np.percentile(vals, 10 if inside > np.median(vals) else 90))
    mid = (inside + far) / 2
    return float(np.mean((vals - mid) * np.sign(inside - far) < 0))


def run_qc(out: Path, thresholds: Optional[QCThresholds] = None,
           progress: Optional[Callable[[str, int], Callable[[int], None]]] = None) -> dict:
    """The QC stage on all of OUT in this process (library use; the CLI goes through the executor)."""
    return run_alone(QCStage(thresholds), out, progress=progress)


def qc_partition(part: Partition, th: QCThresholds) -> dict:
    from schemas.mask_nifti import decode

    anns = {a.annotation_id: a for a in part.read(AnnotationRecord)}
    masks = [m for m in part.read(MaskRecord) if m.error is None and m.annotation_id in anns]
    series = {s.series_uid: s for s in part.read(SeriesRecord)}
    volumes = series_volumes(part.out, part.read(InstanceRecord))
    by_series = defaultdict(list)
    for m in masks:
        by_series[m.series_uid].append(m)
    rows: list[QCRecord] = []
    tick = part.tick("qc (series)", len(by_series))
    for series_uid, ms in sorted(by_series.items()):
        try:
            volume = volumes.load(series_uid, stored=True)   # memory-mapped: qc reads a window per mask
            hu, geo = volume.hu, volume.geometry
            shape, spacing = hu.shape, (geo.slice_spacing, *geo.pixel_spacing)
        except VolumeError:
            s = series[series_uid]
            hu, shape = None, (s.n_slices, s.rows, s.columns)
            spacing = (s.slice_spacing_mm, *s.pixel_spacing)
        for m in ms:
            a = anns[m.annotation_id]
            window = mask_window(m.bbox or [0, 0, 0, shape[2], shape[1], shape[0]], shape)
            crop = np.zeros(tuple(w.stop - w.start for w in window), bool)   # the mask, never pasted into the volume
            c0, r0, s0, c1, r1, s1 = m.bbox or [0, 0, 0, shape[2], shape[1], shape[0]]
            crop[:, r0 - window[1].start:r1 - window[1].start, c0 - window[2].start:c1 - window[2].start] = \
                np.asarray(decode(m.mask).dataobj).transpose(2, 1, 0) > 0
            metrics = mask_metrics(crop, None if hu is None else hu[window].astype(np.float32), a, m, spacing, th,
                                   origin=tuple(w.start for w in window), shape=shape)
            failed = [name for name, _, _, ok, _ in metrics if ok is False]
            metrics.append(("qc_pass", float(not failed), 1.0, not failed, ", ".join(failed) or "all checks passed"))
            rows += [QCRecord(entity_kind="mask", entity_id=m.mask_id, metric=name, value=v, threshold=t, passed=ok,
                              detail=d) for name, v, t, ok, d in metrics]
        if tick:
            tick(1)
    part.write(QCRecord, rows)
    verdicts = [r for r in rows if r.metric == "qc_pass"]
    return {"masks": len(verdicts), "passed": sum(1 for r in verdicts if r.passed), "thresholds": asdict(th)}
