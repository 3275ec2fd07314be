"""Sidecar report tables: formats, keys, encodings and the rows that cannot be used."""
import json

import pyarrow as pa
import pyarrow.parquet as pq

from curation.extract.reports import read_sidecar

KNOWN = {"ACC1": "1.2.3"}


def test_csv_in_cp1252_keyed_by_accession(tmp_path):
    p = tmp_path / "r.csv"
    p.write_bytes("accession_number,report_text,report_date\nACC1,\"FINDINGS: L\u00e9sion 12 mm\",2025-01-02\n".encode("cp1252"))
    reports, bad = read_sidecar(p, KNOWN, {"1.2.3"})
    assert not bad and reports[0].study_uid == "1.2.3" and "L\u00e9sion" in reports[0].text
    assert reports[0].report_date == "2025-01-02" and "decoded_as_cp1252" in reports[0].flags


def test_parquet_keyed_by_study_uid(tmp_path):
    p = tmp_path / "r.parquet"
    pq.write_table(pa.table({"study_instance_uid": ["1.2.3"], "text": ["IMPRESSION: ok"]}), p)
    reports, bad = read_sidecar(p, {}, {"1.2.3"})
    assert reports[0].study_uid == "1.2.3" and reports[0].source == "sidecar" and not bad


def test_jsonl_bad_lines_unknown_studies_and_empty_reports(tmp_path):
    p = tmp_path / "r.jsonl"
    p.write_text("\n".join([json.dumps({"accession_number": "ACC1", "report_text": ""}), "{not json",
                            json.dumps({"accession_number": "NOPE", "report_text": "x"}), json.dumps({"report_text": "y"})]))
    reports, bad = read_sidecar(p, KNOWN, {"1.2.3"})
    assert [r.flags for r in reports] == [["empty_report"], ["study_not_in_archive"]]
    assert sorted(q.reason for q in bad) == ["bad_json_line", "no_report_key", "study_not_in_archive"]
    assert all(str(p) in q.detail for q in bad)
