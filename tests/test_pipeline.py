"""The end-to-end run: resumable by shard markers; a killed run, rerun, ends with the tables of an uninterrupted one."""
import json
import signal
import subprocess
import sys
import time

import pytest

from curation.demo import generate_archive
from curation.pipeline.base import SOURCE, LocalExecutor, Stage, check_pipeline
from curation.pipeline.run import run_pipeline
from curation.io.tables import read_table
from schemas import ALL_TABLES

def snapshot(out):
    """Every table's rows in order: a rerun must give the same rows in the same order, not just the same set."""
    return {name: [json.dumps(r, sort_keys=True, default=repr) for r in read_table(out, cls).to_pylist()]
            for name, cls in ALL_TABLES.items()}


def part_files(out):
    """Tables and the published dataset's files, byte for byte."""
    files = (sorted(out.glob("*/*.parquet")) + sorted((out / "deid").rglob("*.parquet"))
             + sorted((out / "hf").rglob("*.parquet")) + [out / "hf" / "README.md"])
    return {str(p.relative_to(out)): p.read_bytes() for p in files}


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    d = tmp_path_factory.mktemp("run") / "demo"
    generate_archive(d, seed=5, n_studies=3, bad_input=True)
    return d


def test_killed_run_resumes_to_the_same_tables(archive, tmp_path, monkeypatch):
    monkeypatch.setenv("OPSEG_DEID_SECRET", "one-project-secret-for-both-runs")  # the killed child inherits it
    reports = [archive / "reports.jsonl"]
    reference = tmp_path / "reference"
    run_pipeline(archive / "dicom", reference, reports=reports, shards=3)
    out = tmp_path / "interrupted"
    cmd = [sys.executable, "-c", "from curation.cli import app; app()", "run", str(archive / "dicom"), str(out),
           "--reports", str(reports[0]), "--shards", "3"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marker = out / "_markers" / "extract" / "part-00000.json"
    deadline = time.time() + 120
    while not marker.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert marker.exists(), "the run was killed before extract finished: nothing to resume"
    reps = run_pipeline(archive / "dicom", out, reports=reports, shards=3)
    assert reps[0].name == "extract" and reps[0].shards_skipped == 1
    assert snapshot(out) == snapshot(reference)
    assert part_files(out) == part_files(reference)  # byte for byte: stable ids, sorted rows, no timestamps
    again = run_pipeline(archive / "dicom", out, reports=reports, shards=3)
    assert all(r.shards_run == 0 for r in again)  # everything finished: a rerun only checks markers
    assert snapshot(out) == snapshot(reference)


def test_bad_input_ends_in_quarantine_rows_not_a_crash(archive, tmp_path):
    out = tmp_path / "out"
    run_pipeline(archive / "dicom", out, reports=[archive / "reports.jsonl"], shards=2)
    reasons = {r["reason"] for r in read_table(out, ALL_TABLES["quarantine"]).to_pylist()}
    assert {"truncated", "not_dicom", "malformed_graphic_data", "study_not_in_archive"} <= reasons


def test_a_changed_archive_invalidates_downstream_markers(archive, tmp_path):
    import shutil

    src = tmp_path / "dicom"
    shutil.copytree(archive / "dicom", src)
    out = tmp_path / "out"
    run_pipeline(src, out, shards=2)
    (src / "bad" / "notes.txt").unlink()
    reps = run_pipeline(src, out, shards=2)
    assert reps[0].shards_run == 1  # extract sees the change
    quarantine = read_table(out, ALL_TABLES["quarantine"]).to_pylist()
    assert not any((q["path"] or "").endswith("notes.txt") for q in quarantine)


def test_pipeline_is_checked_before_it_runs(tmp_path):
    stages = [Stage("b", ("masks",), ("links",), lambda o, s, c: {}), Stage("a", (SOURCE,), ("masks",), lambda o, s, c: {})]
    with pytest.raises(ValueError, match="reads \\['masks'\\]"):
        check_pipeline(stages)
    with pytest.raises(ValueError):
        LocalExecutor(tmp_path).run(stages)
