"""A prompt drawn on a lesion's faint slice: the classical backend measures the rim against the lesion's own HU,
that of its densest slice, not the fainter HU its seeds read on the drawn slice."""
import numpy as np
from real_ct import DATA, evaluation_prompt

from segmentation.classical import ClassicalSegmenter
from segmentation.evaluate import dice

FOLDER = DATA / "lidc_faint_slice"


def _dice(name: str, kind: str) -> tuple[float, np.ndarray, int]:
    hu, truth, spacing, prompt = evaluation_prompt(name, kind, FOLDER)
    return dice(ClassicalSegmenter().segment(hu, spacing, prompt).mask, truth), truth, prompt.slice_index


def test_a_contour_and_a_point_on_a_real_nodules_faint_slice_keep_the_denser_slices_rim_out():
    """LIDC-IDRI-0241_R_4 (real CT, 1.25 mm slices; 30, 69, 69, 12 nodule voxels, median -759, -446, -477, -813 HU):
    the evaluation's mask and point prompts are on the 30-voxel slice, where the nodule is a partial-volume smudge.
    Against its HU the lung around the denser slices read as lesion-like: classical-cpu 0.5.0 gave mask Dice 0.72,
    and the point's mask spread over the lung (Dice 0.12). 0.8.2 bounds a point by its blob's scale on its slice,
    here the smudge's (radius 2.3 px, against 4.7 px for the nodule's largest section): the cap (6.6 px) bounds the
    denser slices too, point Dice 0.835 -> 0.673."""
    mask_dice, truth, k = _dice("LIDC-IDRI-0241_R_4", "mask")
    point_dice, _, k_point = _dice("LIDC-IDRI-0241_R_4", "point")
    assert k == k_point == 0 and truth[k].sum() == 30
    assert mask_dice >= 0.80
    assert point_dice >= 0.65


def test_a_box_on_a_real_nodules_faint_slice_does_not_take_in_the_denser_slices_rim():
    """LIDC-IDRI-0171_R_4 (real CT, 2.5 mm slices; 1, 35, 40, 26 nodule voxels, median -754, -502, -223, -679 HU):
    the evaluation's box is on the 26-voxel end slice. classical-cpu 0.5.0 gave Dice 0.58 (the lung rim of the
    -223 HU slice was lesion-like against the box's -679 HU)."""
    box_dice, truth, k = _dice("LIDC-IDRI-0171_R_4", "box")
    assert k == 3 and truth[k].sum() == 26
    assert box_dice >= 0.70
