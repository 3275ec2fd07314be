"""Indexing and GSPS parsing throughput against a plain pydicom loop over the same files.

    python benchmarks/bench_extract.py [--studies 6] [--repeat 3]

Prints files/s for a plain ``pydicom.dcmread(stop_before_pixels=True)`` loop and for opseg's indexer
(1 process and all cores), and GSPS objects/s for a plain full read vs read + opseg's GSPS extraction.
"""
from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import pydicom

from curation.demo import generate_archive
from curation.extract.stage import parse_objects
from curation.extract.index import index_archive, walk_files
from curation.dicom.lookup import ImageLookup


def best_of(repeat, fn):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--studies", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--gsps-parses", type=int, default=3000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="opseg-bench-"))
    generate_archive(tmp / "demo", seed=1, n_studies=args.studies)
    files = walk_files(tmp / "demo" / "dicom")
    n = len(files)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}, "
          f"pydicom {pydicom.__version__}; archive: {n} files")

    def plain():
        for f in files:
            pydicom.dcmread(f, stop_before_pixels=True)

    plain()  # warm the page cache for everyone
    t_plain = best_of(args.repeat, plain)
    rows = [("plain dcmread(stop_before_pixels) loop", n / t_plain, 1.0)]
    for workers in (1, os.cpu_count() or 1):
        def index():
            out = Path(tempfile.mkdtemp(dir=tmp))
            index_archive(tmp / "demo" / "dicom", out, workers=workers)
        t = best_of(args.repeat, index)
        rows.append((f"opseg index, {workers} process(es), cold catalog", n / t, t_plain / t))
    out = tmp / "warm"
    index_archive(tmp / "demo" / "dicom", out)
    t = best_of(args.repeat, lambda: index_archive(tmp / "demo" / "dicom", out))
    rows.append(("opseg index, rerun on unchanged archive", n / t, t_plain / t))

    res = index_archive(tmp / "demo" / "dicom", tmp / "lookup")
    lookup = ImageLookup(res.instances)
    gsps = [i for i in res.instances if i.category == "gsps"]
    reps = max(1, args.gsps_parses // len(gsps))
    objects = gsps * reps
    total = len(objects)

    def read_only():
        for g in objects:
            pydicom.dcmread(g.path)

    t_read = best_of(args.repeat, read_only)
    rows.append(("plain dcmread of GSPS objects (lazy, nothing decoded)", total / t_read, 1.0))
    for workers in (1, os.cpu_count() or 1):
        def parse():
            for _ in parse_objects(res.instances, objects, lookup, workers):
                pass
        t = best_of(args.repeat, parse)
        rows.append((f"opseg GSPS read + extract (marks, sizes, slices), {workers} process(es)", total / t, t_read / t))
    print("\n| measurement | per second | ratio to plain loop |\n|---|---|---|")
    for name, rate, ratio in rows:
        print(f"| {name} | {rate:,.0f} | {ratio:.2f} |")
    print(f"\nGSPS objects: {len(gsps)} distinct, {total} parses; lookup over {len(lookup.images)} images")


if __name__ == "__main__":
    main()
