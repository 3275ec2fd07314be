"""CT series -> HU volume on a checked geometry.

Array layout is (slice, row, column); ``affine`` maps the index (column, row, slice, 1) to patient LPS mm,
the NIfTI convention once the array is transposed to (column, row, slice). Slices are sorted along the
normal of the image plane by Image Position (Patient) with highdicom's plane sort; build_geometry is the one
place that orders a series (the extract lookup, every volume load and the SEG export all go through it). Anything that would give a silently wrong volume
(missing or duplicate slices, mixed orientation/size/spacing) raises ``VolumeError`` with a reason.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
from highdicom.spatial import get_normal_vector, get_plane_sort_index

from curation.io.errors import ReasonedError
from curation.dicom.dicom_fast import value as fast_value
from curation.dicom.read import read_dicom

ORIENTATION_TOL = 1e-3
DUPLICATE_TOL_MM = 1e-3
GAP_FACTOR = 1.5
IRREGULAR_FRACTION = 0.1


class VolumeError(ReasonedError):
    """A series that does not form one regular volume."""


@dataclass(frozen=True)
class SliceRef:
    """One 2D image of a series: a single-frame instance or one frame of a multi-frame one."""

    sop_uid: str
    frame: Optional[int]  # 1-based for multi-frame instances, None for single-frame
    position: tuple[float, float, float]
    orientation: tuple[float, ...]
    rows: int
    columns: int
    pixel_spacing: tuple[float, float]
    path: str = ""


@dataclass
class SeriesGeometry:
    slices: list[SliceRef]          # sorted along the normal, index = slice index
    affine: np.ndarray              # 4x4, (column, row, slice) -> LPS mm
    slice_spacing: float
    rows: int
    columns: int
    pixel_spacing: tuple[float, float]  # (row, column) mm

    def slice_index(self, sop_uid: str, frame: Optional[int] = None) -> Optional[int]:
        for i, s in enumerate(self.slices):
            if s.sop_uid == sop_uid and (s.frame is None or frame is None or s.frame == frame):
                return i
        return None

    @functools.cached_property
    def index_by_ref(self) -> dict[tuple[str, Optional[int]], int]:
        return {(s.sop_uid, s.frame): i for i, s in enumerate(self.slices)}

    def pixel_to_patient(self, points_px: np.ndarray, slice_index: int) -> np.ndarray:
        """PIXEL-convention (column, row) points (pixel centre at +0.5) on a slice -> LPS mm."""
        pts = np.asarray(points_px, dtype=float).reshape(-1, 2) - 0.5
        ijk = np.column_stack([pts, np.full(len(pts), float(slice_index)), np.ones(len(pts))])
        return (ijk @ self.affine.T)[:, :3]


@dataclass
class Volume:
    hu: np.ndarray  # float32 (slice, row, column)
    geometry: SeriesGeometry
    series_uid: str = ""

    @property
    def affine(self) -> np.ndarray:
        return self.geometry.affine


def build_geometry(slices: Sequence[SliceRef]) -> SeriesGeometry:
    """Sort slices along the normal and check they form one regular volume."""
    if not slices:
        raise VolumeError("empty_series", "no image slices")
    missing = [s.sop_uid for s in slices if s.position is None or s.orientation is None or s.pixel_spacing is None]
    if missing:
        raise VolumeError("missing_geometry", f"{len(missing)} slice(s) lack position/orientation/spacing, e.g. {missing[0]}")
    iop = np.array(slices[0].orientation, dtype=float)
    if len(iop) != 6 or not np.all(np.isfinite(iop)) or np.abs(np.linalg.norm(iop.reshape(2, 3), axis=1) - 1).max() > 0.01 \
            or abs(float(np.dot(iop[:3], iop[3:]))) > 0.01:
        raise VolumeError("bad_orientation", f"{slices[0].sop_uid}: Image Orientation {list(iop)} is not two orthogonal unit vectors")
    spacing0 = np.array(slices[0].pixel_spacing, dtype=float)
    if len(spacing0) != 2 or not np.all(np.isfinite(spacing0)) or np.any(spacing0 <= 0):
        raise VolumeError("bad_pixel_spacing", f"{slices[0].sop_uid}: Pixel Spacing {list(spacing0)} is not two positive numbers")
    for s in slices:
        if np.max(np.abs(np.array(s.orientation, dtype=float) - iop)) > ORIENTATION_TOL:
            raise VolumeError("inconsistent_orientation", f"{s.sop_uid} has orientation {list(s.orientation)} vs {list(iop)}")
        if (s.rows, s.columns) != (slices[0].rows, slices[0].columns):
            raise VolumeError("inconsistent_size", f"{s.sop_uid} is {s.rows}x{s.columns}, first slice {slices[0].rows}x{slices[0].columns}")
        if np.max(np.abs(np.subtract(s.pixel_spacing, slices[0].pixel_spacing))) > 1e-4:
            raise VolumeError("inconsistent_spacing", f"{s.sop_uid} has pixel spacing {list(s.pixel_spacing)}")
    row_dir, col_dir = iop[:3], iop[3:]
    pos = np.array([s.position for s in slices], dtype=float)
    # highdicom's plane sort, along row x column ("RD": the slice axis of this module's affine); the checks
    # below are ours because highdicom's volume test (get_volume_positions) says None without a reason
    order = np.asarray(get_plane_sort_index(pos, iop, index_convention="RD"), dtype=int)
    dist = pos @ get_normal_vector(iop, index_convention="RD")
    sorted_slices = [slices[i] for i in order]
    d = dist[order]
    steps = np.diff(d)
    if len(steps) and np.min(steps) < DUPLICATE_TOL_MM:
        i = int(np.argmin(steps))
        raise VolumeError("duplicate_slices",
                          f"{sorted_slices[i].sop_uid} and {sorted_slices[i + 1].sop_uid} share position {d[i]:.3f} mm along the normal")
    dr, dc = (float(v) for v in slices[0].pixel_spacing)
    if len(steps):
        median = float(np.median(steps))
        if np.max(steps) > GAP_FACTOR * median:
            i = int(np.argmax(steps))
            raise VolumeError("missing_slices",
                              f"gap of {steps[i]:.2f} mm after slice {i} ({sorted_slices[i].sop_uid}); regular spacing is {median:.2f} mm")
        if np.max(np.abs(steps - median)) > IRREGULAR_FRACTION * median:
            raise VolumeError("irregular_spacing", f"slice steps range {steps.min():.3f}-{steps.max():.3f} mm")
        step_vec = (pos[order[-1]] - pos[order[0]]) / (len(order) - 1)
        spacing = median
    else:
        step_vec, spacing = np.cross(row_dir, col_dir), 1.0
    affine = np.eye(4)
    affine[:3, 0] = row_dir * dc
    affine[:3, 1] = col_dir * dr
    affine[:3, 2] = step_vec
    affine[:3, 3] = pos[order[0]]
    return SeriesGeometry(sorted_slices, affine, float(spacing), slices[0].rows, slices[0].columns, (dr, dc))


def slices_from_catalog(rows: Sequence[dict]) -> list[SliceRef]:
    """SliceRefs from catalog rows (single-frame instances) without reading any file."""
    out = []
    for r in rows:
        out.append(SliceRef(
            sop_uid=r["sop_uid"], frame=None,
            position=tuple(r["image_position"]) if r.get("image_position") else None,
            orientation=tuple(r["image_orientation"]) if r.get("image_orientation") else None,
            rows=r.get("rows") or 0, columns=r.get("columns") or 0,
            pixel_spacing=tuple(r["pixel_spacing"]) if r.get("pixel_spacing") else None, path=r.get("path", "")))
    return out


def frame_refs(ds, path: str) -> list[SliceRef]:
    """Frames of an enhanced (multi-frame) CT instance from its functional groups."""
    shared = ds.get("SharedFunctionalGroupsSequence", [None])[0]
    refs = []
    for n, fg in enumerate(ds.PerFrameFunctionalGroupsSequence, start=1):
        def pick(seq_name, attr):
            for src in (fg, shared):
                if src is not None and seq_name in src and attr in src[seq_name][0]:
                    return src[seq_name][0][attr].value
            return None
        refs.append(SliceRef(
            sop_uid=str(ds.SOPInstanceUID), frame=n,
            position=tuple(float(v) for v in pick("PlanePositionSequence", "ImagePositionPatient") or ()) or None,
            orientation=tuple(float(v) for v in pick("PlaneOrientationSequence", "ImageOrientationPatient") or ()) or None,
            rows=int(ds.Rows), columns=int(ds.Columns),
            pixel_spacing=tuple(float(v) for v in pick("PixelMeasuresSequence", "PixelSpacing") or ()) or None,
            path=path))
    return refs


def _floats(ds, keyword: str) -> Optional[list[float]]:
    v = fast_value(ds, keyword)
    return None if v is None or v == "" else [float(x) for x in (v if isinstance(v, (list, tuple)) else [v])] or None


def slice_refs(ds, path: str = "") -> list[SliceRef]:
    """The 2D images of one CT instance: each frame of an enhanced (multi-frame) one, else the instance itself.
    A single frame's values come straight from the raw header bytes (curation.dicom.dicom_fast: the numbers pydicom
    gives, without its per-element conversion, which was a sixth of decoding a series)."""
    if "PerFrameFunctionalGroupsSequence" in ds:
        return frame_refs(ds, path)
    sop = fast_value(ds, "SOPInstanceUID")
    return slices_from_catalog([{
        "sop_uid": str(ds.SOPInstanceUID if sop is None else sop),
        "image_position": _floats(ds, "ImagePositionPatient"), "image_orientation": _floats(ds, "ImageOrientationPatient"),
        "rows": int(fast_value(ds, "Rows", 0) or 0), "columns": int(fast_value(ds, "Columns", 0) or 0),
        "pixel_spacing": _floats(ds, "PixelSpacing"), "path": path}])


def _rescale(ds, frame_fg=None) -> tuple[float, float]:
    """Slope/intercept from the frame's functional group, else the shared one, else the top level."""
    src = ds
    shared = ds.get("SharedFunctionalGroupsSequence", [None])[0]
    for fg in (frame_fg, shared):
        if fg is not None and "PixelValueTransformationSequence" in fg:
            src = fg.PixelValueTransformationSequence[0]
            break
    return float(fast_value(src, "RescaleSlope", 1.0) or 1.0), float(fast_value(src, "RescaleIntercept", 0.0) or 0.0)


def load_volume(paths: Sequence[str], series_uid: str = "", whole_as_int16: bool = False) -> Volume:
    """Read the pixel data of a CT series (single- or multi-frame) into HU on a checked geometry.

    ``whole_as_int16``: HU comes as int16 when every slice's rescale gives whole numbers in int16's range (the
    volume cache's stored form, the same numbers), skipping a float32 pass and the check that it was whole; else
    (from the first slice that is not: the slices before it are carried over), and always without it, float32."""
    from pydicom.pixels import pixel_array   # its decoders' import (~0.5 s) only where pixels are decoded

    datasets = []
    for p in paths:
        try:
            datasets.append((p, read_dicom(p)))
        except Exception as exc:
            raise VolumeError("unreadable_slice", f"{p}: {type(exc).__name__}: {exc}") from None
    refs: list[SliceRef] = []
    pixels: dict[tuple[str, Optional[int]], tuple] = {}
    for p, ds in datasets:
        for r in slice_refs(ds, p):
            refs.append(r)
            pixels[(r.sop_uid, r.frame)] = (ds, r.frame)
    geometry = build_geometry(refs)
    hu = np.empty((len(geometry.slices), geometry.rows, geometry.columns),
                  dtype=np.int16 if whole_as_int16 else np.float32)
    for i, s in enumerate(geometry.slices):
        ds, frame = pixels[(s.sop_uid, s.frame)]
        fg = None if frame is None else ds.PerFrameFunctionalGroupsSequence[frame - 1]
        slope, intercept = _rescale(ds, fg)
        try:   # pydicom's decoder, as ds.pixel_array calls it, without its cache's per-call element checks
            arr = pixel_array(ds) if frame is None else pixel_array(ds, index=frame - 1)
        except Exception as exc:
            raise VolumeError("bad_pixel_data", f"{s.path}: {type(exc).__name__}: {exc}") from None
        if arr.shape != hu.shape[1:]:   # e.g. an RGB secondary capture or a frame of another size in the series
            raise VolumeError("bad_pixel_data", f"{s.path}: pixel array {arr.shape}, the series' slices are "
                                                f"{hu.shape[1:]} (rows, columns)")
        if hu.dtype == np.int16:
            if _into_int16(hu[i], arr, slope, intercept):
                continue
            hu = _as_float32(hu, i)   # this slice's HU are not whole or leave int16: float32 from here on
        out = hu[i]
        out[...] = arr   # in place, float32 throughout: the numbers of arr.astype(float32) * slope + intercept
        if slope != 1.0:   # x * 1 is x to the bit
            out *= slope
        out += intercept
    return Volume(hu=hu, geometry=geometry, series_uid=series_uid)


def _into_int16(out: np.ndarray, arr: np.ndarray, slope: float, intercept: float) -> bool:
    """One slice's whole-number HU written into int16 ``out``; False (nothing written) when its rescale or pixel
    data are not whole numbers or its HU could leave int16's range."""
    if arr.dtype.kind not in "iu" or not (float(slope).is_integer() and float(intercept).is_integer()):
        return False
    ends = (float(arr.min()) * slope + intercept, float(arr.max()) * slope + intercept)
    if min(ends) < -32768 or max(ends) > 32767:
        return False
    if slope == 1.0:   # exact in int32, cast once into the slice
        np.add(arr, int(intercept), out=out, dtype=np.int32, casting="unsafe")
    else:
        out[...] = arr.astype(np.int32) * int(slope) + int(intercept)
    return True


def _as_float32(hu: np.ndarray, done: int) -> np.ndarray:
    """The volume as float32, its first ``done`` int16 slices carried over (exact: whole numbers in int16's range
    are float32 numbers, the ones the float32 decode gives), the rest to be decoded into it."""
    out = np.empty(hu.shape, dtype=np.float32)
    out[:done] = hu[:done]
    return out
