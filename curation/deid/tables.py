"""``opseg deid OUT TARGET``: a de-identified copy of the output tables, the only input publish may push.

Driven by the PHI class every column declares in schemas/ (schemas.phi): each table is read, each column goes
through its class's transform (curation.deid.policy), and the copy is written with the table's schema hash in
``TARGET/_deid/manifest.json``, so publish can refuse a table whose columns changed since. A string or list
column without a class stops the run rather than being copied raw. The catalog of source files (``instances``,
a private table) is not copied; the cached CT volumes publish needs are listed in
``TARGET/_private/ct_volumes.parquet`` (never published), keyed by the pseudonymous series UID (curation.dicom.cache:
entries that hold neither UIDs nor archive paths).
"""
from __future__ import annotations

import json
import os
from collections import defaultdict
from importlib.metadata import version
from pathlib import Path
from typing import Optional

import pyarrow as pa

from curation.deid.policy import ColumnPolicy, DeidPolicyError, check_policy, key_token
from curation.deid.secret import ProjectSecret
from curation.deid.text import TextScrubber
from curation.dicom.cache import PRIVATE_CT_VOLUMES, series_volumes
from curation.io.tables import read_table, write_parquet, write_table
from schemas import ALL_TABLES, MaskRecord, Record
from schemas.phi import PHI_CLASSES

MANIFEST = "_deid/manifest.json"

__all__ = ["Deidentifier", "DeidPolicyError", "deidentify", "key_token", "MANIFEST"]


def published_tables() -> dict[str, type[Record]]:
    """Every contract table that leaves the archive (all but the private ones), parents before span children."""
    tables = {n: c for n, c in ALL_TABLES.items() if not c.PRIVATE}
    return dict(sorted(tables.items(), key=lambda kv: bool(kv[1].SPAN_OF)))


class Deidentifier:
    def __init__(self, out: Path, secret: ProjectSecret, scrubber: Optional[TextScrubber] = None):
        self.out, self.secret = Path(out), secret
        self.columns = ColumnPolicy(self.out, secret, scrubber or TextScrubber())

    def run(self, target: Path, progress=None) -> dict:
        target = Path(target)
        tables = published_tables()
        for cls in tables.values():
            check_policy(cls)  # before writing anything
        tick = progress("de-identify tables", len(tables) + 2) if progress else None
        entries = {}
        for name, cls in tables.items():
            entries[name] = {"rows": self._table(target, cls), "schema_hash": cls.schema_hash()}
            if tick:
                tick(1)
        ct_series = self._ct_volumes(target)
        evaluation = self._evaluation(target)
        if tick:
            tick(2)
        manifest = {
            "deidentified": True, "secret_fingerprint": self.secret.fingerprint,
            "methods": {"keys": "HMAC-SHA256 under the project secret",
                        "dicom_fields": f"dicognito {version('dicognito')}, one seeded anonymizer per patient; DICOM "
                                        "text by the PS3.15 Basic Profile action of its element",
                        "free_text": self.columns.scrubber.describe() + " + the patient's header identifiers",
                        "dates": "shifted by the patient's dicognito offset (DICOM fields and free text alike)",
                        "paths": "replaced as a whole by HMAC tokens"},
            "policy": {phi: {"transform": PHI_CLASSES[phi], "columns": cols} for phi, cols in _columns_by_class(tables).items()},
            "tables": entries,
            "rows": {**{n: e["rows"] for n, e in entries.items()}, "ct volumes": ct_series, "evaluation": evaluation},
            "replacements": dict(sorted(self.columns.counts.items())),
            "values_changed": dict(sorted(self.columns.changed.items())),
        }
        (target / "_deid").mkdir(parents=True, exist_ok=True)
        tmp = target / "_deid" / ".manifest.json.tmp"
        tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
        os.replace(tmp, target / MANIFEST)  # last: its presence says the copy is complete
        return manifest

    def _table(self, target: Path, cls: type[Record]) -> int:
        rows = read_table(self.out, cls).to_pylist()
        clean = [self.columns.row(cls, row) for row in rows]
        keys = [f[0] for f in cls.policy()[:3]]
        clean.sort(key=lambda r: tuple("" if r.get(k) is None else str(r[k]) for k in keys))
        write_table(target, cls, pa.Table.from_pylist(clean, schema=cls.arrow_schema()))
        return len(clean)

    def _evaluation(self, target: Path) -> int:
        """The demo evaluation, with its annotation ids keyed like the tables (so the report can show Dice)."""
        src = self.out / "eval" / "segmentation.json"
        if not src.exists():
            return 0
        ev = json.loads(src.read_text())
        for row in ev.get("rows", []):
            row["annotation_id"] = self.columns.key(row.get("annotation_id"))
        (target / "eval").mkdir(parents=True, exist_ok=True)
        (target / "eval" / "segmentation.json").write_text(json.dumps(ev, indent=1))
        return len(ev.get("rows", []))

    def _ct_volumes(self, target: Path) -> int:
        """The cached HU volume of every CT series with a mask, by pseudonymous series UID: what publish, the report
        and SEG export read from the copy. Entries hold no UIDs or paths; the copy never points into the archive."""
        volumes = series_volumes(self.out)
        masks = read_table(self.out, MaskRecord).select(["series_uid", "error"]).to_pylist()
        masked = {m["series_uid"] for m in masks if m["error"] is None and m["series_uid"] in volumes}
        root = Path(target).resolve()  # entries relative to the copy: the same bytes for the same run in any folder
        rows = sorted((self.columns.uid(s), os.path.relpath(volumes.ensure(s), root)) for s in sorted(masked))
        write_parquet(pa.table({"series_uid": [r[0] for r in rows], "entry": [r[1] for r in rows]}),
                      target / PRIVATE_CT_VOLUMES)
        stale = target / "_private" / "ct_paths.parquet"  # what earlier versions kept: archive paths
        if stale.exists():
            stale.unlink()
        return len(rows)


def _columns_by_class(tables: dict[str, type[Record]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for name, cls in tables.items():
        for column, typ, phi, _ in cls.policy():
            out[phi or "numeric"].append(f"{name}.{column}")
    return {phi: out[phi] for phi in PHI_CLASSES if phi in out}


def deidentify(out: Path, target: Path, secret: ProjectSecret, progress=None, scrubber: Optional[TextScrubber] = None) -> dict:
    """Write the de-identified copy of OUT's tables into TARGET (replacing an earlier copy)."""
    manifest = Path(target) / MANIFEST
    if manifest.exists():
        manifest.unlink()  # an interrupted rewrite must not look complete
    return Deidentifier(out, secret, scrubber).run(target, progress)
