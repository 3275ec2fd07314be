"""The truth corpus as an extract output: reports plus the GSPS marks a radiologist would have drawn.

For each study (one corpus report) the CT series it cites are written as catalog rows (512 x 512, 0.7 mm
pixels, 2.5 mm slices; InstanceNumber running with or against the slice order as the truth says), and each
truth mark id becomes one annotation row as the extract stage writes it: a line (1-D size), a
bidimensional (2-D size) or an arrow (an image reference without a size), drawn on the image the report
cites (a random one of the first series when it cites none), on the side the report names, its length the
reported size plus a measuring difference below the report's rounding. ``#extra`` marks are drawn too and
no sentence describes them. ``score_links`` then says which links land on a sentence describing the mark.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from curation.io.ids import stable_id
from curation.io.tables import read_records, write_records
from linking.corpus import CorpusReport
from curation.dicom.lookup import ImageLookup
from schemas import AnnotationRecord, FindingRecord, InstanceRecord, LinkRecord, ReportRecord, SeriesRecord

SPACING, THICKNESS, SIZE = 0.7, 2.5, 512


def _instances(study: str, series: int, n: int, order: str) -> list[InstanceRecord]:
    out = []
    for k in range(n):  # slice index k at z = 2.5 k; InstanceNumber k+1 (asc) or n-k (desc)
        number = k + 1 if order == "instance_asc" else n - k
        out.append(InstanceRecord(
            path=f"/corpus/{study}/{series}/{number}.dcm", size=1, mtime_ns=0, sop_uid=f"{study}.{series}.{number}",
            sop_class_uid="1.2.840.10008.5.1.4.1.1.2", study_uid=study, series_uid=f"{study}.{series}", modality="CT",
            category="ct_image", series_number=series, instance_number=number, rows=SIZE, columns=SIZE, n_frames=1,
            pixel_spacing=[SPACING, SPACING], image_position=[-179.2, -179.2, THICKNESS * k],
            image_orientation=[1, 0, 0, 0, 1, 0], slice_thickness=THICKNESS))
    return out


def _slice_of(image: int, n: int, order: str) -> int:
    return image - 1 if order == "instance_asc" else n - image


def _annotation(study, series, n, order, image, kind, long_mm, short_mm, side, key, rng) -> AnnotationRecord:
    k = _slice_of(image, n, order)
    col = {"left": 356.0, "right": 156.0}.get(side, 256.0) + rng.uniform(-20, 20)
    row = 256.0 + rng.uniform(-60, 60)
    half = (long_mm or 8.0) / SPACING / 2
    if kind == "arrow":
        pts = [[col + 30, row - 30], [col, row]]
    elif kind == "bidimensional":
        h2 = short_mm / SPACING / 2
        pts = [[col - half, row], [col + half, row], [col, row - h2], [col, row + h2]]
    else:
        pts = [[col - half, row], [col + half, row]]
    patient = [[-179.2 + c * SPACING, -179.2 + r * SPACING, THICKNESS * k] for c, r in pts]
    number = image
    return AnnotationRecord(
        annotation_id=stable_id(study, key), source_kind="gsps", source_sop_uid=f"{study}.gsps",
        source_path=f"/corpus/{study}/gsps.dcm", study_uid=study, series_uid=f"{study}.{series}",
        referenced_sop_uid=f"{study}.{series}.{number}", kind=kind, points_px=pts, points_patient=patient,
        length_mm=None if kind == "arrow" else long_mm, short_mm=short_mm, spacing_source="pixel_spacing",
        pixel_spacing=[SPACING, SPACING], slice_index=k, text=key)


def _measured(value: float, rng) -> float:
    """A GSPS length the radiologist rounded to the value written: within half its last digit (≤ 0.45 mm)."""
    step = 0.04 if abs(value - round(value)) > 1e-6 else 0.45
    return round(value + rng.uniform(-step, step), 2)


def write_corpus_out(corpus: list[CorpusReport], out: Path, seed: int = 0) -> dict[str, dict]:
    """Write reports, instances and annotations under OUT; returns annotation_id -> {study, mark, rows}."""
    rng = np.random.default_rng(seed)
    reports, instances, anns, truth = [], [], [], {}
    for rep in corpus:
        study = f"corpus.{rep.name}"
        reports.append(ReportRecord(report_id=rep.name, study_uid=study, source="sidecar", source_ref=f"{rep.name}.txt",
                                    text=rep.text, n_chars=len(rep.text)))
        for s, n in rep.series.items():
            instances += _instances(study, s, n, rep.order)
        first = next(iter(rep.series))
        marks: dict[str, list] = {}
        for row in rep.rows:
            for m in row.marks:
                marks.setdefault(m, []).append(row)
        for m, rows in marks.items():
            row = next((r for r in rows if r.current and r.refs), next((r for r in rows if r.current), rows[0]))
            ref = next((r for r in (row.refs or [x for r_ in rows for x in r_.refs])), None)
            series, image = (ref[0] or first, (ref[1] + (ref[2] or ref[1])) // 2) if ref else \
                (first, int(rng.integers(5, rep.series[first] - 5)))
            if row.current:
                dims = sorted(row.current[0], reverse=True)
                kind = "bidimensional" if len(dims) == 2 else "line"
                long_mm, short_mm = _measured(dims[0], rng), (_measured(dims[1], rng) if len(dims) == 2 else None)
            else:
                kind, long_mm, short_mm = "arrow", None, None
            a = _annotation(study, series, rep.series[series], rep.order, image, kind, long_mm, short_mm, row.side, m, rng)
            anns.append(a)
            truth[a.annotation_id] = {"study": study, "mark": m, "rows": rows, "extra": False}
        for x, (length, series, image) in enumerate(rep.extra):
            a = _annotation(study, series, rep.series[series], rep.order, image, "line", length, None, None, f"extra{x}", rng)
            anns.append(a)
            truth[a.annotation_id] = {"study": study, "mark": f"extra{x}", "rows": [], "extra": True}
    write_records(out, ReportRecord, reports)
    write_records(out, InstanceRecord, instances)
    write_records(out, SeriesRecord, ImageLookup(instances).series_records())
    write_records(out, AnnotationRecord, anns)
    return truth


def score_links(out: Path, truth: dict[str, dict]) -> dict:
    """Tiers A+B precision / recall over the described marks; links of undescribed marks at any tier."""
    findings = {f.finding_id: f for f in read_records(out, FindingRecord)}
    links = {}
    for link in read_records(out, LinkRecord):
        links.setdefault(link.annotation_id, []).append(link)
    tiers, wrong = Counter(), []
    correct = predicted = expected = extra_linked = 0
    for ann_id, t in truth.items():
        got = links.get(ann_id, [])
        if t["extra"]:
            extra_linked += len(got)
            wrong += [f"{t['study']} {t['mark']} (undescribed) linked at {x.tier}" for x in got]
            continue
        expected += 1
        for x in got:
            f = findings[x.finding_id]
            ok = f.study_uid == t["study"] and any(f.char_start <= r.position < f.char_end for r in t["rows"])
            tiers[(x.tier, ok)] += 1
            if x.tier in ("A", "B"):
                predicted += 1
                correct += ok
            if not ok:
                wrong.append(f"{t['study']} {t['mark']} -> {x.tier} {f.text[:60]!r}")
        if not got:
            wrong.append(f"{t['study']} {t['mark']} unlinked")
    return {"marks": expected, "precision_ab": correct / predicted if predicted else float("nan"),
            "recall_ab": correct / expected if expected else float("nan"), "extra_marks": sum(t["extra"] for t in truth.values()),
            "extra_linked": extra_linked, "tiers": {f"{k[0]}/{'right' if k[1] else 'wrong'}": v for k, v in sorted(tiers.items())},
            "problems": wrong}
