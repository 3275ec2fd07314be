"""Reports from a sidecar table (CSV, JSONL or Parquet) keyed by accession number or Study Instance UID."""
from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from pathlib import Path
from typing import Optional

import pyarrow.parquet as pq

from curation.io.ids import stable_id
from schemas import QuarantineRecord, ReportRecord

ACCESSION_KEYS = ("accession_number", "accession", "accessionnumber", "acc")
STUDY_KEYS = ("study_uid", "study_instance_uid", "studyinstanceuid")
TEXT_KEYS = ("report_text", "text", "report", "report_body")
DATE_KEYS = ("report_date", "date", "reported_at")
ENCODINGS = ("utf-8", "cp1252", "latin-1")  # latin-1 always decodes: the last resort, flagged


def _decode(raw: bytes) -> tuple[str, Optional[str]]:
    for enc in ENCODINGS:
        try:
            return raw.decode(enc), (None if enc == "utf-8" else f"decoded_as_{enc}")
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes any bytes")


def _rows(path: Path) -> tuple[list[tuple[str, dict]], list[QuarantineRecord], Optional[str]]:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return [(f"{path}:{i + 1}", r) for i, r in enumerate(pq.read_table(path).to_pylist())], [], None
    text, flag = _decode(path.read_bytes())
    if suffix in (".jsonl", ".ndjson", ".json"):
        rows, bad = [], []
        for i, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                if not isinstance(obj, dict):
                    raise ValueError("line is not a JSON object")
                rows.append((f"{path}:{i}", obj))
            except ValueError as exc:
                bad.append(QuarantineRecord(stage="reports", path=str(path), entity_id=f"{path}:{i}", reason="bad_json_line",
                                            detail=f"{path}:{i}: {exc}"))
        return rows, bad, flag
    if suffix in (".csv", ".tsv"):
        reader = csv.DictReader(io.StringIO(text), delimiter="\t" if suffix == ".tsv" else ",")
        return [(f"{path}:{i + 2}", r) for i, r in enumerate(reader)], [], flag
    raise ValueError(f"{path}: unsupported report table type {suffix!r} (use .csv, .tsv, .jsonl or .parquet)")


def _pick(row: dict, keys) -> Optional[str]:
    lower = {str(k).lower(): v for k, v in row.items()}
    for k in keys:
        v = lower.get(k)
        if v not in (None, ""):
            return v.isoformat() if isinstance(v, (date, datetime)) else str(v)
    return None


def read_sidecar(path: Path, study_by_accession: dict[str, str], known_studies: set[str]):
    """ReportRecords from a sidecar, resolved to studies of the catalog; unmatched rows flagged and quarantined."""
    path = Path(path)
    rows, quarantine, enc_flag = _rows(path)
    reports = []
    for ref, row in rows:
        acc, study, text = _pick(row, ACCESSION_KEYS), _pick(row, STUDY_KEYS), _pick(row, TEXT_KEYS)
        flags = [enc_flag] if enc_flag else []
        if acc is None and study is None:
            quarantine.append(QuarantineRecord(stage="reports", path=str(path), entity_id=ref, reason="no_report_key",
                                               detail=f"{ref}: neither accession number nor Study Instance UID"))
            continue
        resolved = study if study in known_studies else study_by_accession.get(acc or "")
        if resolved is None:
            flags.append("study_not_in_archive")
            quarantine.append(QuarantineRecord(stage="reports", path=str(path), entity_id=ref, reason="study_not_in_archive",
                                               detail=f"{ref}: no study with accession {acc!r} / UID {study!r} in the archive"))
        if not (text or "").strip():
            flags.append("empty_report")
        reports.append(ReportRecord(
            report_id=stable_id("sidecar", acc or "", study or "", ref.rsplit(":", 1)[-1]), study_uid=resolved or study,
            accession_number=acc, source="sidecar", source_ref=ref, report_date=_pick(row, DATE_KEYS),
            text=text or "", n_chars=len(text or ""), flags=flags))
    return reports, quarantine
