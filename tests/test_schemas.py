"""The table contract: declared once, documented from the code, stamped into every Parquet file."""
from pathlib import Path

import pyarrow.parquet as pq

from schemas import ALL_TABLES, METADATA_KEY, SCHEMA_VERSION, AnnotationRecord
from schemas.docs import render

DOCS = Path(__file__).resolve().parents[1] / "docs" / "schema.md"


def test_schema_doc_is_up_to_date():
    assert DOCS.read_text() == render(), "run: python -m schemas.docs docs/schema.md"


def test_every_contract_table_is_declared():
    assert set(ALL_TABLES) == {"studies", "series", "instances", "annotations", "reports", "findings", "masks",
                               "links", "qc", "quarantine", "reviews", "lesions", "lesion_members"}


def test_written_tables_carry_schema_version(demo_out):
    for name in ("annotations", "series", "studies", "reports", "quarantine", "instances"):
        part = next((demo_out / name).glob("*.parquet"))
        schema = pq.read_schema(part)
        assert schema.metadata[METADATA_KEY] == SCHEMA_VERSION.encode()
        assert schema.remove_metadata() == ALL_TABLES[name].arrow_schema().remove_metadata()


def test_record_round_trip():
    rec = AnnotationRecord(annotation_id="a", source_kind="gsps", source_sop_uid="1", source_path="p", kind="line",
                           points_px=[[1.0, 2.0], [3.0, 4.0]], flags=["x"])
    table = AnnotationRecord.to_table([rec])
    assert AnnotationRecord.from_row(table.to_pylist()[0]) == rec
