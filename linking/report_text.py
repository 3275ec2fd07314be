"""Report text the parser can read, and the problems recorded about it, before any parsing.

Bytes that were not UTF-8 (kept as lone surrogates by a surrogateescape decode, or U+FFFD after a
replacing decode) and control characters are replaced one for one, so every offset still points into the
stored report. Very long texts and tables pasted as text are parsed, and recorded.
"""
from __future__ import annotations

import re

LONG_REPORT_CHARS = 100_000           # real CT reports are a few thousand characters
SURROGATE = re.compile("[\ud800-\udfff]")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
TABLE_ROW = re.compile(r"(?m)^[^\n]*(?:\|[^\n|]*){2,}\|?[^\n]*$|^[^\n]*(?:\t[^\n\t]*){2,}$")


def check_text(text: str | None) -> tuple[str, list[tuple[str, str]]]:
    """(text to parse, [(reason, detail)]); the text keeps its length."""
    problems: list[tuple[str, str]] = []
    text = text or ""
    bad = len(SURROGATE.findall(text)) + text.count("\ufffd")
    if bad:
        text = SURROGATE.sub("\ufffd", text)
        problems.append(("non_utf8_text", f"{bad} character(s) were not valid UTF-8; replaced, offsets kept"))
    if CONTROL.search(text):
        text = CONTROL.sub(" ", text)
        problems.append(("control_characters", "control characters replaced by spaces"))
    if len(text) > LONG_REPORT_CHARS:
        problems.append(("report_very_long", f"{len(text):,} characters (a CT report is a few thousand); parsed anyway"))
    rows = len(TABLE_ROW.findall(text[:LONG_REPORT_CHARS]))
    if rows >= 3:
        problems.append(("table_as_text", f"{rows} lines look like a pasted table; each row read as a sentence"))
    return text, problems
