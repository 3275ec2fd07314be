"""GSPS encodings the demo styles do not cover: marks for all images, multi-frame references, MATRIX units."""
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian

from curation.extract.annotation_builder import longest_chord_mm, mm_distance
from curation.extract.gsps import extract_gsps
from curation.extract.index import read_instance
from curation.extract.stage import parse_object
from curation.dicom.lookup import ImageLookup
from opseg_testdata import DATA

GSPS_CLASS = "1.2.840.10008.5.1.4.1.1.11.1"
CT = sorted((DATA / "dcmqi_ct_3slice").glob("*.dcm"))


def _lookup():
    return ImageLookup([read_instance(p) for p in CT])


def _gsps(items, refs):
    ds = Dataset()
    ds.SOPInstanceUID, ds.StudyInstanceUID = "1.2.3.4.5", "9.9"
    series = Dataset()
    series.SeriesInstanceUID = refs[0].SeriesInstanceUID
    ims = []
    for r in refs:
        im = Dataset()
        im.ReferencedSOPClassUID, im.ReferencedSOPInstanceUID = r.SOPClassUID, r.SOPInstanceUID
        ims.append(im)
    series.ReferencedImageSequence = Sequence(ims)
    ds.ReferencedSeriesSequence = Sequence([series])
    ds.GraphicAnnotationSequence = Sequence(items)
    return ds


def _line(units="PIXEL", data=(100.0, 100.0, 150.0, 100.0)):
    o = Dataset()
    o.GraphicAnnotationUnits, o.GraphicDimensions, o.NumberOfGraphicPoints = units, 2, len(data) // 2
    o.GraphicData, o.GraphicType = list(data), "POLYLINE"
    return o


def test_mark_without_image_reference_applies_to_all_images_and_gets_no_slice():
    refs = [pydicom.dcmread(p, stop_before_pixels=True) for p in CT]
    item = Dataset()
    item.GraphicLayer = "L"
    item.GraphicObjectSequence = Sequence([_line()])
    recs, bad = extract_gsps(_gsps([item], refs), "mem.dcm", _lookup())
    assert not bad and len(recs) == 1
    rec = recs[0]
    assert rec.slice_index is None and rec.referenced_sop_uid is None and "applies_to_all_images" in rec.flags
    assert rec.series_uid == refs[0].SeriesInstanceUID
    assert rec.length_mm is None or abs(rec.length_mm - 50 * 0.810547) < 1e-3


def test_one_referenced_image_gives_the_slice_and_physical_length():
    refs = [pydicom.dcmread(p, stop_before_pixels=True) for p in CT]
    item = Dataset()
    ref = Dataset()
    ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID = refs[1].SOPClassUID, refs[1].SOPInstanceUID
    item.ReferencedImageSequence = Sequence([ref])
    item.GraphicObjectSequence = Sequence([_line()])
    (rec,), _ = extract_gsps(_gsps([item], refs), "mem.dcm", _lookup())
    lookup = _lookup()
    geo = lookup.geometries[refs[1].SeriesInstanceUID]
    assert rec.slice_index == geo.slice_index(refs[1].SOPInstanceUID)
    assert abs(rec.length_mm - 50 * 0.810547) < 1e-6 and rec.spacing_source == "pixel_spacing"
    assert np.allclose(rec.points_patient[1][0] - rec.points_patient[0][0], 50 * 0.810547)


def test_several_frames_are_flagged_not_guessed():
    refs = [pydicom.dcmread(p, stop_before_pixels=True) for p in CT]
    item = Dataset()
    ref = Dataset()
    ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID = refs[0].SOPClassUID, refs[0].SOPInstanceUID
    ref.ReferencedFrameNumber = [1, 2]
    item.ReferencedImageSequence = Sequence([ref])
    item.GraphicObjectSequence = Sequence([_line()])
    (rec,), _ = extract_gsps(_gsps([item], refs), "mem.dcm", _lookup())
    assert rec.slice_index is None and "multiple_frames" in rec.flags and rec.referenced_frame is None


def test_matrix_units_and_bad_point_counts_are_quarantined_with_the_file_name():
    refs = [pydicom.dcmread(p, stop_before_pixels=True) for p in CT]
    item = Dataset()
    bad_count = _line()
    bad_count.NumberOfGraphicPoints = 3
    item.GraphicObjectSequence = Sequence([_line("MATRIX"), bad_count, _line()])
    recs, bad = extract_gsps(_gsps([item], refs), "weird.dcm", _lookup())
    assert len(recs) == 1 and recs[0].kind == "line"
    assert len(bad) == 2 and all("weird.dcm" in q.detail for q in bad)
    assert any("MATRIX" in q.detail for q in bad) and any("Number of Graphic Points" in q.detail for q in bad)


def _outline(n: int, radius: float, closed: bool) -> Dataset:
    """n points on a circle of the radius around (256, 256): closed (last = first) or an open 270 degree arc;
    the longest chord of either is the diameter."""
    angles = np.linspace(0, 2 * np.pi if closed else 1.5 * np.pi, n)
    pts = np.column_stack([256 + radius * np.cos(angles), 256 + radius * np.sin(angles)])
    if closed:
        pts[-1] = pts[0]
    return _line(data=tuple(pts.ravel()))


def test_5000_point_outlines_are_extracted_with_their_longest_diameter(tmp_path):
    """Freehand outlines have thousands of points; their length (the longest chord, as for RECIST) must not cost
    n^2 and time the object out into quarantine (two outlines took ~40 s, over the 30 s per-object budget)."""
    refs = [pydicom.dcmread(p, stop_before_pixels=True) for p in CT]
    item = Dataset()
    ref = Dataset()
    ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID = refs[1].SOPClassUID, refs[1].SOPInstanceUID
    item.ReferencedImageSequence = Sequence([ref])
    item.GraphicObjectSequence = Sequence([_outline(5000, 40.0, True), _outline(5000, 30.0, False)])
    ds = _gsps([item], refs)
    ds.SOPClassUID, ds.Modality, ds.SeriesInstanceUID = GSPS_CLASS, "PR", "1.2.3.4.6"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID, ds.file_meta.MediaStorageSOPClassUID = ExplicitVRLittleEndian, GSPS_CLASS
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.save_as(tmp_path / "outline.dcm", enforce_file_format=True)
    recs, bad, _ = parse_object(read_instance(tmp_path / "outline.dcm"), _lookup())
    assert not bad
    assert [(r.kind, len(r.points_px)) for r in recs] == [("polygon", 5000), ("polyline", 5000)]
    assert [r.length_mm for r in recs] == pytest.approx([80 * 0.810547, 60 * 0.810547], rel=1e-6)


@pytest.mark.parametrize("seed", range(20))
def test_longest_chord_equals_the_all_pairs_maximum(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 60))
    pts = rng.normal(0, 50, (n, 2)) if seed % 4 else np.outer(rng.uniform(-9, 9, n), [3.0, -1.0])  # some collinear
    if seed % 5 == 0:
        pts = np.round(pts / 10) * 10  # repeated points, parallel hull edges
    spacing = [0.7, 0.7] if seed % 2 else [0.5, 1.25]  # anisotropic pixels too
    brute = max(mm_distance(p, q, spacing) for i, p in enumerate(pts) for q in pts[i + 1:])
    assert longest_chord_mm(pts, spacing) == pytest.approx(brute, rel=1e-9, abs=1e-9)


def _display_point_on(refs, tlhc, brhc):
    """Pixel position and flags of the DISPLAY point (0.5, 0.5) on slice 1 under the given displayed area."""
    item = Dataset()
    ref = Dataset()
    ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID = refs[1].SOPClassUID, refs[1].SOPInstanceUID
    item.ReferencedImageSequence = Sequence([ref])
    point = _line("DISPLAY", (0.5, 0.5))
    point.GraphicType = "POINT"
    item.GraphicObjectSequence = Sequence([point])
    ds = _gsps([item], refs)
    area = Dataset()
    area.DisplayedAreaTopLeftHandCorner, area.DisplayedAreaBottomRightHandCorner = list(tlhc), list(brhc)
    area.PresentationSizeMode = "SCALE TO FIT"
    ds.DisplayedAreaSelectionSequence = Sequence([area])
    (rec,), bad = extract_gsps(ds, "mem.dcm", _lookup())
    assert not bad
    return rec.points_px[0], rec.flags


@pytest.mark.parametrize("tlhc,brhc,expected", [
    ((1, 1), (512, 512), [256.0, 256.0]),        # the whole 512 x 512 image, as the standard writes it
    ((0, 1), (512, 512), [255.5, 256.0]),        # legal 1-based: panned one column past the left edge
    ((0, 0), (300, 300), [149.5, 149.5]),        # legal 1-based zoom with a one-pixel margin
    ((-99, 1), (412, 512), [156.0, 256.0]),      # legal: the area starts 100 columns left of the image
])
def test_legal_one_based_displayed_areas_are_not_shifted(tlhc, brhc, expected):
    refs = [pydicom.dcmread(p, stop_before_pixels=True) for p in CT]
    point, flags = _display_point_on(refs, tlhc, brhc)
    assert point == pytest.approx(expected) and "displayed_area_zero_based" not in flags


@pytest.mark.parametrize("brhc", [(511, 511), (512, 512)])
def test_a_zero_based_whole_image_area_is_recognised(brhc):
    """Softneta writes the whole image as (0,0)-(columns, rows); others as (0,0)-(columns-1, rows-1)."""
    refs = [pydicom.dcmread(p, stop_before_pixels=True) for p in CT]
    point, flags = _display_point_on(refs, (0, 0), brhc)
    assert point == pytest.approx([256.0, 256.0]) and "displayed_area_zero_based" in flags


def test_a_rotation_the_standard_does_not_allow_is_quarantined_not_read_as_zero():
    refs = [pydicom.dcmread(p, stop_before_pixels=True) for p in CT]
    item = Dataset()
    item.GraphicObjectSequence = Sequence([_line("DISPLAY", (0.25, 0.5, 0.75, 0.5)), _line()])
    ds = _gsps([item], refs[:1])
    ds.ImageRotation = 45  # Image Rotation is 0, 90, 180 or 270 (PS3.3 C.10.6.1.1)
    recs, bad = extract_gsps(ds, "rotated.dcm", _lookup())
    assert [r.source_units for r in recs] == ["DISPLAY/PIXEL"] and len(recs) == 1  # the PIXEL line is kept
    assert [q.reason for q in bad] == ["malformed_graphic_data"] and "Image Rotation 45" in bad[0].detail


@pytest.mark.parametrize("spacing,length", [([0.5, 0.5], 25.0), ([0.0, 0.0], None), ([-0.5, 0.5], None)])
def test_only_a_positive_presentation_pixel_spacing_gives_a_length(spacing, length):
    refs = [pydicom.dcmread(p, stop_before_pixels=True) for p in CT]
    item = Dataset()
    item.GraphicObjectSequence = Sequence([_line()])
    ds = _gsps([item], refs[:1])
    area = Dataset()
    area.DisplayedAreaTopLeftHandCorner, area.DisplayedAreaBottomRightHandCorner = [1, 1], [512, 512]
    area.PresentationSizeMode, area.PresentationPixelSpacing = "TRUE SIZE", spacing
    ds.DisplayedAreaSelectionSequence = Sequence([area])
    (rec,), _ = extract_gsps(ds, "mem.dcm", ImageLookup([]))  # the image is not in the archive
    assert rec.length_mm == length and (length is not None or "no_pixel_spacing" in rec.flags)
