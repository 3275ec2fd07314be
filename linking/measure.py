"""Sizes in report sentences (image references: linking/image_refs.py, re-exported here).

Sizes: 1-3 dimensions joined by x / × / * / by, each optionally with its own unit, ending in a unit ("2.3 x
1.5 cm", "9-millimeter", "1.4-cm", "2,3 cm", "22 mm in diameter"); kept in mm with the precision the
radiologist wrote. A list sharing one unit ("4, 6 and 8 mm") is one size per value. Ranges ("3-5 mm",
"between 3 and 5 mm") and technique numbers (slice thickness, collimation, kVp, ...) are rejected; a sum of
diameters ("SPD: 68 mm") and a change ("growth of 5 mm") are kept but flagged ``sum`` / ``change``,
never a lesion; a part of a lesion ("a solid component of 6 mm") is flagged ``attribute``. Each size is current or prior by the
cues before and after it ("previously 16 mm", "from 12 to 15 mm", "9 mm on June 3"). Dates without a year
("June 3", "6/3") never become sizes: a size needs a unit.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from linking.image_refs import ImageRef, image_refs  # noqa: F401  (one import place for both parsers)

_UNIT = r"(?:mm|cm|millimet(?:er|re)s?|centimet(?:er|re)s?)"
_NUM = r"\d+(?:\.\d+|,\d{1,2}(?![\d.]))?"
_SEP = r"\s*(?:x|×|\*|by)\s*"
_JOIN = r"\s*-?\s*"                         # "9 mm", "9mm", "9-millimeter", "1.4-cm"
SIZE_RE = re.compile(
    rf"(?<![\w.\-/,])({_NUM})(?:{_JOIN}({_UNIT}))?(?:{_SEP}({_NUM})(?:{_JOIN}({_UNIT}))?)?"
    rf"(?:{_SEP}({_NUM})(?:{_JOIN}({_UNIT}))?)?(?![\w/²³])", re.IGNORECASE)
LIST_RE = re.compile(rf"(?<![\w.\-/,])({_NUM}(?:\s*,\s*{_NUM})*)\s*,?\s*(?:and|&|or)\s*({_NUM}){_JOIN}({_UNIT})(?![\w/²³])",
                     re.IGNORECASE)
RANGE_RE = re.compile(rf"{_NUM}\s*(?:{_UNIT})?\s*(?:-|–|to)\s*{_NUM}{_JOIN}{_UNIT}|\bbetween\s+{_NUM}\s*(?:{_UNIT})?\s*and\s+"
                      rf"{_NUM}{_JOIN}{_UNIT}", re.IGNORECASE)
TECHNIQUE_WORDS = re.compile(r"slice|collimation|interval(?!\s+(?:growth|increase|decrease|change|enlarg|develop|"
                             r"progress|resolution|reduction|new|regress|improve|worsen))|reconstruct|\bkvp\b|\bmas\b|pitch|"
                             r"increment|\bsections?\b|window|\bct ?di|\bdlp\b", re.IGNORECASE)
THICKNESS_AFTER = re.compile(r"^\s*(?:axial\s+|image\s+)?(?:thickness|thick\s+(?:slices|sections|images|reconstructions))",
                             re.IGNORECASE)   # "at 5 mm thickness" is technique; "5 mm in thickness" is a size
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE = rf"(?:\d{{1,2}}[/.-]\d{{1,2}}(?:[/.-]\d{{2,4}})?|(?:19|20)\d\d|{_MONTH}\s*\d{{1,2}}|\d{{1,2}}\s*{_MONTH})"
PRIOR_BEFORE = re.compile(  # a prior cue shortly before the value: strong cues reach 4 words (no number between), weak ones none
    rf"(?:\b(?:previously|prior|compared (?:to|with)|in (?:19|20)\d\d|on {_DATE}|before|earlier|last (?:study|exam)|formerly|"
    rf"baseline|initially|nadir|vs\.?|versus|the prior study|then)[^\w;]*(?:[^\W\d]\w*[^\w;]+){{0,4}}"
    r"|\b(?:was|were|from|of previously)\W*(?:(?:approximately|about|approx\.?|up to)\W+)?)$", re.IGNORECASE)
PRIOR_AFTER = re.compile(rf"^\W*(?:on|in|at|from|of|dated) (?:the )?(?:prior|previous|earlier|last|comparison|baseline|{_DATE})"
                         r"|^\s*\(?(?:previously|before|earlier|formerly|prior|at baseline)\b(?![\s,:]*\d)", re.IGNORECASE)
CURRENT_BEFORE = re.compile(r"\b(now|measures|measuring|currently|today|presently|current|at present)\W*(?:\w+\W+){0,2}$",
                            re.IGNORECASE)
SUM_LABEL = re.compile(r"\b(?:spd|sld|sod|sum(?: of)?(?: the)?(?: longest| short[- ]axis| target)?(?: lesions?)?"
                       r"(?: diameters?)?|total diameter)\b", re.IGNORECASE)
CHANGE_BEFORE = re.compile(r"\b(?:growth|increase|decrease|reduction|shrinkage|enlargement|progression|regression|change|"
                           r"difference|grown|increased|decreased|enlarged|shrunk|reduced|grew)\s+(?:of|by)\s*$", re.IGNORECASE)
ATTRIBUTE = re.compile(r"(?:\b(?:component|portion|part|core|rim|wall)\s+(?:of|measuring)\s*$)")
ATTRIBUTE_AFTER = re.compile(r"^\s*(?:[\w-]+\s+){0,2}(?:component|portion|part|core)\b", re.IGNORECASE)
HAS_UNIT = re.compile(r"\d\s*-?\s*(?:mm|cm|millimet|centimet)", re.IGNORECASE)   # no size without one: skip the rest
SUB_SIZE = re.compile(r"(?<=\bsub)-(?=\d)", re.IGNORECASE)
LIST_JOIN = re.compile(r"\s*(?:,|;|and|&|or)\s*(?:(?:,|and)\s*)?")
AXIS_RE = re.compile(r"(short|long)[ -]axis(\s+(?:diameters|measurements|dimensions))?", re.IGNORECASE)
FROM_TO_RE = re.compile(rf"\bfrom\s+({_NUM})(?:{_JOIN}({_UNIT}))?\s+to\s+({_NUM}){_JOIN}({_UNIT})", re.IGNORECASE)


@dataclass
class Size:
    dims_mm: tuple[float, ...]
    precision_mm: float
    text: str
    start: int
    end: int
    temporal: str = "current"          # current | prior
    axis: Optional[str] = None          # short | long
    flags: list[str] = field(default_factory=list)   # up_to | sum | change | attribute


def _mm(value: str, unit: str) -> tuple[float, float]:
    value = value.replace(",", ".")
    decimals = len(value.split(".")[1]) if "." in value else 0
    scale = 10.0 if unit.lower().startswith("c") else 1.0
    return float(value) * scale, scale * 10.0 ** -decimals


def _raw_sizes(sentence: str) -> list[Size]:
    """Every size with its span, before temporal and axis cues."""
    out, taken = [], []
    sentence = SUB_SIZE.sub(" ", sentence)  # "sub-5 mm" reads as "sub 5 mm" (same length: spans hold)
    for m in FROM_TO_RE.finditer(sentence):  # "from 12 to 15 mm": 12 was, 15 is
        for g, when in ((1, "prior"), (3, "current")):
            mm, prec = _mm(m.group(g), m.group(g + 1) or m.group(4))
            out.append(Size((mm,), prec, m.group(g), m.start(g), m.end(g), when))
        taken.append(m.span())
    ranges = [m.span() for m in RANGE_RE.finditer(sentence)] + taken
    for m in LIST_RE.finditer(sentence):  # "4, 6 and 8 mm": three values, one unit
        if any(a <= m.start() < b for a, b in ranges):
            continue
        for v in re.finditer(_NUM, m.group(0)[: m.end(2) - m.start()]):
            mm, prec = _mm(v.group(0), m.group(3))
            out.append(Size((mm,), prec, v.group(0), m.start() + v.start(), m.start() + v.end(), "unknown"))
        taken.append(m.span())
    for m in SIZE_RE.finditer(sentence):
        groups = m.groups()
        values = [g for g in groups[0::2] if g]
        units = groups[1::2][:len(values)]
        if not units[-1] or any(a <= m.start() < b for a, b in ranges + taken):
            continue  # a size ends in a unit
        context = sentence[max(0, m.start() - 30): m.start()] + " " + re.match(r".{0,20}\w*", sentence[m.end():]).group(0)
        if TECHNIQUE_WORDS.search(context) or THICKNESS_AFTER.match(sentence[m.end():m.end() + 30]):
            continue
        dims, precision = [], 0.0
        for v, u in zip(values, units):
            mm, prec = _mm(v, u or units[-1])
            dims.append(mm)
            precision = prec if not precision else min(precision, prec)
        out.append(Size(tuple(dims), precision, m.group(0), m.start(), m.end(), "unknown"))
    return out


def sizes(sentence: str, section: str = "FINDINGS") -> list[Size]:
    """Sizes in a sentence; nothing from TECHNIQUE; ranges and technique numbers rejected."""
    if section == "TECHNIQUE" or not HAS_UNIT.search(sentence):
        return []
    out = _raw_sizes(sentence)
    for size in out:
        before, after = sentence[max(0, size.start - 40): size.start], sentence[size.end:size.end + 60]
        if size.temporal == "unknown":
            size.temporal = "prior" if _is_prior(before, after) else "current"
        if re.search(r"(?:up to|sub|<|less than|smaller than)\W*$", before, re.IGNORECASE):
            size.flags.append("up_to")
        if SUM_LABEL.search(sentence[max(0, size.start - 200):size.start]):
            size.flags.append("sum")
        if CHANGE_BEFORE.search(before):
            size.flags.append("change")
        if ATTRIBUTE.search(before[-25:].lower()) or ATTRIBUTE_AFTER.match(after):
            size.flags.append("attribute")
    out.sort(key=lambda z: z.start)
    for a, b in zip(out, out[1:]):  # "previously 38 x 29 mm and 17 mm": a list continues its first value's time
        if a.temporal == "prior" and b.temporal == "current" and LIST_JOIN.fullmatch(sentence[a.end:b.start]):
            b.temporal = "prior"
    _bind_axes(sentence, out)
    return out


def _is_prior(before: str, after: str) -> bool:
    """A prior cue before the value that no current cue follows ("previously described nodule now measures"
    is current), or a prior cue right after it ("14 mm on the prior")."""
    p = PRIOR_BEFORE.search(before)
    c = CURRENT_BEFORE.search(before)
    if p and not (c and c.start() > p.start()):
        return True
    return bool(PRIOR_AFTER.search(after))


def _bind_axes(sentence: str, found: list[Size]) -> None:
    """Axis words bind to the nearest value (one written before the value wins a tie); a plural
    ("short-axis diameters of 12 mm left and 15 mm right") binds every value up to the next axis word."""
    axes = list(AXIS_RE.finditer(sentence))
    for size in found:
        near = []
        for a in axes:
            before_value = a.end() <= size.start
            dist = size.start - a.end() if before_value else a.start() - size.end
            if 0 <= dist <= 25:
                near.append((dist, not before_value, a.group(1).lower()))
        last = next((a for a in reversed(axes) if a.end() <= size.start), None)
        if last is not None and last.group(2):  # "short-axis diameters of 12 mm left and 15 mm right"
            near.append((26, False, last.group(1).lower()))
        size.axis = min(near)[2] if near else None
