"""A corpus of report texts with a truth table per finding, and the parse precision / recall on it.

Each report is ``NAME.txt`` with ``NAME.truth.tsv`` beside it. Truth columns: anchor (a string found once in
the report, inside the finding it describes), section, current sizes and prior sizes in mm ("14x11;6"),
image references ("4:87", "8:34-40", ":112" without a series), side, negated, uncertain (y / -), the
patterns the finding is written with (tags), and the mark ids a matching GSPS mark would carry. Header
lines give the study's series ("#series 4:310" = series 4 holds 310 images), how InstanceNumber runs
against the slice order ("#order instance_desc") and marks no sentence describes ("#extra 31.0@2:80").
Every sentence with a size, an image reference, a negation or a hedge has a row; anything the parser finds
outside the rows is a false positive.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

FIELDS = ("current", "prior", "refs", "side", "negated", "uncertain")


@dataclass
class TruthRow:
    anchor: str
    section: str
    current: list[tuple]
    prior: list[tuple]
    refs: list[tuple]
    side: str | None
    negated: bool
    uncertain: bool
    forms: list[str]
    marks: list[str]
    position: int = -1


@dataclass
class CorpusReport:
    name: str
    text: str
    rows: list[TruthRow]
    series: dict[int, int] = field(default_factory=dict)
    order: str = "instance_asc"
    extra: list[tuple[float, int, int]] = field(default_factory=list)


def _sizes(cell: str) -> list[tuple]:
    return [] if cell == "-" else [tuple(round(float(v), 1) for v in part.split("x")) for part in cell.split(";")]


def _refs(cell: str) -> list[tuple]:
    out = []
    for part in ([] if cell == "-" else cell.split(";")):
        series, image = part.split(":")
        first, _, last = image.partition("-")
        out.append((int(series) if series else None, int(first), int(last) if last else None))
    return out


def load_corpus(folder: Path) -> list[CorpusReport]:
    out = []
    for txt in sorted(Path(folder).glob("*.txt")):
        text = txt.read_text(encoding="utf-8")
        rep = CorpusReport(txt.stem, text, [])
        for n, line in enumerate(txt.with_suffix(".truth.tsv").read_text(encoding="utf-8").splitlines(), 1):
            cols = line.split("\t")
            if not line.strip() or line.startswith("#anchor"):
                continue
            if cols[0] == "#series":
                rep.series = {int(a): int(b) for a, b in (c.split(":") for c in cols[1:])}
            elif cols[0] == "#order":
                rep.order = cols[1]
            elif cols[0] == "#extra":
                for c in cols[1:]:
                    length, _, ref = c.partition("@")
                    s, i = ref.split(":")
                    rep.extra.append((float(length), int(s), int(i)))
            else:
                if len(cols) != 10:
                    raise ValueError(f"{txt.name} truth line {n}: 10 columns expected, got {len(cols)}: {line!r}")
                anchor, section, cur, pri, refs, side, neg, unc, forms, marks = cols
                row = TruthRow(anchor, section, _sizes(cur), _sizes(pri), _refs(refs), None if side == "-" else side,
                               neg == "y", unc == "y", [f for f in forms.split(",") if f and f != "-"],
                               [] if marks == "-" else marks.split(";"))
                row.position = text.find(anchor)
                if row.position < 0 or text.find(anchor, row.position + 1) >= 0:
                    raise ValueError(f"{txt.name}: anchor {anchor!r} must occur exactly once")
                rep.rows.append(row)
        out.append(rep)
    return out


def _predicted(f) -> dict:
    return {"current": [tuple(round(v, 1) for v in d) for d in (f.sizes_mm or [])],
            "prior": [tuple(round(v, 1) for v in d) for d in (f.prior_sizes_mm or [])],
            "refs": [(r["series"], r["image"], r.get("image_last")) for r in (f.image_refs or [])],
            "side": f.laterality, "negated": f.negated, "uncertain": f.uncertain}


def _count(truth: list, pred: list) -> Counter:
    t, p = Counter(truth), Counter(pred)
    tp = sum((t & p).values())
    return Counter(tp=tp, fn=sum(t.values()) - tp, fp=sum(p.values()) - tp)


def _truth_values(row: TruthRow) -> dict:
    return {"current": row.current, "prior": row.prior, "refs": row.refs, "side": row.side,
            "negated": row.negated, "uncertain": row.uncertain}


def _flag_counts(truth_value, pred_value) -> Counter:
    """A label field (side, negated, uncertain): one item when set, right only when equal."""
    t = [truth_value] if truth_value else []
    p = [pred_value] if pred_value else []
    return _count(t, p)


def score_parse(corpus: list[CorpusReport], analyse, backend: str) -> dict:
    """Counts per field and per pattern tag: {"fields": {field: Counter}, "forms": {tag: Counter}, "misses": [...]}."""
    from linking.findings import report_findings
    from schemas import ReportRecord

    fields: dict[str, Counter] = defaultdict(Counter)
    forms: dict[str, Counter] = defaultdict(Counter)
    misses = []
    for rep in corpus:
        findings, _ = report_findings(ReportRecord(report_id=rep.name, study_uid=rep.name, text=rep.text,
                                                   n_chars=len(rep.text)), analyse, backend)
        covered = set()
        for row in rep.rows:
            hit = [f for f in findings if f.char_start <= row.position < f.char_end]
            pred = _predicted(hit[0]) if hit else {k: ([] if k in ("current", "prior", "refs") else None) for k in FIELDS}
            covered |= {id(f) for f in hit[:1]}
            truth = _truth_values(row)
            for k in FIELDS:
                c = _count(truth[k], pred[k]) if k in ("current", "prior", "refs") else _flag_counts(truth[k], pred[k])
                fields[k] += c
                size_like = k in ("current", "prior", "refs")
                for tag in row.forms:
                    if size_like or tag in ("negation", "uncertain", "per_side", "laterality"):
                        forms[tag] += c
                if c["fp"] or c["fn"]:
                    misses.append(f"{rep.name}: {row.anchor!r} {k}: truth {truth[k]} parsed {pred[k]}")
        for f in findings:  # what the parser found outside every truth row
            if id(f) in covered:
                continue
            pred = _predicted(f)
            for k in FIELDS:
                n = len(pred[k]) if k in ("current", "prior", "refs") else int(bool(pred[k]) and k != "side")
                if n:
                    fields[k]["fp"] += n
                    forms["outside_rows"]["fp"] += n
                    misses.append(f"{rep.name}: outside rows {f.text[:60]!r} {k}: {pred[k]}")
    return {"fields": dict(fields), "forms": dict(forms), "misses": misses}


def pr(c: Counter) -> tuple[float, float]:
    p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else float("nan")
    r = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else float("nan")
    return p, r
