"""Length of a freehand outline (its longest chord): convex hull + antipodal vertices vs all point pairs.

    python benchmarks/bench_outline_length.py

Prints ms per outline for opseg's way at 500 to 50,000 points and for the all-pairs Python loop it replaced
(measured at 500 and 2,000 points; it grows as n^2), with the ratio where both ran.
"""
from __future__ import annotations

import time

import numpy as np

from curation.extract.annotation_builder import longest_chord_mm, mm_distance

SPACING = [0.8, 0.8]


def all_pairs(pts):
    return max(mm_distance(p, q, SPACING) for i, p in enumerate(pts) for q in pts[i + 1:])


def best_ms(fn, pts, repeat):
    """(best ms over the repeats, the value)"""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        value = fn(pts)
        times.append(time.perf_counter() - t)
    return 1e3 * min(times), value


def main():
    rng = np.random.default_rng(0)
    print(f"{'points':>8} {'hull ms':>10} {'all pairs ms':>14} {'ratio':>8}")
    for n in (500, 2000, 5000, 50_000):
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))  # a wobbly closed outline: most points on the hull
        r = 40 + rng.normal(0, 0.5, n)
        pts = np.column_stack([256 + r * np.cos(angles), 256 + r * np.sin(angles)])
        hull, length = best_ms(lambda p: longest_chord_mm(p, SPACING), pts, 5)
        naive, expected = best_ms(all_pairs, pts, 1) if n <= 2000 else (None, length)
        assert abs(length - expected) < 1e-9, (length, expected)
        print(f"{n:>8} {hull:>10.2f} {naive if naive is not None else float('nan'):>14.1f} "
              f"{naive / hull if naive is not None else float('nan'):>8.0f}")


if __name__ == "__main__":
    main()
