"""End to end: `opseg run` on a demo archive, in MB of archive per second, against the naive floor of reading
every file and decoding every CT image once (pydicom, one process), in the same run on the same machine; peak RSS.

    python benchmarks/bench_pipeline.py [--archive DIR | --studies 20] [--workers 2] [--shards 4]

The archive is `opseg demo-archive DIR --studies N` (generated into a temporary folder when --archive is not
given). The pipeline runs as `opseg run ARCHIVE OUT --reports DIR/reports.jsonl --seg SEG` in a child process
(de-identification, publish with CT volumes, report and DICOM SEG export included), after one untimed pass that
puts the archive in the page cache, so both figures read warm files. Then, on the run's own output, the floor:
the CPU of the pieces no run can skip (pipeline_floor.py), and the MB/s it allows on the run's cores.
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pydicom


def archive_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def read_and_decode_once(files: list[Path]) -> tuple[float, int]:
    """The naive floor: every file read with pydicom, every CT image's pixels decoded once."""
    t0 = time.perf_counter()
    n_ct = 0
    for f in files:
        try:
            ds = pydicom.dcmread(f)
            if ds.get("Modality") == "CT" and "PixelData" in ds:
                ds.pixel_array
                n_ct += 1
        except Exception:
            continue  # the demo's planted bad input (`--bad-input`: unreadable headers, truncated pixel data)
    return time.perf_counter() - t0, n_ct


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--archive", type=Path, help="a demo archive folder (DIR with dicom/ and reports.jsonl)")
    ap.add_argument("--studies", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2, help="0: leave the option out (an opseg without --workers)")
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--no-floor", action="store_true", help="skip pipeline_floor.py's pieces (~30 s) after the run")
    args = ap.parse_args()
    load = os.getloadavg()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} at start")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        demo = args.archive
        if demo is None:
            from curation.demo import generate_archive

            demo = tmp / "demo"
            generate_archive(demo, seed=0, n_studies=args.studies)
        files = archive_files(demo / "dicom")
        mb = sum(f.stat().st_size for f in files) / 1e6
        for f in files:  # page cache
            f.read_bytes()
        naive_s, n_ct = read_and_decode_once(files)
        out, seg = tmp / "out", tmp / "seg"
        cmd = [sys.executable, "-c", "from curation.cli import main; main()", "run", str(demo / "dicom"), str(out),
               "--reports", str(demo / "reports.jsonl"), "--seg", str(seg), "--shards", str(args.shards)]
        cmd += ["--workers", str(args.workers)] if args.workers else []
        env = {**os.environ, "OPSEG_DEID_SECRET": os.environ.get("OPSEG_DEID_SECRET", "bench-pipeline-secret-0123456789"),
               "COLUMNS": "120"}
        t0, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
        res = subprocess.run(cmd, env=env, capture_output=True, text=True)
        run_s = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if res.returncode:
            sys.exit(f"opseg run failed:\n{res.stdout}\n{res.stderr}")
        rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        rerun_s = time.perf_counter() - t0
        print(res.stdout)
        print(f"archive: {len(files)} files ({n_ct} CT images), {mb:.0f} MB; workers {args.workers}, shards {args.shards}")
        print("| measurement | seconds | MB/s | ratio to naive |\n|---|---|---|---|")
        print(f"| read + decode every CT file once (pydicom, 1 process) | {naive_s:.2f} | {mb / naive_s:.1f} | 1.00 |")
        print(f"| `opseg run` end to end (incl. start-up, deid, publish, report, SEG) | {run_s:.2f} | {mb / run_s:.1f} "
              f"| {naive_s / run_s:.2f} |")
        print(f"| rerun, everything up to date | {rerun_s:.2f} | | |")
        print(f"CPU time of the run (all its processes): {cpu_s:.1f} s = {mb / cpu_s:.1f} MB per CPU-second "
              f"(less sensitive than wall time to other work on the machine; the naive loop is one process: "
              f"{mb / naive_s:.1f} MB per second of its wall)")
        print(f"peak RSS of the largest process: {rss_mb:.0f} MB")
        if not args.no_floor:
            from pipeline_floor import floor, print_floor

            pieces, _ = floor(out, demo / "dicom")
            print_floor(pieces, mb, max(1, args.workers), 45.0, run_cpu=cpu_s)
        load = os.getloadavg()
        print(f"load average {load[0]:.2f} {load[1]:.2f} at the end (other work on the machine inflates the figures)")


if __name__ == "__main__":
    main()
