"""Match radiologists' marks to report findings, per study (rules in shared design note "linking").

Tier A: the finding's image reference lands in the mark's slice range (±1) under the site's image-number
convention AND the size agrees (|Δ| ≤ max(1 mm, 5 %)); arrows need only the image reference. Locked first.
Tier B: Hungarian assignment on size disagreement for the rest, kept only with a clear margin (runner-up
≥ 0.5 tolerance units worse in its row and column). Tier C: an assignment of the remaining marks to the
findings no tier used, within 2 tolerance units, kept for review and excluded from training by default. Vetoes: laterality, negation, prior-only values, same
series but wrong slice. The convention (InstanceNumber, or stack index up or down) is learned from the
pairs whose size agrees exactly.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from scipy.optimize import linear_sum_assignment

CONVENTIONS = ("instance", "stack_asc", "stack_desc")
MARGIN = 0.5
MAX_UNITS = 2.0


@dataclass
class Mark:
    annotation_ids: list[str]
    kind: str
    series_uid: Optional[str]
    series_number: Optional[int]
    slice_lo: int
    slice_hi: int
    long_mm: Optional[float]
    short_mm: Optional[float]
    laterality: Optional[str]
    instance_by_slice: list[int] = field(default_factory=list)
    slice_k: Optional[int] = None       # the slice the mark was drawn on

    def slice_for(self, image: int, convention: str) -> Optional[int]:
        n = len(self.instance_by_slice)
        if convention == "instance":
            return self.instance_by_slice.index(image) if image in self.instance_by_slice else None
        if convention == "stack_asc":
            return image - 1 if 1 <= image <= n else None
        return n - image if 1 <= image <= n else None


@dataclass
class Candidate:
    units: float = np.inf               # size disagreement in tolerance units (inf: no comparable size)
    exact: bool = False
    one_dim_vs_two: bool = False
    up_to: bool = False
    conventions: set = field(default_factory=set)  # conventions under which an image reference agrees
    slice_distance: dict = field(default_factory=dict)  # convention -> |referenced slice - drawn slice|
    dims_differ: bool = False           # a 2-D mark against a 1-D report value (fine, but a 2-D value fits better)
    same_series_refs: bool = False
    veto: Optional[str] = None


def tolerance(mm: float) -> float:
    return max(1.0, 0.05 * mm)


def _round_to(value: float, precision: float) -> float:
    return round(value / precision) * precision


def size_fit(mark: Mark, sizes: list[dict]) -> tuple[float, bool, bool, bool, bool]:
    """Best (units, exact, one-dim-vs-two, up_to, dims_differ) over the finding's current sizes."""
    best = (np.inf, False, False, False, False)
    if mark.long_mm is None:
        return best
    for s in sizes:
        if s["temporal"] != "current" or {"sum", "change", "attribute"} & set(s.get("flags", [])):
            continue
        dims = sorted(s["dims_mm"], reverse=True)
        mine = [mark.long_mm] + ([mark.short_mm] if mark.short_mm else [])
        if s.get("axis") == "short" and mark.short_mm:
            pairs, lower = [(dims[0], mark.short_mm)], False
        elif len(dims) == 1 or len(mine) == 1:
            pairs, lower = [(dims[0], mine[0])], len(dims) > 1
        else:
            top = dims[:2] if len(dims) == 2 else sorted(dims, reverse=True)[:2]
            pairs, lower = list(zip(top, mine[:2])), False
        units = max(abs(r - m) / tolerance(r) for r, m in pairs)
        exact = all(abs(_round_to(m, s["precision_mm"]) - r) < 1e-6 for r, m in pairs)
        cand = (units, exact, lower, "up_to" in s.get("flags", []), len(dims) != len(mine))
        if cand[0] < best[0]:
            best = cand
    return best


def evaluate_pair(mark: Mark, finding: dict, series_numbers: dict[int, int]) -> Candidate:
    c = Candidate()
    if finding["negated"]:
        c.veto = "negated"
        return c
    if finding["laterality"] in ("left", "right") and mark.laterality in ("left", "right") \
            and finding["laterality"] != mark.laterality:
        c.veto = "laterality"
        return c
    c.units, c.exact, c.one_dim_vs_two, c.up_to, c.dims_differ = size_fit(mark, finding["sizes"])
    if not any(s["temporal"] == "current" for s in finding["sizes"]) and finding["sizes"]:
        c.veto = "prior_only"
    for ref in finding["image_refs"] or []:
        if ref["series"] is not None:
            if ref["series"] not in series_numbers or ref["image"] > series_numbers[ref["series"]]:
                continue  # not an image of this study: ignore the reference
            if ref["series"] != mark.series_number:
                continue
            c.same_series_refs = True
        images = range(ref["image"], (ref.get("image_last") or ref["image"]) + 1)  # a range "IMA 8-34 to 8-40"
        for conv in CONVENTIONS:
            zs = [z for z in (mark.slice_for(im, conv) for im in (images[0], images[-1])) if z is not None]
            if not zs:
                continue
            lo, hi = min(zs), max(zs)
            if lo <= mark.slice_hi + 1 and mark.slice_lo - 1 <= hi:
                c.conventions.add(conv)
                k = mark.slice_k if mark.slice_k is not None else lo
                dist = 0 if lo <= k <= hi else min(abs(lo - k), abs(hi - k))
                c.slice_distance[conv] = min(c.slice_distance.get(conv, 99), dist)
    return c


def learn_convention(cands: dict) -> str:
    votes = {conv: 0 for conv in CONVENTIONS}
    for c in cands.values():
        if c.veto is None and c.exact:
            for conv in c.conventions:
                votes[conv] += 1
    best = max(CONVENTIONS, key=lambda k: (votes[k], k == "instance"))
    return best if votes[best] > 0 else "instance"


def match_study(marks: list[Mark], findings: list[dict], series_numbers: dict[int, int]) -> list[tuple]:
    """[(mark index, finding index, tier, score, evidence)]"""
    cands = {(i, j): evaluate_pair(m, f, series_numbers) for i, m in enumerate(marks) for j, f in enumerate(findings)}
    convention = learn_convention(cands)
    links, used_m, used_f = [], set(), set()

    def evidence(c: Candidate, f: dict) -> list[str]:
        ev = []
        if np.isfinite(c.units):
            ev.append("size_exact" if c.exact else f"size_within_{c.units:.2f}_tol")
        if convention in c.conventions:
            ev.append(f"image_ref:{convention}")
        ev.append(f"section:{f['section'].split('/')[0]}")
        if f["laterality"]:
            ev.append(f"laterality:{f['laterality']}")
        return ev

    # tier A: image reference and size (arrows: image reference alone, on a finding without a size)
    tier_a = []
    for (i, j), c in cands.items():
        if c.veto or convention not in c.conventions or c.up_to:
            continue
        f, m = findings[j], marks[i]
        no_size = not any(s["temporal"] == "current" for s in f["sizes"])
        if (m.kind == "arrow" and no_size) or (c.units <= 1.0 and not c.one_dim_vs_two):
            # ranking among agreeing pairs: size fit, then a value of the mark's own dimensionality, then the
            # referenced slice closest to where the mark was drawn (adjacent lesions of the same size)
            rank = (0.0 if m.kind == "arrow" else c.units) + 0.25 * c.dims_differ + 0.1 * c.slice_distance.get(convention, 0)
            tier_a.append((rank, c.units if m.kind != "arrow" else 0.0, i, j))
    for _, units, i, j in sorted(tier_a):
        if i in used_m or j in used_f:
            continue
        used_m.add(i), used_f.add(j)
        links.append((i, j, "A", round(1.0 - 0.1 * units, 4), evidence(cands[(i, j)], findings[j])))
    # vetoes that need the convention: same series, another slice
    for (i, j), c in cands.items():
        if c.veto is None and c.same_series_refs and convention not in c.conventions:
            c.veto = "wrong_slice"
    # tier B: assignment on size with a margin
    rows = [i for i in range(len(marks)) if i not in used_m and marks[i].kind != "arrow"]
    cols = [j for j in range(len(findings)) if j not in used_f]
    if rows and cols:
        cost = np.full((len(rows), len(cols)), 1e6)
        for a, i in enumerate(rows):
            for b, j in enumerate(cols):
                c = cands[(i, j)]
                if c.veto is None and not c.up_to and c.units <= MAX_UNITS:
                    cost[a, b] = c.units + (1.0 if c.one_dim_vs_two else 0.0)
        ra, cb = linear_sum_assignment(cost)
        for a, b in zip(ra, cb):
            if cost[a, b] > 1.0:
                continue
            runner_row = np.min(np.delete(cost[a], b)) if cost.shape[1] > 1 else np.inf
            runner_col = np.min(np.delete(cost[:, b], a)) if cost.shape[0] > 1 else np.inf
            if min(runner_row, runner_col) - cost[a, b] >= MARGIN:
                i, j = rows[a], cols[b]
                used_m.add(i), used_f.add(j)
                margin = min(runner_row, runner_col) - cost[a, b]
                links.append((i, j, "B", round(0.8 - 0.1 * cost[a, b], 4), evidence(cands[(i, j)], findings[j])
                              + [f"margin_{min(margin, 99.0):.2f}_tol"]))
    links += _tier_c(marks, findings, cands, convention, used_m, used_f, evidence)
    return links


def _tier_c(marks, findings, cands, convention, used_m, used_f, evidence) -> list[tuple]:
    """Tier C: one plausible candidate per remaining mark, never a finding already linked (at any tier) and
    never one finding for two marks: an assignment on size over what tiers A and B left. Plausible = size
    within 2 tolerance units, or (a finding without a current size) an image reference that agrees."""
    rows = [i for i in range(len(marks)) if i not in used_m]
    cols = [j for j in range(len(findings)) if j not in used_f]
    if not rows or not cols:
        return []
    cost = np.full((len(rows), len(cols)), 1e6)
    for a, i in enumerate(rows):
        for b, j in enumerate(cols):
            c = cands[(i, j)]
            sized = any(s["temporal"] == "current" for s in findings[j]["sizes"])
            if c.veto is None and (c.units <= MAX_UNITS if sized else convention in c.conventions):
                cost[a, b] = min(c.units, MAX_UNITS) if sized else MAX_UNITS
    out = []
    for a, b in zip(*linear_sum_assignment(cost)):
        if cost[a, b] < 1e6:
            i, j = rows[a], cols[b]
            used_m.add(i), used_f.add(j)
            out.append((i, j, "C", round(0.5 - 0.1 * cost[a, b], 4), evidence(cands[(i, j)], findings[j]) + ["candidate"]))
    return out


def finding_view(rec) -> dict:
    meta = json.loads(rec.entities_json or "{}")
    return {"finding_id": rec.finding_id, "section": rec.section or "", "negated": rec.negated,
            "laterality": rec.laterality, "sizes": meta.get("sizes", []), "image_refs": rec.image_refs,
            "observation": rec.observation}
