"""How fast the review page opens on a ~100-mask output, pinned to 2 cores: in headless Chromium, the time from
navigation until the first mask is on screen with its three pictures (the page measures it itself); over HTTP,
what the browser fetches for it (page, script, mask list, section, pictures) against the naive way of putting
every mask's section and pictures into the page at once. Also: making the catalog (de-identified copy and
pictures, once per output), a restart, scoring, and the mask list after 300 scores.

    python benchmarks/bench_review.py [--studies 22] [--repeat 20]
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import httpx


def _pin_two_cores() -> str:
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > 2:
        os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:2]))
    return f"{len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()} cores"


def _make_output(tmp: Path, studies: int) -> Path:
    from curation.demo import generate_archive
    from curation.extract.stage import extract
    from curation.qc.stage import run_qc
    from linking.stage import run_link
    from segmentation.stage import run_segment

    demo, out = tmp / "demo", tmp / "out"
    generate_archive(demo, seed=0, n_studies=studies, bad_input=True)
    extract(demo / "dicom", out, reports=[demo / "reports.jsonl"], workers=2)
    run_segment(out)
    run_link(out)
    run_qc(out)
    return out


def _timed(fn, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), max(times)


def _get(c: httpx.Client, path: str) -> httpx.Response:
    r = c.get(path)
    r.raise_for_status()
    return r


def _browser_load(url: str, profile: Path, repeat: int) -> tuple[float, float]:
    """Median and max of the page's own navigation-to-first-mask time (no cache: every response is no-store)."""
    from curation.review.devtools import headless_page

    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        return float("nan"), float("nan")
    times = []
    with headless_page(browser, profile) as tools:
        for _ in range(repeat + 1):  # the first navigation warms the browser process up; not counted
            tools.call("Page.navigate", url=url + "/")
            times.append(float(tools.wait_for("document.body && document.body.dataset.ready === '1' && "
                                              "document.body.dataset.firstMaskMs")) / 1000)
    return statistics.median(times[1:]), max(times[1:])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--studies", type=int, default=22, help="demo studies (about 4.6 masks each)")
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    cores = _pin_two_cores()
    print(f"machine: {platform.machine()}, pinned to {cores}")
    from curation.review.catalog import build_catalog
    from curation.review.server import BackgroundServer

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        out = _make_output(Path(tmp), args.studies)
        print(f"demo output ({args.studies} studies, extract+segment+link+qc) made in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        catalog = build_catalog(out)
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        catalog = build_catalog(out)
        warm = time.perf_counter() - t0
        n = len(catalog.items)
        with BackgroundServer(catalog, reviewer="bench", lifetime_s=600) as url, \
                httpx.Client(base_url=url, timeout=30) as c:
            def first_mask():
                _get(c, "/")
                _get(c, "/review.js")
                first = _get(c, "/api/masks").json()["masks"][0]["mask_id"]
                section = _get(c, f"/api/masks/{first}/section").text
                for pic in re.findall(r"src='(img/[^']+)'", section):
                    _get(c, "/" + pic)

            def naive_all_in_one():
                _get(c, "/")
                for item in catalog.items:
                    section = _get(c, f"/api/masks/{item.mask_id}/section").text
                    for pic in re.findall(r"src='(img/[^']+)'", section):
                        _get(c, "/" + pic)

            browser_med, browser_max = _browser_load(url, Path(tmp) / "profile", args.repeat)
            page_med, page_max = _timed(first_mask, args.repeat)
            api_med, api_max = _timed(lambda: _get(c, "/api/masks"), args.repeat)
            naive_med, _ = _timed(naive_all_in_one, max(3, args.repeat // 5))
            ids = [i.mask_id for i in catalog.items]
            posts = []
            for k in range(300):
                t0 = time.perf_counter()
                r = c.post("/api/reviews", json={"mask_id": ids[k % n], "score": ("accept", "minor", "major")[k % 3],
                                                 "reviewer": f"r{k % 3}"})
                posts.append(time.perf_counter() - t0)
                assert r.status_code == 201, r.text
            api300_med, _ = _timed(lambda: _get(c, "/api/masks"), args.repeat)
        from curation.io.reviews import ReviewStore

        t0 = time.perf_counter()
        n_read = len(ReviewStore(out).records())
        read_s = time.perf_counter() - t0
        with BackgroundServer(build_catalog(out), reviewer="bench", lifetime_s=120) as url, \
                httpx.Client(base_url=url, timeout=30) as c:
            t0 = time.perf_counter()
            _get(c, "/api/masks")
            api300_cold = time.perf_counter() - t0

    print(f"\n{n} masks (classical CPU backend), served from the de-identified copy\n")
    print("| step | seconds |\n|---|---|")
    print(f"| catalog, first time (de-identify + draw {3 * n} pictures) | {cold:.2f} |")
    print(f"| catalog, restart (copy and pictures reused) | {warm:.2f} |")
    print(f"| **Chromium: navigation to first mask with its pictures**, median / max | "
          f"**{browser_med:.3f}** / {browser_max:.3f} |")
    print(f"| HTTP: page, script, list, section, 3 pictures, median / max | {page_med:.3f} / {page_max:.3f} |")
    print(f"| GET /api/masks, median / max | {api_med:.4f} / {api_max:.4f} |")
    print(f"| naive: every section and picture at once, median | {naive_med:.3f} |")
    print(f"| ratio naive / opseg (the two HTTP rows) | {naive_med / page_med:.0f}x |")
    print(f"| POST /api/reviews (one Parquet file each), median of 300 | {statistics.median(posts):.4f} |")
    print(f"| reading {n_read} score files (once, when a server starts) | {read_s:.3f} |")
    print(f"| GET /api/masks with 300 scores (300 files), running / restarted server | {api300_med:.4f} / "
          f"{api300_cold:.4f} |")


if __name__ == "__main__":
    main()
