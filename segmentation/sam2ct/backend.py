"""The SAM2CT backend as the segment stage sees it: many prompts of one series in, 3D masks out."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import numpy as np

from segmentation import __version__
from segmentation.classical import SegmentResult
from segmentation.prompts import Prompt, PromptError
from segmentation.sam2ct.build import build_sam2ct, load_checkpoint
from segmentation.sam2ct.engine import PropagationEngine, Track

MAX_UNMEASURED_MM = 60.0


class SAM2CTSegmenter:
    def __init__(self, checkpoint: Optional[Path] = None, image_size: int = 1024, mcm: bool = True,
                 device: Optional[str] = None, batch_size: int = 4, cache_gb: float = 2.0, memory_policy: str = "sam2"):
        model = build_sam2ct(image_size=image_size, mcm=mcm, device="cpu", memory_policy=memory_policy)
        self.report = load_checkpoint(model, checkpoint) if checkpoint else None
        trained = bool(self.report and self.report.has_line_arrow_embeddings)
        self.engine = PropagationEngine(model, trained, device, batch_size, cache_gb)
        weights = self.report.layout if self.report else "random-init"
        self.name = f"sam2ct {__version__} ({weights}, {image_size}px, mcm={'on' if mcm else 'off'}, memory={memory_policy})"
        self.checkpoint = self.report.label if self.report else None

    @staticmethod
    def max_extent(p: Prompt, slice_mm: float, px_mm: float) -> int:
        """Slices a lesion may span on each side of its prompt slice: its measured size (or 60 mm when the
        prompt has none, e.g. an arrow), so a model that never sees an empty slice still stops."""
        size_mm = p.length_px * px_mm if p.length_px else MAX_UNMEASURED_MM
        return int(np.ceil(size_mm / slice_mm)) + 1

    def segment_many(self, hu: np.ndarray, spacing_mm, prompts: list[Prompt]) -> list:
        t0 = time.perf_counter()
        slice_mm, row_mm, col_mm = spacing_mm
        tracks = [Track(str(i), p, None, max_extent=self.max_extent(p, slice_mm, (row_mm + col_mm) / 2))
                  for i, p in enumerate(prompts)]
        tracks = self.engine.run(hu, tracks)
        share = (time.perf_counter() - t0) / max(1, len(tracks))
        results = []
        for t in tracks:
            if t.error:
                results.append(PromptError(t.error, "the model found nothing on the prompt slice"))
                continue
            mask = np.zeros(hu.shape, bool)
            for z, m in t.masks.items():
                mask[z] = m
            results.append(SegmentResult(mask, t.stops["superior"], t.stops["inferior"], t.score, share))
        return results
