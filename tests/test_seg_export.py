"""DICOM SEG export read back with highdicom and compared voxel for voxel with the masks table."""
from collections import defaultdict

import highdicom as hd
import numpy as np
import pytest

from curation.dicom.ct_series import sorted_series_datasets
from curation.publish.seg_export import export_seg
from curation.io.tables import read_records
from schemas import InstanceRecord, MaskRecord
from schemas.mask_nifti import encode, paste
from real_ct import DATA, TOTALSEG_J2K


def test_seg_round_trip(processed_out, tmp_path):
    files = export_seg(processed_out, tmp_path / "seg")
    masks = defaultdict(list)
    for m in read_records(processed_out, MaskRecord):
        if m.error is None:
            masks[m.series_uid].append(m)
    assert len(files) == len(masks)
    for path in files:
        seg = hd.seg.segread(path)
        assert seg.SegmentationType == "BINARY"
        series_uid = path.stem.removeprefix("seg_")
        ms = sorted(masks[series_uid], key=lambda m: m.mask_id)
        assert [d.tracking_id for d in (seg.get_segment_description(i) for i in seg.get_segment_numbers())] == \
               [m.mask_id for m in ms]
        desc = seg.get_segment_description(1)
        assert desc.segmented_property_type.value == "52988006"  # SNOMED lesion
        sources = [uid for _, _, uid in seg.get_source_image_uids()]
        paths = [i.path for i in read_records(processed_out, InstanceRecord) if i.series_uid == series_uid]
        ordered = [str(ds.SOPInstanceUID) for ds in sorted_series_datasets(paths)]
        assert set(sources) <= set(ordered)
        pixels = seg.get_pixels_by_source_instance(source_sop_instance_uids=ordered, segment_numbers=list(range(1, len(ms) + 1)),
                                                  assert_missing_frames_are_empty=True)
        shape = pixels.shape[:3]
        for k, m in enumerate(ms):
            assert np.array_equal(pixels[..., k] > 0, paste(m.mask, m.bbox, shape))


def test_segment_array_is_the_pasted_masks_as_labels_or_a_segment_major_stack():
    """Disjoint masks become a label map, overlapping ones the (slice, row, column, segment) stack of the pasted
    masks; the stack is stored segment-major so each segment's frame highdicom reads is contiguous."""
    from curation.publish.seg_export import _segment_array
    from schemas.mask_nifti import encode

    shape = (12, 20, 24)

    def record(i, box):
        full = np.zeros(shape, bool)
        full[box] = True
        data, bbox = encode(full, np.eye(4))
        return MaskRecord(mask_id=f"m{i}", annotation_id=f"a{i}", series_uid="1.2", backend="test", mask=data, bbox=bbox)

    disjoint = [record(0, np.s_[2:5, 3:9, 4:10]), record(1, np.s_[6:9, 10:15, 12:20])]
    planes = [2, 3, 4, 6, 7, 8]   # slice 5: no mask reaches it
    labels = _segment_array(disjoint, shape, planes)
    want = sum((k + 1) * paste(m.mask, m.bbox, shape)[planes].astype(np.uint8) for k, m in enumerate(disjoint))
    assert labels.ndim == 3 and np.array_equal(labels, want)
    overlapping = disjoint + [record(2, np.s_[4:7, 5:12, 8:14])]
    stack = _segment_array(overlapping, shape, list(range(2, 9)))
    assert stack.shape == (7, 20, 24, 3) and stack.dtype == np.uint8
    assert np.array_equal(stack, np.stack([paste(m.mask, m.bbox, shape)[2:9] for m in overlapping], axis=-1))
    assert stack[3, :, :, 1].flags.c_contiguous


def _elements(ds, prefix=""):
    """Every element of a SEG, sequences flattened, generated UIDs and creation times left out."""
    generated = {"TrackingUID", "DimensionOrganizationUID", "ContentDate", "ContentTime", "InstanceCreationDate",
                 "InstanceCreationTime", "SeriesDate", "SeriesTime", "ContributionDateTime"}
    out = {}
    for el in ds:
        if el.keyword in generated or not prefix and el.keyword in ("SOPInstanceUID", "SeriesInstanceUID"):
            continue
        if el.VR == "SQ":
            for i, item in enumerate(el.value):
                out.update(_elements(item, f"{prefix}{el.keyword}[{i}]."))
        else:
            out[prefix + (el.keyword or str(el.tag))] = el.value
    return out


@pytest.mark.parametrize("folder", [TOTALSEG_J2K, DATA / "dcmqi_ct_3slice"])
def test_a_seg_from_one_header_and_the_mask_slices_equals_the_one_every_header_and_slice_give(folder, monkeypatch):
    """SEG export reads the first header of a series and makes its other sources from their catalog rows, and
    gives highdicom only the slices a mask reaches (here 0 and 2, a gap between): on real CT slices
    (TotalSegmentator's JPEG 2000 series, dcmqi's CT) the SEG is the one every header and the whole slice range
    give, element for element (SpacingBetweenSlices included; numbers by value: the catalog holds floats)."""
    import curation.publish.seg_export as seg_export
    from curation.dicom.ct_series import catalog_series_datasets, series_datasets
    from curation.extract.index import read_instance

    instances = [read_instance(p) for p in sorted(folder.glob("*.dcm"))]
    datasets, geometry = series_datasets([i.path for i in instances])
    stand_ins, same = catalog_series_datasets(instances)
    assert [d.SOPInstanceUID for d in stand_ins] == [d.SOPInstanceUID for d in datasets]
    assert np.array_equal(same.affine, geometry.affine) and len(stand_ins[1]) < len(datasets[1])
    shape = (len(geometry.slices), geometry.rows, geometry.columns)
    fulls = [np.zeros(shape, bool), np.zeros(shape, bool)]
    fulls[0][0, 100:140, 200:260] = True
    fulls[1][2, 120:150, 210:240] = True
    masks = [MaskRecord(mask_id=f"m{k}", annotation_id=f"a{k}", series_uid=instances[0].series_uid, backend="test",
                        mask=data, bbox=bbox) for k, (data, bbox) in enumerate(encode(f, geometry.affine) for f in fulls)]
    made = seg_export._series_seg(instances[0].series_uid, masks, instances, {})
    monkeypatch.setattr(seg_export, "catalog_series_datasets", lambda insts: series_datasets([i.path for i in insts]))
    monkeypatch.setattr(seg_export, "_mask_slices", lambda ms: list(range(min(m.bbox[2] for m in ms),
                                                                        max(m.bbox[5] for m in ms))))
    want = seg_export._series_seg(instances[0].series_uid, masks, instances, {})
    assert "SpacingBetweenSlices" in want.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0]
    assert _elements(made) == _elements(want)
    pixels = made.get_pixels_by_source_instance([str(d.SOPInstanceUID) for d in datasets], segment_numbers=[1, 2],
                                                assert_missing_frames_are_empty=True)
    assert all(np.array_equal(pixels[..., k] > 0, f) for k, f in enumerate(fulls))
