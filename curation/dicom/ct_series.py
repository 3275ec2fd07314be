"""Pydicom datasets (headers) of a CT series in volume order (the order of curation.dicom.volume's slice index)."""
from __future__ import annotations

import pydicom

from curation.dicom.read import read_dicom
from curation.dicom.volume import SeriesGeometry, build_geometry, slice_refs


def series_datasets(paths: list[str]) -> tuple[list[pydicom.Dataset], SeriesGeometry]:
    """The series' datasets (single-frame ones sorted into volume order) and the geometry, from the one sorter
    (volume.build_geometry) on the same SliceRefs a volume load uses, so enhanced multi-frame CT works too."""
    # headers only: what a derived object (DICOM SEG) copies from its sources; pixels are the volume cache's
    datasets = [read_dicom(p, stop_before_pixels=True) for p in paths]
    for ds in datasets:
        if not ds.get("SpecificCharacterSet"):
            ds.SpecificCharacterSet = "ISO_IR 100"  # highdicom refuses sources without one
    geometry = build_geometry([r for p, ds in zip(paths, datasets) for r in slice_refs(ds, p)])
    first = {}
    for i, s in enumerate(geometry.slices):
        first.setdefault(s.sop_uid, i)
    return sorted(datasets, key=lambda ds: first[str(ds.SOPInstanceUID)]), geometry


def sorted_series_datasets(paths: list[str]) -> list[pydicom.Dataset]:
    return series_datasets(paths)[0]


def source_frame_slices(datasets: list[pydicom.Dataset], geometry: SeriesGeometry) -> list[int]:
    """Slice index of each source frame, in the order highdicom pairs source frames with SEG frames: the
    datasets in order and, within a multi-frame one, frames 1..N (which need not be in volume order)."""
    index = geometry.index_by_ref
    out = []
    for ds in datasets:
        uid = str(ds.SOPInstanceUID)
        if "PerFrameFunctionalGroupsSequence" in ds:
            out += [index[(uid, f)] for f in range(1, len(ds.PerFrameFunctionalGroupsSequence) + 1)]
        else:
            out.append(index[(uid, None)])
    return out
