"""The output stages (publish, report, export-seg) in CPU seconds, and the CT volume gzip against zlib level 1.

    python benchmarks/bench_outputs.py OUT [--real-ct ../shared/real-data/totalseg-example/example_ct_dicom]

OUT is an `opseg run` output with its de-identified copy (e.g. of `opseg demo-archive DIR --studies 20`). Each stage
runs in its own child process, its imports done before the clock starts, one worker, into a temporary folder (OUT is
not changed). The gzip part compresses the real CT series' int16 NIfTI bytes with zlib level 1 (the writer before
issue 13) and ISA-L igzip levels 1-3 (publish uses one), and prints size and speed of each, then the same for
OUT's cached CT volumes (the demo's phantoms); likewise the report's
pictures as RGB PNGs (optimize=True, before issue 13; Pillow's default level) and as the report writes them.
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


def gzip_figures(series: Path, out: Path) -> None:
    """The real CT series, then OUT's cached CT volumes (the demo's phantoms), through each writer."""
    import numpy as np

    from curation.dicom.volume import load_volume
    from schemas.mask_nifti import nifti_bytes

    vol = load_volume(sorted(str(p) for p in series.iterdir() if p.is_file()))
    raw = nifti_bytes(vol.hu.round().astype(np.int16), vol.affine)
    _gzip_table(f"real CT {series.name}: {vol.hu.shape}, {len(raw) / 1e6:.1f} MB of NIfTI", [raw])
    cached = sorted((out / "_volumes").glob("*.npy"))
    if cached:
        raws = [nifti_bytes(np.load(p, mmap_mode="r"), np.eye(4)) for p in cached]
        _gzip_table(f"OUT's {len(raws)} cached CT volumes, {sum(map(len, raws)) / 1e6:.0f} MB of NIfTI", raws)


def _gzip_table(title: str, raws: list[bytes]) -> None:
    from isal import igzip

    from curation.publish.dataset import CT_GZIP_LEVEL

    writers = [("zlib level 1 (before)", lambda d: gzip.compress(d, 1, mtime=0))]
    writers += [(f"ISA-L igzip level {lvl}" + (" (publish)" if lvl == CT_GZIP_LEVEL else ""),
                 lambda d, lvl=lvl: igzip.compress(d, lvl, mtime=0)) for lvl in (1, 2, 3)]
    print(f"\n{title}\n| writer | bytes / raw | MB/s (CPU) |\n|---|---|---|")
    total, speeds = sum(map(len, raws)), {}
    for name, compress in writers:
        best = float("inf")
        for _ in range(3):
            t = time.process_time()
            data = [compress(r) for r in raws]
            best = min(best, time.process_time() - t)
        assert all(gzip.decompress(d) == r for d, r in zip(data, raws))
        speeds[name] = total / 1e6 / best
        print(f"| {name} | {sum(map(len, data)) / total:.3f} | {speeds[name]:.0f} |")
    publish = next(v for k, v in speeds.items() if k.endswith("(publish)"))
    print(f"speed ratio of publish's writer to zlib level 1: {publish / speeds[writers[0][0]]:.1f}x")


def png_figures(img_dir: Path) -> None:
    """The report's overlay pictures encoded as RGB with optimize=True (zlib level 9, before issue 13), as RGB at
    Pillow's default level 6 (before the palette pictures) and as the report writes them (palette where the
    picture's colours fit, at its PNG_LEVEL)."""
    import io

    from PIL import Image

    from curation.report import lesions

    level = getattr(lesions, "PNG_LEVEL", 6)
    written = [Image.open(p) for p in sorted(img_dir.glob("*.png"))]
    for im in written:
        im.load()
    rgb = [im.convert("RGB") for im in written]
    modes = "/".join(sorted({im.mode for im in written}))
    print(f"\n{len(written)} report pictures\n| PNG encoding | KB | ms per picture (CPU) |\n|---|---|---|")
    for name, images, kw in (("RGB, optimize=True (before issue 13)", rgb, {"optimize": True}),
                             ("RGB, default zlib level 6", rgb, {}),
                             (f"as the report writes them ({modes}, zlib level {level})", written,
                              {"compress_level": level})):
        t, size = time.process_time(), 0
        for im in images:
            buf = io.BytesIO()
            im.save(buf, format="PNG", **kw)
            size += buf.tell()
        print(f"| {name} | {size / 1e3:.0f} | {(time.process_time() - t) * 1e3 / max(1, len(images)):.2f} |")


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
        gzip_figures(args.real_ct, args.out)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
