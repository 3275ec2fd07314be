"""What the dataset card says about the radiologists' review: how many scores, the acceptable-or-minor rate next
to the SAM2CT paper's 87%, agreement between reviewers (Cohen's kappa) and QC verdict against review score."""
from __future__ import annotations

from collections import Counter
from itertools import combinations
from typing import Optional, Sequence

from curation.io.reviews import latest, worst_ranks
from schemas import REVIEW_SCORES, ReviewRecord

PAPER_ACCEPTABLE_OR_MINOR = 0.87  # SAM2CT clinical evaluation: share of masks acceptable or needing minor edits


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> Optional[float]:
    """Unweighted Cohen's kappa of two raters' labels on the same items; None when chance agreement is total
    (both raters gave one and the same label to everything) or there are no items."""
    if len(a) != len(b):
        raise ValueError("both raters must label the same items")
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b)) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[k] * cb[k] for k in set(ca) | set(cb)) / (n * n)
    return None if expected == 1 else (observed - expected) / (1 - expected)


def pseudonymous_labels(reviewers: Sequence[str]) -> dict[str, str]:
    """'reviewer 1', 'reviewer 2', ... by first appearance: the card never prints a name as typed."""
    labels: dict[str, str] = {}
    for r in reviewers:
        labels.setdefault(r, f"reviewer {len(labels) + 1}")
    return labels


def review_section(records: list[ReviewRecord], qc_verdicts: dict[str, Optional[bool]], min_review: Optional[str],
                   kept: Optional[int]) -> list[str]:
    """Markdown lines for the card. qc_verdicts: mask_id -> QC pass/fail/None for the published masks."""
    lines = ["## Radiologist review", ""]
    if not records:
        return lines + ["No mask has been scored yet (`opseg review OUT`).", ""]
    best = latest(records)
    labels = pseudonymous_labels([r.reviewer for r in sorted(records, key=lambda r: r.reviewed_at)])
    scores = Counter(r.score for r in best.values())
    n_scores = sum(scores.values())
    worst = worst_ranks(best)
    masks = set(worst)
    ok_scores = (scores["accept"] + scores["minor"]) / n_scores
    ok_masks = sum(1 for w in worst.values() if w <= 1) / len(masks)
    lines += [f"{len(records)} scores given; counting each reviewer's latest score: {n_scores} scores of {len(masks)} "
              f"masks by {len(labels)} reviewer(s) ({', '.join(f'{s} {scores[s]}' for s in REVIEW_SCORES)}).",
              f"Acceptable or minor edits: **{ok_scores:.0%}** of scores, {ok_masks:.0%} of masks by their worst score "
              f"(the SAM2CT paper's radiologists: {PAPER_ACCEPTABLE_OR_MINOR:.0%}).", ""]
    by_reviewer: dict[str, dict[str, str]] = {}
    for (m, who), r in best.items():
        by_reviewer.setdefault(who, {})[m] = r.score
    pairs = []
    for x, y in combinations(sorted(by_reviewer, key=labels.get), 2):
        common = sorted(set(by_reviewer[x]) & set(by_reviewer[y]))
        if common:
            k = cohen_kappa([by_reviewer[x][m] for m in common], [by_reviewer[y][m] for m in common])
            pairs.append(f"{labels[x]} / {labels[y]}: κ = {'n/a' if k is None else f'{k:.2f}'} on {len(common)} masks")
    if pairs:
        lines += ["Agreement (Cohen's kappa, unweighted, on the masks both scored): " + "; ".join(pairs) + ".", ""]
    lines += ["| QC verdict | " + " | ".join(REVIEW_SCORES) + " |", "|---|" + "---|" * len(REVIEW_SCORES)]
    table = Counter((qc_verdicts.get(m), r.score) for (m, _), r in best.items())
    for verdict, name in ((True, "pass"), (False, "fail"), (None, "no QC")):
        if any(table[(verdict, s)] for s in REVIEW_SCORES):
            lines.append(f"| {name} | " + " | ".join(str(table[(verdict, s)]) for s in REVIEW_SCORES) + " |")
    lines.append("")
    if min_review:
        lines += [f"Published with `--min-review {min_review}`: `grounded` and `masks` keep only masks whose every "
                  f"reviewer's latest score is {min_review} or better ({kept} masks); unreviewed masks are left out.", ""]
    lines += ["Reviewer names never appear here; in the `reviews` config they are pseudonyms and comments are scrubbed.",
              ""]
    return lines
