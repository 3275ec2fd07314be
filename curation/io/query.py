"""DuckDB over an opseg output folder: one view per table, named after the table (`reviews` included: every
score ever given; curation.review.store.LATEST_SQL keeps each reviewer's latest)."""
from __future__ import annotations

from pathlib import Path

import duckdb

from schemas import ALL_TABLES


def connect(out: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with a view per table present under OUT (empty tables get an empty view), and lesion_marks."""
    con = duckdb.connect()
    for name, cls in ALL_TABLES.items():
        folder = Path(out) / name
        if folder.is_dir() and any(folder.glob("*.parquet")):
            con.execute(f"create view {name} as select * from read_parquet('{folder.as_posix()}/*.parquet', union_by_name=true)")
        else:  # so queries that join an absent table still run (and return nothing)
            cols = ", ".join(f'cast(null as {_duck_type(t)}) as "{c}"' for c, t, _ in cls.describe())
            con.execute(f"create view {name} as select {cols} where false")
    con.execute(LESION_MARKS_VIEW)
    return con


# every mark with the lesion it shows (null for a mark no lesion holds: text, or not grouped yet), so annotations and
# masks read as if they carried a lesion_id column (see schemas/lesions.py for why they do not)
LESION_MARKS_VIEW = """
create view lesion_marks as
select a.*, lm.lesion_id, lm.role as lesion_role, lm.mask_id, lm.dice_to_primary, lm.disagrees
from annotations a left join lesion_members lm using (annotation_id)
"""


def _duck_type(arrow_type) -> str:
    import pyarrow as pa

    if pa.types.is_string(arrow_type):
        return "varchar"
    if pa.types.is_integer(arrow_type):
        return "bigint"
    if pa.types.is_floating(arrow_type):
        return "double"
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_timestamp(arrow_type):
        return "timestamptz" if arrow_type.tz else "timestamp"
    if pa.types.is_binary(arrow_type):
        return "blob"
    if pa.types.is_list(arrow_type):
        return _duck_type(arrow_type.value_type) + "[]"
    if pa.types.is_struct(arrow_type):
        return "struct(" + ", ".join(f'"{f.name}" {_duck_type(f.type)}' for f in arrow_type) + ")"
    raise TypeError(f"no DuckDB type for {arrow_type}")


def failure_counts(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int]]:
    """(failed QC check, masks) over the qc table, most frequent first: what the card and the report show."""
    return con.sql("select unnest(string_split(detail, ', ')) as why, count(*) from qc "
                   "where metric = 'qc_pass' and not passed group by 1 order by 2 desc, 1").fetchall()
