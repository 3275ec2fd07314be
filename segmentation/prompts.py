"""What each annotation kind tells a segmenter: seed pixels inside the lesion, an in-plane bound, a size.

All coordinates here are (row, column) array indices on the prompt slice; annotation points arrive in the
PIXEL convention ((column, row), pixel centre at +0.5) and are converted once, in ``from_annotation``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy import ndimage

from curation.io.errors import ReasonedError
from schemas import AnnotationRecord

SEGMENTABLE = ("line", "bidimensional", "ellipse", "circle", "polygon", "arrow", "point")
# Arrow tail distance from the tip, in pixels of the slice as stored: the synthetic training arrows have their tail
# there and inference moves a drawn tail there (along the drawn shaft) before prompting a model with arrow
# embeddings. The SAM2CT authors' constant is unpublished; opseg's training uses this one.
ARROW_TAIL_PX = 25.0


def arrow_tail(px: Optional[float]) -> float:
    """The arrow-tail setting, ``None`` meaning the default."""
    return ARROW_TAIL_PX if px is None else float(px)


def normalise_arrow_tail(tail: np.ndarray, tip: np.ndarray, distance: Optional[float] = None) -> np.ndarray:
    """The point ``distance`` pixels from the tip towards the drawn tail (the tail itself when they coincide)."""
    distance = arrow_tail(distance)
    v = np.asarray(tail, float) - np.asarray(tip, float)
    n = np.linalg.norm(v)
    return np.asarray(tip, float) + v / n * distance if n > 0 else np.asarray(tail, float)


class PromptError(ReasonedError):
    """An annotation that cannot prompt a segmentation (recorded against the annotation)."""


@dataclass
class Prompt:
    kind: str
    slice_index: int
    points: np.ndarray                 # (n, 2) (row, col) float indices
    tip: Optional[np.ndarray] = None   # arrows: (row, col)
    length_px: Optional[float] = None  # expected long diameter in pixels (line, bidimensional, ellipse, ...)
    short_px: Optional[float] = None
    mask: Optional[np.ndarray] = None   # kind "mask": the lesion on the prompt slice (evaluation/training prompts)

    def transposed(self) -> "Prompt":
        """The same prompt on the transposed slice (row and column swapped): how it maps into the model view."""
        return Prompt(self.kind, self.slice_index, self.points[:, ::-1].copy(),
                      None if self.tip is None else np.asarray(self.tip)[::-1].copy(), self.length_px, self.short_px,
                      None if self.mask is None else self.mask.T.copy())

    @property
    def centre(self) -> np.ndarray:
        if self.kind == "arrow" and self.tip is not None:
            return self.tip
        return self.points.mean(axis=0)

    def seeds(self) -> np.ndarray:
        """(row, col) points that lie inside the lesion according to the prompt's geometry."""
        t = np.linspace(0.2, 0.8, 13)[:, None]
        if self.kind in ("line", "bidimensional"):
            segs = [self.points[i:i + 2] for i in range(0, len(self.points), 2)]
            return np.vstack([a + t * (b - a) for a, b in segs])
        if self.kind in ("ellipse", "circle", "polygon"):
            c = self.centre
            return np.vstack([c + 0.4 * t * (p - c) * 2 for p in self.points])
        if self.kind == "point":
            return self.points[:1]
        if self.kind == "mask":
            core = ndimage.binary_erosion(self.mask) if ndimage.binary_erosion(self.mask).any() else self.mask
            rows, cols = np.nonzero(core)
            return np.column_stack([rows + 0.5, cols + 0.5])
        raise PromptError("no_seeds", f"kind {self.kind!r} has no seeds of its own (arrows are searched)")

    def bound_mask(self, shape: tuple[int, int], margin: float = 1.15) -> np.ndarray:
        """Pixels the lesion may occupy on the prompt slice (an ellipse around the marked extent)."""
        if self.kind == "mask":
            grow = max(2, int(0.1 * (self.length_px or 10)))
            return ndimage.binary_dilation(self.mask, iterations=grow)
        rr, cc = np.mgrid[0:shape[0], 0:shape[1]]
        c = self.centre
        if self.kind in ("line", "bidimensional", "ellipse", "circle", "polygon") and self.length_px:
            a = margin * self.length_px / 2 + 1.5
            if self.kind in ("bidimensional", "ellipse") and self.short_px:
                b = margin * max(self.short_px, 0.5 * self.length_px) / 2 + 1.5
                u = self.points[1] - self.points[0]
            else:
                b, u = a, np.array([1.0, 0.0])
            u = u / (np.linalg.norm(u) or 1.0)
            dr, dc = rr + 0.5 - c[0], cc + 0.5 - c[1]
            along, across = dr * u[0] + dc * u[1], -dr * u[1] + dc * u[0]
            return (along / a) ** 2 + (across / b) ** 2 <= 1.0
        radius = self.length_px or 60.0
        return (rr + 0.5 - c[0]) ** 2 + (cc + 0.5 - c[1]) ** 2 <= radius ** 2


def from_annotation(a: AnnotationRecord, shape: tuple[int, int, int], pixel_spacing: tuple[float, float]) -> Prompt:
    """Check an annotation against the volume and express it as a Prompt; raises PromptError."""
    if a.kind not in SEGMENTABLE:
        raise PromptError("not_a_prompt", f"annotation {a.annotation_id} is a {a.kind!r}")
    if a.slice_index is None:
        raise PromptError("no_slice", f"annotation {a.annotation_id} has no known slice ({', '.join(a.flags) or 'no reference'})")
    if not 0 <= a.slice_index < shape[0]:
        raise PromptError("slice_outside_volume", f"slice {a.slice_index} not in 0..{shape[0] - 1}")
    if not a.points_px:
        raise PromptError("no_points", f"annotation {a.annotation_id} has no geometry")
    pts = np.asarray(a.points_px, float)[:, ::-1]  # (col,row) -> (row,col), still in corner convention
    if not np.all(np.isfinite(pts)) or (pts[:, 0] < 0).any() or (pts[:, 1] < 0).any() \
            or (pts[:, 0] > shape[1]).any() or (pts[:, 1] > shape[2]).any():
        raise PromptError("prompt_outside_image", f"points {a.points_px} fall outside the {shape[2]}x{shape[1]} image")
    dr, dc = pixel_spacing
    px_mm = (dr + dc) / 2
    length = a.length_mm / px_mm if a.length_mm else None
    short = a.short_mm / px_mm if a.short_mm else None
    if a.kind in ("line", "bidimensional") and (length is None or length < 1.0):
        seg = np.linalg.norm(pts[1] - pts[0])
        if seg < 1.0:
            raise PromptError("zero_length_line", f"line of {seg:.2f} px cannot bound a lesion")
        length = length or seg
    tip = np.asarray(a.tip_px, float)[::-1] if a.tip_px is not None else None
    return Prompt(a.kind, int(a.slice_index), pts, tip, length, short)
