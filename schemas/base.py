"""One declaration per table: a dataclass whose fields carry their Arrow type and meaning.

The record class, the Arrow schema, the Parquet metadata and docs/schema.md are all derived from it,
so the contract between stages cannot drift between code and documentation.
"""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Iterable

import pyarrow as pa

SCHEMA_VERSION = "1.0"
METADATA_KEY = b"opseg.schema_version"


def col(arrow_type: pa.DataType, doc: str, default: Any = dataclasses.MISSING, *, factory=None):
    """A record field with its Arrow type and one-line meaning."""
    meta = {"arrow": arrow_type, "doc": doc}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    if default is dataclasses.MISSING:
        return dataclasses.field(metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


class Record:
    """Base of every table record: ``TABLE`` names its folder under the output root."""

    TABLE: ClassVar[str] = ""
    DOC: ClassVar[str] = ""

    @classmethod
    def arrow_schema(cls) -> pa.Schema:
        fields = [pa.field(f.name, f.metadata["arrow"]) for f in dataclasses.fields(cls)]
        return pa.schema(fields, metadata={METADATA_KEY: SCHEMA_VERSION.encode(), b"opseg.table": cls.TABLE.encode()})

    @classmethod
    def describe(cls) -> list[tuple[str, pa.DataType, str]]:
        return [(f.name, f.metadata["arrow"], f.metadata["doc"]) for f in dataclasses.fields(cls)]

    def to_row(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_row(cls, row: dict[str, Any]):
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in row.items() if k in names})

    @classmethod
    def to_table(cls, records: Iterable["Record"]) -> pa.Table:
        rows = [r.to_row() for r in records]
        return pa.Table.from_pylist(rows, schema=cls.arrow_schema())
