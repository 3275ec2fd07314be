"""QC metrics for every mask, in long format (entity, metric, value, threshold, passed), plus a per-mask
verdict with the reasons. Thresholds are configurable; metrics without a threshold are informative."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
from scipy import ndimage

from curation.dicom.cache import series_volumes
from curation.dicom.volume import VolumeError
from curation.io.partition import Partition
from curation.io.stage import Stage, run_alone
from schemas import AnnotationRecord, InstanceRecord, MaskRecord, QCRecord, SeriesRecord


SIZED_KINDS = ("line", "bidimensional", "ellipse", "circle", "polygon")


@dataclass(frozen=True)
class QCThresholds:
    """Defaults calibrated on real lesions (benchmarks/calibrate_qc.py, 200 LIDC-IDRI nodules, searched on the
    'tune' half for precision >= 0.92 so that the 'holdout' half keeps >= 0.9; see QC_CALIBRATION)."""
    max_recist_error_pct: float = 30.0      # mask RECIST long axis vs the radiologist's line
    min_line_inside: float = 0.6            # fraction of the drawn line inside the mask on its slice
    max_arrow_tip_mm: float = 5.0           # arrow tip to the mask on its slice
    max_components: float = 1.0
    max_extent_log2_ratio: float = 1.5      # slices spanned vs the size the prompt implies
    min_directions_stopped_on_empty: float = 1.0   # not calibrated (crops end at the lesion): kept
    min_outline_contrast: float = 0.5       # see outline_contrast
    min_classical_certainty: float = 0.5    # the classical backend's score (certainty of the random walk)
    min_size_checkable: float = 1.0         # 1: arrows and points (no drawn size) never pass unchecked; 0: they may

    @classmethod
    def from_pairs(cls, pairs: list[str]) -> "QCThresholds":
        values = asdict(cls())
        for p in pairs:
            key, _, val = p.partition("=")
            if key not in values:
                raise ValueError(f"unknown QC threshold {key!r}; known: {', '.join(values)}")
            values[key] = float(val)
        return cls(**values)


def _line_points(pts: np.ndarray, n: int = 25) -> np.ndarray:
    t = np.linspace(0.1, 0.9, n)[:, None]
    return np.vstack([a + t * (b - a) for a, b in (pts[i:i + 2] for i in range(0, len(pts) - 1, 2))])


def mask_metrics(mask: np.ndarray, hu: Optional[np.ndarray], a: AnnotationRecord, m: MaskRecord,
                 spacing: tuple[float, float, float], th: QCThresholds) -> list[tuple[str, float, Optional[float], Optional[bool], str]]:
    """[(metric, value, threshold, passed, detail)] for one mask on its (slice, row, column) grid."""
    out = []
    ds, dr, dc = spacing
    if a.length_mm and a.kind in ("line", "bidimensional", "ellipse") and m.recist_long_mm:
        err = abs(m.recist_long_mm - a.length_mm) / a.length_mm * 100
        out.append(("recist_error_pct", err, th.max_recist_error_pct, err <= th.max_recist_error_pct,
                    f"mask {m.recist_long_mm:.1f} mm vs drawn {a.length_mm:.1f} mm"))
    k = a.slice_index
    if a.points_px and k is not None and 0 <= k < mask.shape[0]:
        pts = np.asarray(a.points_px, float)[:, ::-1]  # (row, col)
        if a.kind in ("line", "bidimensional"):
            samples = np.floor(_line_points(pts)).astype(int)
            ok = (samples[:, 0] >= 0) & (samples[:, 0] < mask.shape[1]) & (samples[:, 1] >= 0) & (samples[:, 1] < mask.shape[2])
            frac = float(mask[k][samples[ok, 0], samples[ok, 1]].mean()) if ok.any() else 0.0
            out.append(("line_inside_fraction", frac, th.min_line_inside, frac >= th.min_line_inside, "drawn line inside the mask"))
        if a.kind == "arrow" and a.tip_px is not None:
            tip = np.asarray(a.tip_px, float)[::-1]
            if mask[k].any():
                dist = ndimage.distance_transform_edt(~mask[k], sampling=(dr, dc))
                r, c = np.clip(np.floor(tip).astype(int), 0, np.array(mask.shape[1:]) - 1)
                d = float(dist[r, c])
            else:
                d = float("inf")
            out.append(("arrow_tip_distance_mm", d, th.max_arrow_tip_mm, d <= th.max_arrow_tip_mm, "arrow tip to the mask"))
    if m.score is not None and m.backend.startswith("classical-cpu"):  # calibrated for this backend's score only
        out.append(("classical_certainty", float(m.score), th.min_classical_certainty, m.score >= th.min_classical_certainty,
                    f"{m.backend}: overlap of the random walk's 0.25 and 0.75 masks"))
    sized = float(a.kind in SIZED_KINDS)
    out.append(("size_checkable", sized, th.min_size_checkable, sized >= th.min_size_checkable,
                "the mark gives a size to check the mask against" if sized else
                f"a {a.kind} gives no size: on real lesions such masks are right too rarely to pass unchecked"))
    c0, r0, s0, c1, r1, s1 = m.bbox or (0, 0, 0, mask.shape[2], mask.shape[1], mask.shape[0])
    n_comp = ndimage.label(mask[s0:s1, r0:r1, c0:c1])[1]  # the bbox crop has the same components, at a fraction of the cost
    out.append(("components", float(n_comp), th.max_components, n_comp <= th.max_components, "3D connected components"))
    edge = bool(mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any() or mask[:, :, 0].any()
                or mask[:, :, -1].any())
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
    return out


class QCStage(Stage):
    """QC metrics per mask into OUT/qc; the thresholds are the stage's config (``opseg run -t NAME=VALUE``)."""

    name = "qc"
    reads = (MaskRecord, AnnotationRecord, SeriesRecord, InstanceRecord)
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
    from schemas.mask_nifti import paste

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
            volume = volumes.load(series_uid)
            hu, geo = volume.hu, volume.geometry
            shape, spacing = hu.shape, (geo.slice_spacing, *geo.pixel_spacing)
        except VolumeError:
            s = series[series_uid]
            hu, shape = None, (s.n_slices, s.rows, s.columns)
            spacing = (s.slice_spacing_mm, *s.pixel_spacing)
        for m in ms:
            a = anns[m.annotation_id]
            metrics = mask_metrics(paste(m.mask, m.bbox, shape), hu, a, m, spacing, th)
            failed = [name for name, _, _, ok, _ in metrics if ok is False]
            metrics.append(("qc_pass", float(not failed), 1.0, not failed, ", ".join(failed) or "all checks passed"))
            rows += [QCRecord(entity_kind="mask", entity_id=m.mask_id, metric=name, value=v, threshold=t, passed=ok,
                              detail=d) for name, v, t, ok, d in metrics]
        if tick:
            tick(1)
    part.write(QCRecord, rows)
    verdicts = [r for r in rows if r.metric == "qc_pass"]
    return {"masks": len(verdicts), "passed": sum(1 for r in verdicts if r.passed), "thresholds": asdict(th)}
