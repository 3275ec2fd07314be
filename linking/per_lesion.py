"""Candidate marks collapsed to one per lesion before matching, so a finding is grounded once per lesion however
many times the lesion was marked (re-saved presentation states, two readers, two reconstructions, GSPS + SR)."""
from __future__ import annotations

from collections import Counter, defaultdict
from typing import Callable

from schemas import AnnotationRecord, LesionMemberRecord


def lesion_groups(annotations: list[AnnotationRecord], members: list[LesionMemberRecord],
                  fallback: Callable[[list[AnnotationRecord]], list[list[AnnotationRecord]]]) -> list[list[AnnotationRecord]]:
    """One group of one study's marks per lesion of the lesions table; marks it does not hold (a run without the
    lesions stage) are grouped by ``fallback``. The first mark of a group is the one matched: a member on the
    series most of the study's marks are on (the series the report was read and cited on), the primary first
    among those, so an image reference in the report meets the series it cites."""
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
        out.append(sorted(g, key=lambda a: (-on_series[a.series_uid], a.annotation_id not in primary, a.annotation_id)))
    return out + (fallback(rest) if rest else [])
