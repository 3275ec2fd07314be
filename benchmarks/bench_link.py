"""Report parsing throughput of the rules backend on this CPU, next to bare spaCy tokenisation of the same text;
with --startup, the backend's start-up in a fresh process next to spaCy's plain ``spacy.blank("en")``.

    python benchmarks/bench_link.py [--reports 2000] [--startup [--runs 3]]
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from curation.demo.phantom import Lesion
from curation.demo.report_writer import write_report
from linking.findings import report_findings
from linking.rules import analyse, backend_name, nlp
from schemas import ReportRecord


class _Mark:
    def __init__(self, i, kind, length, short):
        self.mark_id, self.lesion_id, self.kind, self.length_mm, self.short_mm = f"m{i}", i, kind, length, short


def make_reports(n: int, seed: int = 0) -> list[ReportRecord]:
    rng = np.random.default_rng(seed)
    organs = ["liver", "lung_right", "lung_left", "kidney_right", "kidney_left"]
    out = []
    for r in range(n):
        lesions, marks = {}, []
        for i in range(1, int(rng.integers(2, 6))):
            lesions[i] = Lesion(i, organs[int(rng.integers(len(organs)))], np.zeros(3), np.ones(3), 0.0, 0.0, 0.0)
            kind = ["line", "bidimensional", "arrow", "ellipse"][int(rng.integers(4))]
            length = float(rng.uniform(8, 40))
            marks.append(_Mark(i, kind, length if kind != "arrow" else None,
                               length * 0.7 if kind in ("bidimensional", "ellipse") else None))
        rep = write_report(rng, marks, lesions, 3, 2.5, {m.mark_id: int(rng.integers(1, 80)) for m in marks}, [])
        out.append(ReportRecord(report_id=f"r{r}", study_uid=f"s{r}", text=rep.text, n_chars=len(rep.text)))
    return out


def fresh_seconds(code: str, runs: int) -> tuple[float, float]:
    """(CPU, wall) seconds of a snippet in a fresh interpreter on this tree, the run with the least CPU of RUNS:
    start-up costs (imports, pipeline builds), which a warm process hides."""
    probe = f"import time\nc, w = time.process_time(), time.perf_counter()\n{code}\n" \
            "print(time.process_time() - c, time.perf_counter() - w)"
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    times = [tuple(map(float, subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                                             cwd=root, env=env).stdout.split()[-2:])) for _ in range(runs)]
    return min(times)


def startup_table(rows: list[tuple[str, str]], runs: int) -> None:
    """One row per (label, snippet); the ratio is to the second row (the naive way), the first is the floor."""
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; least CPU of {runs} fresh processes each")
    print("\n| start-up in a fresh process | CPU s | wall s | ratio naive/this (CPU) |\n|---|---|---|---|")
    times = [fresh_seconds(code, runs) for _, code in rows]
    for (label, _), (cpu, wall) in zip(rows, times):
        print(f"| {label} | {cpu:.2f} | {wall:.2f} | {times[1][0] / cpu:.2f} |")


LINK_STARTUP = [
    ("the floor: spaCy as opseg imports it (`curation.io.nlp_imports.import_spacy`: thinc without torch)",
     "from curation.io.nlp_imports import import_spacy; import_spacy()"),
    ("naive: `spacy.blank('en')` (imports every package's spaCy factories), then the rules backend",
     "import spacy; spacy.blank('en'); from linking.rules import analyse; analyse('FINDINGS: none.')"),
    ("plain `import spacy` (thinc imports torch when it is installed)", "import spacy"),
    ("rules backend ready (`linking.rules.analyse` after its first call)",
     "from linking.rules import analyse; analyse('FINDINGS: none.')"),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reports", type=int, default=2000)
    ap.add_argument("--startup", action="store_true", help="only time start-up in fresh processes")
    ap.add_argument("--runs", type=int, default=3, help="fresh processes per start-up row")
    ap.add_argument("--radgraph-dir", help="a local RadGraph model folder (<cache>/<model_type>/) to time that path too")
    ap.add_argument("--radgraph-reports", type=int, default=50)
    args = ap.parse_args()
    if args.startup:
        return startup_table(LINK_STARTUP, args.runs)
    reports = make_reports(args.reports)
    name = backend_name()
    report_findings(reports[0], analyse, name)  # warm the pipeline
    t = time.perf_counter()
    n_findings = sum(len(report_findings(r, analyse, name)[0]) for r in reports)
    t_rules = time.perf_counter() - t
    tokenizer = nlp().tokenizer
    t = time.perf_counter()
    for r in reports:
        tokenizer(r.text)
    t_tok = time.perf_counter() - t
    chars = sum(r.n_chars for r in reports)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; {len(reports)} reports, {chars / len(reports):.0f} chars each")
    print("\n| measurement | reports/s | ratio to bare tokenisation |\n|---|---|---|")
    print(f"| spaCy blank tokenizer only | {len(reports) / t_tok:,.0f} | 1.00 |")
    print(f"| {name}: sections, sentences, sizes, image refs, entities | {len(reports) / t_rules:,.0f} | {t_tok / t_rules:.2f} |")
    if args.radgraph_dir:
        from linking.radgraph_backend import RadGraphBackend

        rg = RadGraphBackend(args.radgraph_dir)
        subset = reports[: args.radgraph_reports]
        report_findings(subset[0], rg.analyse, rg.name)
        t = time.perf_counter()
        for r in subset:
            report_findings(r, rg.analyse, rg.name)
        t_rg = time.perf_counter() - t
        print(f"| {rg.name} (one sentence per pass) | {len(subset) / t_rg:,.1f} | {t_tok / len(reports) * len(subset) / t_rg:.4f} |")
    print(f"\nfindings per report: {n_findings / len(reports):.1f}")


if __name__ == "__main__":
    main()
