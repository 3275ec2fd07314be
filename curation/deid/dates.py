"""Dates in free text, with and without a year, found and moved by the patient's offset in the form they were written.

A date without a year ("June 3", "3rd of June", "6/3") is placed in the year that puts it nearest the study
date, shifted, and written back without a year; with no study date to infer the year from it is redacted.
Each pattern names its parts (y, m, mon, d, sfx) so the shifted date is written in the original style
(zero padding, month spelling and case, ordinal suffix).
"""
from __future__ import annotations

import calendar
import datetime as dt
from typing import Callable, Optional

import regex

_FULL = [m.lower() for m in calendar.month_name[1:]]
_ABBR = [m.lower() for m in calendar.month_abbr[1:]]
# "May" only capitalised: "may" is a verb in every report
MONTHS = (r"(?:(?i:january|february|march|april|june|july|august|september|october|november|december|"
          r"jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)|May|MAY)")
_Y = r"(?P<y>(?:19|20)\d{2})"
_SFX = r"(?P<sfx>(?i:st|nd|rd|th))"
# a day/month pair inside an image reference is not a date: "series/image 3/12", "se 4 im 3/12"
_NOT_REF = r"(?<!(?i:series|images?|img|im|se|ser|slices?|sl|ratio|grade|score)\b[^\d\n]{0,3})"

DATE_PATTERNS: list[tuple[str, str]] = [
    ("iso", rf"\b{_Y}-(?P<m>1[0-2]|0?[1-9])-(?P<d>3[01]|[12]\d|0?[1-9])\b"),
    ("us", rf"(?<![\w/.]){_NOT_REF}(?P<m>1[0-2]|0?[1-9])/(?P<d>3[01]|[12]\d|0?[1-9])/(?P<y>(?:19|20)?\d{{2}})(?![\w/])"),
    ("dots", rf"(?<![\w.])(?P<d>3[01]|[12]\d|0?[1-9])\.(?P<m>1[0-2]|0?[1-9])\.{_Y}(?![\w.])"),
    ("compact", r"\b(?P<y>(?:19|20)\d{2})(?P<m>0[1-9]|1[0-2])(?P<d>0[1-9]|[12]\d|3[01])\b"),
    ("iso_slash", rf"\b{_Y}/(?P<m>1[0-2]|0?[1-9])/(?P<d>3[01]|[12]\d|0?[1-9])\b"),
    ("us_dash", rf"(?<![\w-]){_NOT_REF}(?P<m>1[0-2]|0?[1-9])-(?P<d>3[01]|[12]\d|0?[1-9])-{_Y}(?![\w-])"),
    ("day_mon_year", rf"\b(?P<d>3[01]|[12]\d|0?[1-9])-(?P<mon>{MONTHS})-(?P<y>(?:19|20)?\d{{2}})\b"),
    ("month_day", rf"\b(?P<mon>{MONTHS})\.?\s+(?P<d>3[01]|[12]\d|0?[1-9]){_SFX}?\b(?:,?\s+{_Y}\b)?"),
    ("day_month", rf"\b(?P<d>3[01]|[12]\d|0?[1-9]){_SFX}?\s+(?:(?i:of)\s+)?(?P<mon>{MONTHS})\b\.?(?:,?\s+{_Y}\b)?"),
    ("month_year", rf"\b(?P<mon>{MONTHS})\.?,?\s+{_Y}\b"),
    ("month_year_numeric", rf"(?<![\w/.:]){_NOT_REF}(?P<m>1[0-2]|0?[1-9])/{_Y}(?![\w/])"),
    ("month_day_numeric", rf"(?<![\w/.:]){_NOT_REF}(?P<m>1[0-2]|0?[1-9])/(?P<d>3[01]|[12]\d|0?[1-9])(?![\w/]|\.\d)"),
]
_COMPILED = [(name, regex.compile(rx)) for name, rx in DATE_PATTERNS]


def _month_of(token: str) -> int:
    t = token.lower().rstrip(".")
    return (_FULL.index(t) if t in _FULL else _ABBR.index(t[:3])) + 1


def _cased(new: str, like: str) -> str:
    return new.upper() if like.isupper() else new.title() if like[:1].isupper() else new.lower()


def _ordinal(day: int) -> str:
    return "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def _nearest(month: int, day: int, reference: dt.date) -> Optional[dt.date]:
    """The date with this month and day closest to the reference (a report cites dates around its study)."""
    best = None
    for year in (reference.year - 1, reference.year, reference.year + 1):
        try:
            cand = dt.date(year, month, day)
        except ValueError:
            continue
        if best is None or abs((cand - reference).days) < abs((best - reference).days):
            best = cand
    return best


def rewrite(span: str, shift: Optional[Callable[[dt.date], dt.date]], reference: Optional[dt.date]) -> Optional[str]:
    """The date in ``span`` shifted, written as it was; None when it cannot be moved (the caller redacts it)."""
    if shift is None:
        return None
    for _, rx in _COMPILED:
        m = rx.fullmatch(span)
        if not m:
            continue
        g = m.groupdict()
        month = int(g["m"]) if g.get("m") else _month_of(g["mon"])
        day = int(g["d"]) if g.get("d") else 15
        try:
            if g.get("y"):
                year = int(g["y"]) if len(g["y"]) == 4 else 2000 + int(g["y"]) if int(g["y"]) < 50 else 1900 + int(g["y"])
                when = dt.date(year, month, day)
            elif reference is not None:
                when = _nearest(month, day, reference)
            else:
                return None
        except ValueError:
            return None
        if when is None:
            return None
        new = shift(when)
        parts = {"y": (f"{new.year:04d}" if len(g.get("y") or "") != 2 else f"{new.year % 100:02d}"),
                 "m": _padded(new.month, g.get("m")), "d": _padded(new.day, g.get("d")),
                 "sfx": _cased(_ordinal(new.day), g.get("sfx") or "th"), "mon": _month_name(new.month, g.get("mon"))}
        out, pos = [], 0
        for name in sorted((k for k in parts if k in g and m.start(k) >= 0), key=m.start):
            out += [span[pos:m.start(name)], parts[name]]
            pos = m.end(name)
        return "".join(out) + span[pos:]
    return None


def _padded(value: int, like: Optional[str]) -> str:
    return f"{value:02d}" if like and len(like) == 2 and like[0] == "0" else str(value)


def _month_name(month: int, like: Optional[str]) -> str:
    if not like:
        return ""
    full = like.lower().rstrip(".") in _FULL
    name = calendar.month_name[month] if full else calendar.month_abbr[month]
    return _cased(name, like)


def parse_reference(value: Optional[str]) -> Optional[dt.date]:
    """A study or report date (YYYYMMDD or ISO) as a date, None when absent or unreadable."""
    digits = (value or "").replace("-", "")[:8]
    try:
        return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None
