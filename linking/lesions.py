"""One finding per lesion: a sentence naming several measured lesions is cut into one segment per lesion.

"Nodules of 4 mm (6-88), 6 mm (9-140) and 8 mm (9-201)" holds three current sizes, each with its own image
reference: three segments, each with its size, reference and character span; references or priors listed after the last size, as many as the lesions,
go one to each in order ("respectively"). A long axis followed by its
short axis ("long axis 24 mm, short axis 15 mm") is one lesion, and so is a current size with its prior
("18 mm, previously 14 mm"). Image references and prior sizes belong to the lesion written before them (or
the first one). A side word right after a size ("12 mm left and 15 mm right") stays with that size.
"""
from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field

from linking.image_refs import ImageRef
from linking.measure import Size
from linking.radgraph_schema import side_words

SIDE_AFTER = re.compile(r"^\s*(?:\)\s*)?(?:(?:on|in)\s+the\s+|on\s+)?(left|right)(?:\s+side)?"
                        r"(?=\s*(?:$|[,.;:()]|(?:and|or|with|respectively|previously)\b))", re.IGNORECASE)
NOUN = re.compile(r"\b(?:nodules?|lesions?|mass(?:es)?|metastas[ie]s|cysts?|nodes?|tumou?rs?|deposits?|implants?|"
                  r"foci|focus|adenopathy|hypodensit(?:y|ies)|opacit(?:y|ies)|consolidation|effusions?)\b", re.IGNORECASE)


@dataclass
class Segment:
    start: int
    end: int
    sizes: list[Size] = field(default_factory=list)
    refs: list[ImageRef] = field(default_factory=list)

    def side_after_size(self, text: str) -> str | None:
        """The side written right after this lesion's size ("the largest 2.4 cm on the right")."""
        lesion = [z for z in self.sizes if z.temporal == "current" and not {"sum", "change"} & set(z.flags)]
        if not lesion:
            return None
        m = SIDE_AFTER.match(text[lesion[0].end:lesion[0].end + 30])
        return m.group(1).lower() if m else None

    def side(self, text: str) -> str | None:
        """The one side named inside this lesion's own words, if exactly one is; "none" when this lesion
        has its own noun and no side ("... and of the liver metastasis, now 2.3 cm"), so the sentence's
        side is not given to it; None when it shares the sentence's noun and side ("4 mm, 6 mm and 8 mm")."""
        own = text[self.start:self.end]
        words = side_words(own) - {"bilateral"}
        if len(words) == 1:
            return words.pop()
        first = min((z.start for z in self.sizes), default=self.end)
        last = max((z.end for z in self.sizes if z.start == first), default=first)
        named = text[self.start:first] + " " + " ".join(text[last:self.end].split()[:3])  # its noun: before or right after
        return "none" if self.start > 0 and NOUN.search(named) else None


def _anchors(found: list[Size]) -> list[list[Size]]:
    """Current lesion sizes, an axis pair kept together."""
    groups: list[list[Size]] = []
    for z in found:
        if z.temporal != "current" or {"sum", "change", "attribute"} & set(z.flags):
            continue
        last = groups[-1][-1] if groups else None
        if last is not None and {last.axis, z.axis} == {"long", "short"} and len(groups[-1]) == 1:
            groups[-1].append(z)
        else:
            groups.append([z])
    return groups


def _respectively(items: list, starts: list[int]) -> bool:
    """As many references (or prior sizes) as lesions, all written after the last lesion's size: one each, in
    order ("12 mm and 17 mm (images 30 and 121), previously 10 mm and 15 mm")."""
    return len(items) == len(starts) > 1 and all(x.start > starts[-1] for x in items)


def segments(text: str, found: list[Size], refs: list[ImageRef]) -> list[Segment]:
    groups = _anchors(found)
    if len(groups) <= 1:
        return [Segment(0, len(text), list(found), list(refs))]
    segs = [Segment(0, 0, list(g)) for g in groups]
    starts = [g[0].start for g in groups]

    def owner(pos: int) -> int:
        return max(0, bisect_right(starts, pos) - 1)

    loose = [z for z in found if not any(z is a for g in groups for a in g)]
    priors = [z for z in loose if z.temporal == "prior"]
    for items, attach in ((refs, lambda seg, x: seg.refs.append(x)), (priors, lambda seg, x: seg.sizes.append(x))):
        if _respectively(items, starts):
            for seg, x in zip(segs, items):
                attach(seg, x)
        else:
            for x in items:
                attach(segs[owner(x.start)], x)
    for z in loose:
        if z.temporal != "prior":
            segs[owner(z.start)].sizes.append(z)
    for k, seg in enumerate(segs):
        nxt = starts[k + 1] if k + 1 < len(segs) else len(text) + 1
        end = max(x.end for x in seg.sizes + seg.refs if x.start < nxt)
        m = SIDE_AFTER.match(text[end:end + 30])
        if m and end + m.end() <= nxt:
            end += m.end()
        seg.end = end
    for k, seg in enumerate(segs):
        seg.start = 0 if k == 0 else segs[k - 1].end
        if k + 1 == len(segs):
            seg.end = len(text)
        seg.sizes.sort(key=lambda z: z.start)
        while seg.start < seg.end and text[seg.start] in " ,;)":
            seg.start += 1
    return segs
