"""The SEG writer's shortcuts (curation/publish/seg_writer.py) give the SEG plain highdicom and pydicom give."""
import io
from contextlib import nullcontext

import highdicom as hd
import numpy as np
import pydicom
import pytest

import curation.publish.seg_export as seg_export
import curation.publish.seg_writer as seg_writer
from curation.extract.index import read_instance
from schemas import MaskRecord
from schemas.mask_nifti import encode
from real_ct import DATA, TOTALSEG_J2K
from test_seg_export import _elements

BINARY = hd.seg.SegmentationTypeValues.BINARY


@pytest.mark.parametrize("stack", ["overlapping", "disjoint", "empty", "single"])
def test_the_overlap_check_answers_as_highdicoms(stack):
    rng = np.random.default_rng(7)
    arr = np.zeros((3, 16, 16, 4), np.uint8)
    if stack != "empty":
        for k in range(4):
            arr[:, 4 * k:4 * k + 4, :, k] = rng.random((3, 4, 16)) > 0.4   # each segment in its own rows
    if stack == "overlapping":
        arr[1, 2, 3, [0, 2]] = 1   # one voxel in segments 1 and 3
    if stack == "single":
        arr = arr[..., :1]
    numbers = np.arange(1, arr.shape[-1] + 1)
    got = seg_writer.LesionSegmentation._check_and_cast_pixel_array(arr, numbers, BINARY, np.uint8)
    want = hd.seg.Segmentation._check_and_cast_pixel_array(arr, numbers, BINARY, np.uint8)
    assert got[1] == want[1] and np.array_equal(got[0], want[0])
    assert (got[1] == hd.seg.SegmentsOverlapValues.YES) == (stack == "overlapping")


def test_a_stack_that_is_not_binary_is_refused_as_highdicom_refuses_it():
    arr = np.zeros((2, 8, 8, 3), np.uint8)
    arr[0, 0, 0, 1] = 2
    with pytest.raises(ValueError, match="must be binary"):
        seg_writer.LesionSegmentation._check_and_cast_pixel_array(arr, np.arange(1, 4), BINARY, np.uint8)


def _real_series_masks(folder):
    instances = [read_instance(p) for p in sorted(folder.glob("*.dcm"))]
    datasets, geometry = seg_export.catalog_series_datasets(instances)
    shape = (len(geometry.slices), geometry.rows, geometry.columns)
    fulls = [np.zeros(shape, bool) for _ in range(3)]
    fulls[0][0:2, 100:140, 200:260] = True
    fulls[1][1:3, 120:150, 210:240] = True   # overlaps the first: the segment stack
    fulls[2][2, 300:320, 50:90] = True
    masks = [MaskRecord(mask_id=f"m{k}", annotation_id=f"a{k}", series_uid=instances[0].series_uid, backend="test",
                        mask=data, bbox=bbox) for k, (data, bbox) in enumerate(encode(f, geometry.affine) for f in fulls)]
    return instances, masks


@pytest.mark.parametrize("folder", [TOTALSEG_J2K, DATA / "dcmqi_ct_3slice"])
def test_a_real_series_seg_equals_plain_highdicoms_and_saves_to_the_same_bytes(folder, monkeypatch):
    """On real CT slices (TotalSegmentator's JPEG 2000 series, dcmqi's CT) with overlapping masks: the SEG export builds
    (LesionSegmentation, IOD lookups memoised, look-up tables deferred) equals the one highdicom's own Segmentation
    builds, element for element (generated UIDs and times aside), PixelData included, and queries as it does."""
    instances, masks = _real_series_masks(folder)
    seen = []
    scan = seg_writer._in_iod
    monkeypatch.setattr(seg_writer, "_in_iod", lambda *args: seen.append(args) or scan(*args))
    made = seg_export._series_seg(instances[0].series_uid, masks, instances, {})
    assert made.SegmentsOverlap == "YES"
    assert len(seen) >= 2 * len(instances)   # highdicom's per-source lookups went through the memo
    monkeypatch.setattr(seg_export, "LesionSegmentation", hd.seg.Segmentation)
    monkeypatch.setattr(seg_export, "iod_lookups_memoised", nullcontext)
    want = seg_export._series_seg(instances[0].series_uid, masks, instances, {})
    assert _elements(made) == _elements(want)

    buf = io.BytesIO()
    made.save_as(buf)
    again = pydicom.dcmread(io.BytesIO(buf.getvalue()))
    assert again.PixelData == want.PixelData and again.SegmentsOverlap == "YES"

    # the look-up tables: what highdicom's constructor sets after the SEG (want's) is what made defers, past the save,
    # until its first query, which then answers as want's does
    assert set(vars(want)) - set(vars(made)) == seg_writer.LUT_ATTRIBUTES and vars(made)["_luts_pending"]
    sources = [i.sop_uid for i in instances]
    got = made.get_pixels_by_source_instance(sources, segment_numbers=[1, 2, 3], assert_missing_frames_are_empty=True)
    assert "_luts_pending" not in vars(made) and seg_writer.LUT_ATTRIBUTES <= set(vars(made))
    assert np.array_equal(got, want.get_pixels_by_source_instance(sources, segment_numbers=[1, 2, 3],
                                                                  assert_missing_frames_are_empty=True))


def test_the_memo_is_only_in_place_while_a_seg_is_built():
    import highdicom._standard_utils as hd_standard

    with seg_writer.iod_lookups_memoised():
        assert hd_standard.is_attribute_in_iod is seg_writer._memoised_in_iod
        ct = "1.2.840.10008.5.1.4.1.1.2"
        assert seg_writer._memoised_in_iod("NumberOfFrames", ct) is seg_writer._scan_iod("NumberOfFrames", ct)
        assert seg_writer._memoised_in_iod("PixelData", ct, ["IconImageSequence"]) is \
            seg_writer._scan_iod("PixelData", ct, ["IconImageSequence"])
    assert hd_standard.is_attribute_in_iod is seg_writer._scan_iod


def test_export_seg_sets_up_highdicoms_tables_for_its_workers_and_lets_them_go_after():
    """The stage setup (made once in the local executor's process, inherited by every forked worker) loads the tables
    highdicom reads while building a SEG; its teardown clears them. A Ray run maps its partitions as tasks still."""
    from curation.io.stage import has_setup
    from curation.publish.stage import ExportSegStage

    stage = ExportSegStage()
    for table in seg_writer._STANDARD_TABLES:
        table.cache_clear()
    stage.setup()
    assert has_setup(stage) and not stage.setup_holds_model
    assert all(table.cache_info().currsize == 1 for table in seg_writer._STANDARD_TABLES)
    stage.teardown()
    assert all(table.cache_info().currsize == 0 for table in seg_writer._STANDARD_TABLES)
