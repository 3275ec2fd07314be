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
    def from_corners(cls, tlhc, brhc, rotation=0, flip=False, presentation_spacing=None, image_size=None):
        """TLHC/BRHC are 1-based pixel indices (inclusive), and may lie outside the image (a panned or zoomed-out
        view). image_size (columns, rows) lets a 0-based whole-image area be recognised (zero_based_whole_image)."""
        if image_size is not None and zero_based_whole_image(tlhc, brhc, image_size):
            return cls(0.0, 0.0, float(image_size[0]), float(image_size[1]), int(rotation) % 360, bool(flip),
                       presentation_spacing)
        (c0, r0), (c1, r1) = (float(v) for v in tlhc), (float(v) for v in brhc)
        return cls(min(c0, c1) - 1.0, min(r0, r1) - 1.0, max(c0, c1), max(r0, r1),
                   int(rotation) % 360, bool(flip), presentation_spacing)

    def display_to_pixel(self, uv: np.ndarray) -> np.ndarray:
        if self.rotation % 360 not in (0, 90, 180, 270):
            raise ValueError(f"Image Rotation {self.rotation} is not 0, 90, 180 or 270 degrees: DISPLAY points cannot be placed")
        u, v = np.asarray(uv, dtype=float).reshape(-1, 2).T
        if self.flip:
            u = 1.0 - u
        # undo a clockwise rotation of the unit square
        rotation = self.rotation % 360
        if rotation == 90:
            a, b = v, 1.0 - u
        elif rotation == 180:
            a, b = 1.0 - u, 1.0 - v
        elif rotation == 270:
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


def zero_based_whole_image(tlhc, brhc, image_size) -> bool:
    """Some writers (Softneta) give the whole image 0-based: (0,0)-(columns, rows) or (0,0)-(columns-1, rows-1).

    Only that exact pattern is read as 0-based. Any other corner holding a 0 is a legal 1-based corner of an area
    reaching past the image edge and is taken as the standard says; guessing "0-based" from a 0 alone shifted
    those areas by a pixel."""
    columns, rows = (int(v) for v in image_size)
    tl, br = [float(v) for v in tlhc], [float(v) for v in brhc]
    return tl == [0.0, 0.0] and br in ([columns, rows], [columns - 1, rows - 1])
