"""Volume loading: sorting, affine, HU, and the errors that prevent a silently wrong volume."""
import numpy as np
import pydicom
import pytest

from curation.dicom.volume import SliceRef, VolumeError, build_geometry, load_volume


def refs(zs, orient=(1, 0, 0, 0, 1, 0), spacing=(0.7, 0.7), size=(64, 64)):
    return [SliceRef(f"1.2.{i}", None, (-10.0, -20.0, float(z)), orient, size[0], size[1], spacing) for i, z in enumerate(zs)]


def test_sorted_by_position_with_affine():
    geo = build_geometry(refs([6.0, 0.0, 3.0, 9.0]))
    assert [s.sop_uid for s in geo.slices] == ["1.2.1", "1.2.2", "1.2.0", "1.2.3"]
    assert np.allclose(geo.affine[:3, 2], [0, 0, 3.0]) and np.allclose(geo.affine[:3, 3], [-10, -20, 0])
    assert np.allclose(geo.pixel_to_patient(np.array([[0.5, 0.5]]), 2), [[-10, -20, 6.0]])


@pytest.mark.parametrize("zs,orient,reason", [
    ([0, 3, 9, 12], (1, 0, 0, 0, 1, 0), "missing_slices"),
    ([0, 3, 3, 6], (1, 0, 0, 0, 1, 0), "duplicate_slices"),
    ([0, 3, 6.9, 9], (1, 0, 0, 0, 1, 0), "irregular_spacing"),
])
def test_broken_series_raise_with_reason(zs, orient, reason):
    with pytest.raises(VolumeError) as err:
        build_geometry(refs(zs, orient))
    assert err.value.reason == reason


@pytest.mark.parametrize("orient,spacing,reason", [
    ((0, 0, 0, 0, 0, 0), (0.7, 0.7), "bad_orientation"),      # an emptied orientation
    ((1, 0, 0, 1, 0, 0), (0.7, 0.7), "bad_orientation"),      # rows and columns the same direction
    ((1, 0, 0, 0, 1, 0), (0.0, 0.0), "bad_pixel_spacing"),
    ((1, 0, 0, 0, 1, 0), (-0.7, 0.7), "bad_pixel_spacing"),
])
def test_degenerate_orientation_or_spacing_is_refused_with_its_reason(orient, spacing, reason):
    with pytest.raises(VolumeError) as err:
        build_geometry(refs([0, 3, 6], orient, spacing))
    assert err.value.reason == reason


def test_mixed_orientation_and_size_are_refused():
    mixed = refs([0, 3]) + [SliceRef("x", None, (0, 0, 6.0), (0, 1, 0, 0, 0, -1), 64, 64, (0.7, 0.7))]
    with pytest.raises(VolumeError, match="inconsistent_orientation"):
        build_geometry(mixed)
    sized = refs([0, 3]) + refs([6], size=(32, 32))
    with pytest.raises(VolumeError, match="inconsistent_size"):
        build_geometry(sized)


def test_demo_series_loads_with_truth_hu(demo_dir, demo_out, truth):
    import duckdb
    (series_uid,) = duckdb.sql(f"select series_uid from read_parquet('{demo_out}/series/*.parquet') "
                               "where category='ct_image' order by series_uid limit 1").fetchall()[0]
    paths = [p for (p,) in duckdb.sql(f"select path from read_parquet('{demo_out}/instances/*.parquet') "
                                      f"where series_uid='{series_uid}'").fetchall()]
    vol = load_volume(paths, series_uid)
    import nibabel as nib
    mask = np.asarray(nib.load(demo_dir / "truth" / "masks" / f"{series_uid}.nii.gz").dataobj).transpose(2, 1, 0)
    assert mask.shape == vol.hu.shape
    lesions = [les for les in truth["lesions"] if les["series_uid"] == series_uid]
    for les in lesions:
        from scipy import ndimage
        core = ndimage.binary_erosion(mask == les["lesion_id"], structure=np.ones((1, 5, 5)))  # away from the blurred edge
        assert abs(float(np.median(vol.hu[core])) - les["hu"]) < 20
        centre = np.argwhere(mask == les["lesion_id"]).mean(axis=0)  # (slice, row, col)
        lps = vol.affine @ np.array([centre[2], centre[1], centre[0], 1.0])
        assert np.linalg.norm(lps[:3] - np.array(les["center_mm"])) < 2.0


def test_missing_slice_in_a_real_series_is_reported(tmp_path):
    from opseg_testdata import DATA
    files = sorted((DATA / "dcmqi_ct_3slice").glob("*.dcm"))
    for i, f in enumerate(files):
        ds = pydicom.dcmread(f)
        if i == 2:
            ds.ImagePositionPatient = [ds.ImagePositionPatient[0], ds.ImagePositionPatient[1], ds.ImagePositionPatient[2] + 5]
        ds.save_as(tmp_path / f.name)
    with pytest.raises(VolumeError) as err:
        load_volume(sorted(str(p) for p in tmp_path.glob("*.dcm")))
    assert err.value.reason == "missing_slices" and "gap" in err.value.detail


@pytest.mark.parametrize("orient", [(1, 0, 0, 0, 1, 0), (0, 1, 0, 0, 0, -1), (1, 0, 0, 0, 0, -1)])  # axial, sagittal, coronal
def test_slices_run_along_row_x_column_in_any_plane(orient):
    normal = np.cross(orient[:3], orient[3:])
    shuffled = [SliceRef(f"1.2.{i}", None, tuple(float(v) for v in k * 2.5 * normal), orient, 8, 8, (1.0, 1.0))
                for i, k in enumerate([2, 0, 3, 1])]
    geo = build_geometry(shuffled)
    assert [s.sop_uid for s in geo.slices] == ["1.2.1", "1.2.3", "1.2.0", "1.2.2"]
    assert np.allclose(geo.affine[:3, 2], 2.5 * normal) and np.isclose(np.linalg.det(geo.affine[:3, :3]), 2.5)


def test_every_reader_of_a_real_series_orders_it_the_same_way():
    """The extract lookup (catalog), volume loading and the SEG export's datasets share one sorter."""
    from curation.dicom.ct_series import sorted_series_datasets
    from curation.dicom.lookup import ImageLookup
    from curation.extract.index import read_instance
    from opseg_testdata import DATA

    paths = sorted((DATA / "dcmqi_ct_3slice").glob("*.dcm"), reverse=True)  # file order opposite to z order
    geo = ImageLookup([read_instance(p) for p in paths]).geometries[pydicom.dcmread(paths[0]).SeriesInstanceUID]
    order = [s.sop_uid for s in geo.slices]
    assert [s.sop_uid for s in load_volume([str(p) for p in paths]).geometry.slices] == order
    assert [str(ds.SOPInstanceUID) for ds in sorted_series_datasets([str(p) for p in paths])] == order
    z = {str(ds.SOPInstanceUID): float(ds.ImagePositionPatient[2]) for ds in map(pydicom.dcmread, paths)}
    assert np.all(np.diff([z[u] for u in order]) * np.sign(geo.affine[2, 2]) > 0)  # along the affine's slice axis


def test_a_slice_whose_pixels_are_not_its_series_grid_is_refused_with_its_file(tmp_path):
    """A real series with one slice rewritten as RGB (a secondary capture slipped in): its pixel array is
    (rows, columns, 3), which crashed the stage with a bare ValueError instead of quarantining the series."""
    from opseg_testdata import DATA
    files = sorted((DATA / "dcmqi_ct_3slice").glob("*.dcm"))
    for i, f in enumerate(files):
        ds = pydicom.dcmread(f)
        if i == 1:
            if ds.file_meta.TransferSyntaxUID.is_compressed:
                ds.decompress()
            grey = ds.pixel_array.astype(np.uint8)
            ds.PixelData = np.repeat(grey[..., None], 3, axis=2).tobytes()
            ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
            ds.BitsAllocated = ds.BitsStored = 8
            ds.HighBit, ds.PixelRepresentation = 7, 0
        ds.save_as(tmp_path / f.name)
    with pytest.raises(VolumeError) as err:
        load_volume(sorted(str(p) for p in tmp_path.glob("*.dcm")))
    assert err.value.reason == "bad_pixel_data" and files[1].name in err.value.detail and "(rows, columns)" in err.value.detail


@pytest.mark.parametrize("slope, intercept, last_only, want", [
    (None, None, False, np.int16), (1.0, -40000.0, False, np.float32), (0.5, -1024.0, False, np.float32),
    (2.0, -1024.0, False, np.int16), (1.0, 40000.0, True, np.float32)])
def test_a_whole_number_rescale_decodes_straight_to_int16_with_the_same_hu(tmp_path, monkeypatch, slope, intercept,
                                                                          last_only, want):
    """The cache's stored form (int16 when the rescale gives whole HU in range) comes from the decoder, without a
    float32 pass; a fractional slope or HU beyond int16 stay float32, also when only the last slice's do (the slices
    before it carried over, each decoded once); the numbers equal the float32 decode."""
    import pydicom.pixels

    from opseg_testdata import DATA
    files = sorted((DATA / "dcmqi_ct_3slice").glob("*.dcm"))
    for i, f in enumerate(files):
        ds = pydicom.dcmread(f)
        if slope is not None and (not last_only or i == len(files) - 1):
            ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
        ds.save_as(tmp_path / f.name)
    paths = sorted(str(p) for p in tmp_path.glob("*.dcm"))
    as_float = load_volume(paths)
    decoded = []
    real = pydicom.pixels.pixel_array
    monkeypatch.setattr(pydicom.pixels, "pixel_array", lambda ds, **kw: decoded.append(1) or real(ds, **kw))
    stored = load_volume(paths, whole_as_int16=True)
    assert as_float.hu.dtype == np.float32 and stored.hu.dtype == want and len(decoded) == len(files)
    assert np.array_equal(stored.hu.astype(np.float32), as_float.hu) and stored.hu.min() < stored.hu.max()


@pytest.mark.parametrize("folder", ["dcmqi_ct_3slice", "totalseg_ct_j2k"])
def test_slice_geometry_from_the_raw_header_bytes_is_pydicoms(folder):
    """slice_refs and the rescale read a single-frame header's numbers straight from its bytes (dicom_fast): they
    must be pydicom's own values, on real CT files and on a dataset whose elements pydicom has already decoded."""
    from curation.dicom.volume import _rescale, slice_refs
    from opseg_testdata import DATA

    for path in sorted((DATA / folder).glob("*.dcm")):
        for ds in (pydicom.dcmread(path), _decoded(pydicom.dcmread(path))):
            (ref,) = slice_refs(ds, str(path))
            assert (ref.sop_uid, ref.rows, ref.columns) == (ds.SOPInstanceUID, ds.Rows, ds.Columns)
            assert ref.position == tuple(float(v) for v in ds.ImagePositionPatient)
            assert ref.orientation == tuple(float(v) for v in ds.ImageOrientationPatient)
            assert ref.pixel_spacing == tuple(float(v) for v in ds.PixelSpacing)
            assert _rescale(ds) == (float(ds.RescaleSlope), float(ds.RescaleIntercept))


def _decoded(ds):
    for elem in ds:   # iterating converts every raw element
        pass
    return ds


def test_a_pixel_spacing_with_one_value_is_refused_with_its_reason():
    from curation.dicom.volume import slice_refs

    ds = pydicom.Dataset()
    ds.SOPInstanceUID, ds.Rows, ds.Columns = "1.2.3", 8, 8
    ds.ImagePositionPatient, ds.ImageOrientationPatient = [0, 0, 0], [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = "0.7"
    refs = slice_refs(ds) + [SliceRef("1.2.4", None, (0.0, 0.0, 1.0), (1, 0, 0, 0, 1, 0), 8, 8, (0.7,))]
    with pytest.raises(VolumeError) as err:
        build_geometry(refs)
    assert err.value.reason == "bad_pixel_spacing"
