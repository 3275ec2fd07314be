"""Evaluate masks against the demo archive's truth: Dice per prompt kind, RECIST error, bootstrap CIs.

Each mask's annotation is matched to the truth mark drawn by the same GSPS/SR object on the same slice
with the same kind (nearest geometry), which names the truth lesion; Dice is computed on the union of
both bounding boxes. Synthetic phantom data: these figures say nothing about real CT.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from curation.io.truth import Truth
from curation.io.tables import read_records
from schemas import AnnotationRecord, MaskRecord
from schemas.mask_nifti import paste

BOOTSTRAP = 2000


def bootstrap_ci(values: list[float], seed: int = 0) -> tuple[float, float]:
    """95% percentile bootstrap interval of the mean."""
    if len(values) < 2:
        v = values[0] if values else float("nan")
        return v, v
    rng = np.random.default_rng(seed)
    arr = np.asarray(values)
    means = arr[rng.integers(0, len(arr), (BOOTSTRAP, len(arr)))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def summarise(per_kind: dict) -> dict:
    """{kind: {"dice": [...], "recist_error_pct": [...]}} -> means with 95% bootstrap intervals."""
    summary = {}
    for kind, vals in per_kind.items():
        if not vals.get("dice"):
            continue
        entry = {"n": len(vals["dice"]), "dice_mean": float(np.mean(vals["dice"])), "dice_ci95": bootstrap_ci(vals["dice"])}
        if vals.get("recist_error_pct"):
            entry["recist_error_pct_mean"] = float(np.mean(vals["recist_error_pct"]))
            entry["recist_error_pct_ci95"] = bootstrap_ci(vals["recist_error_pct"])
        summary[kind] = entry
    return summary


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = a.sum() + b.sum()
    return float(2 * (a & b).sum() / total) if total else 1.0


def evaluate_demo(out: Path, truth: Truth) -> dict:
    """Masks of OUT against a truth source (curation.demo.truth.DemoTruth for the demo archive)."""
    out = Path(out)
    anns = {a.annotation_id: a for a in read_records(out, AnnotationRecord)}
    # by annotation: the bootstrap's intervals then do not move with mask ids (which change with the backend's version)
    masks = sorted(read_records(out, MaskRecord), key=lambda m: m.annotation_id)
    per_kind: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    rows = []
    for m in masks:
        a = anns.get(m.annotation_id)
        t = truth.mark_for(a) if a is not None else None
        if t is None:
            continue  # marks outside the truth (e.g. the bad-input copies)
        lab = truth.lesion_labels(t["series_uid"]) == t["lesion_id"]
        if m.error is not None:
            d, recist_err = 0.0, None
        else:
            pred = paste(m.mask, m.bbox, lab.shape)
            d = dice(pred, lab)
            recist_err = (abs(m.recist_long_mm - t["length_mm"]) / t["length_mm"] * 100
                          if t["length_mm"] and a.kind in ("line", "bidimensional") else None)
        per_kind[a.kind]["dice"].append(d)
        if recist_err is not None:
            per_kind[a.kind]["recist_error_pct"].append(recist_err)
        rows.append({"annotation_id": a.annotation_id, "kind": a.kind, "style": t["style"], "lesion_id": t["lesion_id"],
                     "dice": d, "recist_error_pct": recist_err, "error": m.error, "backend": m.backend})
    summary = summarise(dict(sorted(per_kind.items())))
    backends = sorted({m.backend for m in masks})
    return {"backends": backends, "summary": summary, "rows": rows,
            "note": "synthetic phantom data (opseg demo archive): says nothing about accuracy on real CT"}


def to_markdown(result: dict) -> str:
    lines = [f"Backend: {', '.join(result['backends'])}. {result['note']}.", "",
             "| prompt kind | n | Dice mean [95% CI] | RECIST long-axis error % [95% CI] |", "|---|---|---|---|"]
    for kind, e in result["summary"].items():
        recist = (f"{e['recist_error_pct_mean']:.1f} [{e['recist_error_pct_ci95'][0]:.1f}, {e['recist_error_pct_ci95'][1]:.1f}]"
                  if "recist_error_pct_mean" in e else "—")
        lines.append(f"| {kind} | {e['n']} | {e['dice_mean']:.3f} [{e['dice_ci95'][0]:.3f}, {e['dice_ci95'][1]:.3f}] | {recist} |")
    return "\n".join(lines) + "\n"
