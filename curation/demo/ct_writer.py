"""Write a phantom as a CT Image Storage series with real geometry (IPP/IOP, spacing, rescale)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from curation.demo.phantom import Phantom

UID_ROOT = "1.2.826.0.1.3680043.10.1001."  # opseg demo root; all demo UIDs are derived from the seed


@dataclass
class StudyInfo:
    patient_id: str
    patient_name: str
    birth_date: str
    sex: str
    study_uid: str
    accession: str
    study_date: str
    description: str


def uid(*parts) -> str:
    return generate_uid(prefix=UID_ROOT, entropy_srcs=[str(p) for p in parts])


def base_dataset(study: StudyInfo, sop_class: str, sop_uid: str, series_uid: str, modality: str,
                 series_number: int, instance_number: int) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, sop_uid
    ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = study.patient_name, study.patient_id, study.birth_date, study.sex
    ds.StudyInstanceUID, ds.StudyDate, ds.StudyTime = study.study_uid, study.study_date, "101500"
    ds.AccessionNumber, ds.StudyID, ds.StudyDescription = study.accession, study.accession[-6:], study.description
    ds.ReferringPhysicianName = ""
    ds.SeriesInstanceUID, ds.SeriesNumber, ds.Modality = series_uid, series_number, modality
    ds.InstanceNumber = instance_number
    ds.Manufacturer = "opseg demo"
    return ds


def write_ct_series(phantom: Phantom, study: StudyInfo, folder: Path, series_uid: str, series_number: int,
                    instance_ascending_superior: bool, thickness: float, names: list[str]) -> list[Dataset]:
    """One file per slice; InstanceNumber runs up or down the body depending on the 'site'."""
    folder.mkdir(parents=True, exist_ok=True)
    n = phantom.hu.shape[0]
    for_uid = uid(study.study_uid, "for")
    stored = np.clip(np.round(phantom.hu + 1024.0), 0, 4095).astype(np.uint16)
    datasets = []
    for k in range(n):
        sop = uid(series_uid, k)
        inst = (k + 1) if instance_ascending_superior else (n - k)
        ds = base_dataset(study, CTImageStorage, sop, series_uid, "CT", series_number, inst)
        ds.SeriesDescription = f"AXIAL {thickness:g}mm"
        ds.FrameOfReferenceUID = for_uid
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.ImagePositionPatient = [float(v) for v in (phantom.origin + np.array([0, 0, k * phantom.slice_spacing]))]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing = [phantom.pixel_spacing, phantom.pixel_spacing]
        ds.SliceThickness = thickness
        ds.KVP = 120
        ds.Rows, ds.Columns = stored.shape[1:]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = -1024, 1, "HU"
        ds.WindowCenter, ds.WindowWidth = 40, 400
        ds.PixelData = stored[k].tobytes()
        ds.save_as(folder / names[k], enforce_file_format=True)
        datasets.append(ds)
    return datasets
