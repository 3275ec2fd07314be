"""Masks as bbox-cropped NIfTI bytes that paste back into the full volume.

The NIfTI affine is the full volume's affine moved to the crop's first voxel and converted to RAS (NIfTI's
convention); the row also keeps the bbox in voxel indices and the full LPS affine, so no header parsing is
needed to put a mask back.
"""
from __future__ import annotations

import gzip
import io

import nibabel as nib
import numpy as np

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def bbox_of(mask: np.ndarray) -> list[int]:
    """[c0, r0, s0, c1, r1, s1] (end exclusive) of a (slice, row, column) mask."""
    zs, rs, cs = (np.flatnonzero(mask.any(axis=ax)) for ax in ((1, 2), (0, 2), (0, 1)))
    return [int(cs[0]), int(rs[0]), int(zs[0]), int(cs[-1]) + 1, int(rs[-1]) + 1, int(zs[-1]) + 1]


def encode(mask: np.ndarray, affine_lps: np.ndarray) -> tuple[bytes, list[int]]:
    bbox = bbox_of(mask)
    c0, r0, s0, c1, r1, s1 = bbox
    crop = mask[s0:s1, r0:r1, c0:c1].transpose(2, 1, 0).astype(np.uint8)  # NIfTI order (column, row, slice)
    shifted = affine_lps.copy()
    shifted[:3, 3] = (affine_lps @ np.array([c0, r0, s0, 1.0]))[:3]
    img = nib.Nifti1Image(crop, LPS_TO_RAS @ shifted)
    img.header.set_xyzt_units("mm")
    raw = io.BytesIO()
    raw.write(img.to_bytes())
    return gzip.compress(raw.getvalue(), compresslevel=6, mtime=0), bbox


def decode(data: bytes) -> nib.Nifti1Image:
    return nib.Nifti1Image.from_bytes(gzip.decompress(data))


def paste(data: bytes, bbox: list[int], shape: tuple[int, int, int]) -> np.ndarray:
    """Back to a full (slice, row, column) boolean mask."""
    c0, r0, s0, c1, r1, s1 = bbox
    full = np.zeros(shape, bool)
    full[s0:s1, r0:r1, c0:c1] = np.asarray(decode(data).dataobj).transpose(2, 1, 0) > 0
    return full
