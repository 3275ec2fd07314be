"""Candidate marks collapsed to one per lesion before matching, so a finding is grounded once per lesion however
many times the lesion was marked (re-saved presentation states, two readers, two reconstructions, GSPS + SR)."""
from __future__ import annotations

from collections import Counter, defaultdict
from typing import Callable

from schemas import AnnotationRecord, LesionMemberRecord


def lesion_groups(annotations: list[AnnotationRecord], members: list[LesionMemberRecord],
                  fallback: Callable[[list[AnnotationRecord]], list[list[AnnotationRecord]]]) -> list[list[AnnotationRecord]]:
    """One group of one study's marks per lesion of the lesions table; marks it does not hold (a run without the
    lesions stage) are grouped by ``fallback``. The first mark of a group is the one matched: the measurement most
    members repeat (re-saves and twins repeat the reading's own measurement; a second reader's or another
    reconstruction's appears once), then a member on the series most of the study's marks are on (the series the
    report was read and cited on, so an image reference meets the series it cites), the primary first among those."""
    lesion_of = {m.annotation_id: m.lesion_id for m in members}
    primary = {m.annotation_id for m in members if m.role == "primary"}
    on_series = Counter(a.series_uid for a in annotations)
    groups = defaultdict(list)
    rest = []
    for a in annotations:
        if a.annotation_id in lesion_of:
            groups[lesion_of[a.annotation_id]].append(a)
        else:
            rest.append(a)
    out = []
    for lid in sorted(groups):
        g = groups[lid]
        repeated = Counter(_measurement(a) for a in g)
        out.append(sorted(g, key=lambda a: (-repeated[_measurement(a)], -on_series[a.series_uid],
                                            a.annotation_id not in primary, a.annotation_id)))
    return out + (fallback(rest) if rest else [])


def _measurement(a: AnnotationRecord) -> tuple:
    """A mark's measurement to 0.1 mm (what a re-save or a twin repeats exactly)."""
    return (a.kind, None if a.length_mm is None else round(a.length_mm, 1),
            None if a.short_mm is None else round(a.short_mm, 1))
