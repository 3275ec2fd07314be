"""The whole path on a real compressed DICOM series: GSPS marks drawn on a real CT (JPEG 2000 from
../shared/real-data/totalseg-example) -> ``opseg extract`` -> ``opseg segment`` -> Dice against the organ map.

    python benchmarks/real_dicom_path.py [TOTALSEG_DIR] [--label 1] [--kinds line,bidimensional,arrow]

The organ map (TotalSegmentator's own output, no lesions) stands in for truth: a structure of the given label id
(default 1 = spleen) is marked like a lesion on its largest slice, as a radiologist would mark a finding. Prints
the annotations extracted, the masks and their Dice, seconds per stage.
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
from scipy import ndimage

from curation.demo.ct_writer import StudyInfo, uid
from curation.demo.gsps_styles import DemoMark, write_gsps
from curation.dicom.volume import load_volume
from curation.extract.stage import extract
from curation.io.tables import read_records
from schemas import AnnotationRecord, MaskRecord
from schemas.mask_nifti import paste
from segmentation.evaluate import dice
from segmentation.real_prompts import real_prompt
from segmentation.stage import run_segment

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "real-data" / "totalseg-example"


def organ_on_volume(label_path: Path, vol, label: int) -> np.ndarray:
    """The label map resampled (nearest) onto the DICOM volume's (slice, row, column) grid via patient space."""
    img = nib.load(label_path)
    lab = np.asarray(img.dataobj)
    s, r, c = np.meshgrid(*(np.arange(n) for n in vol.hu.shape), indexing="ij")
    ijk = np.stack([c.ravel(), r.ravel(), s.ravel(), np.ones(c.size)])
    lps = vol.affine @ ijk
    ras = lps * np.array([-1, -1, 1, 1])[:, None]
    vox = np.rint(np.linalg.inv(img.affine) @ ras)[:3].astype(int)
    ok = np.all((vox >= 0) & (vox < np.array(lab.shape)[:, None]), axis=0)
    out = np.zeros(c.size, bool)
    out[ok] = lab[vox[0, ok], vox[1, ok], vox[2, ok]] == label
    comp, n = ndimage.label(out.reshape(vol.hu.shape))
    if n == 0:
        raise SystemExit(f"label {label} not in {label_path}")
    return comp == 1 + int(np.argmax(ndimage.sum_labels(np.ones_like(comp), comp, np.arange(1, n + 1))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data", nargs="?", type=Path, default=DEFAULT)
    ap.add_argument("--label", type=int, default=1)
    ap.add_argument("--kinds", default="line,bidimensional,arrow", help="marks the GSPS writer draws: line, bidimensional, arrow")
    args = ap.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)
    paths = sorted(str(p) for p in (args.data / "example_ct_dicom").iterdir())
    vol = load_volume(paths)
    truth = organ_on_volume(args.data / "example_seg_dicom.nii.gz", vol, args.label)
    spacing = (vol.geometry.slice_spacing, *vol.geometry.pixel_spacing)
    by_sop = {pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID: p for p in paths}
    cts = [pydicom.dcmread(by_sop[s.sop_uid], stop_before_pixels=True) for s in vol.geometry.slices]
    first = cts[0]
    study = StudyInfo(str(first.PatientID), str(first.get("PatientName", "")), str(first.get("PatientBirthDate", "")),
                      str(first.get("PatientSex", "")), str(first.StudyInstanceUID), str(first.get("AccessionNumber", "")),
                      str(first.get("StudyDate", "")), "real CT with GSPS marks")
    marks = []
    rng = np.random.default_rng(0)
    for kind in args.kinds.split(","):
        p = real_prompt(kind, truth, spacing, rng)
        pts = (np.array([p.points[0], p.tip]) if kind == "arrow" else p.points)[:, ::-1]
        length = p.length_px * spacing[1] if p.length_px else None
        short = p.short_px * spacing[1] if p.short_px else None
        marks.append(DemoMark(f"m-{kind}", 1, kind, pts, cts[p.slice_index], p.slice_index, length, short))
    with tempfile.TemporaryDirectory() as tmp:
        archive, out = Path(tmp) / "archive", Path(tmp) / "out"
        archive.mkdir()
        for p in paths:
            shutil.copy(p, archive)
        for i, m in enumerate(marks):  # one GSPS per mark, as readers save one presentation state at a time
            write_gsps("standard", [m], study, uid(study.study_uid, "pr", i), uid(study.study_uid, "pr", i, 1), 90 + i,
                       cts).save_as(archive / f"pr{i}.dcm", enforce_file_format=True)
        t = time.perf_counter()
        extract(archive, out, workers=1)
        t_extract = time.perf_counter() - t
        summary = run_segment(out)
        anns = {a.annotation_id: a for a in read_records(out, AnnotationRecord)}
        print(f"{args.data.name}: {len(paths)} slices, {pydicom.dcmread(paths[0]).file_meta.TransferSyntaxUID.name}; "
              f"label {args.label}: {int(truth.sum())} voxels on {int(truth.any(axis=(1, 2)).sum())} slices")
        print(f"extract {t_extract:.1f} s, segment {summary.seconds:.1f} s\n")
        print("| mark | extracted as | backend | Dice vs organ map | error |\n|---|---|---|---|---|")
        for m in read_records(out, MaskRecord):
            a = anns[m.annotation_id]
            d = dice(paste(m.mask, m.bbox, truth.shape), truth) if m.error is None else 0.0
            print(f"| {a.kind} on slice {a.slice_index} | {a.kind} | {m.backend} | {d:.3f} | {m.error or '—'} |")


if __name__ == "__main__":
    main()
