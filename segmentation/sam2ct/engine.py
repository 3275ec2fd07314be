"""Slice-by-slice 3D propagation for many lesions of one series, each slice encoded once.

Preprocessing follows the SAM2CT reference code: HU clamped to [-500, 500], min-max scaled over the whole
volume to [0, 1], resized (bilinear) to the model size, 3 channels, ImageNet normalisation. Each prompt slice k starts two memory banks (superior k→N and
inferior k→0) sharing slice k's output; a direction stops at its first empty slice. Lesions advance in
one sweep per direction so a slice needed by several lesions is encoded once; encoded slices are kept in a
cache bounded in bytes (``cache_gb``) and reused by the other direction. A bank keeps only the tracked
slices the model can still read (``model.memory_reach()`` slices back from the current one).
"""
from __future__ import annotations

import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from segmentation.prompts import Prompt
from segmentation.sam2ct.device import autocast, resolve_device
from segmentation.sam2ct.prompting import encode_prompt, mask_prompt

HU_WINDOW = (-500.0, 500.0)
IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225])[:, None, None]


def value_range(hu: np.ndarray) -> tuple[float, float]:
    """The clamped volume's min and max: the reference scales by these, not by the fixed window."""
    return float(max(np.min(hu), HU_WINDOW[0])), float(min(np.max(hu), HU_WINDOW[1]))


def preprocess(hu: np.ndarray, image_size: int, window: Optional[tuple[float, float]] = None) -> torch.Tensor:
    """(n, rows, cols) HU -> (n, 3, S, S) normalised model input; ``window`` = ``value_range`` of the whole
    volume when ``hu`` holds only some of its slices."""
    x = torch.as_tensor(np.asarray(hu), dtype=torch.float32).clamp(*HU_WINDOW)
    lo, hi = window if window is not None else value_range(hu)
    x = (x - lo) / (hi - lo) if hi > lo else torch.zeros_like(x)
    x = F.interpolate(x[:, None], size=(image_size, image_size), mode="bilinear", align_corners=False)
    return (x.repeat(1, 3, 1, 1) - IMAGENET_MEAN) / IMAGENET_STD


class SliceFeatures:
    """Encodes slices in batches on demand and keeps them in a byte-bounded LRU cache."""

    def __init__(self, model, hu: np.ndarray, device: str, batch_size: int = 4, cache_gb: float = 2.0, amp=None):
        self.model, self.hu, self.device = model, hu, device
        self.window = value_range(hu)
        self.batch_size, self.cache_bytes = batch_size, int(cache_gb * 2 ** 30)
        self.cache: OrderedDict[int, tuple] = OrderedDict()
        self.encoded: Counter = Counter()
        self.amp = amp
        self.seconds = 0.0

    def _bytes(self) -> int:
        return sum(t.numel() * t.element_size() for feats, pos, _ in self.cache.values() for t in (*feats, *pos))

    @torch.inference_mode()
    def _encode(self, zs: list[int]) -> None:
        t0 = time.perf_counter()
        batch = preprocess(self.hu[zs], self.model.image_size, self.window).to(self.device)
        with autocast(self.device, self.amp):
            backbone_out = self.model.forward_image(batch)
            _, feats, pos, sizes = self.model._prepare_backbone_features(backbone_out)
        for i, z in enumerate(zs):
            self.cache[z] = ([f[:, i:i + 1].float() for f in feats], [p[:, i:i + 1].float() for p in pos], sizes)
            self.encoded[z] += 1
        while len(self.cache) > 1 and self._bytes() > self.cache_bytes:
            self.cache.popitem(last=False)
        self.seconds += time.perf_counter() - t0

    def get(self, z: int, lookahead: list[int] = ()) -> tuple:
        if z not in self.cache:
            todo = [z] + [w for w in lookahead if w not in self.cache and w != z][: self.batch_size - 1]
            self._encode(todo)
        self.cache.move_to_end(z)
        return self.cache[z]


@dataclass
class Track:
    key: str
    prompt: Prompt
    point_inputs: Optional[dict]
    mask_inputs: Optional[torch.Tensor] = None
    banks: dict = field(default_factory=dict)
    masks: dict = field(default_factory=dict)       # slice -> bool (rows, cols)
    stops: dict = field(default_factory=dict)
    score: Optional[float] = None
    error: Optional[str] = None
    max_extent: Optional[int] = None                # slices per direction allowed by the lesion's physical size


class PropagationEngine:
    def __init__(self, model, line_arrow_embeddings: bool, device: Optional[str] = None, batch_size: int = 4,
                 cache_gb: float = 2.0, amp: Optional[str] = None, arrow_tail_px: Optional[float] = None):
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.line_arrow_embeddings = line_arrow_embeddings
        self.batch_size, self.cache_gb, self.amp = batch_size, cache_gb, amp
        self.arrow_tail_px = arrow_tail_px
        self.last_features: Optional[SliceFeatures] = None

    def _mask(self, out: dict, shape_rc) -> np.ndarray:
        logits = F.interpolate(out["pred_masks_high_res"].float(), size=shape_rc, mode="bilinear", align_corners=False)
        return (logits[0, 0] > 0).cpu().numpy()

    def _step(self, track: Track, z: int, feats, n: int, cond: bool, reverse: bool, bank: dict, shape_rc):
        vision, pos, sizes = feats
        with torch.inference_mode(), autocast(self.device, self.amp):
            out = self.model.track_step(
                frame_idx=z, is_init_cond_frame=cond, current_vision_feats=vision, current_vision_pos_embeds=pos,
                feat_sizes=sizes, point_inputs=track.point_inputs if cond else None,
                mask_inputs=track.mask_inputs if cond else None, output_dict=bank, num_frames=n,
                track_in_reverse=reverse)
        mask = self._mask(out, shape_rc)
        out = {k: v for k, v in out.items() if k not in ("pred_masks_high_res",)}  # large, never read back
        return out, mask

    def run(self, hu: np.ndarray, tracks: list[Track]) -> list[Track]:
        n, rows, cols = hu.shape
        feats = SliceFeatures(self.model, hu, self.device, self.batch_size, self.cache_gb, self.amp)
        reach = self.model.memory_reach()
        self.last_features = feats
        for t in tracks:
            k = t.prompt.slice_index
            if t.prompt.kind == "mask" and t.mask_inputs is None:
                t.mask_inputs = mask_prompt(t.prompt.mask, self.model.image_size, self.device)
            if t.point_inputs is None and t.mask_inputs is None:
                t.point_inputs = encode_prompt(t.prompt, (rows, cols), self.model.image_size, self.line_arrow_embeddings,
                                               self.device, self.arrow_tail_px)
            start = {"cond_frame_outputs": {}, "non_cond_frame_outputs": {}}
            out, mask = self._step(t, k, feats.get(k, [o.prompt.slice_index for o in tracks]), n, True, False, start, (rows, cols))
            if not mask.any():
                t.error = "empty_prompt_slice"
                continue
            t.masks[k] = t.prompt.mask.astype(bool) if t.prompt.kind == "mask" else mask  # as the reference does
            ious = out.get("ious")
            t.score = float(ious.max()) if ious is not None else None
            for direction in (1, -1):  # one bank per direction, both starting from slice k's output
                t.banks[direction] = {"cond_frame_outputs": {k: out}, "non_cond_frame_outputs": {}}
        for direction, name in ((1, "superior"), (-1, "inferior")):
            live = [t for t in tracks if t.error is None]
            position = {t.key: t.prompt.slice_index + direction for t in live}
            order = range(0, n) if direction == 1 else range(n - 1, -1, -1)
            for z in order:
                here = [t for t in live if position[t.key] == z and name not in t.stops]
                for t in [t for t in here if t.max_extent is not None and abs(z - t.prompt.slice_index) > t.max_extent]:
                    t.stops[name] = "size_limit"
                    here.remove(t)
                if not here:
                    continue
                ahead = [w for w in (z + direction * i for i in range(1, self.batch_size)) if 0 <= w < n
                         and any(t.max_extent is None or abs(w - t.prompt.slice_index) <= t.max_extent for t in here)]
                f = feats.get(z, ahead)
                for t in here:
                    bank = t.banks[direction]
                    out, mask = self._step(t, z, f, n, False, direction == -1, bank, (rows, cols))
                    if not mask.any():
                        t.stops[name] = "empty_slice"
                        continue
                    bank["non_cond_frame_outputs"][z] = out
                    for old in [q for q in bank["non_cond_frame_outputs"] if abs(q - z) >= reach]:
                        del bank["non_cond_frame_outputs"][old]  # the next slice (z + direction) cannot read it
                    t.masks[z] = mask
                    position[t.key] = z + direction
            for t in live:
                t.stops.setdefault(name, "volume_edge")
        return tracks
