"""RECIST axes skip slices whose bounding box cannot hold a longer axis: the result must be a plain scan's."""
import numpy as np

from segmentation.recist import _slice_axes, recist_axes


def _plain_scan(mask, spacing_rc):
    best = (0.0, 0.0, -1)
    for z in np.flatnonzero(mask.any(axis=(1, 2))):
        long, short = _slice_axes(mask[z], *spacing_rc)
        if long > best[0]:
            best = (long, short, int(z))
    return best


def test_pruned_scan_equals_the_plain_scan_on_blobs_ties_and_speckle():
    rng = np.random.default_rng(0)
    z, y, x = np.indices((9, 24, 24))
    for trial in range(30):
        c = rng.uniform(6, 18, 2)
        r = rng.uniform(2, 9)
        mask = (np.hypot(y - c[0], (x - c[1]) * rng.uniform(0.6, 1.4)) < r * np.cos((z - 4) / 6)) & (z < 8)
        mask |= rng.random(mask.shape) > 0.995          # speckle far from the blob
        mask[5] = mask[3] if trial % 3 == 0 else mask[5]  # exact ties between slices: the lower one wins
        spacing = tuple(rng.uniform(0.5, 1.0, 2))
        assert recist_axes(mask, spacing) == _plain_scan(mask, spacing)
    assert recist_axes(np.zeros((3, 4, 4), bool), (1.0, 1.0)) == (0.0, 0.0, -1)
