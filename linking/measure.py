"""Sizes and image references in report sentences.

Sizes: 1-3 dimensions joined by x / × / * / by, each optionally with its own unit, ending in a unit; kept
in mm with the precision the radiologist wrote. Ranges ("3-5 mm", "3 to 5 mm") and technique numbers
(slice thickness, collimation, kVp, ...) are rejected. Each size is current or prior by the cues before
and after it ("previously 16 mm", "from 12 to 15 mm", "measured 9 mm on the prior"). Image references:
"series 3, image 45", "image 45 of series 3", "series/image 3/45", "(3:45)", "(3/45)", "image 45".
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

_UNIT = r"(?:mm|cm|millimet(?:er|re)s?|centimet(?:er|re)s?)"
_NUM = r"\d+(?:\.\d+)?"
_SEP = r"\s*(?:x|×|\*|by)\s*"
SIZE_RE = re.compile(
    rf"(?<![\w.\-/])({_NUM})\s*({_UNIT})?(?:{_SEP}({_NUM})\s*({_UNIT})?)?(?:{_SEP}({_NUM})\s*({_UNIT})?)?(?![\w/])",
    re.IGNORECASE)
RANGE_RE = re.compile(rf"{_NUM}\s*(?:{_UNIT})?\s*(?:-|–|to)\s*{_NUM}\s*{_UNIT}", re.IGNORECASE)
TECHNIQUE_WORDS = re.compile(r"slice|thickness|collimation|interval|reconstruct|kvp|mas\b|pitch|increment|section|window",
                             re.IGNORECASE)
PRIOR_BEFORE = re.compile(r"(previously|prior|was|were|from|compared (?:to|with)|in (?:19|20)\d\d|on \d{1,2}/\d{1,2}|"
                          r"before|earlier|last (?:study|exam))\W*(?:\w+\W+){0,3}$", re.IGNORECASE)
PRIOR_AFTER = re.compile(r"^\W*(?:on|in|at) (?:the )?(?:prior|previous|\d{1,2}/\d{1,2}|(?:19|20)\d\d)", re.IGNORECASE)
CURRENT_BEFORE = re.compile(r"(now|measures|measuring|measured|up to|currently|today)\W*(?:\w+\W+){0,2}$", re.IGNORECASE)
AXIS_RE = re.compile(r"(short|long)[ -]axis", re.IGNORECASE)
FROM_TO_RE = re.compile(rf"\bfrom\s+({_NUM})\s*({_UNIT})?\s+to\s+({_NUM})\s*({_UNIT})", re.IGNORECASE)


@dataclass
class Size:
    dims_mm: tuple[float, ...]
    precision_mm: float
    text: str
    start: int
    end: int
    temporal: str = "current"          # current | prior
    axis: Optional[str] = None          # short | long
    flags: list[str] = field(default_factory=list)


@dataclass
class ImageRef:
    series: Optional[int]
    image: int
    text: str
    start: int
    end: int


def _mm(value: str, unit: str) -> tuple[float, float]:
    decimals = len(value.split(".")[1]) if "." in value else 0
    scale = 10.0 if unit.lower().startswith("c") else 1.0
    return float(value) * scale, scale * 10.0 ** -decimals


def sizes(sentence: str, section: str = "FINDINGS") -> list[Size]:
    """Sizes in a sentence; nothing from TECHNIQUE; ranges and technique numbers rejected."""
    if section == "TECHNIQUE":
        return []
    out: list[Size] = []
    from_to = []
    for m in FROM_TO_RE.finditer(sentence):  # "from 12 to 15 mm": 12 was, 15 is
        unit = m.group(4)
        for value, own_unit, span, when in ((m.group(1), m.group(2), m.span(1), "prior"), (m.group(3), unit, m.span(3), "current")):
            mm, prec = _mm(value, own_unit or unit)
            out.append(Size((mm,), prec, sentence[span[0]:span[1]], span[0], span[1], when))
        from_to.append(m.span())
    ranges = [m.span() for m in RANGE_RE.finditer(sentence)] + from_to
    for m in SIZE_RE.finditer(sentence):
        groups = m.groups()
        values = [g for g in groups[0::2] if g]
        units = [g for g in groups[1::2] if g]
        if not units or (groups[-1] is None and groups[-2] is not None and not groups[1::2][len(values) - 1]):
            continue  # a size ends in a unit
        last_unit = next(u for u in reversed(groups[1::2]) if u)
        if not groups[1::2][len(values) - 1]:
            continue
        if any(a <= m.start() < b for a, b in ranges):
            continue
        context = sentence[max(0, m.start() - 30): m.start()] + " " + sentence[m.end(): m.end() + 20]
        if TECHNIQUE_WORDS.search(context):
            continue
        dims, precision = [], 0.0
        for v, u in zip(values, groups[1::2][:len(values)]):
            mm, prec = _mm(v, u or last_unit)
            dims.append(mm)
            precision = prec if not precision else min(precision, prec)
        size = Size(tuple(dims), precision, m.group(0), m.start(), m.end())
        before, after = sentence[max(0, m.start() - 40): m.start()], sentence[m.end():]
        if (PRIOR_BEFORE.search(before) and not CURRENT_BEFORE.search(before[-15:])) or PRIOR_AFTER.search(after):
            size.temporal = "prior"
        if re.search(r"up to\W*$", before, re.IGNORECASE):
            size.flags.append("up_to")
        near = []  # axis words within reach; the closest wins, one written before the value on a tie
        for a in AXIS_RE.finditer(sentence):
            before_value = a.end() <= m.start()
            dist = m.start() - a.end() if before_value else a.start() - m.end()
            if 0 <= dist <= 25:
                near.append((dist, not before_value, a.group(1).lower()))
        size.axis = min(near)[2] if near else None
        out.append(size)
    return sorted(out, key=lambda z: z.start)


IMAGE_PATTERNS = [
    re.compile(r"\bseries\s*(\d+)\s*[,;]?\s*(?:image|img|im)\s*#?\s*(\d+)", re.IGNORECASE),
    re.compile(r"\bse(?:r)?\.?\s*(\d+)\s*[,;/]?\s*im(?:g)?\.?\s*(\d+)", re.IGNORECASE),
    re.compile(r"\bseries\s*/\s*image\s*(\d+)\s*/\s*(\d+)", re.IGNORECASE),
    re.compile(r"\(\s*(\d+)\s*[:/]\s*(\d+)\s*\)"),
]
IMAGE_OF_SERIES = re.compile(r"\b(?:image|img)\s*#?\s*(\d+)\s*(?:of|on|in)\s*series\s*(\d+)", re.IGNORECASE)
IMAGE_ALONE = re.compile(r"\b(?:image|img)\s*#?\s*(\d+)\b", re.IGNORECASE)


def image_refs(sentence: str) -> list[ImageRef]:
    found: list[ImageRef] = []
    taken: list[tuple[int, int]] = []

    def add(series, image, m):
        if any(a < m.end() and m.start() < b for a, b in taken):
            return
        taken.append(m.span())
        found.append(ImageRef(series, image, m.group(0), m.start(), m.end()))

    for m in IMAGE_OF_SERIES.finditer(sentence):
        add(int(m.group(2)), int(m.group(1)), m)
    for rx in IMAGE_PATTERNS:
        for m in rx.finditer(sentence):
            add(int(m.group(1)), int(m.group(2)), m)
    for m in IMAGE_ALONE.finditer(sentence):
        add(None, int(m.group(1)), m)
    return sorted(found, key=lambda r: r.start)
