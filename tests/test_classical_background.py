"""The classical backend's background model: the tissue the lesion sits in, not the most contrasting one."""
import numpy as np
from scipy import ndimage

from segmentation.classical import ClassicalSegmenter
from segmentation.evaluate import dice
from segmentation.prompts import Prompt


def _nodule_by_a_rib(seed: int = 0):
    """A -100 HU nodule (8 mm, 0.7 mm pixels, 1.25 mm slices) in -850 HU lung with a +900 HU rib touching its ring."""
    rng = np.random.default_rng(seed)
    zz, rr, cc = np.mgrid[0:9, 0:48, 0:48]
    nodule = ((zz - 4) * 1.25) ** 2 + ((rr - 24) * 0.7) ** 2 + ((cc - 24) * 0.7) ** 2 <= 4.0 ** 2
    hu = np.full(nodule.shape, -850.0, np.float32)
    hu[:, :, 32:42] = 900.0  # the rib: a bright band just right of the nodule
    hu[nodule] = -100.0
    return hu + rng.normal(0, 15, hu.shape).astype(np.float32), nodule


def test_a_box_on_a_nodule_next_to_a_rib_does_not_fill_with_lung():
    hu, truth = _nodule_by_a_rib()
    rows, cols = np.nonzero(truth[4])
    lo, hi = np.array([rows.min() - 1.0, cols.min() - 1.0]), np.array([rows.max() + 2.0, cols.max() + 2.0])
    box = Prompt("polygon", 4, np.array([lo, [lo[0], hi[1]], hi, [hi[0], lo[1]], lo]), length_px=float(np.linalg.norm(hi - lo)))
    res = ClassicalSegmenter().segment(hu, (1.25, 0.7, 0.7), box)
    # with the rib taken as the background the lung reads as more lesion-like than the nodule and fills the box
    assert dice(res.mask, truth) >= 0.8


def test_a_point_on_a_nodule_next_to_a_rib_stays_on_the_nodule():
    hu, truth = _nodule_by_a_rib(1)
    res = ClassicalSegmenter().segment(hu, (1.25, 0.7, 0.7), Prompt("point", 4, np.array([[24.3, 23.8]])))
    assert dice(res.mask, truth) >= 0.8


def test_a_caliper_between_edge_pixel_centres_leaves_the_partial_volume_rim_out():
    """A line drawn between the centres of the lesion's edge pixels: the mask takes the reader's convention (voxel
    centre inside) instead of adding the blurred rim around it, which would overshoot the drawn length."""
    rng = np.random.default_rng(2)
    zz, rr, cc = np.mgrid[0:11, 0:48, 0:48]
    truth = ((zz - 5) * 2.0) ** 2 + ((rr - 24) * 0.75) ** 2 + ((cc - 24) * 0.75) ** 2 <= 7.3 ** 2
    hu = 40.0 + 100.0 * ndimage.gaussian_filter(truth.astype(np.float32), (0.4, 0.7, 0.7))
    hu = (hu + rng.normal(0, 12, hu.shape)).astype(np.float32)
    cols = np.nonzero(truth[5, 24])[0]
    line = Prompt("line", 5, np.array([[24.5, cols.min() + 0.5], [24.5, cols.max() + 0.5]]), length_px=float(np.ptp(cols)))
    res = ClassicalSegmenter().segment(hu, (2.0, 0.75, 0.75), line)
    assert dice(res.mask, truth) >= 0.97  # 0.93 with the rim kept

