"""The mask column found inside a backend's solved box (``encode(mask[box], affine, origin)``, no pass over the whole volume)
must be the bytes and bbox of the whole-volume search, and a real segmentation's box must hold its mask."""
import numpy as np

from schemas.mask_nifti import encode


def test_encode_within_a_box_gives_the_whole_volume_bytes_and_bbox():
    rng = np.random.default_rng(0)
    affine = np.array([[0.7, 0, 0, -120.0], [0, 0.7, 0, -90.0], [0, 0, 2.5, 40.0], [0, 0, 0, 1]])
    for _ in range(20):
        mask = np.zeros((12, 64, 60), bool)
        z0, r0, c0 = rng.integers(0, 6), rng.integers(0, 40), rng.integers(0, 40)
        box = (slice(z0, z0 + 6), slice(r0, r0 + 20), slice(c0, c0 + 18))
        mask[box] = rng.random((6, 20, 18)) > 0.7
        mask[box][3, 10, 9] = True
        assert encode(mask[box], affine, (z0, r0, c0)) == encode(mask, affine)
    mask = np.zeros((5, 8, 8), bool)
    mask[2, 3, 4] = True
    assert encode(mask[:, 2:6, 1:8], affine, (0, 2, 1)) == encode(mask, affine)


def test_a_real_nodules_mask_lies_in_the_box_the_backend_reports():
    from real_ct import LIDC, evaluation_prompt
    from segmentation.classical import ClassicalSegmenter

    hu, _, spacing, prompt = evaluation_prompt("LIDC-IDRI-0024_R_2", "line", LIDC)
    res = ClassicalSegmenter().segment(hu.astype(np.int16), spacing, prompt)   # as stored: int16, read in windows
    outside = res.mask.copy()
    outside[res.box] = False
    assert res.mask.any() and not outside.any()
    assert np.array_equal(res.mask, ClassicalSegmenter().segment(hu, spacing, prompt).mask)


def test_a_result_given_in_its_box_is_the_whole_volume_result():
    from segmentation.result import SegmentResult

    rng = np.random.default_rng(1)
    full = np.zeros((10, 30, 40), bool)
    box = (slice(2, 7), slice(5, 20), slice(10, 33))
    full[box] = rng.random((5, 15, 23)) > 0.6
    boxed = SegmentResult.within(full[box].copy(), full.shape, box, "size_limit", "empty_slice", 0.9, 0.1)
    whole = SegmentResult(full, "size_limit", "empty_slice", 0.9, 0.1, box)
    assert np.array_equal(boxed.mask, full)
    for res in (boxed, whole):
        part, origin = res.in_box()
        assert origin == (2, 5, 10) and np.array_equal(part, full[box])
    part, origin = SegmentResult(full, "a", "b", None, 0.0).in_box()
    assert part is full and origin == (0, 0, 0)
