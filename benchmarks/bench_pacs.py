"""Studies per minute mined from a local Orthanc through DICOMweb and DIMSE, against reading the same archive
from a folder, on this machine. Needs root-less `unshare -n` and the Debian orthanc + orthanc-dicomweb packages.

    python benchmarks/bench_pacs.py [--studies 6]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from curation.demo import generate_archive  # noqa: E402
from curation.extract.stage import extract  # noqa: E402


def timed_extract(folder: Path, out: Path) -> float:
    t0 = time.perf_counter()
    extract(folder, out)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--studies", type=int, default=6)
    a = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        generate_archive(tmp / "demo", seed=0, n_studies=a.studies)
        archive = tmp / "demo" / "dicom"
        mb = sum(p.stat().st_size for p in archive.rglob("*") if p.is_file()) / 1e6
        cmd = f"ip link set lo up && {sys.executable} {ROOT / 'tests' / 'pacs_roundtrip.py'} {archive} {tmp / 'work'}"
        subprocess.run(["unshare", "-n", "sh", "-c", cmd], check=True, capture_output=True)
        result = json.loads((tmp / "work" / "result.json").read_text())
        folder_s = timed_extract(archive, tmp / "out-folder")
        print(f"\n{a.studies} demo studies, {mb:.0f} MB; Orthanc 1.10 on loopback (private network namespace)\n")
        print("| source | fetch s | extract s | studies/min | requests | MB moved | rerun fetch s |")
        print("|---|---|---|---|---|---|---|")
        print(f"| folder | - | {folder_s:.2f} | {a.studies / folder_s * 60:,.0f} | - | - | - |")
        for name in ("dicomweb", "dimse"):
            r = result[name]
            ex = timed_extract(tmp / "work" / f"cache-{name}" / "dicom", tmp / f"out-{name}")
            print(f"| {name} | {r['seconds']:.2f} | {ex:.2f} | {a.studies / (r['seconds'] + ex) * 60:,.0f} | "
                  f"{r['requests']} | {r['bytes'] / 1e6:.1f} | {result[name + '_rerun']['seconds']:.2f} |")


if __name__ == "__main__":
    main()
