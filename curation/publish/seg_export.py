"""Masks back to PACS: one BINARY DICOM SEG per CT series, one segment per mask, written with highdicom."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
from pydicom.sr.codedict import codes
from pydicom.valuerep import format_number_as_ds

from curation import __version__
from curation.dicom.ct_series import catalog_series_datasets, source_frame_slices
from curation.io.partition import Partition
from curation.dicom.volume import VolumeError
from curation.publish.seg_writer import LesionSegmentation, iod_lookups_memoised
from schemas import AnnotationRecord, InstanceRecord, MaskRecord, QuarantineRecord
from schemas.mask_nifti import crop

LESION_CATEGORY = codes.SCT.MorphologicallyAbnormalStructure
LESION_TYPE = codes.SCT.Lesion
SEG_SERIES_NUMBER = 900


def _segment_stack(ms: list[MaskRecord], crops: list[np.ndarray], shape: tuple[int, int, int],
                   planes: list[int]) -> np.ndarray:
    """The volume slices ``planes`` (in that order) as the (plane, row, column, segment) stack highdicom takes for
    overlapping segments, stored segment-major: highdicom reads it one segment's frame at a time, and each such
    frame is then contiguous."""
    row = {z: i for i, z in enumerate(planes)}
    stack = np.zeros((len(ms), len(planes), *shape[1:]), np.uint8)
    for k, (m, c) in enumerate(zip(ms, crops)):
        c0, r0, s0, c1, r1, s1 = m.bbox
        stack[k, [row[z] for z in range(s0, s1)], r0:r1, c0:c1] = c
    return np.moveaxis(stack, 0, -1)


def _segment_array(ms: list[MaskRecord], shape: tuple[int, int, int], planes: list[int]) -> np.ndarray:
    """The volume slices ``planes`` (ascending, each mask's slices among them) as a label map (segment i+1 where
    mask i is) when no two masks share a voxel, which highdicom checks in one pass; else the segment stack it
    needs for overlapping segments. Each mask is decoded once and only its bbox crop is written."""
    crops = [crop(m.mask) for m in ms]
    row = {z: i for i, z in enumerate(planes)}
    labels = np.zeros((len(planes), *shape[1:]), np.uint8 if len(ms) < 255 else np.uint16)
    for i, (m, c) in enumerate(zip(ms, crops), start=1):
        c0, r0, s0, c1, r1, s1 = m.bbox
        region = labels[row[s0]:row[s0] + s1 - s0, r0:r1, c0:c1]
        if region[c].any():
            return _segment_stack(ms, crops, shape, planes)
        region[c] = i
    return labels


def _mask_slices(ms: list[MaskRecord]) -> list[int]:
    """The slices some mask's bbox reaches, ascending: the only planes highdicom is given, since its per-pixel
    checks (the segments' overlap, empty frames) cost as much on a plane no mask reaches as on one it does."""
    return sorted({z for m in ms for z in range(m.bbox[2], m.bbox[5])})


def _state_slice_spacing(first: pydicom.Dataset, positions: list["hd.PlanePositionSequence"]) -> None:
    """highdicom records the spacing of the planes it is given as SpacingBetweenSlices unless the first source
    image states one; given only the slices masks reach, a gap between masks would drop it. So the first source
    (opseg's in-memory copy of its header) states the spacing highdicom finds over the masks' whole slice range."""
    if "SpacingBetweenSlices" in first:
        return
    orientation = hd.PlaneOrientationSequence(hd.CoordinateSystemNames.PATIENT, first.ImageOrientationPatient)
    spacing, _ = hd.spatial.get_volume_positions(np.array([p[0].ImagePositionPatient for p in positions]),
                                                 orientation[0].ImageOrientationPatient)
    if spacing is not None:
        first.SpacingBetweenSlices = format_number_as_ds(spacing)


def export_seg(out: Path, target: Path) -> list[Path]:
    """Every series of OUT (library use; the pipeline runs export_partition per partition)."""
    return export_partition(Partition(Path(out), stage="export-seg"), target)


def export_partition(part: Partition, target: Path) -> list[Path]:
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    masks = [m for m in part.read(MaskRecord) if m.error is None]
    anns = {a.annotation_id: a for a in part.read(AnnotationRecord)}
    instances = defaultdict(list)
    for i in part.read(InstanceRecord):
        if i.category == "ct_image":
            instances[i.series_uid].append(i)
    by_series = defaultdict(list)
    for m in masks:
        by_series[m.series_uid].append(m)
    written, bad = [], []
    for series_uid, ms in sorted(by_series.items()):
        try:
            seg = _series_seg(series_uid, sorted(ms, key=lambda m: m.mask_id), instances[series_uid], anns)
        except (ValueError, KeyError, VolumeError, AttributeError) as exc:  # one series refused, the others exported
            reason = exc.reason if isinstance(exc, VolumeError) else "seg_export_refused"
            bad.append(QuarantineRecord(stage="export-seg", path=min((i.path for i in instances[series_uid]), default=""),
                                        entity_id=series_uid, reason=reason,
                                        detail=f"series {series_uid}: {type(exc).__name__}: {exc}"))
            continue
        path = target / f"seg_{series_uid}.dcm"
        seg.save_as(path)
        written.append(path)
    part.write(QuarantineRecord, bad)
    return written


def _series_seg(series_uid: str, ms: list[MaskRecord], instances: list[InstanceRecord], anns: dict) -> "hd.seg.Segmentation":
    """One BINARY SEG of a series' masks (raises ValueError / VolumeError for a series it cannot be made from)."""
    datasets, geometry = catalog_series_datasets(instances)
    shape = (len(geometry.slices), geometry.rows, geometry.columns)
    if any("PerFrameFunctionalGroupsSequence" in ds for ds in datasets):
        if len(datasets) > 1:
            raise ValueError(f"series {series_uid}: {len(datasets)} enhanced (functional-group) CT instances; "
                             "highdicom derives a SEG from one such image or from classic single-frame ones")
        # masks are in volume order; SEG frames follow the source frames, whose positions highdicom copies from
        # each frame's functional groups (a multi-frame CT's frames need not be stored in volume order)
        stack = _segment_stack(ms, [crop(m.mask) for m in ms], shape, source_frame_slices(datasets, geometry))
        planes = None
    else:
        slices = _mask_slices(ms)
        stack = _segment_array(ms, shape, slices)
        every = {z: hd.PlanePositionSequence(hd.CoordinateSystemNames.PATIENT, datasets[z].ImagePositionPatient)
                 for z in range(slices[0], slices[-1] + 1)}
        _state_slice_spacing(datasets[0], list(every.values()))
        planes = [every[z] for z in slices]
    descriptions = []
    for i, m in enumerate(ms, start=1):
        a = anns.get(m.annotation_id)
        algorithm = hd.AlgorithmIdentificationSequence(
            name=m.backend.split(" (")[0], version=__version__, family=codes.cid7162.ArtificialIntelligence,
            parameters={"checkpoint": m.checkpoint or "none", "prompt": a.kind if a else "?"})
        descriptions.append(hd.seg.SegmentDescription(
            segment_number=i, segment_label=f"lesion {i} ({a.kind if a else 'mask'})"[:64],
            segmented_property_category=LESION_CATEGORY, segmented_property_type=LESION_TYPE,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC, algorithm_identification=algorithm,
            tracking_uid=hd.UID(), tracking_id=m.mask_id))
    with iod_lookups_memoised():
        return LesionSegmentation(
            source_images=datasets, pixel_array=stack, plane_positions=planes,
            segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=descriptions, series_instance_uid=hd.UID(), series_number=SEG_SERIES_NUMBER,
            sop_instance_uid=hd.UID(), instance_number=1, manufacturer="opseg", manufacturer_model_name="opseg",
            software_versions=__version__, device_serial_number="0", content_label="LESIONS", omit_empty_frames=True)
