"""End-to-end figures on a generated demo archive: the pipeline's stage breakdown, then how masks are stored
in the published dataset (bbox-cropped NIfTI, as opseg does) against the naive way (a full-volume NIfTI per
lesion). Prints a markdown table for docs/benchmarks.md.

    python benchmarks/bench_publish.py [--studies 6]
"""
from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from curation.dicom.cache import series_volumes
from curation.demo import generate_archive
from curation.io.query import connect
from curation.pipeline.run import run_pipeline
from schemas.mask_nifti import nifti_gz, paste


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--studies", type=int, default=6)
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        demo = Path(tmp) / "demo"
        t0 = time.perf_counter()
        generate_archive(demo, seed=0, n_studies=args.studies, bad_input=True)
        gen_s = time.perf_counter() - t0
        out = Path(tmp) / "out"
        t0 = time.perf_counter()
        reps = run_pipeline(demo / "dicom", out, reports=[demo / "reports.jsonl"], shards=3, truth=demo,
                            seg_dir=Path(tmp) / "seg")
        total = time.perf_counter() - t0
        con = connect(out)
        n_masks = con.sql("select count(*) from masks where error is null").fetchall()[0][0]
        print(f"\n{args.studies} studies, {n_masks} masks; demo archive generated in {gen_s:.1f} s\n")
        print("| stage | seconds | share |\n|---|---|---|")
        for r in reps:
            print(f"| {r.name} | {r.seconds:.2f} | {r.seconds / total:.0%} |")
        print(f"| **pipeline total** | **{total:.2f}** | |")
        rerun0 = time.perf_counter()
        run_pipeline(demo / "dicom", out, reports=[demo / "reports.jsonl"], shards=3, truth=demo, seg_dir=Path(tmp) / "seg")
        print(f"| rerun (all markers present) | {time.perf_counter() - rerun0:.2f} | |")

        rows = con.sql("select mask, bbox, series_uid from masks where error is null order by mask_id").fetchall()
        cached = series_volumes(out)
        volumes = {s: cached.load(s) for s in {r[2] for r in rows}}
        crop_bytes = sum(len(r[0]) for r in rows)
        t0 = time.perf_counter()
        full_bytes = 0
        for data, bbox, series in rows:
            vol = volumes[series]
            full_bytes += len(nifti_gz(paste(data, bbox, vol.hu.shape).astype(np.uint8), vol.affine))
        full_s = time.perf_counter() - t0
        shape = next(iter(volumes.values())).hu.shape
        print(f"\n| mask storage ({len(rows)} lesions, volumes like {shape[2]}x{shape[1]}x{shape[0]}) | bytes per lesion "
              f"| encode s per lesion |\n|---|---|---|")
        print(f"| bbox-cropped NIfTI (opseg) | {crop_bytes / len(rows):,.0f} | (done in segment) |")
        print(f"| full-volume NIfTI (naive) | {full_bytes / len(rows):,.0f} | {full_s / len(rows):.3f} |")
        print(f"| ratio naive / opseg | {full_bytes / crop_bytes:.0f}x | |")
        hf = out / "hf"
        data_mb = sum(p.stat().st_size for p in (hf / "data").rglob("*.parquet")) / 1e6
        vol_mb = sum(p.stat().st_size for p in (hf / "volumes").glob("*.nii.gz")) / 1e6
        print(f"\npublished folder: tables {data_mb:.2f} MB, CT volumes {vol_mb:.1f} MB "
              f"({len(list((hf / 'volumes').glob('*.nii.gz')))} files)")


if __name__ == "__main__":
    main()
