"""Tables pasted into a report as text ("| Lesion | Current | Prior | Series/Image |"): the column a value sits in
says whether it is prior, which no word in the row itself does. Rows are '|'- or tab-separated lines; the
first line of a block of rows is its header."""
from __future__ import annotations

import re

PRIOR_COLUMN = re.compile(r"\b(?:prior|previous|previously|baseline|before|comparison|last|old|nadir)\b", re.IGNORECASE)


def _cells(line: str) -> list[tuple[int, int, str]]:
    sep = "|" if line.count("|") >= 2 else "\t"
    out, pos = [], 0
    for part in line.split(sep):
        out.append((pos, pos + len(part), part))
        pos += len(part) + 1
    return out


def _is_row(line: str) -> bool:
    return line.count("|") >= 2 or line.count("\t") >= 2


def prior_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the cells under a 'prior' / 'baseline' column header."""
    spans, header, pos = [], None, 0
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        if not _is_row(body):
            header = None
        elif header is None:
            header = [bool(PRIOR_COLUMN.search(c)) and not re.search(r"\d", c) for _, _, c in _cells(body)]
        elif not re.fullmatch(r"[\s|:+-]*", body):  # not the |---|---| rule under the header
            for k, (a, b, _) in enumerate(_cells(body)):
                if k < len(header) and header[k]:
                    spans.append((pos + a, pos + b))
        pos += len(line)
    return spans
