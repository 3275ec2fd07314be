"""GSPS DISPLAY units -> PIXEL units, undoing the displayed area, rotation and flip.

DISPLAY coordinates are fractions (0-1) of the displayed area as seen after Image Rotation (clockwise)
and then Image Horizontal Flip; PIXEL coordinates are (column, row) with (0,0) the top-left corner of the
top-left pixel, before any spatial transformation (PS3.3 C.10.5, C.10.6).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np


@dataclass(frozen=True)
class DisplayedArea:
    """The displayed area in PIXEL coordinates (corners, not pixel centres) and the spatial transform."""

    x0: float
    y0: float
    x1: float
    y1: float
    rotation: int = 0      # clockwise degrees: 0, 90, 180, 270
    flip: bool = False     # horizontal flip applied after rotation
    presentation_spacing: Optional[tuple[float, float]] = None  # (row, column) mm

    @classmethod
    def from_corners(cls, tlhc, brhc, rotation=0, flip=False, presentation_spacing=None, zero_based=False):
        """TLHC/BRHC are 1-based pixel indices (inclusive); some writers (Softneta) write them 0-based."""
        (c0, r0), (c1, r1) = (float(v) for v in tlhc), (float(v) for v in brhc)
        off = 0.0 if zero_based else 1.0
        return cls(min(c0, c1) - off, min(r0, r1) - off, max(c0, c1) - off + 1.0, max(r0, r1) - off + 1.0,
                   int(rotation) % 360, bool(flip), presentation_spacing)

    def display_to_pixel(self, uv: np.ndarray) -> np.ndarray:
        u, v = np.asarray(uv, dtype=float).reshape(-1, 2).T
        if self.flip:
            u = 1.0 - u
        # undo a clockwise rotation of the unit square
        if self.rotation == 90:
            a, b = v, 1.0 - u
        elif self.rotation == 180:
            a, b = 1.0 - u, 1.0 - v
        elif self.rotation == 270:
            a, b = 1.0 - v, u
        else:
            a, b = u, v
        return np.column_stack([self.x0 + a * (self.x1 - self.x0), self.y0 + b * (self.y1 - self.y0)])

    def pixel_to_display(self, xy: np.ndarray) -> np.ndarray:
        """Inverse of display_to_pixel (used by writers)."""
        x, y = np.asarray(xy, dtype=float).reshape(-1, 2).T
        a, b = (x - self.x0) / (self.x1 - self.x0), (y - self.y0) / (self.y1 - self.y0)
        if self.rotation == 90:
            u, v = 1.0 - b, a
        elif self.rotation == 180:
            u, v = 1.0 - a, 1.0 - b
        elif self.rotation == 270:
            u, v = b, 1.0 - a
        else:
            u, v = a, b
        if self.flip:
            u = 1.0 - u
        return np.column_stack([u, v])
