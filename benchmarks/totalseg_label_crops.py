"""Real abdominal anatomy in ``opseg eval``'s crop layout: each label of the TotalSegmentator example's small CT
(122 x 101 x 30 at 3 mm, CC BY 4.0) that holds 100-30,000 voxels becomes a case (the CT, and that label's largest
component as its mask), for a look at prompt rules away from lung nodules and on coarse pixels.

    python benchmarks/totalseg_label_crops.py OUT [--data ../shared/real-data/totalseg-example]
    opseg eval OUT        # or calibrate_qc.py OUT

The labels are the tool's own model outputs for organs, bones and muscles, not lesions, and a point or an arrow on
an organ is no reader's mark: use the figures to compare two backends' versions, not as lesion Dice.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "real-data" / "totalseg-example"
VOXELS = (100, 30_000)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = ap.parse_args()
    ct = nib.load(args.data / "example_ct_sm.nii.gz")
    seg = nib.load(args.data / "example_seg.nii.gz")
    labels = np.asarray(seg.dataobj).astype(int)
    (args.out / "image").mkdir(parents=True, exist_ok=True)
    (args.out / "mask").mkdir(parents=True, exist_ok=True)
    ids, counts = np.unique(labels, return_counts=True)
    n = 0
    for i, c in zip(ids, counts):
        if i == 0 or not VOXELS[0] <= c <= VOXELS[1]:
            continue
        comp, k = ndimage.label(labels == i)
        sizes = ndimage.sum_labels(np.ones_like(comp), comp, range(1, k + 1))
        mask = (comp == 1 + int(np.argmax(sizes))).astype(np.uint8)
        name = f"TS_{i:03d}_R_1.nii.gz"   # opseg eval's case naming: patient TS_<label>, one lesion
        nib.save(nib.Nifti1Image(np.asarray(ct.dataobj), ct.affine, ct.header), args.out / "image" / name)
        nib.save(nib.Nifti1Image(mask, seg.affine), args.out / "mask" / name)
        n += 1
    print(f"{n} label crops in {args.out}")


if __name__ == "__main__":
    main()
