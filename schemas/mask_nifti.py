"""The masks table's `mask` column: bbox-cropped NIfTI bytes that paste back into the full volume (part of the contract).

The NIfTI affine is the full volume's affine moved to the crop's first voxel and converted to RAS (NIfTI's
convention); the row also keeps the bbox in voxel indices and the full LPS affine, so no header parsing is
needed to put a mask back.
"""
from __future__ import annotations

import gzip

import nibabel as nib
import numpy as np

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def bbox_of(mask: np.ndarray) -> list[int]:
    """[c0, r0, s0, c1, r1, s1] (end exclusive) of a (slice, row, column) mask. Rows and columns are read on the
    slab of slices the mask occupies: one pass over the whole volume, not three."""
    zs = np.flatnonzero(mask.any(axis=(1, 2)))
    slab = mask[zs[0]:zs[-1] + 1] if len(zs) else mask
    rs, cs = (np.flatnonzero(slab.any(axis=ax)) for ax in ((0, 2), (0, 1)))
    return [int(cs[0]), int(rs[0]), int(zs[0]), int(cs[-1]) + 1, int(rs[-1]) + 1, int(zs[-1]) + 1]


def nifti_bytes(array_srq: np.ndarray, affine_lps: np.ndarray) -> bytes:
    """A (slice, row, column) array on an LPS voxel->mm affine as uncompressed NIfTI-1 (RAS) bytes. The transposed
    view of a C-ordered array is already in NIfTI's (Fortran) order, so nibabel writes it without a copy."""
    img = nib.Nifti1Image(array_srq.transpose(2, 1, 0), LPS_TO_RAS @ affine_lps)
    img.header.set_xyzt_units("mm")
    return img.to_bytes()


def nifti_gz(array_srq: np.ndarray, affine_lps: np.ndarray, level: int = 6) -> bytes:
    """nifti_bytes gzipped, byte-stable (mtime 0)."""
    return gzip.compress(nifti_bytes(array_srq, affine_lps), compresslevel=level, mtime=0)


def encode(mask: np.ndarray, affine_lps: np.ndarray, origin: tuple[int, int, int] = (0, 0, 0)) -> tuple[bytes, list[int]]:
    """(the mask column's bytes, bbox in the volume); ``origin``: the (slice, row, column) of mask's first voxel when
    it is only the part of the volume the mask can be set in (a backend's solved box), so the bbox is found without
    reading the whole volume."""
    c0, r0, s0, c1, r1, s1 = bbox_of(mask)
    bbox = [v + origin[2 - i % 3] for i, v in enumerate((c0, r0, s0, c1, r1, s1))]
    shifted = affine_lps.copy()
    shifted[:3, 3] = (affine_lps @ np.array([*bbox[:3], 1.0]))[:3]
    return nifti_gz(mask[s0:s1, r0:r1, c0:c1].astype(np.uint8), shifted), bbox


def decode(data: bytes) -> nib.Nifti1Image:
    return nib.Nifti1Image.from_bytes(gzip.decompress(data))


def crop(data: bytes) -> np.ndarray:
    """The stored bbox crop as a (slice, row, column) boolean mask (its first voxel is the bbox corner)."""
    return np.asarray(decode(data).dataobj).transpose(2, 1, 0) > 0


def paste(data: bytes, bbox: list[int], shape: tuple[int, int, int]) -> np.ndarray:
    """Back to a full (slice, row, column) boolean mask."""
    c0, r0, s0, c1, r1, s1 = bbox
    full = np.zeros(shape, bool)
    full[s0:s1, r0:r1, c0:c1] = crop(data)
    return full
