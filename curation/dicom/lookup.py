"""What the extractors need to know about referenced images, built once from the catalog."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Optional

import numpy as np


from curation.dicom.volume import SeriesGeometry, VolumeError, build_geometry, slice_refs, slices_from_catalog
from schemas import InstanceRecord, SeriesRecord
from curation.dicom.read import read_dicom


@dataclass
class ImageInfo:
    sop_uid: str
    series_uid: str
    study_uid: str
    rows: Optional[int]
    columns: Optional[int]
    n_frames: Optional[int]
    pixel_spacing: Optional[list]
    imager_pixel_spacing: Optional[list]
    category: str
    geometry: Optional[SeriesGeometry] = None  # the CT volume this image belongs to, when it forms one

    def slice_index(self, frame: Optional[int]) -> Optional[int]:
        """A frame of a multi-frame image must be named; a one-frame image is found whether or not it is cited as
        frame 1 and whether its geometry came from the functional groups (enhanced CT: frame 1) or not."""
        if self.geometry is None:
            return None
        index = self.geometry.index_by_ref
        if (self.n_frames or 1) > 1:
            return index.get((self.sop_uid, frame))
        return index.get((self.sop_uid, None), index.get((self.sop_uid, 1)))


class ImageLookup:
    """SOP Instance UID -> ImageInfo, and Series UID -> geometry, for the whole catalog."""

    def __init__(self, instances: list[InstanceRecord]):
        self.images: dict[str, ImageInfo] = {}
        self.geometries: dict[str, SeriesGeometry] = {}
        self.geometry_errors: dict[str, VolumeError] = {}
        self.series_instances: dict[str, list[InstanceRecord]] = defaultdict(list)
        for inst in instances:
            self.series_instances[inst.series_uid].append(inst)
        for series_uid, insts in self.series_instances.items():
            if insts[0].category != "ct_image":
                continue
            try:
                # enhanced CT (any number of frames) keeps positions in functional groups: read them from the header
                if any((i.n_frames or 1) > 1 or not i.image_position for i in insts):
                    refs = [r for i in insts for r in slice_refs(read_dicom(i.path, stop_before_pixels=True), i.path)]
                else:
                    refs = slices_from_catalog([i.to_row() for i in insts])
                self.geometries[series_uid] = build_geometry(refs)
            except VolumeError as exc:
                self.geometry_errors[series_uid] = exc
        for inst in instances:
            if inst.category in ("ct_image", "image"):
                geo = self.geometries.get(inst.series_uid)
                spacing = inst.pixel_spacing or (list(geo.pixel_spacing) if geo else None)  # enhanced CT: functional groups
                self.images[inst.sop_uid] = ImageInfo(
                    inst.sop_uid, inst.series_uid, inst.study_uid, inst.rows, inst.columns, inst.n_frames,
                    spacing, inst.imager_pixel_spacing, inst.category, geo)

    def get(self, sop_uid: Optional[str]) -> Optional[ImageInfo]:
        return self.images.get(sop_uid) if sop_uid else None

    def series_records(self) -> list[SeriesRecord]:
        out = []
        for series_uid, insts in sorted(self.series_instances.items()):
            first = insts[0]
            geo = self.geometries.get(series_uid)
            err = self.geometry_errors.get(series_uid)
            out.append(SeriesRecord(
                series_uid=series_uid, study_uid=first.study_uid, category=first.category, modality=first.modality,
                series_number=first.series_number, description=first.series_description, n_instances=len(insts),
                rows=first.rows, columns=first.columns,
                pixel_spacing=first.pixel_spacing or (list(geo.pixel_spacing) if geo else None),  # enhanced CT: groups
                slice_spacing_mm=geo.slice_spacing if geo else None, slice_thickness=first.slice_thickness,
                n_slices=len(geo.slices) if geo else None,
                affine=[float(v) for v in np.asarray(geo.affine).ravel()] if geo else None,
                geometry_status=("ok" if geo else "error" if err else None),
                geometry_error=str(err) if err else None))
        return out
