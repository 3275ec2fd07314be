"""A small MSD-style NIfTI dataset (imagesTr/ + labelsTr/) from the demo phantom, for training and
evaluation smoke runs where no public dataset can be downloaded. Label 1 = lesion."""
from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from curation.demo.phantom import make_phantom


def write_nifti_dataset(out: Path, n_cases: int = 2, size: int = 128, seed: int = 0, pixel_mm: float = 1.5,
                        n_slices: int = 40, slice_mm: float = 3.0) -> Path:
    out = Path(out)
    (out / "imagesTr").mkdir(parents=True, exist_ok=True)
    (out / "labelsTr").mkdir(parents=True, exist_ok=True)
    affine = np.diag([-pixel_mm, -pixel_mm, slice_mm, 1.0])  # LPS-sorted phantom -> RAS
    for i in range(n_cases):
        p = make_phantom(np.random.default_rng([seed, i]), size, pixel_mm, n_slices, slice_mm, 3)
        name = f"case_{i:03d}.nii.gz"
        nib.save(nib.Nifti1Image(np.round(p.hu).astype(np.int16).transpose(2, 1, 0), affine), out / "imagesTr" / name)
        nib.save(nib.Nifti1Image((p.lesions_mask > 0).astype(np.uint8).transpose(2, 1, 0), affine), out / "labelsTr" / name)
    return out
