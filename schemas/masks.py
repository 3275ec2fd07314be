"""3D masks produced by the segmentation stage."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pyarrow as pa

from schemas.base import Record, col


@dataclass(kw_only=True)
class MaskRecord(Record):
    TABLE = "masks"
    DOC = "One row per segmented annotation: a bbox-cropped NIfTI plus what is needed to paste it back."
    mask_id: str = col(pa.string(), "Stable id: annotation_id + backend + checkpoint")
    annotation_id: str = col(pa.string(), "Annotation the prompt came from")
    series_uid: str = col(pa.string(), "CT series segmented")
    backend: str = col(pa.string(), "classical-cpu <version> | sam2ct <version>")
    checkpoint: Optional[str] = col(pa.string(), "Checkpoint name + sha256 prefix, or null", None)
    mask: Optional[bytes] = col(pa.binary(), "NIfTI-1 (gzip) bytes cropped to the bbox", None)
    bbox: Optional[list] = col(pa.list_(pa.int64()), "[c0, r0, s0, c1, r1, s1] voxel indices, end exclusive", None)
    affine: Optional[list] = col(pa.list_(pa.float64()), "Full-volume voxel->LPS affine (4x4 row-major)", None)
    volume_ml: Optional[float] = col(pa.float64(), "Mask volume in millilitres", None)
    n_slices: Optional[int] = col(pa.int64(), "Slices the mask spans", None)
    slice_range: Optional[list] = col(pa.list_(pa.int64()), "[first, last] slice indices (inclusive)", None)
    recist_long_mm: Optional[float] = col(pa.float64(), "Longest in-plane diameter over slices", None)
    recist_short_mm: Optional[float] = col(pa.float64(), "Longest perpendicular diameter on that slice", None)
    stop_reason_superior: Optional[str] = col(pa.string(), "Why propagation stopped going up", None)
    stop_reason_inferior: Optional[str] = col(pa.string(), "Why propagation stopped going down", None)
    score: Optional[float] = col(pa.float64(), "Model confidence where the backend gives one", None)
    error: Optional[str] = col(pa.string(), "Why no mask was produced", None)
