"""GSPS encodings the demo styles do not cover: marks for all images, multi-frame references, MATRIX units."""
import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from curation.extract.gsps import extract_gsps
from curation.extract.index import read_instance
from curation.dicom.lookup import ImageLookup
from opseg_testdata import DATA

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
