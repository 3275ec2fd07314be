"""Broken files for the demo archive's bad-input mode: each must end in quarantine or a flag, never a crash."""
from __future__ import annotations

import copy
from pathlib import Path

import pydicom


def write_bad_input(out: Path, sidecar: list[dict]) -> int:
    bad = out / "dicom" / "bad"
    bad.mkdir(parents=True, exist_ok=True)
    ct = next(p for p in sorted(out.rglob("*.dcm")) if pydicom.dcmread(p, stop_before_pixels=True).Modality == "CT")
    raw = ct.read_bytes()
    (bad / "truncated_slice.dcm").write_bytes(raw[: len(raw) // 2])
    (bad / "notes.txt").write_text("scanner notes: not a DICOM file\n")
    gsps_path = next(p for p in sorted(out.rglob("*.dcm")) if pydicom.dcmread(p, stop_before_pixels=True).Modality == "PR"
                     and any("GraphicObjectSequence" in it for it in pydicom.dcmread(p).GraphicAnnotationSequence))
    ds = pydicom.dcmread(gsps_path)
    missing = copy.deepcopy(ds)  # a shallow copy would share (and corrupt) the sequences of ds
    missing.SOPInstanceUID = missing.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID + ".901"
    for s in missing.ReferencedSeriesSequence:
        s.SeriesInstanceUID = s.SeriesInstanceUID + ".999"
        for im in s.ReferencedImageSequence:
            im.ReferencedSOPInstanceUID = im.ReferencedSOPInstanceUID + ".999"
    for item in missing.GraphicAnnotationSequence:
        for im in item.get("ReferencedImageSequence", []):
            im.ReferencedSOPInstanceUID = im.ReferencedSOPInstanceUID + ".999"
    missing.save_as(bad / "gsps_missing_series.dcm", enforce_file_format=True)
    broken = copy.deepcopy(ds)
    broken.SOPInstanceUID = broken.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID + ".902"
    objs = [o for item in broken.GraphicAnnotationSequence for o in item.get("GraphicObjectSequence", [])]
    if objs:
        objs[0].GraphicData = list(objs[0].GraphicData)[:-1]          # odd number of values
    if len(objs) > 1:
        objs[1].GraphicData = [float("nan")] + list(objs[1].GraphicData)[1:]
    broken.save_as(bad / "gsps_malformed.dcm", enforce_file_format=True)
    sidecar.append({"accession_number": "ACC-NOT-IN-ARCHIVE", "report_text": "FINDINGS:\nNo acute findings.",
                    "report_date": "2025-01-01"})
    return 4
