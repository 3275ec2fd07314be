"""The output stages (publish, report, export-seg) in CPU seconds, and the CT volume gzip against zlib level 1.

    python benchmarks/bench_outputs.py OUT [--real-ct ../shared/real-data/totalseg-example/example_ct_dicom]

OUT is an `opseg run` output with its de-identified copy (e.g. of `opseg demo-archive DIR --studies 20`). Each stage
runs in its own child process, its imports done before the clock starts, one worker, into a temporary folder (OUT is
not changed). The gzip part compresses the real CT series' int16 NIfTI bytes with zlib level 1 (the writer before
issue 13) and ISA-L igzip at the level publish uses, and prints size and speed of both; likewise the report's
pictures as PNG with optimize=True (before) and Pillow's default level.
"""
from __future__ import annotations

import argparse
import gzip
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STAGE = """
import sys, time, resource
from pathlib import Path
import datasets, duckdb, highdicom, matplotlib  # imports outside the timing
from curation.publish.dataset import publish
from curation.publish.seg_export import export_seg
from curation.report.html import write_report
stage, out, tmp = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
w, c = time.perf_counter(), time.process_time()
{"publish": lambda: publish(out / "deid", tmp, workers=1), "report": lambda: write_report(out / "deid", tmp, workers=1),
 "export-seg": lambda: export_seg(out, tmp)}[stage]()
print(f"| {stage} | {time.process_time() - c:.2f} | {time.perf_counter() - w:.2f} | "
      f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} |")
"""


def gzip_figures(series: Path) -> None:
    import numpy as np
    from isal import igzip

    from curation.dicom.volume import load_volume
    from curation.publish.dataset import CT_GZIP_LEVEL
    from schemas.mask_nifti import nifti_bytes

    vol = load_volume(sorted(str(p) for p in series.iterdir() if p.is_file()))
    raw = nifti_bytes(vol.hu.round().astype(np.int16), vol.affine)
    print(f"\nreal CT {series.name}: {vol.hu.shape}, {len(raw) / 1e6:.1f} MB of NIfTI\n"
          "| writer | bytes / raw | MB/s (CPU) |\n|---|---|---|")
    speeds = {}
    for name, compress in (("zlib level 1 (before)", lambda d: gzip.compress(d, 1, mtime=0)),
                           (f"ISA-L igzip level {CT_GZIP_LEVEL} (publish)",
                            lambda d: igzip.compress(d, CT_GZIP_LEVEL, mtime=0))):
        best = float("inf")
        for _ in range(3):
            t = time.process_time()
            data = compress(raw)
            best = min(best, time.process_time() - t)
        assert gzip.decompress(data) == raw
        speeds[name] = len(raw) / 1e6 / best
        print(f"| {name} | {len(data) / len(raw):.3f} | {speeds[name]:.0f} |")
    first, second = speeds.values()
    print(f"speed ratio to zlib level 1: {second / first:.1f}x")


def png_figures(img_dir: Path) -> None:
    """The report's overlay pictures encoded as before (optimize=True, zlib level 9) and as now (level 6)."""
    import io

    from PIL import Image

    images = [Image.open(p).convert("RGB") for p in sorted(img_dir.glob("*.png"))]
    print(f"\n{len(images)} report pictures\n| PNG encoding | KB | ms per picture (CPU) |\n|---|---|---|")
    for name, kw in (("optimize=True (before)", {"optimize": True}), ("default, zlib level 6 (report)", {})):
        t, size = time.process_time(), 0
        for im in images:
            buf = io.BytesIO()
            im.save(buf, format="PNG", **kw)
            size += buf.tell()
        print(f"| {name} | {size / 1e3:.0f} | {(time.process_time() - t) * 1e3 / max(1, len(images)):.1f} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--real-ct", type=Path, default=Path("../shared/real-data/totalseg-example/example_ct_dicom"))
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} at start\n| stage | CPU s | wall s | max RSS MB |\n|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for stage in ("publish", "report", "export-seg"):
            subprocess.run([sys.executable, "-c", STAGE, stage, str(args.out), str(Path(tmp) / stage)], check=True,
                           stderr=subprocess.DEVNULL)
        png_figures(Path(tmp) / "report" / "img")
    if args.real_ct.is_dir():
        gzip_figures(args.real_ct)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
