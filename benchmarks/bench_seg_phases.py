"""Where SEG export's CPU goes: export-seg on an output folder with a CPU-seconds timer around each phase.

    python benchmarks/bench_seg_phases.py OUT

OUT is an `opseg run` output (its masks, annotations and instance catalog). One process, imports done before the
clock starts (as bench_outputs.py); the SEG files go to a temporary folder. Phases: the source headers
(`catalog_series_datasets`, or `series_datasets` on a tree before it), the masks' pixel array, highdicom's
Segmentation constructor and, inside it, its overlap check (`_check_and_cast_pixel_array`, of the class export-seg
builds), and pydicom's save. It runs on copies of OUT's tables (export-seg writes its quarantine rows), so OUT is
left as it was.
Run it with PYTHONPATH on another commit for the figures before a change.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import datasets  # noqa: F401  (imported by a pipeline worker anyway: pyarrow's read_table imports pandas)
import highdicom as hd
import pydicom

import curation.publish.seg_export as seg_export
from pipeline_floor import scratch_copy

PHASES = ("source headers", "masks' pixel array", "highdicom Segmentation()", "  of which its overlap check",
          "pydicom save")
SPENT: dict[str, float] = dict.fromkeys(PHASES, 0.0)


def timed(name, f):
    def wrapper(*args, **kwargs):
        start = time.process_time()
        try:
            return f(*args, **kwargs)
        finally:
            SPENT[name] += time.process_time() - start
    return wrapper


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    args = ap.parse_args()
    headers = "catalog_series_datasets" if hasattr(seg_export, "catalog_series_datasets") else "series_datasets"
    setattr(seg_export, headers, timed("source headers", getattr(seg_export, headers)))
    seg_export._segment_array = timed("masks' pixel array", seg_export._segment_array)
    hd.seg.Segmentation.__init__ = timed("highdicom Segmentation()", hd.seg.Segmentation.__init__)
    writer = getattr(seg_export, "LesionSegmentation", hd.seg.Segmentation)   # the class export-seg builds
    check = writer._check_and_cast_pixel_array.__func__
    writer._check_and_cast_pixel_array = classmethod(timed("  of which its overlap check", check))
    pydicom.Dataset.save_as = timed("pydicom save", pydicom.Dataset.save_as)
    print(f"load average {os.getloadavg()[0]:.2f} at start")
    with tempfile.TemporaryDirectory() as tmp:
        scratch = scratch_copy(args.out, ("masks", "annotations", "instances"), Path(tmp) / "out")  # OUT untouched
        start = time.process_time()
        files = seg_export.export_seg(scratch, Path(tmp) / "seg")
        total = time.process_time() - start
    print(f"{len(files)} SEG files\n| phase | CPU s |\n|---|---|")
    for name, seconds in SPENT.items():
        print(f"| {name} | {seconds:.2f} |")
    print(f"| **export-seg** | **{total:.2f}** |")


if __name__ == "__main__":
    main()
