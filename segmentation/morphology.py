"""Two of scipy.ndimage's binary operations on the classical backend's small boxes, the same voxels for less CPU:
scipy's general iterative filters spend most of their time in set-up on a box of a few ten thousand voxels."""
from __future__ import annotations

import numpy as np
from scipy import ndimage

_IN_PLANE = np.zeros((3, 3, 3), bool)
_IN_PLANE[1] = ndimage.generate_binary_structure(2, 1)   # the 4-neighbours on the same slice, none across


def grow_one(mask: np.ndarray) -> np.ndarray:
    """``ndimage.binary_dilation(mask)`` (one step to the face neighbours, nothing from beyond the border)."""
    out = mask.copy()
    for axis in range(mask.ndim):
        lo = tuple(slice(None, -1) if a == axis else slice(None) for a in range(mask.ndim))
        hi = tuple(slice(1, None) if a == axis else slice(None) for a in range(mask.ndim))
        out[hi] |= mask[lo]
        out[lo] |= mask[hi]
    return out


def fill_holes_per_slice(mask: np.ndarray) -> np.ndarray:
    """``ndimage.binary_fill_holes`` on each slice of a (slice, row, column) mask, in one labelling: on each slice,
    what the background reaches from the slice's border (4-connected) stays background, the rest is filled."""
    background, n = ndimage.label(~mask, _IN_PLANE)
    outer = np.zeros(n + 1, bool)
    for border in (background[:, 0], background[:, -1], background[:, :, 0], background[:, :, -1]):
        outer[border] = True
    outer[0] = False   # label 0: the mask itself
    return ~outer[background]
