"""Render docs/schema.md from the record declarations: ``python -m schemas.docs docs/schema.md``."""
from __future__ import annotations

import sys
from pathlib import Path

from schemas import ALL_TABLES, PUBLISHED_TABLES, SCHEMA_VERSION


def render() -> str:
    lines = [
        "# opseg tables",
        "",
        f"Schema version **{SCHEMA_VERSION}** (stored in every Parquet file's metadata as `opseg.schema_version`).",
        "Each table is a folder `OUT/<table>/` of Parquet parts; read one with DuckDB as",
        "`read_parquet('OUT/<table>/*.parquet')`. Generated from `schemas/` by `python -m schemas.docs docs/schema.md`;",
        "a test fails when this page and the code disagree.",
        "",
    ]
    for name, cls in {**ALL_TABLES, **PUBLISHED_TABLES}.items():
        lines += [f"## {name}", "", cls.DOC, "", "| column | type | meaning |", "|---|---|---|"]
        lines += [f"| `{col}` | `{typ}` | {doc} |" for col, typ, doc in cls.describe()]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/schema.md")
    target.write_text(render())
    print(f"wrote {target}")
