"""``opseg deid OUT TARGET``: a de-identified copy of the output tables, the only input publish may push.

Keys (annotation, mask, finding, report, link ids) become HMAC tokens under the project secret; DICOM-derived
values go through dicognito per patient; free text is scrubbed; file paths become tokens. The cached CT volumes
publish needs are listed in ``TARGET/_private/ct_volumes.parquet`` (never published), keyed by the pseudonymous
series UID (curation.dicom.cache: entries that hold neither UIDs nor archive paths). ``TARGET/_deid/manifest.json`` records what was done and with which versions.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
from collections import Counter, defaultdict
from importlib.metadata import version
from pathlib import Path
from typing import Callable, Optional

import pyarrow as pa

from curation.deid.dicom_fields import DicomPseudonyms
from curation.deid.secret import ProjectSecret
from curation.deid.text import TextScrubber, identifier_variants
from curation.dicom.cache import PRIVATE_CT_VOLUMES, series_volumes
from curation.dicom.read import read_dicom
from curation.io.tables import read_records, write_parquet, write_records
from schemas import (AnnotationRecord, FindingRecord, InstanceRecord, LesionMemberRecord, LesionRecord, LinkRecord,
                     MaskRecord, QCRecord, QuarantineRecord, ReportRecord, SeriesRecord, StudyRecord)

MANIFEST = "_deid/manifest.json"
_UID = re.compile(r"\b\d+(?:\.\d+){3,}\b")
_PATH = re.compile(r"(?:[A-Za-z]:)?(?:/|\\)[^\s'\":]+")


def _header_identifiers(paths: list[str]) -> tuple[list[str], list[str], list[str], list[str]]:
    """Names, IDs, dates and phone numbers from the headers of some files (one per series is enough)."""
    names, ids, dates, phones = set(), set(), set(), set()

    def visit(ds, elem):
        if elem.VR == "PN" and elem.value:
            names.update(str(v) for v in (elem.value if elem.VM > 1 else [elem.value]))
        elif elem.keyword in ("PatientID", "OtherPatientIDs", "AccessionNumber", "StudyID", "IssuerOfPatientID",
                              "InstitutionName", "StationName") and elem.value:
            ids.update(str(v) for v in (elem.value if elem.VM > 1 else [elem.value]))
        elif elem.keyword in ("PatientBirthDate",) and elem.value:
            dates.add(str(elem.value))
        elif elem.keyword in ("PatientTelephoneNumbers", "PatientAddress") and elem.value:
            phones.update(str(v) for v in (elem.value if elem.VM > 1 else [elem.value]))

    for p in paths:
        try:
            read_dicom(p, stop_before_pixels=True).walk(visit)
        except Exception:  # unreadable files are already in quarantine
            continue
    return sorted(names), sorted(ids), sorted(dates), sorted(phones)


class Deidentifier:
    def __init__(self, out: Path, secret: ProjectSecret, scrubber: Optional[TextScrubber] = None):
        self.out, self.secret = Path(out), secret
        self.dicom = DicomPseudonyms(secret)
        self.scrubber = scrubber or TextScrubber()
        self.counts: Counter = Counter()
        self.instances = read_records(out, InstanceRecord)
        self.studies = {s.study_uid: s for s in read_records(out, StudyRecord)}
        self.patient_of = {s.study_uid: s.patient_id or s.study_uid for s in self.studies.values()}
        self.series_study = {i.series_uid: i.study_uid for i in self.instances}
        self.sop_study = {i.sop_uid: i.study_uid for i in self.instances}
        self._known: dict[str, tuple[str, ...]] = {}
        self._all_known: tuple[str, ...] = ()

    # ---- keys -------------------------------------------------------------------------------------------------
    def key(self, kind: str, value: Optional[str]) -> Optional[str]:
        return self.secret.token(kind, value, 16) if value else value

    def patient(self, study_uid: Optional[str]) -> str:
        return self.patient_of.get(study_uid or "", study_uid or "")

    def uid(self, value: Optional[str], study_uid: Optional[str] = None) -> Optional[str]:
        """A UID through the dicognito mapping of the patient it belongs to."""
        if not value:
            return value
        study = study_uid or self.sop_study.get(value) or self.series_study.get(value) or (value if value in self.studies else None)
        return self.dicom.uid(self.patient(study), value)

    def path(self, value: Optional[str]) -> Optional[str]:
        if not value:
            return value
        stem, _, line = value.rpartition(":") if re.search(r":\d+$", value) else (value, "", "")
        return f"file-{self.secret.token('path', stem, 16)}{Path(stem).suffix}" + (f":{line}" if line else "")

    # ---- text -------------------------------------------------------------------------------------------------
    def known(self, study_uid: Optional[str]) -> tuple[str, ...]:
        """This patient's identifiers as they may appear in text (all patients' when the study is unknown)."""
        if not self._known:
            by_patient: dict[str, list[str]] = defaultdict(list)
            first_of_series: dict[str, str] = {}
            for i in self.instances:
                first_of_series.setdefault(i.series_uid, i.path)
            for series, path in first_of_series.items():
                by_patient[self.patient(self.series_study.get(series))].append(path)
            for patient, paths in by_patient.items():
                names, ids, dates, phones = _header_identifiers(paths)
                self._known[patient] = tuple(identifier_variants(names, ids + [patient], dates, phones))
            self._all_known = tuple(sorted({k for v in self._known.values() for k in v}, key=len, reverse=True))
        return self._known.get(self.patient(study_uid), self._all_known) if study_uid else self._all_known

    def shifter(self, study_uid: Optional[str]) -> Callable[[dt.date], dt.date]:
        offset = dt.timedelta(days=self.dicom.date_offset_days(self.patient(study_uid)))
        return lambda day: day + offset

    def scrub(self, text: Optional[str], study_uid: Optional[str]):
        res = self.scrubber.scrub(text, self.known(study_uid), self.shifter(study_uid))
        self.counts.update(res.counts)
        return res

    def free_text(self, text: Optional[str], study_uid: Optional[str] = None) -> Optional[str]:
        """Messages and details: paths and UIDs replaced by their pseudonyms, then scrubbed."""
        if not text:
            return text
        text = _PATH.sub(lambda m: self.path(m.group(0)), text)
        text = _UID.sub(lambda m: self.uid(m.group(0), study_uid), text)
        return self.scrub(text, study_uid).text

    def scrub_json(self, raw: Optional[str], study_uid: Optional[str]) -> Optional[str]:
        if not raw:
            return raw

        def walk(node):
            if isinstance(node, dict):
                return {k: (self.scrub(v, study_uid).text if k in ("text", "tokens") and isinstance(v, str) else walk(v))
                        for k, v in node.items()}
            if isinstance(node, list):
                return [walk(v) for v in node]
            return node
        return json.dumps(walk(json.loads(raw)), sort_keys=True)

    # ---- tables -----------------------------------------------------------------------------------------------
    def run(self, target: Path, progress=None) -> dict:
        target = Path(target)
        steps = [("studies", self._studies), ("series", self._series), ("annotations", self._annotations),
                 ("reports+findings", self._reports_findings), ("masks", self._masks), ("links", self._links),
                 ("qc", self._qc), ("lesions", self._lesions), ("quarantine", self._quarantine), ("ct volumes", self._ct_volumes)]
        tick = progress("de-identify tables", len(steps)) if progress else None
        steps.append(("evaluation", self._evaluation))
        rows = {}
        for name, step in steps:
            rows[name] = step(target)
            if tick:
                tick(1)
        manifest = {
            "deidentified": True, "secret_fingerprint": self.secret.fingerprint,
            "methods": {"keys": "HMAC-SHA256 under the project secret",
                        "dicom_fields": f"dicognito {version('dicognito')}, one seeded anonymizer per patient",
                        "free_text": f"presidio-analyzer {version('presidio-analyzer')} (regex engine) + opseg recognisers "
                                     "+ the patient's header identifiers",
                        "dates": "shifted by the patient's dicognito offset (DICOM fields and report text alike)",
                        "paths": "replaced by HMAC tokens"},
            "rows": rows, "replacements": dict(sorted(self.counts.items())),
        }
        (target / "_deid").mkdir(parents=True, exist_ok=True)
        tmp = target / "_deid" / ".manifest.json.tmp"
        tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
        os.replace(tmp, target / MANIFEST)  # last: its presence says the copy is complete
        return manifest

    def _write(self, target, cls, rows) -> int:
        write_records(target, cls, rows)
        return len(rows)

    def _studies(self, target):
        rows = []
        for s in sorted(self.studies.values(), key=lambda s: s.study_uid):
            p = self.patient(s.study_uid)
            m = self.dicom.map(p, PatientID=s.patient_id, AccessionNumber=s.accession_number)
            rows.append(dataclasses.replace(s, study_uid=self.uid(s.study_uid, s.study_uid), patient_id=m["PatientID"],
                                            accession_number=m["AccessionNumber"],
                                            study_date=self.dicom.shift_date(p, s.study_date),
                                            description=self.free_text(s.description, s.study_uid)))
        return self._write(target, StudyRecord, sorted(rows, key=lambda r: r.study_uid))

    def _series(self, target):
        rows = [dataclasses.replace(r, series_uid=self.uid(r.series_uid, r.study_uid), study_uid=self.uid(r.study_uid, r.study_uid),
                                    description=self.free_text(r.description, r.study_uid),
                                    geometry_error=self.free_text(r.geometry_error, r.study_uid))
                for r in read_records(self.out, SeriesRecord)]
        return self._write(target, SeriesRecord, sorted(rows, key=lambda r: (r.study_uid, r.series_uid)))

    def _annotations(self, target):
        rows = []
        for a in read_records(self.out, AnnotationRecord):
            st = a.study_uid
            rows.append(dataclasses.replace(
                a, annotation_id=self.key("annotation", a.annotation_id), source_sop_uid=self.uid(a.source_sop_uid, st),
                source_path=self.path(a.source_path), study_uid=self.uid(st, st), series_uid=self.uid(a.series_uid, st),
                referenced_sop_uid=self.uid(a.referenced_sop_uid, st), tracking_uid=self.uid(a.tracking_uid, st),
                reader=self.key("reader", a.reader),
                text=self.scrub(a.text, st).text if a.text else a.text))
        return self._write(target, AnnotationRecord, sorted(rows, key=lambda r: r.annotation_id))

    def _reports_findings(self, target):
        reports, scrubbed = [], {}
        for r in read_records(self.out, ReportRecord):
            st = r.study_uid
            res = self.scrub(r.text, st)
            scrubbed[r.report_id] = res
            m = self.dicom.map(self.patient(st), AccessionNumber=r.accession_number)
            ref = self.uid(r.source_ref, st) if _UID.fullmatch(r.source_ref or "") else self.path(r.source_ref)
            reports.append(dataclasses.replace(
                r, report_id=self.key("report", r.report_id), study_uid=self.uid(st, st), accession_number=m["AccessionNumber"],
                source_ref=ref, report_date=self.dicom.shift_date(self.patient(st), r.report_date) if r.report_date else None,
                text=res.text, n_chars=len(res.text)))
        findings = []
        for f in read_records(self.out, FindingRecord):
            res = scrubbed.get(f.report_id)
            start, end = (res.remap(f.char_start), res.remap(f.char_end, end=True)) if res else (f.char_start, f.char_end)
            text = res.text[start:end] if res else self.scrub(f.text, f.study_uid).text
            findings.append(dataclasses.replace(
                f, finding_id=self.key("finding", f.finding_id), report_id=self.key("report", f.report_id),
                study_uid=self.uid(f.study_uid, f.study_uid), char_start=start, char_end=end, text=text,
                entities_json=self.scrub_json(f.entities_json, f.study_uid)))
        self._write(target, ReportRecord, sorted(reports, key=lambda r: r.report_id))
        return {"reports": len(reports), "findings": self._write(target, FindingRecord, sorted(findings, key=lambda r: r.finding_id))}

    def _masks(self, target):
        rows = [dataclasses.replace(m, mask_id=self.key("mask", m.mask_id), annotation_id=self.key("annotation", m.annotation_id),
                                    series_uid=self.uid(m.series_uid), error=self.free_text(m.error))
                for m in read_records(self.out, MaskRecord)]
        return self._write(target, MaskRecord, sorted(rows, key=lambda r: r.mask_id))

    def _links(self, target):
        rows = [dataclasses.replace(r, link_id=self.key("link", r.link_id), study_uid=self.uid(r.study_uid, r.study_uid),
                                    annotation_id=self.key("annotation", r.annotation_id), mask_id=self.key("mask", r.mask_id),
                                    finding_id=self.key("finding", r.finding_id))
                for r in read_records(self.out, LinkRecord)]
        return self._write(target, LinkRecord, sorted(rows, key=lambda r: r.link_id))

    def _qc(self, target):
        kinds = {"mask": "mask", "annotation": "annotation", "link": "link"}
        rows = [dataclasses.replace(q, entity_id=self.key(kinds[q.entity_kind], q.entity_id) if q.entity_kind in kinds
                                    else self.uid(q.entity_id), detail=self.free_text(q.detail))
                for q in read_records(self.out, QCRecord)]
        return self._write(target, QCRecord, sorted(rows, key=lambda r: (r.entity_kind, r.entity_id, r.metric)))

    def _lesions(self, target):
        """Lesion ids are keys like annotation ids; the UIDs are pseudonymised per patient as everywhere else."""
        lesions = [dataclasses.replace(
            r, lesion_id=self.key("lesion", r.lesion_id), study_uid=self.uid(r.study_uid, r.study_uid),
            frame_of_reference_uid=self.uid(r.frame_of_reference_uid, r.study_uid),
            primary_annotation_id=self.key("annotation", r.primary_annotation_id),
            primary_mask_id=self.key("mask", r.primary_mask_id), primary_series_uid=self.uid(r.primary_series_uid, r.study_uid))
            for r in read_records(self.out, LesionRecord)]
        members = [dataclasses.replace(
            r, lesion_id=self.key("lesion", r.lesion_id), annotation_id=self.key("annotation", r.annotation_id),
            mask_id=self.key("mask", r.mask_id), study_uid=self.uid(r.study_uid, r.study_uid),
            series_uid=self.uid(r.series_uid, r.study_uid), source_sop_uid=self.uid(r.source_sop_uid, r.study_uid))
            for r in read_records(self.out, LesionMemberRecord)]
        self._write(target, LesionMemberRecord, sorted(members, key=lambda r: (r.lesion_id, r.role != "primary",
                                                                               r.annotation_id)))
        return self._write(target, LesionRecord, sorted(lesions, key=lambda r: r.lesion_id))

    def _quarantine(self, target):
        rows = []
        for q in read_records(self.out, QuarantineRecord):
            entity = q.entity_id
            if entity and _UID.match(entity):
                uid_part, _, rest = entity.partition("#")
                entity = self.uid(uid_part) + (f"#{rest}" if rest else "")
            elif entity:
                entity = self.key("entity", entity)
            rows.append(dataclasses.replace(q, path=self.path(q.path), entity_id=entity, detail=self.free_text(q.detail)))
        return self._write(target, QuarantineRecord, sorted(rows, key=lambda r: (r.stage, r.reason, r.path or "", r.entity_id or "")))

    def _evaluation(self, target):
        """The demo evaluation, with its annotation ids keyed like the tables (so the report can show Dice)."""
        src = self.out / "eval" / "segmentation.json"
        if not src.exists():
            return 0
        ev = json.loads(src.read_text())
        for row in ev.get("rows", []):
            row["annotation_id"] = self.key("annotation", row.get("annotation_id"))
        (target / "eval").mkdir(parents=True, exist_ok=True)
        (target / "eval" / "segmentation.json").write_text(json.dumps(ev, indent=1))
        return len(ev.get("rows", []))

    def _ct_volumes(self, target):
        """The cached HU volume of every CT series with a mask, by pseudonymous series UID: what publish, the report
        and SEG export read from the copy. Entries hold no UIDs or paths; the copy never points into the archive."""
        volumes = series_volumes(self.out)
        masked = sorted({m.series_uid for m in read_records(self.out, MaskRecord) if m.error is None and m.series_uid in volumes})
        root = Path(target).resolve()  # entries relative to the copy: the same bytes for the same run in any folder
        rows = sorted((self.uid(s, self.series_study.get(s)), os.path.relpath(volumes.ensure(s), root)) for s in masked)
        write_parquet(pa.table({"series_uid": [r[0] for r in rows], "entry": [r[1] for r in rows]}), target / PRIVATE_CT_VOLUMES)
        stale = target / "_private" / "ct_paths.parquet"  # what earlier versions kept: archive paths
        if stale.exists():
            stale.unlink()
        return len(rows)


def deidentify(out: Path, target: Path, secret: ProjectSecret, progress=None, scrubber: Optional[TextScrubber] = None) -> dict:
    """Write the de-identified copy of OUT's tables into TARGET (replacing an earlier copy)."""
    manifest = Path(target) / MANIFEST
    if manifest.exists():
        manifest.unlink()  # an interrupted rewrite must not look complete
    return Deidentifier(out, secret, scrubber).run(target, progress)
