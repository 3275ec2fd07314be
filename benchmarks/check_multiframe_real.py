"""Enhanced multi-frame CT on a real series: the TotalSegmentator example CT (20 real slices, JPEG 2000) as
shipped and converted with highdicom to a Legacy Converted Enhanced CT (one instance, 20 frames, stored in an
order that is not the volume's), then compared through extract, volume loading, linking and SEG export.

    python benchmarks/check_multiframe_real.py [--data ../shared/real-data/totalseg-example]

Prints: the slice axis against the independent NIfTI conversion shipped with the data, HU differences between
the two encodings, the liver label (TotalSegmentator id 5) through SEG export and back for both, each SEG frame's
position against its source frame, and the link of a report's "image N" (a frame number) to a mark on that frame.
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import highdicom as hd
import nibabel as nib
import numpy as np
import pydicom

from curation.dicom.volume import load_volume
from curation.extract.stage import extract
from curation.io.tables import read_records, write_records
from curation.publish.seg_export import export_seg
from linking.stage import run_link
from schemas import AnnotationRecord, LinkRecord, MaskRecord, SeriesRecord
from schemas.mask_nifti import encode

LIVER = 5


def line_gsps(path: Path, image, frame, points):
    """A PIXEL line on the image, or on one frame of a multi-frame one (written with highdicom)."""
    layer = hd.pr.GraphicLayer(layer_name="L", order=1)
    line = hd.pr.GraphicObject(graphic_type=hd.pr.GraphicTypeValues.POLYLINE, graphic_data=np.asarray(points, float),
                               units=hd.pr.AnnotationUnitsValues.PIXEL)
    annotation = hd.pr.GraphicAnnotation(referenced_images=[image], graphic_layer=layer, graphic_objects=[line],
                                         referenced_frame_number=frame)
    hd.pr.GrayscaleSoftcopyPresentationState(
        referenced_images=[image], series_instance_uid=hd.UID(), series_number=99, sop_instance_uid=hd.UID(),
        instance_number=1, manufacturer="opseg", manufacturer_model_name="check", software_versions="0",
        device_serial_number="0", content_label="CHECK", graphic_layers=[layer], graphic_annotations=[annotation],
        specific_character_set="ISO_IR 100").save_as(path)


def liver_mask(data: Path, shape) -> np.ndarray:
    """The label map shipped with the data is (column, row, slice) with rows flipped (its affine): to (slice, row, column)."""
    lab = np.asanyarray(nib.load(data / "example_seg_dicom.nii.gz").dataobj)
    mask = (lab == LIVER).transpose(2, 1, 0)[:, ::-1, :]
    assert mask.shape == shape, (mask.shape, shape)
    return mask


def seg_back(out: Path, mask: np.ndarray, target: Path):
    """Write the mask as the masks table and export SEG: (the SEG read back, {(source SOP, source frame or 0): z of
    the SEG frame from its per-frame functional group}, export seconds)."""
    (ann,) = read_records(out, AnnotationRecord)
    (s,) = [s for s in read_records(out, SeriesRecord) if s.category == "ct_image"]
    affine = np.asarray(s.affine).reshape(4, 4)
    data, bbox = encode(mask, affine)
    write_records(out, MaskRecord, [MaskRecord(mask_id="liver", annotation_id=ann.annotation_id, series_uid=s.series_uid,
                                               backend="totalsegmentator label", mask=data, bbox=bbox, affine=list(affine.ravel()))])
    t = time.perf_counter()
    (path,) = export_seg(out, target)
    seconds = time.perf_counter() - t
    seg = hd.seg.segread(path)
    refs = {}
    for fg in seg.PerFrameFunctionalGroupsSequence:
        src = fg.DerivationImageSequence[0].SourceImageSequence[0]
        refs[(src.ReferencedSOPInstanceUID, int(src.get("ReferencedFrameNumber", 0) or 0))] = \
            float(fg.PlanePositionSequence[0].ImagePositionPatient[2])
    return seg, refs, seconds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "real-data" / "totalseg-example")
    args = ap.parse_args()
    paths = sorted((args.data / "example_ct_dicom").iterdir())
    tmp = Path(tempfile.mkdtemp(prefix="opseg-mf-"))
    single = load_volume([str(p) for p in paths[::-1]])
    ref_affine = nib.load(args.data / "example_seg_dicom.nii.gz").affine
    print(f"slice axis z step / origin: opseg {single.affine[2, 2]:.3f} / {single.affine[2, 3]:.3f} mm, "
          f"shipped NIfTI {ref_affine[2, 2]:.3f} / {ref_affine[2, 3]:.3f} mm")
    mask = liver_mask(args.data, single.hu.shape)
    k = int(np.argmax(mask.sum(axis=(1, 2))))  # the slice with the most liver
    rows, cols = np.nonzero(mask[k])
    a, b = np.array([cols.min() + 0.5, rows.mean()]), np.array([cols.max() + 0.5, rows.mean()])

    datasets = [pydicom.dcmread(p) for p in paths]
    for ds in datasets:
        ds.decompress(generate_instance_uid=False)  # pydicom 3 would give each slice a new SOP Instance UID
    t = time.perf_counter()
    mf = hd.legacy.LegacyConvertedEnhancedCTImage(legacy_datasets=datasets, series_instance_uid=hd.UID(), series_number=5,
                                                 sop_instance_uid=hd.UID(), instance_number=1)
    print(f"highdicom legacy conversion: {mf.NumberOfFrames} frames in {time.perf_counter() - t:.2f} s")
    results = {}
    for name in ("single-frame", "multi-frame"):
        src = tmp / name / "archive"
        src.mkdir(parents=True)
        if name == "single-frame":
            for p in paths:
                (src / p.name).write_bytes(p.read_bytes())
            image, frame = next(d for d in datasets if str(d.SOPInstanceUID) == single.geometry.slices[k].sop_uid), None
            number = int(image.InstanceNumber)
        else:
            mf.save_as(src / "enhanced_ct.dcm")
            image, frame = mf, single_frame_of(mf, single.geometry.slices[k].position[2])
            number = frame
        line_gsps(src / "line.dcm", image, frame, [a, b])
        series_number = int(image.SeriesNumber)
        report = tmp / name / "report.jsonl"
        size = np.linalg.norm(b - a) * single.geometry.pixel_spacing[1]
        report.write_text(json.dumps({"accession_number": str(image.AccessionNumber), "text":
                                      f"FINDINGS: Liver lesion measures {size:.0f} mm (series {series_number}, image {number})."}) + "\n")
        out = tmp / name / "out"
        extract(src, out, reports=[report])
        vol = load_volume([str(p) for p in sorted(src.glob("*")) if p.name != "line.dcm"])
        run_link(out)
        links = read_records(out, LinkRecord)
        seg, positions, seconds = seg_back(out, mask, tmp / name / "seg")
        results[name] = (vol, seg)
        geo = vol.geometry
        z_err = max(abs(z - float(geo.slices[geo.index_by_ref[(uid, f or None)]].position[2])) for (uid, f), z in positions.items())
        print(f"{name}: {len(geo.slices)} slices, mark on image {number} -> link "
              f"{[(x.tier, [e for e in x.evidence if e.startswith('image_ref')]) for x in links]}, "
              f"SEG export {seconds:.2f} s, {len(positions)} SEG frames, max |z(SEG frame) - z(source)| = {z_err:.4f} mm")
    (v1, _), (v2, _) = results["single-frame"], results["multi-frame"]
    print(f"HU max |single - multi| = {float(np.abs(v1.hu - v2.hu).max()):.1f}")
    for name, (vol, seg) in results.items():
        back = seg_in_volume_order(seg, vol.geometry)
        print(f"{name} SEG read back: {int(back.sum())} liver voxels of {int(mask.sum())}, "
              f"voxels differing: {int((back != mask).sum())}")
    shutil.rmtree(tmp)


def seg_in_volume_order(seg, geometry) -> np.ndarray:
    """The SEG's segment 1 per source image or frame, put back in the volume's slice order."""
    slices = geometry.slices
    if slices[0].frame is None:
        return seg.get_pixels_by_source_instance(source_sop_instance_uids=[s.sop_uid for s in slices], segment_numbers=[1],
                                                 assert_missing_frames_are_empty=True)[..., 0] > 0
    frames = sorted(s.frame for s in slices)
    back = seg.get_pixels_by_source_frame(source_sop_instance_uid=slices[0].sop_uid, source_frame_numbers=frames,
                                          segment_numbers=[1], assert_missing_frames_are_empty=True)[..., 0] > 0
    out = np.zeros_like(back)
    out[[geometry.index_by_ref[(slices[0].sop_uid, f)] for f in frames]] = back
    return out


def single_frame_of(mf, z: float) -> int:
    for n, fg in enumerate(mf.PerFrameFunctionalGroupsSequence, start=1):
        if abs(float(fg.PlanePositionSequence[0].ImagePositionPatient[2]) - z) < 1e-3:
            return n
    raise ValueError(f"no frame at z={z}")


if __name__ == "__main__":
    main()
