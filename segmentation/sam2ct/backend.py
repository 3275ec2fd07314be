"""The SAM2CT backend as the segment stage sees it: many prompts of one series in, 3D masks out.

``segment_many(hu, spacing, prompts)`` takes a DICOM-ordered volume (slice, row, column), its spacing
(slice, row, column) in mm and prompts in (row, column) of that volume, and returns one result per prompt: a
boolean mask of ``hu``'s shape, same (slice, row, column) order, or a ``PromptError`` saying why not. The model
itself runs in the view of ``segmentation.sam2ct.view`` (transposed for SAM2CT checkpoints).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import numpy as np

from segmentation import __version__
from segmentation.classical import SegmentResult
from segmentation.prompts import Prompt, PromptError, arrow_tail
from segmentation.sam2ct.build import AUTO, build_sam2ct, load_checkpoint, resolve_policy
from segmentation.sam2ct.device import resolve_device
from segmentation.sam2ct.engine import PropagationEngine, Track
from segmentation.sam2ct.view import to_view, view_for

MAX_UNMEASURED_MM = 60.0


def check_prompt(p: Prompt, shape: tuple[int, int, int]) -> Optional[PromptError]:
    """A prompt the volume cannot take: slice or points outside it, or a mask of another size."""
    if not 0 <= p.slice_index < shape[0]:
        return PromptError("slice_outside_volume", f"slice {p.slice_index} not in 0..{shape[0] - 1}")
    pts = np.asarray(p.points, float).reshape(-1, 2)
    if p.tip is not None:
        pts = np.vstack([pts, np.asarray(p.tip, float)[None]])
    if not np.all(np.isfinite(pts)) or (pts < 0).any() or (pts[:, 0] > shape[1]).any() or (pts[:, 1] > shape[2]).any():
        return PromptError("prompt_outside_image", f"{p.kind} points fall outside the {shape[1]}x{shape[2]} slice")
    if p.kind == "mask" and (p.mask is None or p.mask.shape != shape[1:] or not p.mask.any()):
        return PromptError("bad_mask_prompt", f"mask prompt must be a non-empty {shape[1]}x{shape[2]} mask")
    return None


class SAM2CTSegmenter:
    def __init__(self, checkpoint: Optional[Path] = None, image_size: int = 1024, mcm: bool = True,
                 device: Optional[str] = None, batch_size: int = 4, cache_gb: float = 2.0, memory_policy: str = AUTO,
                 view: str = AUTO, arrow_tail_px: Optional[float] = None, amp: Optional[str] = None,
                 size_limit: bool = True):
        device = resolve_device(device)  # a missing GPU fails here, before any weights are read
        model = build_sam2ct(image_size=image_size, mcm=mcm, device="cpu", memory_policy="sam2")
        self.report = load_checkpoint(model, checkpoint) if checkpoint else None
        layout = self.report.layout if self.report else "sam2ct"  # random init has the SAM2CT layout
        self.memory_policy = resolve_policy(memory_policy, layout)
        model.set_memory_policy(self.memory_policy)
        self.view = view_for(layout, view)
        self.arrow_tail_px, self.size_limit = arrow_tail(arrow_tail_px), size_limit
        trained = bool(self.report and self.report.has_line_arrow_embeddings)
        self.engine = PropagationEngine(model, trained, device, batch_size, cache_gb, amp, self.arrow_tail_px)
        weights = self.report.layout if self.report else "random-init"
        self.name = (f"sam2ct {__version__} ({weights}, {image_size}px, mcm={'on' if mcm else 'off'}, "
                     f"memory={self.memory_policy}, view={self.view}, arrow_tail={self.arrow_tail_px:g}px)")
        self.checkpoint = self.report.label if self.report else None

    @staticmethod
    def max_extent(p: Prompt, slice_mm: float, px_mm: float) -> int:
        """Slices a lesion may span on each side of its prompt slice: its measured size (or 60 mm when the
        prompt has none, e.g. an arrow), so a model that never sees an empty slice still stops."""
        size_mm = p.length_px * px_mm if p.length_px else MAX_UNMEASURED_MM
        return int(np.ceil(size_mm / slice_mm)) + 1

    def segment_many(self, hu: np.ndarray, spacing_mm, prompts: list[Prompt]) -> list:
        t0 = time.perf_counter()
        if hu.ndim != 3 or hu.shape[0] < 2:
            return [PromptError("single_slice_series", "a one-slice series cannot give a 3D mask") for _ in prompts]
        slice_mm, row_mm, col_mm = spacing_mm
        checked = [check_prompt(p, hu.shape) for p in prompts]
        ok = [i for i, e in enumerate(checked) if e is None]
        view_hu = to_view(hu, self.view)
        tracks = []
        for i in ok:
            p = prompts[i].transposed() if self.view == "transposed" else prompts[i]
            extent = self.max_extent(p, slice_mm, (row_mm + col_mm) / 2) if self.size_limit else None
            tracks.append(Track(str(i), p, None, max_extent=extent))
        tracks = self.engine.run(view_hu, tracks) if tracks else []
        share = (time.perf_counter() - t0) / max(1, len(tracks))
        results = list(checked)
        for i, t in zip(ok, tracks):
            if t.error:
                results[i] = PromptError(t.error, "the model found nothing on the prompt slice")
                continue
            mask = np.zeros(view_hu.shape, bool)
            for z, m in t.masks.items():
                mask[z] = m
            results[i] = SegmentResult(np.ascontiguousarray(to_view(mask, self.view)), t.stops["superior"], t.stops["inferior"], t.score, share)
        return results
