"""One prompt's segmentation as a backend gives it back.

Why a box: the classical backends solve in a box a few times the lesion's size and set nothing outside it. The
segment stage encodes, measures and bounds the mask there (``in_box``), so such a backend hands over only the box's
part (``SegmentResult.within``) and no volume-sized array is allocated, zeroed, filled and scanned per prompt; the
whole-volume mask (``mask``) is built on first use, for the callers that compare it with a truth volume.
"""
from __future__ import annotations

import numpy as np

Box = tuple[slice, slice, slice]


class SegmentResult:
    """``mask``: bool, the volume's shape. ``box``: where the mask may be set (its solved box); None: anywhere."""

    def __init__(self, mask: np.ndarray | None, stop_superior: str, stop_inferior: str, score: float | None,
                 seconds: float, box: Box | None = None):
        self._mask, self._part, self._shape = mask, None, None
        self.stop_superior, self.stop_inferior, self.score, self.seconds, self.box = \
            stop_superior, stop_inferior, score, seconds, box

    @classmethod
    def within(cls, part: np.ndarray, shape: tuple[int, int, int], box: Box, stop_superior: str, stop_inferior: str,
               score: float | None, seconds: float) -> SegmentResult:
        """A result given as the box's part of the mask (``part``, the box's shape) in a volume of ``shape``."""
        res = cls(None, stop_superior, stop_inferior, score, seconds, box)
        res._part, res._shape = part, tuple(shape)
        return res

    @property
    def mask(self) -> np.ndarray:
        if self._mask is None:
            self._mask = np.zeros(self._shape, bool)
            self._mask[self.box] = self._part
        return self._mask

    def in_box(self) -> tuple[np.ndarray, tuple[int, int, int]]:
        """(the mask where it may be set, the (slice, row, column) of that box's first voxel in the volume)."""
        if self._part is not None:
            return self._part, _origin(self.box, self._shape)
        if self.box is None:
            return self._mask, (0, 0, 0)
        return self._mask[self.box], _origin(self.box, self._mask.shape)


def _origin(box: Box, shape) -> tuple[int, int, int]:
    return tuple(s.indices(n)[0] for s, n in zip(box, shape))
