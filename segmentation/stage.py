"""The segment stage: OUT/annotations (+ catalog) -> OUT/masks, one row per prompt, errors included."""
from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from curation.dicom.cache import series_volumes
from curation.dicom.volume import VolumeError
from curation.io.errors import ReasonedError
from curation.io.ids import stable_id
from curation.io.partition import Partition
from curation.io.stage import Resources, Stage, optional_path, run_alone
from schemas import AnnotationRecord, InstanceRecord, MaskRecord, QuarantineRecord, SeriesRecord
from segmentation.classical import ClassicalSegmenter
from schemas.mask_nifti import encode
from segmentation.prompts import SEGMENTABLE, PromptError, from_annotation
from segmentation.recist import recist_axes


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
        part, origin = res.in_box()   # where the backend may have set it: nothing below reads the whole volume
        data, bbox = encode(part, geo.affine, origin)
        # the mask's bbox ([c0, r0, s0, c1, r1, s1] in the volume) within the part
        slab = part[tuple(slice(lo - o, hi - o) for lo, hi, o in zip(bbox[2::-1], bbox[:2:-1], origin))]
        zs = bbox[2] + np.flatnonzero(slab.any(axis=(1, 2)))
        long, short, _ = recist_axes(slab, geo.pixel_spacing, (bbox[1], bbox[0]))
        rows.append(MaskRecord(
            mask_id=stable_id(a.annotation_id, segmenter.name, checkpoint or ""), annotation_id=a.annotation_id,
            series_uid=volume.series_uid, backend=segmenter.name, checkpoint=checkpoint, mask=data, bbox=bbox,
            affine=[float(v) for v in geo.affine.ravel()], volume_ml=float(slab.sum()) * voxel_ml,
            n_slices=int(len(zs)), slice_range=[int(zs[0]), int(zs[-1])], recist_long_mm=long, recist_short_mm=short,
            stop_reason_superior=res.stop_superior, stop_reason_inferior=res.stop_inferior, score=res.score))
        if timings is not None:
            timings.append(res.seconds)
    return rows, bad


def make_segmenter(backend: str = "classical", checkpoint: Optional[Path] = None, image_size: int = 1024,
                   mcm: bool = True, memory_policy: str = "auto", device: Optional[str] = None,
                   arrow_tail_px: Optional[float] = None):
    """The classical CPU default (3D random walker), its 2D predecessor ``classical-2d`` (for comparison), or
    SAM2CT (random weights when no checkpoint is given: for tests/benchmarks)."""
    if backend in ("classical", "classical-2d"):
        if checkpoint is not None:
            raise ValueError(f"the {backend} backend takes no checkpoint (use --backend sam2ct)")
        if backend == "classical-2d":
            from segmentation.classical_2d import Classical2DSegmenter
            return Classical2DSegmenter()
        return ClassicalSegmenter()
    if backend == "sam2ct":
        from segmentation.sam2ct.backend import SAM2CTSegmenter
        return SAM2CTSegmenter(checkpoint, image_size=image_size, mcm=mcm, memory_policy=memory_policy, device=device,
                               arrow_tail_px=arrow_tail_px)
    raise ValueError(f"unknown backend {backend!r}: use classical, classical-2d or sam2ct")


@dataclass(frozen=True)
class SegmentConfig:
    """Every setting of the segment stage (``opseg run --set segment.NAME=VALUE``); a new backend setting is a new
    field here and in make_segmenter."""
    backend: str = "classical"            # classical (weight-free CPU default) | sam2ct
    checkpoint: Optional[Path] = None     # SAM2 / SAM2.1 / MedSAM2 / SAM2CT weights (docs/weights.md)
    image_size: int = 1024                # 1024 (SAM2, SAM2CT) or 512 (MedSAM2)
    mcm: bool = True                      # memory-conditioned memories (SAM2CT paper 3.4)
    memory_policy: str = "auto"           # auto (the reference path for SAM2CT checkpoints) | sam2ct-reference | sam2
    device: Optional[str] = None          # cuda | cpu (default: cuda when present)
    arrow_tail_px: Optional[float] = None  # arrow tail distance from the tip, slice pixels (None: 25; docs/weights.md)


class SegmentStage(Stage):
    """OUT/annotations (+ catalog) -> OUT/masks, one row per prompt (errors included), one model per worker."""

    name = "segment"
    reads = (AnnotationRecord, InstanceRecord, SeriesRecord)
    work_table = AnnotationRecord   # one walk per mark
    writes = (MaskRecord, QuarantineRecord)
    Config = SegmentConfig

    def __init__(self, config: Optional[SegmentConfig] = None):
        super().__init__(config)
        self.segmenter = None

    @property
    def resources(self) -> Resources:
        return Resources(cpus=1, gpus=1 if self.config.backend == "sam2ct" and self.config.device != "cpu" else 0)

    def model_files(self) -> list[Path]:
        return [self.config.checkpoint] if self.config.checkpoint else []

    @property
    def share_setup(self) -> bool:  # torch models are loaded in each worker, never forked
        return self.config.backend == "classical"

    def setup(self) -> None:
        c = self.config
        if c.backend != "sam2ct":
            self.segmenter = make_segmenter(c.backend, optional_path(c.checkpoint))
            return
        from segmentation.sam2ct.build import CheckpointError  # torch: imported only when the backend needs it

        try:
            self.segmenter = make_segmenter(c.backend, optional_path(c.checkpoint), c.image_size, c.mcm, c.memory_policy,
                                            device=c.device, arrow_tail_px=c.arrow_tail_px)
        except CheckpointError as exc:  # recorded against every annotation of every partition
            self.segmenter = exc

    def teardown(self) -> None:
        self.segmenter = None

    def process(self, part: Partition) -> dict:
        if self.segmenter is None:
            self.setup()
        s = segment_partition(part, self.segmenter, self.config)
        t = s.mask_seconds
        return {"masks": s.n_masks, "errors": dict(s.errors), "seconds_per_mask": sum(t) / len(t) if t else None}


def segment_partition(part: Partition, segmenter, config: SegmentConfig) -> SegmentSummary:
    t0 = time.perf_counter()
    annotations = [a for a in part.read(AnnotationRecord) if a.kind in SEGMENTABLE]
    if isinstance(segmenter, ReasonedError):  # an unloadable checkpoint; nothing already written is touched
        exc, checkpoint = segmenter, str(config.checkpoint)
        name = f"{config.backend} (unloadable checkpoint)"
        rows = sorted((_error_row(a, name, checkpoint, exc.reason, exc.detail) for a in annotations), key=lambda m: m.mask_id)
        part.write(MaskRecord, rows)
        part.write(QuarantineRecord, [QuarantineRecord(stage="segment", path=checkpoint, reason=exc.reason, detail=exc.detail)])
        return SegmentSummary(errors=Counter({exc.reason: len(rows)}), seconds=time.perf_counter() - t0)
    volumes = series_volumes(part.out, part.read(InstanceRecord))
    by_series = defaultdict(list)
    rows, bad, timings = [], [], []
    for a in annotations:
        if a.series_uid in volumes and a.slice_index is not None:
            by_series[a.series_uid].append(a)
        else:
            why = "no_slice" if a.slice_index is None else "series_not_ct"
            rows.append(_error_row(a, segmenter.name, segmenter.checkpoint, why, f"{', '.join(a.flags) or 'no CT series'}"))
    tick = part.tick("segment (series)", len(by_series))
    for series_uid, anns in sorted(by_series.items()):
        try:
            volume = volumes.load(series_uid, stored=getattr(segmenter, "reads_windows", False))
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
    part.write(MaskRecord, rows)
    part.write(QuarantineRecord, bad)
    ok = [m for m in rows if m.error is None]
    kinds = {a.annotation_id: a.kind for a in annotations}
    return SegmentSummary(n_masks=len(ok), errors=Counter(m.error.split(":")[0] for m in rows if m.error),
                          by_kind=Counter(kinds[m.annotation_id] for m in ok), seconds=time.perf_counter() - t0,
                          mask_seconds=timings)


def run_segment(out: Path, backend: str = "classical", checkpoint: Optional[Path] = None, image_size: int = 1024,
                mcm: bool = True, memory_policy: str = "auto", progress: Optional[Callable[[str, int], Callable[[int], None]]] = None,
                device: Optional[str] = None, arrow_tail_px: Optional[float] = None) -> SegmentSummary:
    """The segment stage on all of OUT in this process (library use; the CLI goes through the executor)."""
    stage = SegmentStage(SegmentConfig(backend=backend, checkpoint=checkpoint, image_size=image_size, mcm=mcm,
                                       memory_policy=memory_policy, device=device, arrow_tail_px=arrow_tail_px))
    return run_alone(stage, out, lambda part: segment_partition(part, stage.segmenter, stage.config), progress)
