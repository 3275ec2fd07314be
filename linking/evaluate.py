"""Linking accuracy against the demo archive's truth: precision/recall of tiers A+B, by prompt kind and tier."""
from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

from curation.io.truth import Truth
from curation.io.tables import read_records
from schemas import AnnotationRecord, FindingRecord, LinkRecord


def evaluate_links(out: Path, truth: Truth) -> dict:
    """Links of OUT against a truth source (curation.demo.truth.DemoTruth for the demo archive)."""
    sentence_of = {}  # mark_id -> (study, start, end) of the FINDINGS sentence describing it
    for rep in truth.reports():
        for s in rep["sentences"]:
            if s["mark_id"] and s["role"] in ("measured", "arrow_ref"):
                sentence_of[s["mark_id"]] = (rep["study_uid"], s["start"], s["end"])
    findings = {f.finding_id: f for f in read_records(out, FindingRecord)}
    anns = {a.annotation_id: a for a in read_records(out, AnnotationRecord)}
    links = defaultdict(list)
    for link in read_records(out, LinkRecord):
        links[link.annotation_id].append(link)
    counts = defaultdict(Counter)  # (kind, tier) -> correct / wrong
    expected = Counter()
    for ann_id, a in anns.items():
        t = truth.mark_for(a)
        if t is None or t["mark_id"] not in sentence_of:
            continue
        expected[a.kind] += 1
        study, start, end = sentence_of[t["mark_id"]]
        for link in links.get(ann_id, []):
            f = findings[link.finding_id]
            ok = f.study_uid == study and f.char_start < end and start < f.char_end
            counts[(a.kind, link.tier)]["correct" if ok else "wrong"] += 1
    ab = [counts[k] for k in counts if k[1] in ("A", "B")]
    correct = sum(c["correct"] for c in ab)
    predicted = sum(c["correct"] + c["wrong"] for c in ab)
    total = sum(expected.values())
    return {
        "precision_ab": correct / predicted if predicted else float("nan"),
        "recall_ab": correct / total if total else float("nan"),
        "n_marks": total,
        "by_kind_tier": {f"{k}/{tier}": dict(v) for (k, tier), v in sorted(counts.items())},
        "marks_by_kind": dict(expected),
        "note": "synthetic demo reports: says nothing about real reports",
    }


def to_markdown(r: dict) -> str:
    lines = [f"Tiers A+B: precision {r['precision_ab']:.3f}, recall {r['recall_ab']:.3f} over {r['n_marks']} truth marks "
             f"({r['note']}).", "", "| prompt kind / tier | correct | wrong |", "|---|---|---|"]
    for key, v in r["by_kind_tier"].items():
        lines.append(f"| {key} | {v.get('correct', 0)} | {v.get('wrong', 0)} |")
    return "\n".join(lines) + "\n"
