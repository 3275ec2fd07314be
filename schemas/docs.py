"""Render docs/schema.md from the record declarations: ``python -m schemas.docs docs/schema.md``."""
from __future__ import annotations

import sys
from pathlib import Path

from schemas import ALL_TABLES, PUBLISHED_TABLES, SCHEMA_VERSION
from schemas.phi import PHI_CLASSES, PROFILE


def phi_label(phi, dicom) -> str:
    """How a column's PHI class reads in the docs: the class, and for DICOM text the profile action."""
    if not phi:
        return "**unclassified**"
    if dicom and dicom in PROFILE:
        tag, _, action, _ = PROFILE[dicom]
        return f"{phi} ({dicom} ({tag}){': ' + action if phi == 'dicom_text' else ''})"
    return phi


def render() -> str:
    lines = [
        "# opseg tables",
        "",
        f"Schema version **{SCHEMA_VERSION}** (stored in every Parquet file's metadata as `opseg.schema_version`).",
        "Each table is a folder `OUT/<table>/` of Parquet parts; read one with DuckDB as",
        "`read_parquet('OUT/<table>/*.parquet')`. Generated from `schemas/` by `python -m schemas.docs docs/schema.md`;",
        "a test fails when this page and the code disagree.",
        "",
        "Every column declares a PHI class (also in its Arrow field metadata as `opseg.phi`, with the DICOM element",
        "as `opseg.dicom`); `opseg deid` applies one transform per class to every table:",
        "",
        "| PHI class | what de-identification does |",
        "|---|---|",
    ]
    lines += [f"| `{name}` | {what} |" for name, what in PHI_CLASSES.items()]
    lines += ["", "DICOM elements and their DICOM PS3.15 Basic Application Level Confidentiality Profile actions "
              "(X remove, Z empty, D dummy, U UID, C clean); text found in these elements in the headers is also",
              "removed wherever it appears in free text:", "",
              "| element | tag | basic profile | opseg | why |", "|---|---|---|---|---|"]
    lines += [f"| {kw} | ({tag}) | {basic} | {action} | {why} |" for kw, (tag, basic, action, why) in PROFILE.items()]
    lines.append("")
    for name, cls in {**ALL_TABLES, **PUBLISHED_TABLES}.items():
        lines += [f"## {name}", "", cls.DOC, "", "| column | type | PHI | meaning |", "|---|---|---|---|"]
        lines += [f"| `{col}` | `{typ}` | {phi_label(phi, dicom)} | {doc} |"
                  for (col, typ, doc), (_, _, phi, dicom) in zip(cls.describe(), cls.policy())]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/schema.md")
    target.write_text(render())
    print(f"wrote {target}")
