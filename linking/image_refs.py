"""Image references in report sentences, the ways viewers and radiologists write them.

"series 3, image 45", "(Series 4, Image 233)", "image 45 of series 3", "se 3 im 45", "Se3/Im45",
"series/image 3/45", "(IMA 5-62)", "image 3-41" (one image: series 3), "IMA 8-34 to 8-40", "images 34-40"
(a range), "(6-214)", "(4:55)", "(3:40 and 3:22)", "(3/45)", "series 602, images 30 and 121", "image 45".
Two numbers alone ("(6-3)", "3/45") are a reference only where the context says so: inside brackets of their
own, after an image word or in a sentence with a size, never with a leading zero ("03-06"), never as a date ("on 6/3", "(June 3)") or a
fraction ("1/3 of"). Whether the study holds that series and image is checked at matching time.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

_IMG = r"(?:images?|imgs?|ima|im|slices?)"
_SER = r"(?:series|ser|se|sr)"
_RANGE = r"(?:\s*(?:-|–|to|through)\s*(?:(\d+)\s*[-/:]\s*)?(\d+)\b)?"
PATTERNS = [  # (regex, group of series, group of image, group of range-series, group of last image)
    (re.compile(rf"\b{_IMG}\.?\s*#?\s*(\d+){_RANGE}\s*[,;]?\s*(?:of|on|in|from|,)\s*{_SER}\.?\s*#?\s*(\d+)", re.I), 4, 1, 2, 3),
    (re.compile(rf"\b{_SER}\.?\s*/\s*{_IMG}\.?\s*:?\s*(\d+)\s*/\s*(\d+){_RANGE}", re.I), 1, 2, 3, 4),
    (re.compile(rf"\b{_SER}\.?\s*#?\s*(\d+)\s*[,;/]?\s*{_IMG}\.?\s*#?\s*:?\s*(\d+){_RANGE}", re.I), 1, 2, 3, 4),
    (re.compile(rf"(?<![\w/])s\s?(\d+)\s*[,;/:]?\s*i\s?(\d+)\b{_RANGE}", re.I), 1, 2, 3, 4),
    (re.compile(rf"\b(?:ima|image|img)\.?\s*:?\s*(\d+)\s*[-/:]\s*(\d+){_RANGE}", re.I), 1, 2, 3, 4),
]
MORE_IMAGES = re.compile(r"^(?:\s*(?:,|and|&)\s*(\d+)\b)+")       # "series 602, images 30 and 121"
_PAIR = r"\d+\s*[-:/]\s*\d+"
BRACKET_GROUP = re.compile(rf"\(\s*({_PAIR}(?:\s*(?:,|;|and|&)\s*{_PAIR})*)\s*\)")   # "(6-88)", "(3:40 and 3:22)"
PAIR = re.compile(r"(\d+)\s*([-:/])\s*(\d+)")
MAYBE_REF = re.compile(r"\d\s*[-:/]\s*\d|(?<![a-z])(?:s|i|im|img|ima|images?|slices?|se|ser|series)\.?\s*#?\s*:?\s*\d",
                       re.IGNORECASE)   # every form has two numbers joined by - : / or an image / series word before one
HAS_SIZE = re.compile(r"\d\s*-?\s*(?:mm|cm|millimet|centimet)", re.I)
BARE_SLASH = re.compile(r"(?<![\w/.:-])(\d+)\s*/\s*(\d+)(?![\w/:-]|\.\d)")
IMAGE_ALONE = re.compile(rf"\b{_IMG}\.?\s*(?:no\.?|#)?\s*(\d+){_RANGE}", re.I)
MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
DATE_CUE = re.compile(rf"\b(?:on|from|of|dated|since|since the|compared (?:to|with)|prior|previous|exam|study|ct|scan|"
                      rf"until|before|after|date|{MONTHS})\W*(?:the\W+)?$", re.I)
IMAGE_CUE = re.compile(r"\b(?:images?|im|img|ima|slices?|series/image|se/im|ser/img|s/i|key image)\W*$", re.I)
SIZE_BEFORE = re.compile(r"(?:mm|cm|millimet(?:er|re)s?|centimet(?:er|re)s?)\W{0,3}$", re.I)


@dataclass
class ImageRef:
    series: Optional[int]
    image: int
    text: str
    start: int
    end: int
    image_last: Optional[int] = None   # a range of images "IMA 8-34 to 8-40"


def _date_like(a: str, b: str) -> bool:
    """Day and month either way round, a leading zero, or a month and a year ("11/2024")."""
    x, y = int(a), int(b)
    if a.startswith("0") or b.startswith("0") or (1 <= x <= 12 and len(b) == 4 and b[:2] in ("19", "20")):
        return True
    return 1 <= x <= 31 and 1 <= y <= 31 and (x <= 12 or y <= 12)


def image_refs(sentence: str) -> list[ImageRef]:
    if not MAYBE_REF.search(sentence):
        return []
    found: list[ImageRef] = []
    taken: list[tuple[int, int]] = []

    def add(series, image, last, span):
        if any(a < span[1] and span[0] < b for a, b in taken):
            return
        if last is not None and last <= image:
            last = None
        taken.append(span)
        found.append(ImageRef(series, image, sentence[span[0]:span[1]], span[0], span[1], last))

    for rx, gs, gi, grs, gl in PATTERNS:
        for m in rx.finditer(sentence):
            range_series = m.group(grs)
            if range_series is not None and int(range_series) != int(m.group(gs)):
                last = None  # "IMA 8-34 to 9-40": two series, not a range
            else:
                last = int(m.group(gl)) if m.group(gl) else None
            add(int(m.group(gs)), int(m.group(gi)), last, m.span())
            more = MORE_IMAGES.match(sentence[m.end():m.end() + 40])
            if more and last is None:
                for x in re.finditer(r"\d+", more.group(0)):
                    add(int(m.group(gs)), int(x.group(0)), None, (m.end() + x.start(), m.end() + x.end()))
    for g in BRACKET_GROUP.finditer(sentence):
        before = sentence[max(0, g.start() - 40):g.start()]
        for m in PAIR.finditer(g.group(1)):
            a, sep, b = m.groups()
            if a.startswith("0") or len(b) == 4 and _date_like(a, b) or \
                    (_date_like(a, b) and (DATE_CUE.search(before) or sep == "/" and int(b) <= 12)):
                continue
            span = (g.start(), g.end()) if m.span() == (0, len(g.group(1))) else (g.start(1) + m.start(), g.start(1) + m.end())
            add(int(a), int(b), None, span)
    has_size = bool(HAS_SIZE.search(sentence))
    for m in BARE_SLASH.finditer(sentence):
        a, b = m.groups()
        before, after = sentence[max(0, m.start() - 40):m.start()], sentence[m.end():m.end() + 10]
        if IMAGE_CUE.search(before) or ((SIZE_BEFORE.search(before) or has_size) and not _date_like(a, b)
                                        and not DATE_CUE.search(before) and not re.match(r"\s*(?:of|th)\b", after, re.I)):
            add(int(a), int(b), None, m.span())
    for m in IMAGE_ALONE.finditer(sentence):
        last = int(m.group(3)) if m.group(3) and m.group(2) is None else None
        add(None, int(m.group(1)), last, m.span())
    return sorted(found, key=lambda r: r.start)
