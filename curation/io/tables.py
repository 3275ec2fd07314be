"""Parquet I/O for the schema tables: atomic writes, zstd, the schema version in the file metadata."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from schemas import Record

ROW_GROUP_ROWS = 100_000


def table_dir(out: Path, cls: type[Record]) -> Path:
    return Path(out) / cls.TABLE


def write_records(out: Path, cls: type[Record], records: Iterable[Record], part: str = "part-00000") -> Path:
    """Replace ``OUT/<table>/<part>.parquet`` atomically (write to a temp name, then rename)."""
    return write_table(out, cls, cls.to_table(records), part)


def write_table(out: Path, cls: type[Record], table: pa.Table, part: str = "part-00000") -> Path:
    schema = cls.arrow_schema()
    table = table if table.schema.equals(schema, check_metadata=True) else table.cast(schema)  # PHI field metadata too
    return write_parquet(table, table_dir(out, cls) / f"{part}.parquet")


def write_parquet(table: pa.Table, path: Path, row_group_size: int = ROW_GROUP_ROWS) -> Path:
    """zstd Parquet written to a temporary name and renamed: a reader never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, compression="zstd", row_group_size=row_group_size)
    os.replace(tmp, path)
    return path


def read_table(out: Path, cls: type[Record]) -> pa.Table:
    """All parts of a table; an empty table with the right schema when none exist."""
    folder = table_dir(out, cls)
    parts = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    if not parts:
        return cls.arrow_schema().empty_table()
    return pa.concat_tables([pq.read_table(p, schema=cls.arrow_schema()) for p in parts])


def load_table_io() -> None:
    """Import now what pyarrow imports on first use in every process that reads or writes a table: pyarrow.dataset
    (``pq.read_table``) and, through it and through the first ``pa.array``, pandas (~320 modules, ~0.35 CPU s). A
    parent about to fork stage workers calls this once, so they inherit it instead of each importing it."""
    import pyarrow.dataset  # noqa: F401  (imports pandas, when installed)

    pa.array([], type=pa.int8())   # pyarrow's own check for pandas, made once a process


def read_records(out: Path, cls: type[Record]) -> list:
    return [cls.from_row(r) for r in read_table(out, cls).to_pylist()]
