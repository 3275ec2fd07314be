"""Lesion grouping against a truth source: pairwise precision and recall of "these two marks are one lesion", and the
lesion count against the truth's marked lesions (curation.demo.truth.DemoTruth for the demo archive)."""
from __future__ import annotations

from collections import defaultdict
from itertools import combinations
from pathlib import Path

from curation.io.tables import read_records
from curation.io.truth import Truth
from schemas import AnnotationRecord, LesionMemberRecord, LesionRecord


def evaluate_lesions(out: Path, truth: Truth) -> dict:
    anns = {a.annotation_id: a for a in read_records(out, AnnotationRecord)}
    lesion_of = {m.annotation_id: m.lesion_id for m in read_records(out, LesionMemberRecord)}
    by_study = defaultdict(list)  # study -> [(annotation_id, truth lesion, predicted lesion)]
    unmatched = 0
    for ann_id, lid in sorted(lesion_of.items()):
        t = truth.mark_for(anns[ann_id]) if ann_id in anns else None
        if t is None:
            unmatched += 1
            continue
        by_study[t["study_uid"]].append((ann_id, t["lesion_id"], lid))
    tp = fp = fn = 0
    for marks in by_study.values():
        for (_, ta, pa), (_, tb, pb) in combinations(marks, 2):
            tp += ta == tb and pa == pb
            fp += ta != tb and pa == pb
            fn += ta == tb and pa != pb
    truth_lesions = {(s, t) for s, marks in by_study.items() for _, t, _ in marks}
    predicted = {p for marks in by_study.values() for _, _, p in marks}
    pure = sum(1 for p in predicted if len({(s, t) for s, marks in by_study.items() for _, t, q in marks if q == p}) == 1)
    return {"pair_precision": tp / (tp + fp) if tp + fp else 1.0, "pair_recall": tp / (tp + fn) if tp + fn else 1.0,
            "same_lesion_pairs": tp + fn, "marks": sum(len(m) for m in by_study.values()), "marks_without_truth": unmatched,
            "truth_lesions": len(truth_lesions), "predicted_lesions": len(predicted), "pure_lesions": pure,
            "lesions_table_rows": len(read_records(out, LesionRecord))}
