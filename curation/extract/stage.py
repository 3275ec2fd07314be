"""The extract stage: archive folder -> catalog, series geometry, annotations, reports, quarantine tables."""
from __future__ import annotations

import os
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional


from curation.extract import limits
from curation.io.ids import stable_id
from curation.extract.gsps import extract_gsps
from curation.extract.index import index_archive, walk_files
from curation.dicom.lookup import ImageLookup
from curation.extract.reports import read_sidecar
from curation.extract.sr import extract_sr
from curation.io.partition import Partition
from curation.io.stage import SOURCE, Resources, Stage
from curation.io.tables import write_records
from schemas import AnnotationRecord, InstanceRecord, QuarantineRecord, ReportRecord, SeriesRecord, StudyRecord
from curation.dicom.read import read_dicom

PARALLEL_MIN_OBJECTS = 64

ProgressFactory = Callable[[str, int], Callable[[int], None]]


@dataclass
class ExtractSummary:
    n_files: int = 0
    n_read: int = 0
    n_series: int = 0
    n_ct_series: int = 0
    annotations_by_kind: Counter = field(default_factory=Counter)
    n_reports: int = 0
    quarantine_by_reason: Counter = field(default_factory=Counter)


def extract(source: Path, out: Path, reports: Optional[list[Path]] = None, workers: Optional[int] = None,
            progress: Optional[ProgressFactory] = None) -> ExtractSummary:
    out = Path(out)
    idx = index_archive(source, out, workers=workers,
                        progress_factory=(lambda n: progress("index", n)) if progress else None)
    lookup = ImageLookup(idx.instances)
    quarantine: list[QuarantineRecord] = list(idx.quarantine)
    for series_uid, err in sorted(lookup.geometry_errors.items()):
        quarantine.append(QuarantineRecord(stage="volume", entity_id=series_uid, reason=err.reason, detail=err.detail,
                                           path=lookup.series_instances[series_uid][0].path))
    annotations: list[AnnotationRecord] = []
    report_rows: list[ReportRecord] = []
    objects = [i for i in idx.instances if i.category in ("gsps", "sr")]
    tick = progress("annotations", len(objects)) if progress else None
    for recs, bad, report in parse_objects(idx.instances, objects, lookup, workers, tick):
        annotations.extend(recs)
        quarantine.extend(bad)
        if report is not None:
            report_rows.append(report)
    studies = _studies(idx.instances, annotations, report_rows)
    by_acc = {s.accession_number: s.study_uid for s in studies if s.accession_number}
    known = {s.study_uid for s in studies}
    for sidecar in reports or []:
        try:
            rows, bad = read_sidecar(sidecar, by_acc, known)
        except Exception as exc:
            rows, bad = [], [QuarantineRecord(stage="reports", path=str(sidecar), reason="unreadable_sidecar",
                                              detail=f"{sidecar}: {type(exc).__name__}: {exc}")]
        report_rows.extend(rows)
        quarantine.extend(bad)
    studies = _studies(idx.instances, annotations, report_rows)
    series = lookup.series_records()
    annotations.sort(key=lambda a: (a.study_uid or "", a.series_uid or "", a.slice_index if a.slice_index is not None else -1, a.annotation_id))
    write_records(out, SeriesRecord, series)
    write_records(out, StudyRecord, studies)
    write_records(out, AnnotationRecord, annotations)
    write_records(out, ReportRecord, sorted(report_rows, key=lambda r: (r.study_uid or "", r.report_id)))
    write_records(out, QuarantineRecord, quarantine, part="extract")  # the quarantine parts are named by stage
    return ExtractSummary(
        n_files=idx.n_files, n_read=idx.n_read, n_series=len(series),
        n_ct_series=sum(1 for s in series if s.category == "ct_image"),
        annotations_by_kind=Counter(a.kind for a in annotations), n_reports=len(report_rows),
        quarantine_by_reason=Counter(f"{q.stage}:{q.reason}" for q in quarantine))


def parse_object(inst: InstanceRecord, lookup: ImageLookup):
    """One GSPS/SR object -> (annotations, quarantine rows, report from its text or None); never raises, and
    is bounded in size and time (curation.limits)."""
    report = None
    size = os.path.getsize(inst.path) if os.path.exists(inst.path) else 0
    if size > limits.MAX_OBJECT_BYTES:
        return [], [QuarantineRecord(stage=inst.category, path=inst.path, entity_id=inst.sop_uid, reason="object_too_large",
                                     detail=f"{inst.path}: {size} bytes, over the {limits.MAX_OBJECT_BYTES} byte limit "
                                            "for a GSPS/SR object")], None
    try:
        with limits.time_limit(limits.OBJECT_SECONDS):
            recs, bad, report = _parse(inst, lookup)
    except limits.ObjectTimeout as exc:
        recs, bad = [], [QuarantineRecord(stage=inst.category, path=inst.path, entity_id=inst.sop_uid,
                                          reason="parse_timeout", detail=f"{inst.path}: {exc}")]
    except Exception as exc:  # one bad object never stops the run
        recs, bad = [], [QuarantineRecord(stage=inst.category, path=inst.path, entity_id=inst.sop_uid,
                                          reason="unparseable", detail=f"{inst.path}: {type(exc).__name__}: {exc}")]
    for r in recs:
        if r.text and len(r.text) > limits.MAX_TEXT_CHARS:
            r.text = r.text[:limits.MAX_TEXT_CHARS]
            r.flags = [*r.flags, "text_truncated"]
        if "image_not_in_archive" in r.flags and r.referenced_sop_uid:
            bad.append(QuarantineRecord(
                stage=inst.category, path=inst.path, entity_id=r.annotation_id, reason="referenced_image_missing",
                detail=f"{inst.path}: mark refers to image {r.referenced_sop_uid} which is not in the archive (kept, flagged)"))
    return recs, bad, report


def _parse(inst: InstanceRecord, lookup: ImageLookup):
    ds = read_dicom(inst.path)
    if inst.category == "gsps":
        recs, bad = extract_gsps(ds, inst.path, lookup)
        return recs, bad, None
    recs, bad, text = extract_sr(ds, inst.path, lookup)
    report = None
    if text:
        report = ReportRecord(
            report_id=stable_id("sr", inst.sop_uid), study_uid=inst.study_uid,
            accession_number=inst.accession_number, source="sr", source_ref=inst.sop_uid,
            report_date=ds.get("ContentDate") or inst.study_date, text=text, n_chars=len(text))
    return recs, bad, report


_WORKER_LOOKUP: Optional[ImageLookup] = None


def _init_worker(instances: list[InstanceRecord]) -> None:
    global _WORKER_LOOKUP
    _WORKER_LOOKUP = ImageLookup(instances)


def _parse_chunk(chunk: list[InstanceRecord]):
    return [parse_object(inst, _WORKER_LOOKUP) for inst in chunk]


def parse_objects(instances, objects, lookup: ImageLookup, workers: Optional[int] = None, tick=None):
    """Parse GSPS/SR objects in order, in worker processes (each with its own lookup) when worth it."""
    workers = workers or os.cpu_count() or 1
    if workers <= 1 or len(objects) < PARALLEL_MIN_OBJECTS:
        for inst in objects:
            yield parse_object(inst, lookup)
            if tick:
                tick(1)
        return
    size = max(8, min(128, len(objects) // (workers * 4)))
    chunks = [objects[i:i + size] for i in range(0, len(objects), size)]
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(instances,)) as pool:
        for results in pool.map(_parse_chunk, chunks):
            yield from results
            if tick:
                tick(len(results))


def _studies(instances, annotations, reports) -> list[StudyRecord]:
    by_study = defaultdict(list)
    for i in instances:
        by_study[i.study_uid].append(i)
    ann = Counter(a.study_uid for a in annotations)
    rep = Counter(r.study_uid for r in reports)
    out = []
    for uid, insts in sorted(by_study.items()):
        first = insts[0]
        series = {i.series_uid: i.category for i in insts}
        out.append(StudyRecord(
            study_uid=uid, patient_id=first.patient_id, accession_number=first.accession_number,
            study_date=first.study_date, description=first.study_description, n_series=len(series),
            n_ct_series=sum(1 for c in series.values() if c == "ct_image"),
            n_gsps=sum(1 for i in insts if i.category == "gsps"), n_sr=sum(1 for i in insts if i.category == "sr"),
            n_annotations=ann.get(uid, 0), n_reports=rep.get(uid, 0)))
    return out


@dataclass(frozen=True)
class ExtractConfig:
    source: Path = Path(".")                 # the archive folder (or a PACS source's local cache)
    reports: tuple[Path, ...] = ()           # sidecar report tables: CSV, JSONL or Parquet


class ExtractStage(Stage):
    """Archive -> catalog, series geometry, annotations, reports, quarantine. Runs on the whole archive (the index is
    incremental and parallel inside); new, changed or removed files re-run it."""

    name = "extract"
    reads = (SOURCE,)
    writes = (InstanceRecord, SeriesRecord, StudyRecord, AnnotationRecord, ReportRecord, QuarantineRecord)
    partitioned = False
    Config = ExtractConfig
    source_label = "archive"
    kept_on_reset = ("instances",)  # the incremental index rewrites the catalog in full, reusing unchanged files' rows

    def __init__(self, config: Optional[ExtractConfig] = None, workers: Optional[int] = None):
        super().__init__(config)
        self.workers = workers  # how, not what: not part of the config (the tables do not depend on it)

    @property
    def resources(self) -> Resources:
        """The header pool's processes: the local executor runs nothing beside it (nor sets a later stage up)."""
        return Resources(cpus=max(1, self.workers or os.cpu_count() or 1))

    def source_fingerprint(self) -> str:
        h = hashlib.sha1()
        for f in walk_files(self.config.source) + [Path(r) for r in self.config.reports]:
            st = f.stat()
            h.update(f"{f}|{st.st_size}|{st.st_mtime_ns}".encode())
        return h.hexdigest()

    def process(self, part: Partition) -> dict:
        s = extract(self.config.source, part.out, reports=list(self.config.reports), workers=self.workers,
                    progress=part.progress)
        return {"files": s.n_files, "read": s.n_read, "series": s.n_series, "ct_series": s.n_ct_series,
                "annotations": sum(s.annotations_by_kind.values()),
                "annotations_by_kind": dict(sorted(s.annotations_by_kind.items())), "reports": s.n_reports,
                "quarantined": dict(sorted(s.quarantine_by_reason.items()))}
