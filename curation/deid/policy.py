"""One transform per PHI class (schemas.phi), applied to any row of any table.

Each row is first placed with its patient (through its study: directly, or via the series, annotation, report,
mask or link it refers to), because UIDs, dummy IDs, date shifts and the identifiers looked for in text are all
per patient. A table may declare ``SPAN_OF`` (findings: a sentence of a report): its text is then cut from the
scrubbed parent at remapped offsets, so sentences still sit at their offsets in the scrubbed report.
"""
from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Callable, Optional

from curation.deid.dates import parse_reference
from curation.deid.dicom_fields import DicomPseudonyms
from curation.deid.headers import header_identifiers
from curation.deid.labels import label_is_safe
from curation.deid.secret import ProjectSecret
from curation.deid.text import Scrubbed, TextScrubber, identifier_variants
from curation.io.tables import read_table
from schemas import ALL_TABLES, Record
from schemas.phi import CLASSLESS_OK, PHI_CLASSES, PROFILE

_UID = re.compile(r"\d+(?:\.\d+){3,}")
_TAIL = re.compile(r"(?::\d+|@[0-9A-Fa-f]{6,64})$")
_SUFFIX = re.compile(r"(?:\.[A-Za-z0-9]{1,10}){1,2}$")
_NIFTI_TEXT = ("descrip", "aux_file", "db_name", "intent_name")


class DeidPolicyError(ValueError):
    pass


def check_policy(cls: type[Record]) -> None:
    """Every column needs a known class; only numbers and booleans may go without (they are numeric)."""
    for name, typ, phi, dicom in cls.policy():
        if phi is None and not any(str(typ).startswith(p) for p in CLASSLESS_OK):
            raise DeidPolicyError(f"{cls.TABLE}.{name} ({typ}) has no PHI class: declare col(..., phi=...) in schemas/ "
                                  f"(one of {', '.join(PHI_CLASSES)}); it would otherwise be published raw")
        if phi is not None and phi not in PHI_CLASSES:
            raise DeidPolicyError(f"{cls.TABLE}.{name}: unknown PHI class {phi!r}")
        if phi in ("dicom_text", "dicom_id") and dicom not in PROFILE:
            raise DeidPolicyError(f"{cls.TABLE}.{name}: class {phi} needs dicom=<keyword> with a profile action in "
                                  f"schemas/phi.py PROFILE (got {dicom!r})")


def key_token(secret: ProjectSecret, value: Optional[str]) -> Optional[str]:
    """The pseudonym of an opseg id (mask, annotation, ... id) in the de-identified copy: what tools that map the
    copy back to OUT (the review app) compute."""
    return secret.token("key", value, 16) if value else value


class ColumnPolicy:
    def __init__(self, out: Path, secret: ProjectSecret, scrubber: TextScrubber):
        self.out, self.secret, self.scrubber = Path(out), secret, scrubber
        self.dicom = DicomPseudonyms(secret)
        self.counts: Counter = Counter()    # free-text entity -> replacements
        self.changed: Counter = Counter()   # PHI class -> values changed
        self._study_of: dict[str, dict[str, str]] = {}
        self._known: dict[str, tuple[str, ...]] = {}
        self._spans: dict[tuple[str, str], Scrubbed] = {}
        self._memo: dict[tuple[str, Optional[str]], Scrubbed] = {}
        self._span_parents = {(c.SPAN_OF[0], c.SPAN_OF[2]) for c in ALL_TABLES.values() if c.SPAN_OF}
        self._load_references()

    # ---- where a row belongs ----------------------------------------------------------------------------------
    def _load_references(self) -> None:
        def pairs(table, key, value="study_uid"):
            cls = ALL_TABLES[table]
            t = read_table(self.out, cls).select([key, value]).to_pylist()
            return {r[key]: r[value] for r in t if r[key] and r[value]}

        studies = read_table(self.out, ALL_TABLES["studies"]).select(["study_uid", "patient_id", "study_date"]).to_pylist()
        self.patient_of = {s["study_uid"]: s["patient_id"] or s["study_uid"] for s in studies}
        self.study_date = {s["study_uid"]: parse_reference(s["study_date"]) for s in studies}
        by = self._study_of
        by["study_uid"] = {s: s for s in self.patient_of}
        by["series_uid"] = pairs("instances", "series_uid")
        by["sop_uid"] = pairs("instances", "sop_uid")
        by["annotation_id"] = pairs("annotations", "annotation_id")
        by["report_id"] = pairs("reports", "report_id")
        masks = pairs("masks", "mask_id", "annotation_id")
        by["mask_id"] = {m: by["annotation_id"][a] for m, a in masks.items() if a in by["annotation_id"]}
        by["link_id"] = pairs("links", "link_id")
        by["finding_id"] = pairs("findings", "finding_id")
        by["entity_id"] = {k: v for name in ("series_uid", "sop_uid", "annotation_id", "mask_id", "link_id", "study_uid")
                           for k, v in by[name].items()}
        by["source_sop_uid"] = by["referenced_sop_uid"] = by["sop_uid"]
        by["path"] = by["source_path"] = pairs("instances", "path")
        self._instance_paths = read_table(self.out, ALL_TABLES["instances"]).select(["series_uid", "study_uid", "path"]).to_pylist()

    def study(self, row: dict) -> Optional[str]:
        if row.get("study_uid"):
            return row["study_uid"]
        for column, mapping in self._study_of.items():
            value = row.get(column)
            if isinstance(value, str) and value:
                hit = mapping.get(value) or mapping.get(value.partition("#")[0])
                if hit:
                    return hit
        return None

    def patient(self, study: Optional[str]) -> str:
        return self.patient_of.get(study or "", study or "")

    # ---- per-class transforms ---------------------------------------------------------------------------------
    def row(self, cls: type[Record], row: dict) -> dict:
        study = self.study(row)
        out = dict(row)
        for name, typ, phi, dicom in cls.policy():
            value = row.get(name)
            if value is None or phi in (None, "code", "numeric", "none"):
                continue
            if (cls.TABLE, name) in self._span_parents and isinstance(value, str):  # span children are cut from it
                res = self.scrub(value, study)
                self._spans[(cls.TABLE, f"{name}\x00{row.get(cls.policy()[0][0])}")] = res
                new = res.text
            else:
                new = self.value(phi, dicom, value, study)
            if new != value:
                self.changed[phi] += 1
            out[name] = new
        if cls.SPAN_OF:
            self._cut_span(cls, row, out)
        return out

    def value(self, phi: str, dicom: Optional[str], value: Any, study: Optional[str]) -> Any:
        if isinstance(value, list):
            return [self.value(phi, dicom, v, study) if v is not None else None for v in value]
        if isinstance(value, dict) and phi != "image":
            return {k: (self.value(phi, dicom, v, study) if isinstance(v, (str, list, dict)) else v) for k, v in value.items()}
        return self._transforms[phi](self, value, study, dicom)

    def _cut_span(self, cls: type[Record], row: dict, out: dict) -> None:
        parent, key, column, start, end = cls.SPAN_OF
        res = self._spans.get((parent, f"{column}\x00{row.get(key)}"))
        if res is not None:
            a, b = res.remap(row[start]), res.remap(row[end], end=True)
            out.update({start: a, end: b, column: res.text[a:b]})

    def key(self, value: Optional[str], study: Optional[str] = None) -> Optional[str]:
        if not value:
            return value
        uid_part, sep, rest = value.partition("#")
        if _UID.fullmatch(uid_part):
            return self.uid(uid_part, study) + sep + rest
        return key_token(self.secret, value)

    def uid(self, value: Optional[str], study: Optional[str] = None) -> Optional[str]:
        """A UID through the dicognito mapping of the patient it belongs to."""
        if not value:
            return value
        study = study or self._study_of["entity_id"].get(value)
        return self.dicom.uid(self.patient(study), value)

    def path(self, value: Optional[str], study: Optional[str] = None) -> Optional[str]:
        if not value:
            return value
        if _UID.fullmatch(value):
            return self.uid(value, study)
        tail = _TAIL.search(value)
        stem = value[:tail.start()] if tail else value
        name = re.split(r"[\\/]", stem.rstrip("\\/"))[-1]
        suffix = _SUFFIX.search(name)
        return f"file-{self.secret.token('path', stem, 16)}{suffix.group(0) if suffix else ''}{tail.group(0) if tail else ''}"

    def known(self, study: Optional[str]) -> tuple[str, ...]:
        """This patient's identifiers as they may appear in text (every patient's when the study is unknown)."""
        if not self._known:
            first_of_series: dict[str, tuple[str, str]] = {}
            for i in self._instance_paths:
                first_of_series.setdefault(i["series_uid"], (i["study_uid"], i["path"]))
            by_patient: dict[str, list[str]] = defaultdict(list)
            for study_uid, path in first_of_series.values():
                by_patient[self.patient(study_uid)].append(path)
            for patient, paths in by_patient.items():
                names, ids, dates, phones = header_identifiers(paths)
                self._known[patient] = tuple(identifier_variants(names, ids + [patient], dates, phones))
            self._known[""] = tuple(sorted({k for v in self._known.values() for k in v}, key=len, reverse=True))
        return self._known.get(self.patient(study), self._known[""]) if study else self._known[""]

    def scrub(self, text: str, study: Optional[str]) -> Scrubbed:
        memo = (text, study) if len(text) <= 256 else None  # QC details and labels repeat across rows
        if memo in self._memo:
            res = self._memo[memo]
            self.counts.update(res.counts)
            return res
        offset = self._offset(self.patient(study)) if study else None
        res = self.scrubber.scrub(text, self.known(study), (lambda d: d + offset) if offset is not None else None,
                                  reference=self.study_date.get(study or ""), path_token=self.path,
                                  uid=lambda u: self.uid(u, study))
        self.counts.update(res.counts)
        if memo is not None and len(self._memo) < 100_000:
            self._memo[memo] = res
        return res

    def _offset(self, patient: str) -> dt.timedelta:
        return dt.timedelta(days=self.dicom.date_offset_days(patient))

    def free_text(self, value: str, study: Optional[str], dicom=None) -> str:
        return self.scrub(value, study).text

    def dicom_text(self, value: str, study: Optional[str], dicom: str) -> Optional[str]:
        action = PROFILE[dicom][2]
        if action == "X":
            return None
        if action == "Z":
            return ""
        if action == "U":
            return self.uid(value, study)
        if action == "D":
            return value if label_is_safe(value) else f"LABEL-{self.secret.token('label', value, 8)}"
        return self.free_text(value, study)

    def json_text(self, value: str, study: Optional[str], dicom=None) -> str:
        def walk(node):
            if isinstance(node, dict):
                return {k: walk(v) for k, v in node.items()}
            if isinstance(node, list):
                return [walk(v) for v in node]
            return self.scrub(node, study).text if isinstance(node, str) and node else node
        return json.dumps(walk(json.loads(value)), sort_keys=True)

    def image(self, value, study, dicom=None):
        """Blank the NIfTI header's free-text fields (opseg writes them empty; a foreign mask might not). Only the
        header is decompressed to look: the voxels are read only when there is something to blank."""
        import nibabel as nib

        if isinstance(value, dict):
            return {**value, "bytes": self.image(value.get("bytes"), study)} if value.get("bytes") else value
        with gzip.GzipFile(fileobj=io.BytesIO(value)) as stream:
            header = nib.Nifti1Header.from_fileobj(stream, check=False)  # only its text fields are read
        if all(not bytes(header[k].tobytes()).strip(b"\x00 ") for k in _NIFTI_TEXT):
            return value
        img = nib.Nifti1Image.from_bytes(gzip.decompress(value))
        for k in _NIFTI_TEXT:
            img.header[k] = b""
        return gzip.compress(img.to_bytes(), mtime=0)

    def dicom_id(self, value: str, study: Optional[str], dicom: str) -> Optional[str]:
        return self.dicom.map(self.patient(study), **{dicom: value})[dicom]

    def person_name(self, value: str, study: Optional[str], dicom: Optional[str]) -> Optional[str]:
        return self.dicom.map(self.patient(study), **{dicom or "PersonName": value})[dicom or "PersonName"]

    def date(self, value: str, study: Optional[str], dicom=None) -> Optional[str]:
        return self.dicom.shift_date(self.patient(study), value)

    def datetime(self, value: str, study: Optional[str], dicom=None) -> Optional[str]:
        return self.dicom.shift_datetime(self.patient(study), value)

    _transforms: dict[str, Callable] = {
        "uid": lambda self, v, s, d: self.uid(v, s), "key": lambda self, v, s, d: self.key(v, s),
        "path": lambda self, v, s, d: self.path(v, s), "free_text": free_text, "dicom_text": dicom_text,
        "json": json_text, "image": image, "dicom_id": dicom_id, "person_name": person_name, "date": date,
        "datetime": datetime, "staff": lambda self, v, s, d: f"staff-{self.secret.token('staff', v, 10)}",
    }
