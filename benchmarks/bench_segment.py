"""Segmentation throughput and memory on this machine, next to the naive way.

    python benchmarks/bench_segment.py [--skip-1024]

- classical CPU backends, the default (3D random walker, classical-cpu 0.3) next to its predecessor (2D growing,
  classical-2d = classical-cpu 0.1): seconds per lesion on a 20-slice phantom lesion and on real LIDC crops
  (../shared/real-data/lidc-dev, line prompts), peak RSS on a 512x512x300 series;
- SAM2CT engine (random weights) at 512 and 1024: slices encoded per second, seconds per lesion, and the
  ratio against the stock per-lesion loop (each lesion encodes its own slices) on the same series;
- peak RSS for a 512x512x300 series with ten lesions (each configuration in a fresh process).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np
import torch

from pathlib import Path

from segmentation.prompts import Prompt
from segmentation.stage import make_segmenter

LIDC = Path(__file__).resolve().parents[2] / "shared" / "real-data" / "lidc-dev"
CLASSICAL = ("classical", "classical-2d")


def phantom(n_slices: int, size: int, n_lesions: int, seed: int = 0, kind: str = "line"):
    """A water-like body with spherical bright lesions of known centre; 0.75 mm pixels, 2 mm slices.

    SAM2CT runs get mask prompts: with random weights a line would often give an empty prompt slice and no
    propagation to time, while a mask prompt is passed through on the prompt slice (SAM2's mask-as-output)."""
    rng = np.random.default_rng(seed)
    hu = rng.normal(40, 12, (n_slices, size, size)).astype(np.float32)
    zz, yy, xx = np.ogrid[:n_slices, :size, :size]
    prompts = []
    for i in range(n_lesions):
        cz = int(n_slices * (i + 0.5) / n_lesions)
        cy, cx = size // 2 + int(rng.integers(-size // 6, size // 6)), size // 2 + int(rng.integers(-size // 6, size // 6))
        r_mm = 20.0
        inside = ((zz - cz) * 2.0) ** 2 + ((yy - cy) * 0.75) ** 2 + ((xx - cx) * 0.75) ** 2 <= r_mm ** 2
        hu[inside] += 120
        r_px = r_mm / 0.75
        if kind == "mask":
            prompts.append(Prompt("mask", cz, np.array([[cy + 0.5, cx + 0.5]]), mask=inside[cz].copy(), length_px=2 * r_px))
        else:
            prompts.append(Prompt("line", cz, np.array([[cy + 0.5, cx - r_px + 0.5], [cy + 0.5, cx + r_px + 0.5]]),
                                  length_px=2 * r_px))
    return hu, prompts


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_memory(backend: str, image_size: int) -> dict:
    hu, prompts = phantom(300, 512, 10, kind="line" if backend in CLASSICAL else "mask")
    t, cpu = time.perf_counter(), time.process_time()
    if backend in CLASSICAL:
        seg = make_segmenter(backend)
        res = seg.segment_many(hu, (2.0, 0.75, 0.75), prompts)
    else:
        from segmentation.sam2ct.backend import SAM2CTSegmenter
        seg = SAM2CTSegmenter(None, image_size=image_size, mcm=True, device="cpu")
        res = seg.segment_many(hu, (2.0, 0.75, 0.75), prompts)
    return {"backend": backend, "image_size": image_size, "seconds": time.perf_counter() - t,
            "cpu_seconds": time.process_time() - cpu, "peak_rss_mb": rss_mb(),
            "ok": sum(1 for r in res if not isinstance(r, Exception))}


def sam2ct_shared_vs_loop(image_size: int, n_slices: int, n_lesions: int) -> dict:
    from segmentation.sam2ct.build import build_sam2ct
    from segmentation.sam2ct.engine import PropagationEngine, Track

    torch.manual_seed(0)
    hu, prompts = phantom(n_slices, 256, n_lesions, kind="mask")
    for p in prompts:  # all lesions share the slices around the middle, as lesions of one series do
        p.slice_index = n_slices // 2
    engine = PropagationEngine(build_sam2ct(image_size, mcm=True), line_arrow_embeddings=False, device="cpu")
    extent = 2  # bounded so random weights give comparable work: 5 slices per lesion

    t = time.perf_counter()
    engine.run(hu, [Track(str(i), p, None, max_extent=extent) for i, p in enumerate(prompts)])
    shared_s, shared_enc = time.perf_counter() - t, sum(engine.last_features.encoded.values())
    enc_s = engine.last_features.seconds
    t = time.perf_counter()
    loop_enc = 0
    for i, p in enumerate(prompts):  # the stock way: each lesion on its own encodes its own slices
        engine.run(hu, [Track(str(i), p, None, max_extent=extent)])
        loop_enc += sum(engine.last_features.encoded.values())
    loop_s = time.perf_counter() - t
    return {"image_size": image_size, "lesions": n_lesions, "shared_seconds": shared_s, "shared_encodings": shared_enc,
            "encode_slices_per_s": shared_enc / enc_s, "seconds_per_lesion": shared_s / n_lesions,
            "loop_seconds": loop_s, "loop_encodings": loop_enc, "speedup": loop_s / shared_s}


def lidc_seconds(seg, data: Path, n: int = 40) -> list[tuple[float, float]]:
    """(wall, CPU) seconds per line-prompted lesion on n real LIDC crops (every k-th case); CPU seconds are the
    figure to compare on a machine shared with other work."""
    if not data.is_dir():
        return []
    from segmentation.real_eval import crop_cases
    from segmentation.protocol import load_case
    from segmentation.real_prompts import real_prompt

    cases = crop_cases(data)
    out = []
    for image, label in cases[:: max(1, len(cases) // n)][:n]:
        hu, lab, spacing = load_case(image, label)
        p = real_prompt("line", lab > 0, spacing, np.random.default_rng(0))
        t, cpu = time.perf_counter(), time.process_time()
        seg.segment_many(hu, spacing, [p])
        out.append((time.perf_counter() - t, time.process_time() - cpu))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-1024", action="store_true")
    ap.add_argument("--classical-only", action="store_true", help="only the weight-free backends (seconds, not minutes)")
    ap.add_argument("--lidc", type=Path, default=LIDC, help="real LIDC crops (image/ + nodule_mask/)")
    ap.add_argument("--memory-child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child:
        print(json.dumps(run_memory(args.memory_child[0], int(args.memory_child[1]))))
        return
    torch.set_num_threads(os.cpu_count() or 1)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, threads {torch.get_num_threads()}")
    hu, prompts = phantom(60, 512, 1)
    print("\n| classical backend | phantom: one 40 mm lesion, s (best of 5) | real LIDC crops: s per lesion, mean [max] "
          "| real LIDC crops: CPU s per lesion |")
    print("|---|---|---|---|")
    for backend in CLASSICAL:
        seg = make_segmenter(backend)
        times = [seg.segment_many(hu, (2.0, 0.75, 0.75), prompts[:1])[0].seconds for _ in range(5)]
        real = np.array(lidc_seconds(seg, args.lidc)).reshape(-1, 2)
        cell = (f"{real[:, 0].mean():.3f} [{real[:, 0].max():.3f}] ({len(real)} nodules) | {real[:, 1].mean():.3f}"
                if len(real) else f"no {args.lidc} |")
        print(f"| {seg.name} | {min(times):.3f} | {cell} |")
    rows = [] if args.classical_only else [sam2ct_shared_vs_loop(512, 12, 3)]
    if not (args.skip_1024 or args.classical_only):
        rows.append(sam2ct_shared_vs_loop(1024, 8, 2))
    print("\n| SAM2CT engine (random weights) | lesions | encodings shared / per-lesion loop | slices encoded/s | s per lesion (shared) | loop s | speedup |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['image_size']} px | {r['lesions']} | {r['shared_encodings']} / {r['loop_encodings']} | "
              f"{r['encode_slices_per_s']:.2f} | {r['seconds_per_lesion']:.1f} | {r['loop_seconds']:.1f} | {r['speedup']:.2f}x |")
    print("\n| 512x512x300 series, ten 40 mm lesions | seconds | CPU seconds | peak RSS |\n|---|---|---|---|")
    for backend, size in (("classical", 0), ("classical-2d", 0)) + ((("sam2ct", 512),) if not args.classical_only else ()):
        out = subprocess.run([sys.executable, __file__, "--memory-child", backend, str(size)], capture_output=True, text=True)
        if out.returncode:
            print(f"| {backend} | failed: {out.stderr.strip().splitlines()[-1]} | | |")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        label = backend if backend in CLASSICAL else f"sam2ct {size} px"
        print(f"| {label} ({r['ok']}/10 masks) | {r['seconds']:.1f} | {r['cpu_seconds']:.1f} | {r['peak_rss_mb'] / 1024:.2f} GB |")


if __name__ == "__main__":
    main()
