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
    mask_id: str = col(pa.string(), "Stable id: annotation_id + backend + checkpoint", phi="key")
    annotation_id: str = col(pa.string(), "Annotation the prompt came from", phi="key")
    series_uid: str = col(pa.string(), "CT series segmented", phi="uid", dicom="SeriesInstanceUID")
    backend: str = col(pa.string(), "classical-cpu <version> | sam2ct <version>", phi="none")
    checkpoint: Optional[str] = col(pa.string(), "Checkpoint name + sha256 prefix, or null", None, phi="path")
    mask: Optional[bytes] = col(pa.binary(), "NIfTI-1 (gzip) bytes cropped to the bbox", None, phi="image")
    bbox: Optional[list] = col(pa.list_(pa.int64()), "[c0, r0, s0, c1, r1, s1] voxel indices, end exclusive", None,
        phi="numeric")
    affine: Optional[list] = col(pa.list_(pa.float64()), "Full-volume voxel->LPS affine (4x4 row-major)", None,
        phi="numeric")
    volume_ml: Optional[float] = col(pa.float64(), "Mask volume in millilitres", None, phi="numeric")
    n_slices: Optional[int] = col(pa.int64(), "Slices the mask spans", None, phi="numeric")
    slice_range: Optional[list] = col(pa.list_(pa.int64()), "[first, last] slice indices (inclusive)", None,
        phi="numeric")
    recist_long_mm: Optional[float] = col(pa.float64(), "Longest in-plane diameter over slices", None, phi="numeric")
    recist_short_mm: Optional[float] = col(pa.float64(), "Longest perpendicular diameter on that slice", None,
        phi="numeric")
    stop_reason_superior: Optional[str] = col(pa.string(), "Why propagation stopped going up", None, phi="code")
    stop_reason_inferior: Optional[str] = col(pa.string(), "Why propagation stopped going down", None, phi="code")
    score: Optional[float] = col(pa.float64(), "Model confidence where the backend gives one", None, phi="numeric")
    error: Optional[str] = col(pa.string(), "Why no mask was produced", None, phi="free_text")
