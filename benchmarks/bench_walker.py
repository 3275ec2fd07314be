"""The classical backend's random walk: our one directly assembled system (segmentation.walker: symmetric-ordered
SuperLU, or PMISc-multigrid CG above DIRECT_MAX_UNKNOWNS) against skimage's random_walker with the same settling
rule (the naive way, what classical-cpu 0.4.0 called: two systems, RS multigrid), CPU seconds per walk on the same
boxes in one run, and how far each is from skimage's exact two-label solve ("bf"), and whether the masks agree.

    python benchmarks/bench_walker.py [--repeat 3]

Boxes: noisy spherical lesions in a bound, the sizes the classical backend solves (its boxes are at most
MAX_SOLVE_VOXELS = 40,000 voxels; above DIRECT_MAX_UNKNOWNS = 6,000 unknowns the walk goes to multigrid CG).
BLAS runs on one thread, as in the backend.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from skimage.segmentation import random_walker
from threadpoolctl import threadpool_limits

from segmentation import classical, walker


def box(shape, seed: int, dark_background: bool):
    """(data, labels, spacing): a lesion of about a third of the box, seeds at its core, background outside a bound
    (and, with ``dark_background``, wherever it is clearly darker than the lesion, as the backend labels it)."""
    rng = np.random.default_rng(seed)
    z, y, x = np.indices(shape)
    spacing = (2.0, 0.7, 0.7)
    c = np.array(shape) / 2
    d = np.sqrt(((z - c[0]) * spacing[0]) ** 2 + ((y - c[1]) * spacing[1]) ** 2 + ((x - c[2]) * spacing[2]) ** 2)
    r = 0.3 * min(s * p for s, p in zip(shape[1:], spacing[1:]))
    data = np.clip((d < r) + rng.normal(0, 0.2, shape), 0, 1).astype(np.float32)
    labels = np.zeros(shape, np.int8)
    labels[(d > 1.4 * r) | (dark_background & (d > r) & (data < 0.15))] = 2
    labels[d < 0.25 * r] = 1
    return data, labels, spacing


def cpu(fn, repeat: int) -> tuple[float, np.ndarray]:
    best, out = np.inf, None
    for _ in range(repeat):
        t = time.process_time()
        out = fn()
        best = min(best, time.process_time() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs per walk")
    args = ap.parse_args()
    shapes = [(6, 20, 20), (8, 28, 28), (12, 40, 40), (20, 44, 44), (24, 40, 41)]
    print("| box | unknowns | solver | skimage CPU s | ours CPU s | ratio | max abs(ours - bf) | max abs(skimage - bf) "
          "| same mask |\n|---|---|---|---|---|---|---|---|---|")
    tot_sk = tot_ours = 0.0
    with threadpool_limits(limits=1, user_api="blas"):
        for i, (shape, dark) in enumerate((s, d) for s in shapes for d in (True, False)):
            data, labels, spacing = box(shape, i, dark)
            n = int((labels == 0).sum())
            iterative = n > classical.DIRECT_MAX_UNKNOWNS
            args_ = (data, labels, classical.BETA, spacing, iterative, classical.ITERATIVE_TOL)
            t_sk, p_sk = cpu(lambda: walker._skimage(*args_), args.repeat)
            t_ours, p_ours = cpu(lambda: walker.lesion_probability(*args_), args.repeat)
            bf = random_walker(data, labels, beta=classical.BETA, mode="bf", spacing=spacing, return_full_prob=True)[0]
            tot_sk, tot_ours = tot_sk + t_sk, tot_ours + t_ours
            same = np.array_equal(p_ours >= classical.PROB_LEVEL, p_sk >= classical.PROB_LEVEL)
            d_ours, d_sk = np.abs(p_ours - bf).max(), np.abs(p_sk - bf).max()
            print(f"| {'x'.join(map(str, shape))} | {n} | {'multigrid CG' if iterative else 'direct'} | {t_sk:.3f} | "
                  f"{t_ours:.3f} | {t_sk / t_ours:.2f}x | {d_ours:.1e} | {d_sk:.1e} | {'yes' if same else 'NO'} |")
    print(f"| all | | | {tot_sk:.3f} | {tot_ours:.3f} | {tot_sk / tot_ours:.2f}x | | | |")

if __name__ == "__main__":
    main()
