"""Pydicom datasets of a CT series in volume order (the order of curation.volume's slice index)."""
from __future__ import annotations

import pydicom

from curation.dicom.volume import build_geometry, slices_from_catalog
from curation.dicom.read import read_dicom


def sorted_series_datasets(paths: list[str]) -> list[pydicom.Dataset]:
    datasets = [read_dicom(p) for p in paths]
    for ds in datasets:
        if not ds.get("SpecificCharacterSet"):
            ds.SpecificCharacterSet = "ISO_IR 100"  # highdicom refuses sources without one
    refs = slices_from_catalog([{
        "sop_uid": str(ds.SOPInstanceUID), "image_position": [float(v) for v in ds.ImagePositionPatient],
        "image_orientation": [float(v) for v in ds.ImageOrientationPatient], "rows": int(ds.Rows),
        "columns": int(ds.Columns), "pixel_spacing": [float(v) for v in ds.PixelSpacing]} for ds in datasets])
    order = {s.sop_uid: i for i, s in enumerate(build_geometry(refs).slices)}
    return sorted(datasets, key=lambda ds: order[str(ds.SOPInstanceUID)])


def ct_series_paths(out) -> dict[str, list[str]]:
    """Series UID -> file paths of its CT images, from an output folder's catalog (or, in a de-identified copy,
    from its private path table, which maps pseudonymous series UIDs and is never published)."""
    from collections import defaultdict
    from pathlib import Path

    import pyarrow.parquet as pq

    from curation.io.tables import read_records
    from schemas import InstanceRecord

    private = Path(out) / "_private" / "ct_paths.parquet"
    if not (Path(out) / "instances").is_dir() and private.exists():
        t = pq.read_table(private).to_pydict()
        return defaultdict(list, zip(t["series_uid"], t["paths"]))
    paths: dict[str, list[str]] = defaultdict(list)
    for inst in read_records(out, InstanceRecord):
        if inst.category == "ct_image":
            paths[inst.series_uid].append(inst.path)
    return paths
