"""Pydicom datasets (headers) of a CT series in volume order (the order of curation.dicom.volume's slice index)."""
from __future__ import annotations

import pydicom
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.uid import CTImageStorage

from curation.dicom.read import read_dicom
from curation.dicom.volume import SeriesGeometry, build_geometry, slice_refs, slices_from_catalog
from schemas import InstanceRecord


def series_datasets(paths: list[str]) -> tuple[list[pydicom.Dataset], SeriesGeometry]:
    """The series' datasets (single-frame ones sorted into volume order) and the geometry, from the one sorter
    (volume.build_geometry) on the same SliceRefs a volume load uses, so enhanced multi-frame CT works too."""
    # headers only: what a derived object (DICOM SEG) copies from its sources; pixels are the volume cache's
    datasets = [_with_charset(read_dicom(p, stop_before_pixels=True)) for p in paths]
    geometry = build_geometry([r for p, ds in zip(paths, datasets) for r in slice_refs(ds, p)])
    first = {}
    for i, s in enumerate(geometry.slices):
        first.setdefault(s.sop_uid, i)
    return sorted(datasets, key=lambda ds: first[str(ds.SOPInstanceUID)]), geometry


def _with_charset(ds: pydicom.Dataset) -> pydicom.Dataset:
    if not ds.get("SpecificCharacterSet"):
        ds.SpecificCharacterSet = "ISO_IR 100"  # highdicom refuses sources without one
    return ds


def catalog_series_datasets(instances: list[InstanceRecord]) -> tuple[list[pydicom.Dataset], SeriesGeometry]:
    """series_datasets for a series of single-frame instances, reading one header instead of all: the first
    image in volume order is read (a derived object copies its patient, study and equipment modules), the
    others are made from their catalog rows with what a derived object takes from every source: identifiers,
    image size and plane geometry (values as the index parsed them from the same files). Enhanced (functional-
    group) CT keeps its geometry where the catalog does not look: any series but classic CT is read whole."""
    if len(instances) < 2 or any(i.sop_class_uid != CTImageStorage or (i.n_frames or 1) > 1 for i in instances):
        return series_datasets([i.path for i in instances])
    geometry = build_geometry(slices_from_catalog([i.to_row() for i in instances]))
    by_uid = {i.sop_uid: i for i in instances}
    order = list(dict.fromkeys(s.sop_uid for s in geometry.slices))
    stand_in = _StandIns()
    return [_with_charset(read_dicom(by_uid[order[0]].path, stop_before_pixels=True))] + \
        [stand_in(by_uid[uid]) for uid in order[1:]], geometry


class _StandIns:
    """Source images from catalog rows: datasets holding what a derived object takes from every source. A series'
    images mostly share their values (UIDs, size, orientation, spacing): each distinct value is made one element,
    shared by every stand-in that holds it, so pydicom parses a series' DS values once, not per image (setting
    them image by image was ≈ 0.2 ms an image); the stand-ins are only read."""

    def __init__(self):
        self.elements: dict[tuple, DataElement] = {}

    def __call__(self, i: InstanceRecord) -> pydicom.Dataset:
        values = {"SOPClassUID": i.sop_class_uid, "SOPInstanceUID": i.sop_uid, "StudyInstanceUID": i.study_uid,
                  "SeriesInstanceUID": i.series_uid, "Rows": i.rows, "Columns": i.columns,
                  "ImagePositionPatient": i.image_position, "ImageOrientationPatient": i.image_orientation,
                  "PixelSpacing": i.pixel_spacing}
        if i.frame_of_reference_uid:
            values["FrameOfReferenceUID"] = i.frame_of_reference_uid
        elements = [self._element(keyword, value) for keyword, value in values.items()]
        return pydicom.Dataset({e.tag: e for e in elements})

    def _element(self, keyword: str, value) -> DataElement:
        key = (keyword, tuple(value) if isinstance(value, list) else value)
        if key not in self.elements:
            tag = tag_for_keyword(keyword)
            self.elements[key] = DataElement(tag, dictionary_VR(tag), value)
        return self.elements[key]


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
