"""Enhanced (multi-frame) CT: frames sorted by their functional-group positions, GSPS frame references resolved."""
import json

import highdicom as hd
import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from curation.dicom.volume import load_volume
from curation.dicom.lookup import ImageLookup
from curation.extract.index import read_instance
from curation.extract.sr import extract_sr
from curation.extract.stage import extract
from curation.io.tables import read_records, write_records
from curation.publish.seg_export import export_seg
from gsps_builders import ENHANCED_CT, item, write_line_gsps
from linking.stage import run_link
from schemas import AnnotationRecord, LinkRecord, MaskRecord, SeriesRecord
from schemas.mask_nifti import encode
from sr_builders import measurement_group, sr_container


def write_enhanced_ct(path, zs, study_uid, series_uid, sop_uid, series_number=None, size=8, instance_number=1):
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = ENHANCED_CT, sop_uid
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = ENHANCED_CT, sop_uid, "CT"
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.PatientID = study_uid, series_uid, "MF1"
    ds.FrameOfReferenceUID = study_uid + ".1"
    ds.PatientName, ds.PatientBirthDate, ds.PatientSex = "MF^One", "19700101", "O"  # what highdicom copies to a SEG
    ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber, ds.ReferringPhysicianName = "20240101", "120000", "1", "", ""
    ds.Rows, ds.Columns, ds.NumberOfFrames = size, size, len(zs)
    if series_number is not None:
        ds.SeriesNumber, ds.InstanceNumber = series_number, instance_number
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.SharedFunctionalGroupsSequence = Sequence([item(
        PlaneOrientationSequence=Sequence([item(ImageOrientationPatient=[1, 0, 0, 0, 1, 0])]),
        PixelMeasuresSequence=Sequence([item(PixelSpacing=[0.5, 0.5], SliceThickness=2.0)]),
        PixelValueTransformationSequence=Sequence([item(RescaleSlope=1, RescaleIntercept=-1024, RescaleType="HU")]))])
    ds.PerFrameFunctionalGroupsSequence = Sequence(
        [item(PlanePositionSequence=Sequence([item(ImagePositionPatient=[0, 0, float(z)])])) for z in zs])
    frames = np.stack([np.full((size, size), 1024 + int(z) * 10, np.int16) for z in zs])
    ds.PixelData = frames.tobytes()
    ds.save_as(path, enforce_file_format=True)


def test_frames_sorted_and_gsps_frame_reference_resolved(tmp_path):
    study, series, sop = generate_uid(), generate_uid(), generate_uid()
    src = tmp_path / "src"
    src.mkdir()
    write_enhanced_ct(src / "ct.dcm", [4.0, 0.0, 2.0], study, series, sop)
    vol = load_volume([str(src / "ct.dcm")])
    assert [s.frame for s in vol.geometry.slices] == [2, 3, 1]
    assert np.allclose(vol.hu[:, 0, 0], [0.0, 20.0, 40.0])  # HU = stored - 1024, z*10 by construction
    write_line_gsps(src / "pr.dcm", study, series, sop, 3, [1.0, 1.0, 5.0, 4.0])
    out = tmp_path / "out"
    extract(src, out)
    (ann,) = read_records(out, AnnotationRecord)
    assert ann.referenced_frame == 3 and ann.slice_index == 1  # frame 3 is at z=2, the middle of the volume
    assert abs(ann.length_mm - 2.5) < 1e-6 and ann.spacing_source == "pixel_spacing"


FRAME_ZS = [8.0, 2.0, 14.0, 0.0, 18.0, 6.0, 12.0, 4.0, 16.0, 10.0]  # frame 5 (z=18) is slice 9: not image 5 up or down


def _multiframe_study(tmp_path, with_report: bool):
    study, series, sop = generate_uid(), generate_uid(), generate_uid()
    src = tmp_path / "src"
    src.mkdir()
    write_enhanced_ct(src / "ct.dcm", FRAME_ZS, study, series, sop, series_number=3, size=32)
    write_line_gsps(src / "pr.dcm", study, series, sop, 5, [4.0, 16.0, 28.0, 16.0])  # 24 px x 0.5 mm = 12 mm
    reports = []
    if with_report:
        sidecar = tmp_path / "reports.jsonl"
        sidecar.write_text(json.dumps({"study_uid": study, "text": "FINDINGS: Liver lesion measures 12 mm (series 3, image 5)."}) + "\n")
        reports = [sidecar]
    out = tmp_path / "out"
    extract(src, out, reports=reports)
    return out, sop


def test_report_image_number_of_a_multiframe_series_is_the_frame_number(tmp_path):
    out, _ = _multiframe_study(tmp_path, with_report=True)
    (ann,) = read_records(out, AnnotationRecord)
    assert (ann.referenced_frame, ann.slice_index) == (5, 9)
    run_link(out)
    (link,) = read_records(out, LinkRecord)
    assert link.tier == "A" and "image_ref:instance" in link.evidence  # image 5 = frame 5, found on slice 9



def test_report_image_number_of_enhanced_ct_stored_one_frame_per_instance_is_the_instance_number(tmp_path):
    """Each instance holds frame 1: the image a report cites is the Instance Number, as for classic CT."""
    study, series = generate_uid(), generate_uid()
    sops = [generate_uid() for _ in range(3)]
    src = tmp_path / "src"
    src.mkdir()
    for k, (z, sop) in enumerate(zip([4.0, 0.0, 2.0], sops)):  # instances 1, 2, 3 at z = 4, 0, 2
        write_enhanced_ct(src / f"ct{k}.dcm", [z], study, series, sop, series_number=3, size=32, instance_number=k + 1)
    write_line_gsps(src / "pr.dcm", study, series, sops[1], 1, [4.0, 16.0, 28.0, 16.0])  # on instance 2 (z = 0)
    sidecar = tmp_path / "reports.jsonl"
    sidecar.write_text(json.dumps({"study_uid": study, "text": "FINDINGS: Liver lesion measures 12 mm (series 3, image 2)."}) + "\n")
    out = tmp_path / "out"
    extract(src, out, reports=[sidecar])
    run_link(out)
    (link,) = read_records(out, LinkRecord)
    # by its Instance Number (without the fix every slice read as image 1 and only a stack-order guess matched)
    assert link.tier == "A" and "image_ref:instance" in link.evidence, link.evidence


def test_seg_export_of_a_multiframe_series_keeps_each_frames_position(tmp_path):
    """SEG frames follow the source's frames; each one's position comes from its per-frame functional group."""
    out, sop = _multiframe_study(tmp_path, with_report=False)
    (ann,) = read_records(out, AnnotationRecord)
    (series,) = [s for s in read_records(out, SeriesRecord) if s.series_uid == ann.series_uid]
    affine = np.asarray(series.affine).reshape(4, 4)
    mask = np.zeros((10, 32, 32), bool)
    mask[7:10, 10:20, 5:25] = True  # slices 7-9: z = 14, 16, 18 = frames 3, 9, 5
    data, bbox = encode(mask, affine)
    write_records(out, MaskRecord, [MaskRecord(mask_id="m1", annotation_id=ann.annotation_id, series_uid=ann.series_uid,
                                               backend="classical-cpu test", mask=data, bbox=bbox, affine=list(affine.ravel()))])
    (path,) = export_seg(out, tmp_path / "seg")
    seg = hd.seg.segread(path)
    frames = list(range(1, len(FRAME_ZS) + 1))
    pixels = seg.get_pixels_by_source_frame(source_sop_instance_uid=sop, source_frame_numbers=frames,
                                            segment_numbers=[1], assert_missing_frames_are_empty=True)[..., 0]
    by_frame = {f: z for f, z in zip(frames, FRAME_ZS)}
    slice_of_z = {z: k for k, z in enumerate(sorted(FRAME_ZS))}
    for f in frames:
        assert np.array_equal(pixels[f - 1] > 0, mask[slice_of_z[by_frame[f]]]), f
    for item in seg.PerFrameFunctionalGroupsSequence:
        source_frame = item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedFrameNumber
        assert float(item.PlanePositionSequence[0].ImagePositionPatient[2]) == by_frame[int(source_frame)]


def _one_frame_per_instance_study(tmp_path):
    """Three enhanced CT instances of one frame each (z = 4, 0, 2) and a GSPS line on the first, extracted."""
    study, series = generate_uid(), generate_uid()
    sops = [generate_uid() for _ in range(3)]
    src = tmp_path / "src"
    src.mkdir()
    for k, (z, sop) in enumerate(zip([4.0, 0.0, 2.0], sops)):
        write_enhanced_ct(src / f"ct{k}.dcm", [z], study, series, sop, series_number=3, size=32)
    write_line_gsps(src / "pr.dcm", study, series, sops[0], 1, [4.0, 16.0, 28.0, 16.0])
    out = tmp_path / "out"
    extract(src, out)
    return src, out, series


def test_enhanced_ct_with_one_frame_per_instance_has_a_volume(tmp_path):
    """Enhanced CT may hold one frame per instance: its position still lives in the functional groups, and a
    GSPS may cite it as frame 1 or not at all."""
    src, out, series = _one_frame_per_instance_study(tmp_path)
    (ct,) = [s for s in read_records(out, SeriesRecord) if s.series_uid == series]
    assert ct.geometry_status == "ok" and ct.n_slices == 3
    assert ct.pixel_spacing == [0.5, 0.5]  # from the functional groups: no top-level Pixel Spacing
    (ann,) = read_records(out, AnnotationRecord)
    assert ann.slice_index == 2 and ann.length_mm == 12.0  # z=4 is the top slice; 24 px x 0.5 mm
    assert [s.frame for s in load_volume([str(p) for p in sorted(src.glob("ct*.dcm"))]).geometry.slices] == [1, 1, 1]



def test_a_series_no_seg_can_be_made_from_is_quarantined_not_fatal(tmp_path):
    """Several enhanced instances in one series (highdicom cannot derive one SEG from them): that series goes to
    quarantine with its reason and the export carries on."""
    from curation.io.tables import read_records as read
    from schemas import QuarantineRecord

    src, out, series = _one_frame_per_instance_study(tmp_path)
    (ann,) = read_records(out, AnnotationRecord)
    (s,) = [s for s in read_records(out, SeriesRecord) if s.series_uid == series]
    mask = np.zeros((3, 32, 32), bool)
    mask[2, 10:20, 5:25] = True
    data, bbox = encode(mask, np.asarray(s.affine).reshape(4, 4))
    write_records(out, MaskRecord, [MaskRecord(mask_id="m1", annotation_id=ann.annotation_id, series_uid=series,
                                               backend="classical-cpu test", mask=data, bbox=bbox, affine=s.affine)])
    assert export_seg(out, tmp_path / "seg") == []
    (q,) = [q for q in read(out, QuarantineRecord) if q.stage == "export-seg"]
    assert q.entity_id == series and q.reason == "seg_export_refused" and "enhanced" in q.detail


@pytest.mark.parametrize("frames,slice_index,flag", [(5, 9, None), ([5, 6], None, "multiple_frames"),
                                                     (None, None, "frame_not_given")])
def test_sr_frame_references_are_resolved_or_flagged_like_gsps(tmp_path, frames, slice_index, flag):
    study, series, sop = generate_uid(), generate_uid(), generate_uid()
    write_enhanced_ct(tmp_path / "ct.dcm", FRAME_ZS, study, series, sop, series_number=3, size=64)
    ds = sr_container([measurement_group(sop, frames=frames)])
    ds.SOPInstanceUID, ds.StudyInstanceUID = generate_uid(), study
    (rec,), bad, _ = extract_sr(ds, "sr.dcm", ImageLookup([read_instance(tmp_path / "ct.dcm")]))
    assert not bad and rec.slice_index == slice_index and rec.length_mm == 12.0  # 24 px x 0.5 mm
    assert (flag in rec.flags) if flag else not {"multiple_frames", "frame_not_given"} & set(rec.flags)


def test_a_frame_number_the_image_does_not_have_is_flagged(tmp_path):
    study, series, sop = generate_uid(), generate_uid(), generate_uid()
    src = tmp_path / "src"
    src.mkdir()
    write_enhanced_ct(src / "ct.dcm", FRAME_ZS, study, series, sop, series_number=3, size=32)
    write_line_gsps(src / "pr.dcm", study, series, sop, len(FRAME_ZS) + 1, [4.0, 16.0, 28.0, 16.0])
    extract(src, tmp_path / "out")
    (ann,) = read_records(tmp_path / "out", AnnotationRecord)
    assert ann.slice_index is None and "frame_not_in_image" in ann.flags
