"""Report structure: sections, subsections and sentences with character offsets into the report.

Headers come from the vocabulary tables (linking/headers.py), on their own line or before text
("Findings:", "CONCLUSION", "Target lesions:"). A "Label:" that is not in the vocabulary ("Upper abdomen:",
"Liver: normal") starts a subsection of the current section; its text is kept. A report without a FINDINGS
header reads its unheaded text as findings, and a history / comparison block opened inline ends at its line.

Sentences end at . ! ? (never inside "2.3 cm", after "Dr." / "e.g." or a list number's own dot), at blank
lines, and at line breaks, since list items are one a line; a break inside a hard-wrapped sentence (the next
line starts in lower case, or the line ends in a comma or a joining word) does not end it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from linking.headers import lookup

LABEL_RE = re.compile(r"[ \t]*(?:[-*•][ \t]+)?([^\W\d_][\w'()/&.,+-]*(?:[ \t]+[\w'()/&.,+-]+){0,5}?)[ \t]*:(?=[ \t]|$)")
CAPS_HEADER_RE = re.compile(r"[A-Z][A-Z &/,()-]{2,48}")
DECOR = " \t*#=_~>-"
ABBREVIATIONS = {"dr", "e.g", "i.e", "vs", "approx", "no", "fig", "mr", "mrs", "ms", "cf", "etc", "st", "min", "max", "ca",
                 "ima", "img", "im", "ser", "se", "resp", "incl", "diam", "seg", "pt", "nr", "ref", "prof", "lt", "rt"}
JOINING = re.compile(r"(?:[,(/&+-]|\b(?:and|or|of|the|a|an|with|to|in|at|by|for|from|measuring|measures|measured|"
                     r"than|on|which|that|is|are|was|were|up))\s*$", re.IGNORECASE)
WINDOW = 40                # characters looked at around a candidate sentence end
MAX_SENTENCE = 2000        # longer pieces are cut at a space: nothing real is that long
NOT_GROUNDED_INLINE = ("INDICATION", "COMPARISON", "TECHNIQUE", "EXAM", "ADMIN")


@dataclass
class Sentence:
    index: int
    start: int
    end: int
    text: str
    section: str
    subsection: str | None


@dataclass
class _Run:
    section: str | None       # None: before any known header
    subsection: str | None
    start: int
    end: int
    inline_header: bool = False  # opened by "Header: text" on one line


def _lines(text: str):
    pos = 0
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        yield pos, body
        pos += len(line)


def _header(line: str):
    """(kind, label, body offset in line): kind 'known' -> (section, sub), 'label', or None."""
    bare = line.strip(DECOR).rstrip(":").strip()
    if bare and len(bare) <= 60:
        known = lookup(bare)
        if known:
            return "known", known, len(line)
    m = LABEL_RE.match(line)
    if m:
        known = lookup(m.group(1))
        rest = line[m.end():]
        if known and known[1] and rest.strip():  # "New lesions: none" / "Target lesions: liver 2 cm": a list line
            return "known", known, 0
        if known:
            return "known", known, m.end() + (len(rest) - len(rest.lstrip()))
        if not re.search(r"\d", m.group(1)) or rest.strip():
            return "label", m.group(1).strip().upper(), (len(line) if not rest.strip() else 0)
    if bare and CAPS_HEADER_RE.fullmatch(bare) and len(bare.split()) <= 5 and bare == line.strip(DECOR):
        return "label", bare.upper(), len(line)
    return None


def _runs(text: str) -> list[_Run]:
    runs: list[_Run] = []
    lines = list(_lines(text))
    heads = [_header(line) if line.strip() else None for _, line in lines]
    last_findings = max((k for k, h in enumerate(heads) if h and h[0] == "known" and h[1][0] == "FINDINGS"), default=-1)
    section, sub, block_sub, inline, content = None, None, None, False, False

    def leave_history(k: int) -> bool:
        """Without a FINDINGS header further on, a history / comparison block ends and findings follow."""
        return section in NOT_GROUNDED_INLINE and content and k > last_findings

    for k, (pos, line) in enumerate(lines):
        if not line.strip():
            if leave_history(k):
                section, sub, block_sub, inline = "FINDINGS", None, None, False
            continue
        h, start = heads[k], pos
        if h and h[0] == "known":
            (section, sub), start = h[1], pos + h[2]
            block_sub = sub
            inline = content = h[2] < len(line)
        elif h and h[0] == "label":
            own_line = h[2] == len(line)
            if (own_line or inline) and leave_history(k):  # an organ header after a one-line history block
                section = "FINDINGS"
            sub, start, inline = h[1], pos + h[2], False
            if own_line:
                block_sub = sub
        elif not _continues(lines, k):
            sub = block_sub  # an inline "Liver: ..." label heads its own line only
            if inline and leave_history(k):
                section, sub, block_sub, inline = "FINDINGS", None, None, False  # "Indication: x." then findings
        if start < pos + len(line):
            runs.append(_Run(section, sub, start, pos + len(line), inline))
            content = True
    return runs


def _continues(lines, k) -> bool:
    """Line k continues the previous line (a hard-wrapped sentence)."""
    if k == 0 or not lines[k - 1][1].strip():
        return False
    first = lines[k][1].lstrip()[:1]
    return first.islower() or bool(JOINING.search(lines[k - 1][1]))


def _cuts(text: str, start: int, end: int) -> list[int]:
    """Sentence ends inside text[start:end] (absolute offsets). Looks only a few characters around each
    candidate, so a megabyte of text stays linear."""
    cuts = []
    body = text[start:end]
    for m in re.finditer(r"[.!?](?=\s)|\n", body):
        i = m.start()
        prev = body[max(0, i - WINDOW):i]
        nxt = body[i + 1:i + 1 + WINDOW].lstrip()
        if body[i] == "\n":
            nxt = body[i + 1:i + 1 + WINDOW].lstrip(" \t")
            if nxt[:1].islower() or (nxt[:1] not in ("", "\n") and JOINING.search(prev) and not prev.rstrip().endswith(":")):
                continue
            cuts.append(start + i)
            continue
        if body[i] == ".":
            before = re.search(r"(\S+)$", prev)
            word = before.group(1).lower().lstrip("(") if before else ""
            if word.rstrip(".") in ABBREVIATIONS and not nxt.startswith("\n") and not body[i + 1:i + 1 + WINDOW].lstrip(" \t").startswith("\n"):
                continue
            if nxt[:1].islower():
                continue
            if re.fullmatch(r"\d{1,2}", word) and _is_list_number(body, i):
                continue
        cuts.append(start + m.end())
    return cuts


def _bounded(a: int, b: int, text: str) -> list[int]:
    """Cut points that keep every piece under MAX_SENTENCE characters (a pasted blob is not one sentence)."""
    points = [a]
    while b - points[-1] > MAX_SENTENCE:
        lo = points[-1]
        space = text.rfind(" ", lo + MAX_SENTENCE // 2, lo + MAX_SENTENCE)
        points.append(space if space > lo else lo + MAX_SENTENCE)
    return points[1:]


def _is_list_number(body: str, dot: int) -> bool:
    """'1.' at the start of a line or after another sentence is a list marker, not a sentence."""
    j = dot - 1
    while j >= 0 and body[j].isdigit():
        j -= 1
    if j < 0:
        return True
    prefix = body[max(0, j + 1 - WINDOW): j + 1].rstrip(" \t")
    if not prefix and j + 1 > WINDOW:
        prefix = "x"
    return prefix == "" or prefix.endswith(("\n", ".", ":"))


def sections_of(text: str) -> list[_Run]:
    """The runs of text with their section; unheaded text is FINDINGS when no FINDINGS header exists."""
    runs = _runs(text)
    has_findings = any(r.section == "FINDINGS" for r in runs)
    for r in runs:
        if r.section is None:
            r.section = "PREAMBLE" if has_findings else "FINDINGS"
    return runs


def sentences(text: str) -> list[Sentence]:
    out: list[Sentence] = []
    runs = sections_of(text)
    merged: list[_Run] = []
    for r in runs:  # consecutive lines of one section and subsection are split together (wrapped sentences)
        if merged and (merged[-1].section, merged[-1].subsection) == (r.section, r.subsection) \
                and not text[merged[-1].end:r.start].strip() and "\n\n" not in text[merged[-1].end:r.start].replace("\r", ""):
            merged[-1].end = r.end
        else:
            merged.append(_Run(r.section, r.subsection, r.start, r.end))
    for r in merged:
        cuts = [r.start] + _cuts(text, r.start, r.end) + [r.end]
        points = [cuts[0]]
        for a, b in zip(cuts, cuts[1:]):
            points += _bounded(a, b, text) + [b]
        for a, b in zip(points, points[1:]):
            chunk = text[a:b]
            lead = len(chunk) - len(chunk.lstrip())
            trail = len(chunk.rstrip())
            if trail <= lead:
                continue
            s, e = a + lead, a + trail
            out.append(Sentence(len(out), s, e, text[s:e], r.section, r.subsection))
    return out
