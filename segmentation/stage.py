"""The segment stage: OUT/annotations (+ catalog) -> OUT/masks, one row per prompt, errors included."""
from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from curation.annotation_builder import stable_id
from curation.ct_series import ct_series_paths
from curation.shards import ALL, Shard
from curation.tables import read_records, write_records
from curation.volume import VolumeError, load_volume
from schemas import AnnotationRecord, MaskRecord, QuarantineRecord
from segmentation.classical import ClassicalSegmenter
from schemas.mask_nifti import encode
from segmentation.prompts import SEGMENTABLE, PromptError, from_annotation
from segmentation.recist import recist_axes
from segmentation.sam2ct.build import CheckpointError


@dataclass
class SegmentSummary:
    n_masks: int = 0
    errors: Counter = field(default_factory=Counter)
    by_kind: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    mask_seconds: list = field(default_factory=list)  # wall time per mask: run stats, not table data (tables stay identical across reruns)


def _error_row(a: AnnotationRecord, backend: str, checkpoint: Optional[str], reason: str, detail: str) -> MaskRecord:
    return MaskRecord(mask_id=stable_id(a.annotation_id, backend, checkpoint or ""), annotation_id=a.annotation_id,
                      series_uid=a.series_uid or "", backend=backend, checkpoint=checkpoint, error=f"{reason}: {detail}")


def segment_series(volume, annotations: list[AnnotationRecord], segmenter, timings: Optional[list] = None):
    """Masks for all prompts on one loaded volume: the volume is read once and the backend sees every
    prompt of the series together (SAM2CT encodes each slice once for all of them)."""
    geo = volume.geometry
    spacing = (geo.slice_spacing, *geo.pixel_spacing)
    voxel_ml = float(abs(np.linalg.det(geo.affine[:3, :3]))) / 1000.0
    checkpoint = segmenter.checkpoint
    rows, bad, ready = [], [], []

    def fail(a, exc):
        rows.append(_error_row(a, segmenter.name, checkpoint, exc.reason, exc.detail))
        bad.append(QuarantineRecord(stage="segment", path=a.source_path, entity_id=a.annotation_id,
                                    reason=exc.reason, detail=f"annotation {a.annotation_id} ({a.kind}): {exc.detail}"))

    for a in annotations:
        try:
            if volume.hu.shape[0] < 2:
                raise PromptError("single_slice_series", "a one-slice series cannot give a 3D mask")
            ready.append((a, from_annotation(a, volume.hu.shape, geo.pixel_spacing)))
        except PromptError as exc:
            fail(a, exc)
    results = segmenter.segment_many(volume.hu, spacing, [p for _, p in ready]) if ready else []
    for (a, _), res in zip(ready, results):
        if isinstance(res, PromptError):
            fail(a, res)
            continue
        data, bbox = encode(res.mask, geo.affine)
        zs = np.flatnonzero(res.mask.any(axis=(1, 2)))
        long, short, _ = recist_axes(res.mask, geo.pixel_spacing)
        rows.append(MaskRecord(
            mask_id=stable_id(a.annotation_id, segmenter.name, checkpoint or ""), annotation_id=a.annotation_id,
            series_uid=volume.series_uid, backend=segmenter.name, checkpoint=checkpoint, mask=data, bbox=bbox,
            affine=[float(v) for v in geo.affine.ravel()], volume_ml=float(res.mask.sum()) * voxel_ml,
            n_slices=int(len(zs)), slice_range=[int(zs[0]), int(zs[-1])], recist_long_mm=long, recist_short_mm=short,
            stop_reason_superior=res.stop_superior, stop_reason_inferior=res.stop_inferior, score=res.score))
        if timings is not None:
            timings.append(res.seconds)
    return rows, bad


def make_segmenter(backend: str = "classical", checkpoint: Optional[Path] = None, image_size: int = 1024,
                   mcm: bool = True, memory_policy: str = "auto", arrow_tail_px: Optional[float] = None):
    """The classical CPU default, or SAM2CT (random weights when no checkpoint is given: for tests/benchmarks)."""
    if backend == "classical":
        if checkpoint is not None:
            raise ValueError("the classical backend takes no checkpoint (use --backend sam2ct)")
        return ClassicalSegmenter()
    if backend == "sam2ct":
        from segmentation.sam2ct.backend import SAM2CTSegmenter
        return SAM2CTSegmenter(checkpoint, image_size=image_size, mcm=mcm, memory_policy=memory_policy,
                               arrow_tail_px=arrow_tail_px)
    raise ValueError(f"unknown backend {backend!r}: use classical or sam2ct")


def run_segment(out: Path, backend: str = "classical", checkpoint: Optional[Path] = None, image_size: int = 1024,
                mcm: bool = True, memory_policy: str = "auto", progress: Optional[Callable[[str, int], Callable[[int], None]]] = None,
                shard: Shard = ALL, segmenter=None, arrow_tail_px: Optional[float] = None) -> SegmentSummary:
    out = Path(out)
    t0 = time.perf_counter()
    annotations = [a for a in read_records(out, AnnotationRecord) if a.kind in SEGMENTABLE and shard.contains(a.study_uid)]
    try:
        segmenter = segmenter or make_segmenter(backend, checkpoint, image_size, mcm, memory_policy, arrow_tail_px)
    except CheckpointError as exc:  # recorded against every annotation; nothing already written is touched
        name = f"{backend} (unloadable checkpoint)"
        rows = sorted((_error_row(a, name, str(checkpoint), exc.reason, exc.detail) for a in annotations), key=lambda m: m.mask_id)
        write_records(out, MaskRecord, rows, part=shard.part)
        write_records(out, QuarantineRecord, [QuarantineRecord(stage="segment", path=str(checkpoint), reason=exc.reason,
                                                               detail=exc.detail)], part=shard.quarantine_part("segment"))
        return SegmentSummary(errors=Counter({exc.reason: len(rows)}), seconds=time.perf_counter() - t0)
    paths = ct_series_paths(out)
    by_series = defaultdict(list)
    rows, bad, timings = [], [], []
    for a in annotations:
        if a.series_uid in paths and a.slice_index is not None:
            by_series[a.series_uid].append(a)
        else:
            why = "no_slice" if a.slice_index is None else "series_not_ct"
            rows.append(_error_row(a, segmenter.name, segmenter.checkpoint, why, f"{', '.join(a.flags) or 'no CT series'}"))
    tick = progress("segment (series)", len(by_series)) if progress else None
    for series_uid, anns in sorted(by_series.items()):
        try:
            volume = load_volume(sorted(paths[series_uid]), series_uid)
        except VolumeError as exc:
            rows += [_error_row(a, segmenter.name, segmenter.checkpoint, exc.reason, exc.detail) for a in anns]
            bad.append(QuarantineRecord(stage="segment", entity_id=series_uid, reason=exc.reason, detail=exc.detail))
        else:
            r, b = segment_series(volume, anns, segmenter, timings)
            rows += r
            bad += b
        if tick:
            tick(1)
    rows.sort(key=lambda m: m.mask_id)
    write_records(out, MaskRecord, rows, part=shard.part)
    write_records(out, QuarantineRecord, bad, part=shard.quarantine_part("segment"))
    ok = [m for m in rows if m.error is None]
    kinds = {a.annotation_id: a.kind for a in annotations}
    return SegmentSummary(n_masks=len(ok), errors=Counter(m.error.split(":")[0] for m in rows if m.error),
                          by_kind=Counter(kinds[m.annotation_id] for m in ok), seconds=time.perf_counter() - t0,
                          mask_seconds=timings)
