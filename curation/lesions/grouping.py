"""One study's marks and masks -> lesions: union of three rules, then a primary mask per lesion.

Rules (thresholds in LesionConfig, stated in docs/benchmarks.md with what they give on the demo):
- same_geometry: same image, symmetric Hausdorff distance of the point sets <= same_geometry_mm (re-saves, twins
  in PIXEL and DISPLAY units, an SR holding the GSPS points);
- same_measurement: same image, lengths within same_length_mm and centres within same_centre_mm (one measurement
  written twice with different points, e.g. GSPS ruler and TID 1500 Length);
- mask_overlap: masks in the same frame of reference with patient-space IoU >= min_iou, or centroids within
  centroid_radius_mm (a second reader on another slice; another reconstruction of the study);
- mark_in_mask: a mark that has no mask of its own (segmentation failed) whose anchor (arrow tip, else the centre of
  its points) lies within mark_radius_mm of another mark's mask in the same frame of reference (the nearest only);
  two masked marks when each one's anchor lies within mark_radius_mm of the other's mask (both point at one target,
  one mask leaked or shrank: a leak into a neighbour fails the other direction);
- marks_near: two marks neither of which has a mask, anchors within mark_radius_mm in one frame of reference (an
  output made without segmentation, or where both prompts failed).
Primary: QC pass first, then prompt kind (kind_rank), then the thinnest series, then the mask id (deterministic).
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Optional

import numpy as np

from curation.io.ids import stable_id
from curation.lesions.marks import anchor_lps, same_geometry, same_measurement
from curation.lesions.overlap import PatientMask, overlap
from schemas import AnnotationRecord, LesionMemberRecord, LesionRecord

GROUPABLE = ("line", "bidimensional", "ellipse", "circle", "polygon", "polyline", "arrow", "point")


@dataclass(frozen=True)
class LesionConfig:
    """Every setting of the lesions stage (``opseg run --set lesions.NAME=VALUE``)."""
    same_geometry_mm: float = 2.0
    same_length_mm: float = 0.5
    same_centre_mm: float = 5.0
    min_iou: float = 0.3
    centroid_radius_mm: float = 3.0
    mark_radius_mm: float = 5.0
    min_member_dice: float = 0.7          # QC: a member mask below this Dice to the primary is flagged
    kind_rank: tuple = ("bidimensional", "line", "ellipse", "polygon", "circle", "polyline", "arrow", "point")


@dataclass
class Study:
    """What grouping needs of one study."""
    study_uid: str
    annotations: list[AnnotationRecord]
    masks: dict                     # annotation_id -> MaskRecord (without error)
    frame_of: dict                  # series_uid -> Frame of Reference UID
    slice_mm: dict                  # series_uid -> slice spacing (or thickness) in mm
    qc_pass: dict                   # mask_id -> bool


class _Union:
    def __init__(self, keys):
        self.parent = {k: k for k in keys}

    def find(self, k):
        while self.parent[k] != k:
            self.parent[k] = self.parent[self.parent[k]]
            k = self.parent[k]
        return k

    def join(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _edges(study: Study, cfg: LesionConfig, shapes: dict) -> list[tuple[str, str, str]]:
    """(annotation, annotation, rule) for every pair a rule joins; the rules are tried cheapest first."""
    return _mark_edges(study.annotations, cfg) + _mask_edges(study, cfg, shapes) + _bare_edges(study, cfg, shapes)


def _mark_edges(anns: list[AnnotationRecord], cfg: LesionConfig) -> list[tuple[str, str, str]]:
    edges = []
    for i, a in enumerate(anns):
        for b in anns[i + 1:]:
            if same_geometry(a, b, cfg.same_geometry_mm):
                edges.append((a.annotation_id, b.annotation_id, "same_geometry"))
            elif same_measurement(a, b, cfg.same_length_mm, cfg.same_centre_mm):
                edges.append((a.annotation_id, b.annotation_id, "same_measurement"))
    return edges


def _same_frame(study: Study, a: AnnotationRecord, b: AnnotationRecord) -> bool:
    fa = study.frame_of.get(a.series_uid)
    return fa is not None and fa == study.frame_of.get(b.series_uid)


def _mask_edges(study: Study, cfg: LesionConfig, shapes: dict) -> list[tuple[str, str, str]]:
    edges = []
    with_mask = [a for a in study.annotations if a.annotation_id in shapes]
    for i, a in enumerate(with_mask):
        for b in with_mask[i + 1:]:
            if not _same_frame(study, a, b):
                continue
            o = overlap(shapes[a.annotation_id], shapes[b.annotation_id])
            if o.iou >= cfg.min_iou or o.centroid_distance_mm <= cfg.centroid_radius_mm:
                edges.append((a.annotation_id, b.annotation_id, "mask_overlap"))
            elif _mutual_anchors(a, b, shapes, cfg.mark_radius_mm):
                edges.append((a.annotation_id, b.annotation_id, "mark_in_mask"))
    return edges


def _bare_edges(study: Study, cfg: LesionConfig, shapes: dict) -> list[tuple[str, str, str]]:
    """Marks without a mask: to the nearest mask their anchor reaches, and to each other by their anchors."""
    edges = []
    with_mask = [a for a in study.annotations if a.annotation_id in shapes]
    bare = [(a, anchor_lps(a)) for a in study.annotations if a.annotation_id not in shapes]
    bare = [(a, p) for a, p in bare if p is not None and study.frame_of.get(a.series_uid)]
    for a, anchor in bare:
        near = [(shapes[b.annotation_id].distance_mm(anchor), b.annotation_id) for b in with_mask
                if _same_frame(study, a, b)]
        near = [x for x in near if x[0] <= cfg.mark_radius_mm]
        if near:
            edges.append((a.annotation_id, min(near)[1], "mark_in_mask"))
    for i, (a, pa) in enumerate(bare):
        for b, pb in bare[i + 1:]:
            if _same_frame(study, a, b) and float(np.linalg.norm(pa - pb)) <= cfg.mark_radius_mm:
                edges.append((a.annotation_id, b.annotation_id, "marks_near"))
    return edges


def _mutual_anchors(a: AnnotationRecord, b: AnnotationRecord, shapes: dict, radius_mm: float) -> bool:
    pa, pb = anchor_lps(a), anchor_lps(b)
    return pa is not None and pb is not None and shapes[b.annotation_id].distance_mm(pa) <= radius_mm \
        and shapes[a.annotation_id].distance_mm(pb) <= radius_mm


def _rank(a: AnnotationRecord, study: Study, cfg: LesionConfig) -> tuple:
    m = study.masks.get(a.annotation_id)
    qc = study.qc_pass.get(m.mask_id) if m is not None else None
    kind = cfg.kind_rank.index(a.kind) if a.kind in cfg.kind_rank else len(cfg.kind_rank)
    return (m is None, {True: 0, None: 1, False: 2}[qc], kind, study.slice_mm.get(a.series_uid) or math.inf,
            m.mask_id if m is not None else "", a.annotation_id)


def group_study(study: Study, cfg: LesionConfig) -> tuple[list[LesionRecord], list[LesionMemberRecord]]:
    anns = sorted((a for a in study.annotations if a.kind in GROUPABLE and a.points_px), key=lambda a: a.annotation_id)
    study = Study(study.study_uid, anns, study.masks, study.frame_of, study.slice_mm, study.qc_pass)
    shapes = {a.annotation_id: PatientMask.of(study.masks[a.annotation_id]) for a in anns
              if a.annotation_id in study.masks}
    shapes = {k: v for k, v in shapes.items() if len(v.centres)}
    edges = _edges(study, cfg, shapes)
    union = _Union([a.annotation_id for a in anns])
    evidence = defaultdict(set)
    for a, b, rule in edges:
        union.join(a, b)
        evidence[a].add(rule)
        evidence[b].add(rule)
    groups = defaultdict(list)
    for a in anns:
        groups[union.find(a.annotation_id)].append(a)
    lesions, members = [], []
    for root in sorted(groups):
        g = groups[root]
        primary = min(g, key=lambda a: _rank(a, study, cfg))
        lid = stable_id("lesion", study.study_uid, root)  # root = the smallest annotation id of the group
        pm = study.masks.get(primary.annotation_id)
        ps = shapes.get(primary.annotation_id)
        rows = []
        for a in g:
            m = study.masks.get(a.annotation_id)
            o = None
            if a is not primary and ps is not None and a.annotation_id in shapes \
                    and study.frame_of.get(a.series_uid) == study.frame_of.get(primary.series_uid):
                o = overlap(ps, shapes[a.annotation_id])
            rows.append(LesionMemberRecord(
                lesion_id=lid, annotation_id=a.annotation_id, mask_id=m.mask_id if m else None, study_uid=study.study_uid,
                series_uid=a.series_uid, source_kind=a.source_kind, source_sop_uid=a.source_sop_uid, kind=a.kind,
                role="primary" if a is primary else "member", evidence=sorted(evidence[a.annotation_id]),
                dice_to_primary=None if o is None else round(o.dice, 6), iou_to_primary=None if o is None else round(o.iou, 6),
                centroid_distance_mm=None if o is None else round(o.centroid_distance_mm, 4),
                disagrees=None if o is None else bool(o.dice < cfg.min_member_dice)))
        qc = {True: "pass", None: "none", False: "fail"}[study.qc_pass.get(pm.mask_id) if pm else None]
        thickness = study.slice_mm.get(primary.series_uid)
        lesions.append(LesionRecord(
            lesion_id=lid, study_uid=study.study_uid, frame_of_reference_uid=study.frame_of.get(primary.series_uid),
            primary_annotation_id=primary.annotation_id, primary_mask_id=pm.mask_id if pm else None,
            primary_series_uid=primary.series_uid,
            primary_rule=f"qc={qc}, kind={primary.kind}, slice={'?' if thickness is None else f'{thickness:g}'}mm",
            n_marks=len(g), n_masks=sum(1 for a in g if a.annotation_id in study.masks),
            n_series=len({a.series_uid for a in g}), n_sources=len({a.source_sop_uid for a in g}),
            kinds=sorted({a.kind for a in g}), grouped_by=sorted({r for a in g for r in evidence[a.annotation_id]}),
            centroid_lps=None if ps is None else [round(float(v), 4) for v in ps.centroid],
            n_disagreeing=sum(1 for r in rows if r.disagrees)))
        members += rows
    return lesions, members


def slice_mm(series) -> Optional[float]:
    return series.slice_thickness or series.slice_spacing_mm
