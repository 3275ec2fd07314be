"""Real lesions in one run: the Dice tables of ``opseg eval`` on a crop folder, and the QC calibration (what
fraction of QC-passing masks have Dice >= 0.7) on the same masks.

    python benchmarks/calibrate_qc.py [DATA] [--max-cases N] [--aim 0.9] [--rows ROWS.json]

DATA defaults to ../shared/real-data/lidc-dev (image/ + nodule_mask/). The thresholds are searched on the
'tune' half of the patients (shared values, then each prompt kind's own: ``search_per_kind``) and reported on
the 'holdout' half too, per kind; the defaults in schemas/qc.py (QCThresholds) are compared with the searched set.
--rows caches the segmented rows with their QC metrics, so a rerun of the search does not segment again.
Prints Markdown tables.
"""
from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

from curation.qc.stage import QCThresholds
from curation.pipeline.qc_calibration import GOOD_DICE, GRID, QC_KINDS, measure, score, score_by_kind, search_per_kind
from segmentation.real_eval import crops_markdown, summarise_rows
from segmentation.stage import make_segmenter

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "real-data" / "lidc-dev"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--max-cases", type=int, default=None)
    ap.add_argument("--aim", type=float, default=0.9)
    ap.add_argument("--rows", type=Path, help="JSON of the evaluation with QC metrics: written after measuring, read if present")
    args = ap.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)
    t = time.perf_counter()
    seg = make_segmenter("classical")
    if args.rows and args.rows.exists():
        result = json.loads(args.rows.read_text())
    else:
        result = measure(args.data, seg, max_cases=args.max_cases)
        if args.rows:
            args.rows.write_text(json.dumps(result))
    print(crops_markdown(result))
    print("| half | lesions | " + " | ".join(result["kinds"]) + " | RECIST error % (line) |\n|" + "---|" * (len(result["kinds"]) + 3))
    for half in ("tune", "holdout"):
        part = [r for r in result["rows"] if r["half"] == half]
        s = summarise_rows(part)["overall"]
        cells = " | ".join(f"{s[k]['dice_mean']:.3f} [{s[k]['dice_ci95'][0]:.2f}, {s[k]['dice_ci95'][1]:.2f}]" for k in result["kinds"])
        print(f"| {half} | {len(part) // len(result['kinds'])} | {cells} | {s['line'].get('recist_error_pct_mean', float('nan')):.1f} |")
    print()
    rows = [r for r in result["rows"] if r["kind"] in QC_KINDS]
    tune = [r for r in rows if r["half"] == "tune"]
    hold = [r for r in rows if r["half"] == "holdout"]
    found, _ = search_per_kind(tune, aim=args.aim)
    print(f"{seg.name} on {args.data.name}: {len(rows)} masks from {len(rows) // len(QC_KINDS)} cases "
          f"({time.perf_counter() - t:.0f} s); good = Dice >= {GOOD_DICE}; aim: precision >= {args.aim} for every kind that passes\n")
    print("| thresholds | rows | masks | pass | precision | recall |\n|---|---|---|---|---|---|")
    for name, th in (("defaults (schemas/qc.py)", QCThresholds()), ("searched on tune", found)):
        for part, rs in (("tune", tune), ("holdout", hold), ("all", rows)):
            s = score(rs, th)
            print(f"| {name} | {part} | {s['masks']} | {s['passed']} | {s['precision']:.3f} | {s['recall']:.3f} |")
    print("\nsearched:", ", ".join(f"{k}={getattr(found, k)}" for k in GRID) + "; per kind:",
          ", ".join(f"{k}.{f}={v}" for k, f, v in found.per_kind))
    for name, th in (("defaults", QCThresholds()), ("searched on tune", found)):
        print(f"\n| kind ({name}) | tune: pass | precision | recall | holdout: pass | precision | recall |\n|---|---|---|---|---|---|---|")
        per = {part: score_by_kind(rs, th) for part, rs in (("tune", tune), ("holdout", hold))}
        for kind in QC_KINDS:
            cells = " | ".join(f"{c['passed']} | {c['precision']:.3f} [{c['precision_ci95'][0]:.2f}, {c['precision_ci95'][1]:.2f}] | "
                               f"{c['recall']:.3f}" for c in (per[p][kind] for p in ("tune", "holdout")))
            print(f"| {kind} | {cells} |")
    print("\nschemas/qc.py PER_KIND for the searched set:", found.per_kind)
    print("\nschemas/qc.py QC_BY_KIND for the defaults (kind: (tune precision, tune recall, holdout precision, holdout recall)):")
    per = {part: score_by_kind(rs, QCThresholds()) for part, rs in (("tune", tune), ("holdout", hold))}
    print({k: tuple(round(float(per[p][k][m]), 3) for p in ("tune", "holdout") for m in ("precision", "recall")) for k in QC_KINDS})

if __name__ == "__main__":
    main()
