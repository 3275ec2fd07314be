"""Parse the measurement a viewer wrote into free text ("Length: 11.1mm[proj]", "2.3 cm", "Area: 119.58 cm²").

The value is only a cross-check: lengths are recomputed from the points and the pixel spacing.
"""
from __future__ import annotations

import re
from typing import Optional

_NUM = r"(\d+(?:[.,]\d+)?)"
LENGTH_RE = re.compile(_NUM + r"\s*(mm|cm)(?![²2\w])", re.IGNORECASE)
AREA_RE = re.compile(_NUM + r"\s*(mm|cm)\s*(?:²|\^?2)", re.IGNORECASE)
LABELLED_RE = re.compile(r"(length|distance|long(?:\s*axis)?|diameter|major)\s*[:=]?\s*" + _NUM + r"\s*(mm|cm)(?![²2\w])",
                         re.IGNORECASE)


def parse_measurement(text: Optional[str]) -> tuple[Optional[float], Optional[str]]:
    """(value, unit) of the length in the text, preferring a labelled one; else an area; else (None, None)."""
    if not text:
        return None, None
    for rx in (LABELLED_RE, LENGTH_RE):
        m = rx.search(text)
        if m:
            value, unit = m.group(m.lastindex - 1), m.group(m.lastindex)
            return float(value.replace(",", ".")), unit.lower()
    m = AREA_RE.search(text)
    if m:
        return float(m.group(1).replace(",", ".")), m.group(2).lower() + "2"
    return None, None


MM_PER_LENGTH_UNIT = {"mm": 1.0, "cm": 10.0, "um": 1e-3, "m": 1000.0}  # UCUM codes (case-sensitive), as SRs write them


def to_mm(value: Optional[float], unit: Optional[str]) -> Optional[float]:
    """A length in mm, or None when the unit is not a length unit we know (never assumed to be mm)."""
    if value is None or unit not in MM_PER_LENGTH_UNIT:
        return None
    return value * MM_PER_LENGTH_UNIT[unit]
