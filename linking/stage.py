"""The link stage: OUT/reports + OUT/annotations (+ OUT/masks) -> OUT/findings and OUT/links."""
from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from curation.io.ids import stable_id
from curation.dicom.lookup import ImageLookup
from curation.io.partition import Partition
from curation.io.stage import Stage, optional_path, run_alone
from linking.findings import report_findings
from linking.grounding import usable_findings
from linking.match import Mark, finding_view, match_study
from linking.per_lesion import lesion_groups
from schemas import (AnnotationRecord, FindingRecord, InstanceRecord, LesionMemberRecord, LinkRecord, MaskRecord,
                     QuarantineRecord, ReportRecord, SeriesRecord)

LINKABLE = ("line", "bidimensional", "ellipse", "circle", "polygon", "arrow", "point")
SIDE_MARGIN_MM = 10.0


@dataclass
class LinkSummary:
    n_reports: int = 0
    n_findings: int = 0
    tiers: Counter = field(default_factory=Counter)
    seconds: float = 0.0


def _group(anns: list[AnnotationRecord]) -> list[list[AnnotationRecord]]:
    """Without the lesions stage: the same mark saved in several presentation states (e.g. PIXEL and DISPLAY twins)
    is one lesion mark."""
    groups: list[list[AnnotationRecord]] = []
    for a in anns:
        centre = np.mean(a.points_px, axis=0)
        for g in groups:
            b = g[0]
            if (b.series_uid, b.slice_index, b.kind) == (a.series_uid, a.slice_index, a.kind) \
                    and np.abs(np.mean(b.points_px, axis=0) - centre).max() < 1.5:
                g.append(a)
                break
        else:
            groups.append([a])
    return groups


def _laterality(a: AnnotationRecord, affine: Optional[list], columns: Optional[int], rows: Optional[int]) -> Optional[str]:
    """LPS +x is the patient's left; the image centre stands in for the midline."""
    if not a.points_patient or affine is None or not columns:
        return None
    centre_x = (np.asarray(affine).reshape(4, 4) @ np.array([columns / 2, rows / 2, 0, 1.0]))[0]
    dx = float(np.mean(np.asarray(a.points_patient)[:, 0]) - centre_x)
    return "left" if dx > SIDE_MARGIN_MM else "right" if dx < -SIDE_MARGIN_MM else None


@dataclass(frozen=True)
class LinkConfig:
    """Every setting of the link stage (``opseg run --set link.NAME=VALUE``)."""
    backend: str = "rules"              # rules (offline spaCy default) | radgraph
    model_dir: Optional[Path] = None    # radgraph: local <cache>/<model_type>/ folder (config.json, vocabulary/, weights.th)


class LinkStage(Stage):
    """OUT/reports + OUT/annotations (+ OUT/masks, OUT/lesion_members) -> OUT/findings and OUT/links; one candidate
    per lesion is matched and every member mark of the lesion gets the link; the finding backend is loaded once per
    worker."""

    name = "link"
    reads = (ReportRecord, AnnotationRecord, MaskRecord, LesionMemberRecord, SeriesRecord, InstanceRecord)
    work_table = ReportRecord
    writes = (FindingRecord, LinkRecord, QuarantineRecord)
    Config = LinkConfig

    def __init__(self, config: Optional[LinkConfig] = None):
        super().__init__(config)
        self.backend = None

    def model_files(self) -> list[Path]:
        return [self.config.model_dir] if self.config.model_dir else []

    def setup(self) -> None:
        from linking.backends import make_backend

        self.backend = make_backend(self.config.backend, optional_path(self.config.model_dir))
        self.backend[0]("FINDINGS: none.")  # the backend builds its NLP pipeline on first use: once here, not per partition

    def teardown(self) -> None:
        self.backend = None

    def process(self, part: Partition) -> dict:
        if self.backend is None:
            self.setup()
        s = link_partition(part, self.backend)
        return {"findings": s.n_findings, "links": dict(s.tiers)}


def run_link(out: Path, backend: str = "rules", model_dir: Optional[Path] = None,
             progress: Optional[Callable[[str, int], Callable[[int], None]]] = None) -> LinkSummary:
    """The link stage on all of OUT in this process (library use; the CLI goes through the executor)."""
    stage = LinkStage(LinkConfig(backend, model_dir))
    return run_alone(stage, out, lambda part: link_partition(part, stage.backend), progress)


def link_partition(part: Partition, backend) -> LinkSummary:
    t0 = time.perf_counter()
    analyse, backend_name = backend
    reports = part.read(ReportRecord)
    annotations = [a for a in part.read(AnnotationRecord)
                   if a.kind in LINKABLE and a.slice_index is not None and a.points_px]
    masks = {m.annotation_id: m for m in part.read(MaskRecord) if m.error is None}
    members = part.read(LesionMemberRecord)
    series = {s.series_uid: s for s in part.read(SeriesRecord)}
    instances = part.read(InstanceRecord)
    lookup = ImageLookup(instances)
    number_of = {i.sop_uid: i.instance_number for i in instances}
    multi_frame = {i.sop_uid for i in instances if (i.n_frames or 1) > 1}
    largest_image = _largest_image_number(instances)
    findings, quarantine = [], []
    tick = part.tick("link (reports)", len(reports))
    for r in reports:
        f, notes = report_findings(r, analyse, backend_name)
        findings += f
        quarantine += notes
        if tick:
            tick(1)
    by_study_f = defaultdict(list)
    for f in findings:
        by_study_f[f.study_uid].append(f)
    by_study_a = defaultdict(list)
    for a in annotations:
        by_study_a[a.study_uid].append(a)
    for study in sorted((set(by_study_f) - set(by_study_a)) - {None}):  # no study: quarantined by extract
        quarantine.append(QuarantineRecord(stage="link", entity_id=study, reason="report_without_annotations",
                                           detail=f"study {study}: findings but no annotation with a known slice"))
    for study in sorted((set(by_study_a) - {r.study_uid for r in reports}) - {None}):
        quarantine.append(QuarantineRecord(stage="link", entity_id=study, reason="annotations_without_report",
                                           detail=f"study {study}: {len(by_study_a[study])} annotations, no report"))
    links = []
    for study in sorted((set(by_study_f) & set(by_study_a)) - {None}):
        study_series = [s for s in series.values() if s.study_uid == study]
        series_numbers = {s.series_number: largest_image[s.series_uid] for s in study_series if s.series_number is not None}
        usable = usable_findings(by_study_f[study])
        marks, groups = [], lesion_groups(by_study_a[study], members, _group)
        for g in groups:
            a = g[0]
            geo = lookup.geometries.get(a.series_uid)
            s = series.get(a.series_uid)
            m = masks.get(a.annotation_id)
            lo, hi = (m.slice_range if m is not None else (a.slice_index, a.slice_index))
            long_mm = a.length_mm if a.length_mm is not None else (m.recist_long_mm if m is not None else None)
            short_mm = a.short_mm if a.short_mm is not None else (m.recist_short_mm if m is not None and a.length_mm is None else None)
            marks.append(Mark([x.annotation_id for x in g], a.kind, a.series_uid, s.series_number if s else None, lo, hi,
                              long_mm, short_mm, _laterality(a, s.affine if s else None, s.columns if s else None,
                                                             s.rows if s else None),
                              _image_numbers(geo, number_of, multi_frame), a.slice_index))
        for i, j, tier, score, evidence in match_study(marks, [finding_view(f) for f in usable], series_numbers):
            f = usable[j]
            for ann_id in marks[i].annotation_ids:
                m = masks.get(ann_id)
                links.append(LinkRecord(link_id=stable_id(ann_id, f.finding_id), study_uid=study, annotation_id=ann_id,
                                        mask_id=m.mask_id if m else None, finding_id=f.finding_id, tier=tier, score=score,
                                        evidence=evidence, backend=f"opseg-link ({backend_name})"))
    findings.sort(key=lambda f: (f.study_uid or "", f.report_id, f.char_start))
    links.sort(key=lambda x: x.link_id)
    part.write(FindingRecord, findings)
    part.write(LinkRecord, links)
    part.write(QuarantineRecord, quarantine)
    return LinkSummary(len(reports), len(findings), Counter(x.tier for x in links), time.perf_counter() - t0)


def _largest_image_number(instances: list[InstanceRecord]) -> Counter:
    """The largest image number a report can cite in each series: its count of images (frames, not instances: an
    enhanced CT is one instance), or its largest Instance Number (a slab of a longer acquisition, numbered 251-270)."""
    images: Counter = Counter()
    largest: Counter = Counter()
    for i in instances:
        images[i.series_uid] += i.n_frames or 1
        largest[i.series_uid] = max(largest[i.series_uid], i.instance_number or 0)
    return Counter({uid: max(n, largest[uid]) for uid, n in images.items()})


def _image_numbers(geo, number_of: dict, multi_frame: set = frozenset()) -> list:
    """The image number a report cites for each slice: the frame number within a multi-frame image, else the
    Instance Number."""
    # an enhanced CT stored one frame per instance is numbered by its instances (each frame is frame 1)
    return [sl.frame if sl.frame is not None and sl.sop_uid in multi_frame else number_of.get(sl.sop_uid)
            for sl in geo.slices] if geo else []

