"""Free-text de-identification throughput: the schema-driven scrubber against the implementation it replaced.

Reports are the demo writer's (measurements, image references, priors) with the demo's PHI paragraph appended
to each (names, MRN and accession forms, phones, e-mail, URL, dates with and without a year, an age over 89,
a path with spaces, cue-phrase names, signature), one of 200 patients each, with that patient's header
identifiers. The previous scrubber is loaded from git (``git show REV:curation/deid/text.py``) into a temporary
module and timed on the first ``--old`` reports; the ratio compares time per report on the same texts.

    python benchmarks/bench_deid.py [--reports 10000] [--old 500] [--rev a60d380]
    python benchmarks/bench_deid.py --startup [--runs 3]   # the scrubber's start-up in a fresh process
"""
from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from bench_link import make_reports, startup_table  # (this folder is first on sys.path when run)
from curation.deid.text import TextScrubber, identifier_variants
from curation.demo.phi import RADIOLOGIST, REFERRING, _phi_paragraph

FIRST = ("Ada", "Ben", "Cleo", "Dan", "Eve", "Finn", "Gia", "Hal", "Ines", "Jon")
LAST = ("Lovelace", "Okafor", "Nakamura", "Silva", "Novak", "Haddad", "Jensen", "Moreau", "Li", "Quinn")


def patients(n: int) -> list[dict]:
    out = []
    for p in range(n):
        pn = f"{LAST[p % 10]}^{FIRST[(p // 10) % 10]}"
        birth, study = f"19{40 + p % 50:02d}{1 + p % 12:02d}{1 + p % 27:02d}", dt.date(2025, 1 + p % 12, 1 + p % 27)
        ds = SimpleNamespace(PatientName=pn, PatientBirthDate=birth, AccessionNumber=f"ACC{p:07d}")
        known = tuple(identifier_variants([pn, REFERRING[p % 3], RADIOLOGIST[p % 3].replace(" ", "^")],
                                          [f"PAT{p:06d}", f"ACC{p:07d}"], [birth], [f"(617) 555-{1200 + p:04d}"]))
        out.append({"ds": ds, "known": known, "study": study, "i": p})
    return out


def load_previous(rev: str):
    """The scrubber as it was at REV, as a module of its own (its imports still resolve in this tree)."""
    src = subprocess.run(["git", "show", f"{rev}:curation/deid/text.py"], capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / "previous_deid_text.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("previous_deid_text", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


DEID_STARTUP = [
    ("the floor: spaCy as opseg imports it (`curation.io.nlp_imports.import_spacy`: thinc without torch)",
     "from curation.io.nlp_imports import import_spacy; import_spacy()"),
    ("naive: `import presidio_analyzer` (its Hugging Face engine: transformers' pipelines, torch), then the scrubber",
     "import presidio_analyzer; from curation.deid.text import TextScrubber; TextScrubber(engine='regex')"),
    ("plain `import spacy` (presidio imports spaCy; thinc imports torch when it is installed)", "import spacy"),
    ("scrubber ready (`TextScrubber(engine='regex')`)",
     "from curation.deid.text import TextScrubber; TextScrubber(engine='regex')"),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--startup", action="store_true", help="only time start-up in fresh processes")
    ap.add_argument("--runs", type=int, default=3, help="fresh processes per start-up row")
    ap.add_argument("--reports", type=int, default=10000)
    ap.add_argument("--old", type=int, default=500, help="reports to time the previous implementation on")
    ap.add_argument("--rev", default="a60d380", help="git revision of the previous implementation")
    args = ap.parse_args()
    if args.startup:
        return startup_table(DEID_STARTUP, args.runs)
    people = patients(200)
    texts = []
    for r, rep in enumerate(make_reports(args.reports, seed=1)):
        p = people[r % len(people)]
        texts.append((rep.text + "\n\n" + _phi_paragraph(p["i"], p["ds"]), p))
    chars = sum(len(t) for t, _ in texts)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs visible, one process; "
          f"{len(texts)} reports, {chars / len(texts):.0f} chars each on average")

    t0 = time.perf_counter()
    new = TextScrubber(engine="regex")
    setup = time.perf_counter() - t0
    back = dt.timedelta(days=-123)
    t0, c0 = time.perf_counter(), time.process_time()
    for text, p in texts:
        new.scrub(text, p["known"], lambda d: d + back, p["study"], path_token=lambda s: "file-x", uid=lambda u: u)
    t_new, c_new = time.perf_counter() - t0, time.process_time() - c0
    print(f"new scrubber ({new.describe()}): {t_new:.1f} s wall ({c_new:.1f} s CPU) for {len(texts)} reports "
          f"({1000 * t_new / len(texts):.2f} ms/report; setup {setup:.1f} s)")

    old_mod = load_previous(args.rev)
    old = old_mod.TextScrubber()
    subset = texts[:args.old]
    c0 = time.process_time()
    for text, p in subset:
        old.scrub(text, p["known"], lambda d: d + back)
    t_old = time.process_time() - c0
    c0 = time.process_time()
    for text, p in subset:
        new.scrub(text, p["known"], lambda d: d + back, p["study"], path_token=lambda s: "file-x", uid=lambda u: u)
    t_same = time.process_time() - c0
    print(f"previous scrubber ({args.rev}, presidio AnalyzerEngine): {t_old:.1f} s CPU for the first {len(subset)} "
          f"({1000 * t_old / len(subset):.2f} ms/report) -> {t_old / len(subset) * len(texts):.0f} s for {len(texts)}")
    print(f"ratio previous/new, CPU time on the same {len(subset)} reports: {t_old / t_same:.1f}x")


if __name__ == "__main__":
    main()
