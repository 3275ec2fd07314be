"""Pydicom datasets (headers) of a CT series in volume order (the order of curation.dicom.volume's slice index)."""
from __future__ import annotations

import pydicom

from curation.dicom.volume import build_geometry, slices_from_catalog
from curation.dicom.read import read_dicom


def sorted_series_datasets(paths: list[str]) -> list[pydicom.Dataset]:
    """Headers only: what a derived object (DICOM SEG) copies from its sources; the pixels are the volume cache's."""
    datasets = [read_dicom(p, stop_before_pixels=True) for p in paths]
    for ds in datasets:
        if not ds.get("SpecificCharacterSet"):
            ds.SpecificCharacterSet = "ISO_IR 100"  # highdicom refuses sources without one
    refs = slices_from_catalog([{
        "sop_uid": str(ds.SOPInstanceUID), "image_position": [float(v) for v in ds.ImagePositionPatient],
        "image_orientation": [float(v) for v in ds.ImageOrientationPatient], "rows": int(ds.Rows),
        "columns": int(ds.Columns), "pixel_spacing": [float(v) for v in ds.PixelSpacing]} for ds in datasets])
    order = {s.sop_uid: i for i, s in enumerate(build_geometry(refs).slices)}
    return sorted(datasets, key=lambda ds: order[str(ds.SOPInstanceUID)])
