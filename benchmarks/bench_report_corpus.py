"""Parsing and linking on the real-style report corpus (tests/data/reports): precision / recall per field and
per pattern, the link stage end to end on marks drawn where the reports say, and negation / uncertainty by
the clause rules next to medspaCy's ConText when it is installed.

    python benchmarks/bench_report_corpus.py [--corpus tests/data/reports] [--misses]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

from linking.corpus import load_corpus, pr, score_parse
from linking.corpus_marks import score_links, write_corpus_out
from linking.rules import analyse, backend_name
from linking.stage import run_link

FIELD_NAMES = {"current": "current sizes", "prior": "prior sizes", "refs": "image references", "side": "laterality",
               "negated": "negation", "uncertain": "uncertainty"}


def _row(label: str, c: Counter) -> str:
    p, r = pr(c)
    return f"| {label} | {c['tp'] + c['fn']} | {c['tp']} | {c['fp']} | {c['fn']} | {p:.3f} | {r:.3f} |"


def parse_tables(corpus, show_misses: bool) -> None:
    r = score_parse(corpus, analyse, backend_name())
    head = "| {} | truth items | right | false positives | misses | precision | recall |\n|---|---|---|---|---|---|---|"
    print(head.format("field"))
    for k, name in FIELD_NAMES.items():
        print(_row(name, r["fields"][k]))
    print("\n" + head.format("pattern (rows tagged with it; sizes, references and labels together)"))
    for tag in sorted(r["forms"], key=lambda t: (t == "outside_rows", t)):
        print(_row(tag, r["forms"][tag]))
    if show_misses:
        print("\n" + "\n".join(r["misses"]))


def link_table(corpus) -> None:
    with tempfile.TemporaryDirectory() as d:
        out = Path(d)
        truth = write_corpus_out(corpus, out)
        t = time.perf_counter()
        run_link(out)
        seconds = time.perf_counter() - t
        s = score_links(out, truth)
    print(f"\nlink stage on {len(corpus)} reports, {s['marks']} described marks + {s['extra_marks']} marks no sentence "
          f"describes ({seconds:.1f} s):")
    print("| tiers A+B precision | tiers A+B recall | undescribed marks linked | links by tier / right or wrong |\n|---|---|---|---|")
    tiers = ", ".join(f"{k} {v}" for k, v in s["tiers"].items())
    print(f"| {s['precision_ab']:.3f} | {s['recall_ab']:.3f} | {s['extra_linked']} of {s['extra_marks']} | {tiers} |")
    for p in s["problems"]:
        print("   ", p)


def negation_table(corpus) -> None:
    judges = [("clause rules (default)", analyse)]
    try:
        from linking.context_assertion import _context
        from linking.context_assertion import analyse as context_analyse
        _context()
        judges.append(("medspaCy ConText", context_analyse))
    except Exception as exc:  # noqa: BLE001 - the comparison says why ConText is missing
        print(f"\nmedspaCy ConText not compared: {exc}")
    print("\n| negation / uncertainty judge | negation P | negation R | uncertainty P | uncertainty R | s for the corpus |"
          "\n|---|---|---|---|---|---|")
    for name, fn in judges:
        fn("warm up.")
        t = time.perf_counter()
        r = score_parse(corpus, fn, name)
        seconds = time.perf_counter() - t
        (np_, nr), (up, ur) = pr(r["fields"]["negated"]), pr(r["fields"]["uncertain"])
        print(f"| {name} | {np_:.3f} | {nr:.3f} | {up:.3f} | {ur:.3f} | {seconds:.2f} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=str(Path(__file__).resolve().parent.parent / "tests" / "data" / "reports"))
    ap.add_argument("--misses", action="store_true", help="list every miss and false positive")
    args = ap.parse_args()
    corpus = load_corpus(Path(args.corpus))
    rows = sum(len(c.rows) for c in corpus)
    print(f"{len(corpus)} reports, {rows} truth rows ({args.corpus})\n")
    parse_tables(corpus, args.misses)
    link_table(corpus)
    negation_table(corpus)


if __name__ == "__main__":
    main()
