"""Report header vocabulary, read from one table per language (linking/vocab/headers_<lang>.tsv).

A header maps to a section (FINDINGS, IMPRESSION, INDICATION, ...) and optionally a subsection (TARGET
LESIONS under ADDENDUM). Adding a language is adding a table; nothing here is English-specific.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

VOCAB_DIR = Path(__file__).parent / "vocab"
GROUNDED_SECTIONS = ("FINDINGS", "IMPRESSION", "ADDENDUM")  # sections whose sentences can ground a mark


def normalise(label: str) -> str:
    """'  Target Lesions (RECIST 1.1) :' -> 'target lesions (recist 1.1)'."""
    return re.sub(r"\s+", " ", label.strip().rstrip(":").strip()).lower()


@lru_cache(maxsize=1)
def vocabulary() -> dict[str, tuple[str, str | None]]:
    """normalised header -> (section, subsection or None), over every language table."""
    table: dict[str, tuple[str, str | None]] = {}
    for path in sorted(VOCAB_DIR.glob("headers_*.tsv")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip() or line.startswith("#"):
                continue
            cols = line.split("\t")
            if len(cols) not in (2, 3):
                raise ValueError(f"{path}:{n}: expected header<TAB>section[<TAB>subsection], got {line!r}")
            table.setdefault(normalise(cols[0]), (cols[1].strip(), cols[2].strip() if len(cols) == 3 else None))
    return table


def lookup(label: str) -> tuple[str, str | None] | None:
    return vocabulary().get(normalise(label))
