"""One declaration per table: a dataclass whose fields carry their Arrow type, meaning and PHI class.

The record class, the Arrow schema, the Parquet metadata and docs/schema.md are all derived from it,
so the contract between stages cannot drift between code and documentation.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from typing import Any, ClassVar, Iterable, Optional

import pyarrow as pa

SCHEMA_VERSION = "1.0"
METADATA_KEY = b"opseg.schema_version"
PHI_KEY, DICOM_KEY = b"opseg.phi", b"opseg.dicom"   # Arrow field metadata: the column's PHI class and DICOM element


def col(arrow_type: pa.DataType, doc: str, default: Any = dataclasses.MISSING, *, factory=None,
        phi: Optional[str] = None, dicom: Optional[str] = None):
    """A record field with its Arrow type, one-line meaning, PHI class (schemas.phi) and source DICOM keyword."""
    meta = {"arrow": arrow_type, "doc": doc, "phi": phi, "dicom": dicom}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    if default is dataclasses.MISSING:
        return dataclasses.field(metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@functools.lru_cache(maxsize=None)
def _names(cls: type) -> tuple[str, ...]:
    """A record class's column names, once per class: rows are converted by the ten thousand per run."""
    return tuple(f.name for f in dataclasses.fields(cls))


@functools.lru_cache(maxsize=None)
def _schema(cls: type) -> pa.Schema:
    fields = [pa.field(name, typ, metadata=_field_metadata(phi, dicom) or None) for name, typ, phi, dicom in cls.policy()]
    return pa.schema(fields, metadata={METADATA_KEY: SCHEMA_VERSION.encode(), b"opseg.table": cls.TABLE.encode()})


def _field_metadata(phi: Optional[str], dicom: Optional[str]) -> dict[bytes, bytes]:
    return {k: v.encode() for k, v in ((PHI_KEY, phi), (DICOM_KEY, dicom)) if v}


class Record:
    """Base of every table record: ``TABLE`` names its folder under the output root."""

    TABLE: ClassVar[str] = ""
    DOC: ClassVar[str] = ""
    PRIVATE: ClassVar[bool] = False      # never leaves the archive (not de-identified, not published)
    SPAN_OF: ClassVar[tuple] = ()        # (parent table, key column, text column, start, end): text is a span of it

    @classmethod
    def arrow_schema(cls) -> pa.Schema:
        return _schema(cls)   # immutable, so one per class

    @classmethod
    def describe(cls) -> list[tuple[str, pa.DataType, str]]:
        return [(f.name, f.metadata["arrow"], f.metadata["doc"]) for f in dataclasses.fields(cls)]

    @classmethod
    def policy(cls) -> list[tuple[str, pa.DataType, Optional[str], Optional[str]]]:
        """(column, Arrow type, PHI class or None, DICOM keyword or None) for every column."""
        return [(f.name, f.metadata["arrow"], f.metadata.get("phi"), f.metadata.get("dicom"))
                for f in dataclasses.fields(cls)]

    @classmethod
    def schema_hash(cls) -> str:
        """Names, types and PHI classes of the columns: what a de-identified copy was made for."""
        rows = [[name, str(typ), phi, dicom] for name, typ, phi, dicom in cls.policy()]
        return hashlib.sha256(json.dumps([cls.TABLE, rows]).encode()).hexdigest()[:16]

    def to_row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _names(type(self))}

    @classmethod
    def from_row(cls, row: dict[str, Any]):
        names = _names(cls)
        return cls(**{k: row[k] for k in names if k in row})

    @classmethod
    def to_table(cls, records: Iterable["Record"]) -> pa.Table:
        rows = [r.to_row() for r in records]
        return pa.Table.from_pylist(rows, schema=cls.arrow_schema())
