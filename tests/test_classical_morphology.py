"""The classical backend's own dilation and per-slice hole filling must be scipy.ndimage's, voxel for voxel."""
import numpy as np
from scipy import ndimage

from segmentation.morphology import fill_holes_per_slice, grow_one


def test_grow_one_is_scipys_binary_dilation():
    rng = np.random.default_rng(0)
    for shape in ((20, 30, 30), (1, 5, 7), (3, 1, 4), (9, 9)):
        for p in (0.02, 0.3, 0.9):
            mask = rng.random(shape) < p
            assert np.array_equal(grow_one(mask), ndimage.binary_dilation(mask))


def test_holes_filled_per_slice_as_scipy_fills_each_slice():
    rng = np.random.default_rng(1)
    z, y, x = np.indices((6, 30, 30))
    rings = (np.abs(np.hypot(y - 15, x - 15) - 8 + z) < 1.5) | (rng.random(z.shape) < 0.02)   # holes, some touching edges
    for mask in [rings, rng.random((8, 20, 25)) < 0.55, np.zeros((3, 4, 4), bool), rng.random((4, 1, 6)) < 0.5]:
        want = np.stack([ndimage.binary_fill_holes(s) for s in mask])
        assert np.array_equal(fill_holes_per_slice(mask), want)
    assert fill_holes_per_slice(rings).sum() > rings.sum()   # there were holes to fill
