"""Masks compared in patient space, so masks on different reconstructions of one frame of reference (another slice
thickness, another grid) can be matched: each mask's voxel centres are mapped through its affine into the other's
voxel grid. On one grid this is the exact voxel overlap; across grids it is the overlap volume estimated from both
sides and averaged."""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from schemas import MaskRecord
from schemas.mask_nifti import decode


@dataclass
class PatientMask:
    crop: np.ndarray            # bool (column, row, slice) crop as stored
    offset: np.ndarray          # (c0, r0, s0)
    affine: np.ndarray          # voxel (column, row, slice) -> LPS mm
    centres: np.ndarray         # (n, 3) LPS mm of the mask's voxel centres
    voxel_ml: float

    @classmethod
    def of(cls, m: MaskRecord) -> "PatientMask":
        crop = np.asarray(decode(m.mask).dataobj) > 0
        offset = np.asarray(m.bbox[:3], float)
        affine = np.asarray(m.affine, float).reshape(4, 4)
        idx = np.argwhere(crop) + offset
        centres = idx @ affine[:3, :3].T + affine[:3, 3]
        return cls(crop, offset, affine, centres, abs(float(np.linalg.det(affine[:3, :3]))) / 1000.0)

    @property
    def volume_ml(self) -> float:
        return len(self.centres) * self.voxel_ml

    # a study's masks are compared pairwise (n^2 calls): what depends on one mask only is computed once
    @functools.cached_property
    def centroid(self) -> np.ndarray:
        return self.centres.mean(axis=0)

    @functools.cached_property
    def _inverse(self) -> np.ndarray:
        return np.linalg.inv(self.affine)

    @functools.cached_property
    def _extent(self) -> tuple[np.ndarray, np.ndarray]:
        return self.centres.min(axis=0), self.centres.max(axis=0)

    def contains(self, lps: np.ndarray) -> np.ndarray:
        """For each LPS point: does it fall in a voxel of this mask (nearest voxel centre)?"""
        inv = self._inverse
        idx = np.rint(lps @ inv[:3, :3].T + inv[:3, 3] - self.offset).astype(np.int64)
        inside = np.all((idx >= 0) & (idx < np.array(self.crop.shape)), axis=1)
        hit = np.zeros(len(lps), bool)
        hit[inside] = self.crop[tuple(idx[inside].T)]
        return hit

    def distance_mm(self, lps: np.ndarray) -> float:
        """From a patient-space point to the nearest voxel centre of the mask."""
        return float(np.linalg.norm(self.centres - lps, axis=1).min()) if len(self.centres) else float("inf")

    def box(self, margin: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self._extent
        return lo - margin, hi + margin


@dataclass
class Overlap:
    iou: float
    dice: float
    centroid_distance_mm: float


def overlap(a: PatientMask, b: PatientMask) -> Overlap:
    distance = float(np.linalg.norm(a.centroid - b.centroid))
    lo_a, hi_a = a.box(2.0)
    lo_b, hi_b = b.box(2.0)
    if np.any(hi_a < lo_b) or np.any(hi_b < lo_a) or not len(a.centres) or not len(b.centres):
        return Overlap(0.0, 0.0, distance)
    inter = 0.5 * (int(b.contains(a.centres).sum()) * a.voxel_ml + int(a.contains(b.centres).sum()) * b.voxel_ml)
    va, vb = a.volume_ml, b.volume_ml
    union = va + vb - inter
    return Overlap(inter / union if union > 0 else 0.0, 2 * inter / (va + vb) if va + vb > 0 else 0.0, distance)
