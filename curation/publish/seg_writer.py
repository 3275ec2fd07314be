"""highdicom's SEG with three of its costs cut, the same SEG (docs/benchmarks.md, issue 13: "Output stages' CPU").

- highdicom checks whether overlapping segments, given as a (plane, row, column, segment) stack, do overlap by
  summing the stack over its segments in numpy's default accumulator, uint64: 8 bytes written per voxel and
  segment (63 ms for 25 planes of 384² and 15 segments; 0.7-1.0 CPU s over the demo's 18 such stacks).
  ``LesionSegmentation`` sums a binary uint8 stack of fewer than 256 segments in uint8, which cannot overflow
  there (15x faster), and gives the same answer; any other input takes highdicom's own check.
- highdicom asks ``is_multiframe_image`` of every source image twice (matching planes to sources, then their
  positions), and each answer is ``is_attribute_in_iod('NumberOfFrames', SOPClassUID)``: a linear scan of the
  IOD's modules' attribute lists (≈ 0.25 ms; 2,365 scans for the demo's 25 series, ≈ 0.6 CPU s). Its answer
  depends on its arguments and highdicom's fixed standard tables only, so it is memoised while a SEG is built.
- highdicom's constructor ends by building the look-up tables its queries use (an in-memory SQLite table of the
  frames, the referenced instances; ≈ 6 ms a SEG, 0.15 CPU s for the demo's 25), which are not part of the SEG:
  export-seg only saves it. ``LesionSegmentation`` builds them on the first query instead.

highdicom's standard tables (a 22 MB module-attribute JSON among them: ≈ 0.5 CPU s and 70 MB per process) load on
the first SEG of a process; ``load_standard_tables`` loads them ahead (export-seg's stage setup, made once in the
pipeline's parent, so every forked worker inherits them) and ``release_standard_tables`` lets them go.
"""
from __future__ import annotations

import functools
from contextlib import contextmanager
from typing import Iterator, Optional, Sequence

import highdicom as hd
import highdicom._standard_utils as hd_standard
import numpy as np

_scan_iod = hd_standard.is_attribute_in_iod
_STANDARD_TABLES = (hd_standard.get_sop_class_iod_map, hd_standard.get_iod_module_map,
                    hd_standard.get_module_attribute_map)   # each an lru_cache over a JSON file highdicom ships


# what highdicom's _build_luts sets on the image (tests/test_seg_writer.py checks the list against highdicom's)
LUT_ATTRIBUTES = frozenset({"_file_reader", "_is_tiled_full", "_dim_ind_pointers", "_dim_ind_col_names",
                            "_missing_reference_instances", "_db_con", "_has_frame_references"})


class LesionSegmentation(hd.seg.Segmentation):
    """highdicom's Segmentation with its overlap check on a binary uint8 segment stack summed in uint8, and its
    look-up tables built when a query first needs them."""

    def _build_luts(self) -> None:
        self.__dict__["_luts_pending"] = True

    def __getattr__(self, name: str):
        if name in LUT_ATTRIBUTES and self.__dict__.pop("_luts_pending", False):
            super()._build_luts()
            return getattr(self, name)
        return super().__getattr__(name)

    @classmethod
    def _check_and_cast_pixel_array(cls, pixel_array, segment_numbers, segmentation_type, dtype):
        if (isinstance(pixel_array, np.ndarray) and pixel_array.ndim == 4 and pixel_array.dtype == np.uint8
                and 1 < pixel_array.shape[-1] == len(segment_numbers) < 256
                and hd.seg.SegmentationTypeValues(segmentation_type) == hd.seg.SegmentationTypeValues.BINARY):
            top = pixel_array.max()
            if top <= 1:   # else highdicom's own check refuses it
                overlap = top == 1 and np.add.reduce(pixel_array, axis=-1, dtype=np.uint8).max() > 1
                return pixel_array, hd.seg.SegmentsOverlapValues.YES if overlap else hd.seg.SegmentsOverlapValues.NO
        return super()._check_and_cast_pixel_array(pixel_array, segment_numbers, segmentation_type, dtype)


@functools.lru_cache(maxsize=None)
def _in_iod(attribute: str, sop_class_uid: str, excluded: Optional[tuple[str, ...]]) -> bool:
    return _scan_iod(attribute, sop_class_uid, None if excluded is None else list(excluded))


def _memoised_in_iod(attribute: str, sop_class_uid: str, exclude_path_elements: Optional[Sequence[str]] = None) -> bool:
    excluded = None if exclude_path_elements is None else tuple(exclude_path_elements)
    return _in_iod(attribute, str(sop_class_uid), excluded)


@contextmanager
def iod_lookups_memoised() -> Iterator[None]:
    """highdicom's ``is_attribute_in_iod`` (which its ``is_multiframe_image`` calls) memoised for the block."""
    replaced = hd_standard.is_attribute_in_iod
    hd_standard.is_attribute_in_iod = _memoised_in_iod
    try:
        yield
    finally:
        hd_standard.is_attribute_in_iod = replaced


def load_standard_tables() -> None:
    """The tables highdicom reads while it builds a SEG (which IOD a SOP class is, its modules, their attributes)."""
    for table in _STANDARD_TABLES:
        table()


def release_standard_tables() -> None:
    """Forget them (highdicom loads them again when next asked): processes forked later do not carry 70 MB."""
    for table in _STANDARD_TABLES:
        table.cache_clear()
