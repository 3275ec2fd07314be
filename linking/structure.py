"""Report structure: sections, organ sub-headers and sentences with character offsets into the report.

Sentences end at . ! ? or a line break, but never inside a number ("2.3 cm"), after common abbreviations
("Dr.", "e.g."), or before a list number's own dot ("1. Stable").
"""
from __future__ import annotations

import re
from dataclasses import dataclass

SECTION_NAMES = {
    "INDICATION": "INDICATION", "CLINICAL INDICATION": "INDICATION", "HISTORY": "INDICATION",
    "CLINICAL HISTORY": "INDICATION", "REASON FOR EXAM": "INDICATION", "TECHNIQUE": "TECHNIQUE",
    "PROTOCOL": "TECHNIQUE", "COMPARISON": "COMPARISON", "COMPARISONS": "COMPARISON", "FINDINGS": "FINDINGS",
    "IMPRESSION": "IMPRESSION", "IMPRESSIONS": "IMPRESSION", "CONCLUSION": "IMPRESSION", "CONCLUSIONS": "IMPRESSION",
    "SUMMARY": "IMPRESSION", "RECOMMENDATION": "RECOMMENDATION", "RECOMMENDATIONS": "RECOMMENDATION",
}
HEADER_RE = re.compile(r"(?m)^[ \t]*([A-Z][A-Za-z /&]{2,40}?)[ \t]*:[ \t]*(?:\n|(?=\S))")
SUBHEADER_RE = re.compile(r"\b([A-Z][A-Z /&]{2,30}):\s")
ABBREVIATIONS = ("dr", "e.g", "i.e", "vs", "approx", "no", "fig", "mr", "mrs", "ms", "cf", "etc", "st", "min", "max")


@dataclass
class Sentence:
    index: int
    start: int
    end: int
    text: str
    section: str
    subsection: str | None


def _sections(text: str) -> list[tuple[str, int, int]]:
    """(name, body start, body end); text before any known header is section 'FINDINGS' if there is none."""
    hits = [(SECTION_NAMES[m.group(1).strip().upper()], m.start(), m.end()) for m in HEADER_RE.finditer(text)
            if m.group(1).strip().upper() in SECTION_NAMES]
    if not hits:
        return [("FINDINGS" if text.strip() else "NONE", 0, len(text))]
    out = []
    if text[:hits[0][1]].strip():
        out.append(("PREAMBLE", 0, hits[0][1]))
    for i, (name, _, body) in enumerate(hits):
        end = hits[i + 1][1] if i + 1 < len(hits) else len(text)
        out.append((name, body, end))
    return out


def _split_points(body: str) -> list[int]:
    cuts = []
    for m in re.finditer(r"[.!?](?=\s)|\n\s*\n|\n(?=\s*(?:\d+[.)]|[-*•])\s)", body):
        i = m.start()
        if body[i] == ".":
            before = re.search(r"(\S+)$", body[:i])
            word = before.group(1).lower() if before else ""
            if word.rstrip(".") in ABBREVIATIONS or re.fullmatch(r"\d+", word) and (len(word) <= 2 and _is_list_number(body, i)):
                continue
        cuts.append(m.end())
    return cuts


def _is_list_number(body: str, dot: int) -> bool:
    """'1.' at the start of a line or after another sentence is a list marker, not a sentence."""
    j = dot - 1
    while j >= 0 and body[j].isdigit():
        j -= 1
    prefix = body[: j + 1].rstrip(" \t")
    return prefix == "" or prefix.endswith(("\n", ".", ":"))


def sentences(text: str) -> list[Sentence]:
    out: list[Sentence] = []
    for name, start, end in _sections(text):
        body = text[start:end]
        cuts = [0] + _split_points(body) + [len(body)]
        sub = None
        for a, b in zip(cuts, cuts[1:]):
            chunk = body[a:b]
            lead = len(chunk) - len(chunk.lstrip())
            trail = len(chunk.rstrip())
            if trail <= lead:
                continue
            s, e = start + a + lead, start + a + trail
            piece = text[s:e]
            m = SUBHEADER_RE.match(piece)
            if m and name == "FINDINGS":
                sub = m.group(1).strip().upper()
            out.append(Sentence(len(out), s, e, piece, name, sub))
    return out
