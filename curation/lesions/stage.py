"""The lesions stage: OUT/annotations + OUT/masks + OUT/qc (+ catalog) -> OUT/lesions and OUT/lesion_members.

It runs after qc (the primary rule uses the QC verdict) and before link (linking grounds a finding once per lesion).
"""
from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Optional

from curation.io.partition import Partition
from curation.io.stage import Stage, run_alone
from curation.io.tables import read_records
from curation.lesions.grouping import LesionConfig, Study, group_study, slice_mm
from schemas import (AnnotationRecord, InstanceRecord, LesionMemberRecord, LesionRecord, MaskRecord, QCRecord,
                     SeriesRecord)


class LesionsStage(Stage):
    name = "lesions"
    reads = (AnnotationRecord, MaskRecord, QCRecord, SeriesRecord, InstanceRecord)
    work_table = MaskRecord
    writes = (LesionRecord, LesionMemberRecord)
    Config = LesionConfig

    def process(self, part: Partition) -> dict:
        return lesions_partition(part, self.config)


def run_lesions(out: Path, config: Optional[LesionConfig] = None) -> dict:
    """The lesions stage on all of OUT in this process (library use; the CLI goes through the executor)."""
    return run_alone(LesionsStage(config), out)


def lesions_partition(part: Partition, cfg: LesionConfig) -> dict:
    anns = defaultdict(list)
    for a in part.read(AnnotationRecord):
        if a.study_uid is not None:
            anns[a.study_uid].append(a)
    masks = {m.annotation_id: m for m in part.read(MaskRecord) if m.error is None and m.mask is not None}
    # qc rows carry no study column to partition by: read them all, keep this partition's masks
    ids = {m.mask_id for m in masks.values()}
    qc_pass = {q.entity_id: q.passed for q in read_records(part.out, QCRecord)
               if q.entity_kind == "mask" and q.metric == "qc_pass" and q.entity_id in ids}
    series = {s.series_uid: s for s in part.read(SeriesRecord)}
    frame_of = {}
    for i in part.read(InstanceRecord):
        if i.frame_of_reference_uid and i.category == "ct_image":
            frame_of.setdefault(i.series_uid, i.frame_of_reference_uid)
    thickness = {uid: slice_mm(s) for uid, s in series.items()}
    lesions, members = [], []
    for study_uid in sorted(anns):
        ls, ms = group_study(Study(study_uid, anns[study_uid], masks, frame_of, thickness, qc_pass), cfg)
        lesions += ls
        members += ms
    lesions.sort(key=lambda x: x.lesion_id)
    members.sort(key=lambda x: (x.lesion_id, x.role != "primary", x.annotation_id))
    part.write(LesionRecord, lesions)
    part.write(LesionMemberRecord, members)
    by_rule = Counter(r for x in lesions for r in x.grouped_by)
    return {"marks": len(members), "lesions": len(lesions), "duplicates": len(members) - len(lesions),
            "rules": dict(sorted(by_rule.items())), "disagreeing": sum(x.n_disagreeing for x in lesions)}
