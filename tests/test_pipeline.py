"""The end-to-end run: resumable by shard markers; a killed run, rerun, ends with the tables of an uninterrupted one."""
import json
import signal
import subprocess
import sys
import time

import pytest

from curation.demo import generate_archive
from curation.io.stage import SOURCE, Stage
from curation.io.tables import read_table
from curation.pipeline.base import LocalExecutor, check_pipeline
from curation.pipeline.run import run_pipeline, run_stages
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
           "--reports", str(reports[0]), "--shards", "3", "--workers", "2"]   # killed with its worker processes
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marker = out / "_markers" / "extract" / "part-00000.json"
    deadline = time.time() + 120
    while not marker.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert marker.exists(), "the run was killed before extract finished: nothing to resume"
    reps = run_pipeline(archive / "dicom", out, reports=reports, shards=3, workers=2)  # resumed on a process pool
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


class _Writes(Stage):
    name, reads, writes = "a", (SOURCE,), ("masks",)

    def process(self, part):
        return {}


class _Reads(Stage):
    name, reads, writes = "b", ("masks",), ("links",)

    def process(self, part):
        return {}


def test_pipeline_is_checked_before_it_runs(tmp_path):
    with pytest.raises(ValueError, match="reads \\['masks'\\]"):
        check_pipeline([_Reads(), _Writes()])
    with pytest.raises(ValueError):
        LocalExecutor(tmp_path).run([_Reads(), _Writes()])


def _ran(reps):
    return [r.name for r in reps if r.shards_run]


def test_a_changed_setting_reruns_exactly_the_stages_it_affects(archive, tmp_path):
    out, reports = tmp_path / "out", [archive / "reports.jsonl"]
    run = lambda **kw: run_pipeline(archive / "dicom", out, reports=reports, shards=2, deid=False, **kw)  # noqa: E731
    first = run()
    assert _ran(first) == ["extract", "segment", "qc", "lesions", "link", "publish", "report"]
    assert _ran(run()) == []
    qc_before = read_table(out, ALL_TABLES["qc"]).num_rows
    seen = []
    reps = run(thresholds={"max_components": 3.0}, preview=seen.extend)
    # not extract, segment or link: lesions reads the QC verdict (its primary rule), re-runs, writes the same
    # tables, so link stays as it is
    assert _ran(reps) == ["qc", "lesions", "publish", "report"]
    assert dict(seen)["qc"].startswith("runs 2/2 partitions: settings changed: max_components 1.0 -> 3.0")
    assert dict(seen)["segment"] == "up to date" and "settings" in dict(seen)["publish"]
    assert read_table(out, ALL_TABLES["qc"]).num_rows == qc_before
    # the same threshold given as a generic setting is the same config: nothing to do
    assert _ran(run(settings={"qc": {"max_components": 3.0}})) == []
    assert _ran(run(thresholds={"max_components": 3.0}, min_tier="A")) == ["publish"]
    card = (out / "hf" / "README.md").read_text()
    assert "| publish | `min_tier` | `A` |" in card and "| qc | `max_components` | `3.0` |" in card
    # a segment setting the classical backend does not use: segment re-runs, writes the same masks, so link and qc
    # stay as they are; the card records the setting, so publish re-runs
    reps = run(thresholds={"max_components": 3.0}, min_tier="A", image_size=512)
    assert _ran(reps) == ["segment", "publish"]
    assert "settings changed: image_size 1024 -> 512" in reps[1].reason
    plan = json.loads((out / "_markers" / "run.json").read_text())
    assert {s["stage"]: s["config"] for s in plan["stages"]}["segment"]["image_size"] == 512


def test_a_standalone_stage_after_a_sharded_run_replaces_its_rows(archive, tmp_path):
    from typer.testing import CliRunner

    from curation.cli import app
    from curation.qc.stage import QCStage, run_qc

    out = tmp_path / "out"
    run_pipeline(archive / "dicom", out, reports=[archive / "reports.jsonl"], shards=2, deid=False)
    rows = read_table(out, ALL_TABLES["qc"]).num_rows
    grounded = sorted((out / "hf" / "data" / "grounded").glob("*.parquet"))
    assert rows and grounded
    res = CliRunner().invoke(app, ["qc", str(out), "-t", "max_components=2"])
    assert res.exit_code == 0, res.output
    assert read_table(out, ALL_TABLES["qc"]).num_rows == rows
    # the run's plan keeps every stage's settings (the card and a later `opseg publish` read them), qc's replaced
    plan = {s["stage"]: s["config"] for s in json.loads((out / "_markers" / "run.json").read_text())["stages"]}
    assert {"extract", "segment", "lesions", "link", "publish", "report"} <= set(plan)
    assert plan["qc"]["max_components"] == 2.0
    assert sorted(p.name for p in (out / "qc").glob("*.parquet")) == [f"shard-0000{i}-of-00002.parquet" for i in (0, 1)]
    res = CliRunner().invoke(app, ["qc", str(out), "-t", "max_components=2"])
    assert "up to date" in res.output
    assert run_stages(out, [QCStage()])[0].shards_run == 2  # the executor, with the partitions of the last run
    run_qc(out)  # the library call: one whole-archive part, the shard parts and markers gone
    assert [p.name for p in (out / "qc").glob("*.parquet")] == ["part-00000.parquet"]
    assert read_table(out, ALL_TABLES["qc"]).num_rows == rows
    reps = run_pipeline(archive / "dicom", out, reports=[archive / "reports.jsonl"], shards=2, deid=False)
    assert _ran(reps) == ["qc"]  # its markers were gone; publish's inputs are the same bytes again
    assert read_table(out, ALL_TABLES["qc"]).num_rows == rows


def test_an_unchanged_rerun_with_seg_export_runs_nothing(archive, tmp_path, monkeypatch):
    """SEG export's quarantine rows are written before deid fingerprints the quarantine table (and are published
    with it), so a second identical run finds every stage up to date instead of re-running deid."""
    monkeypatch.setenv("OPSEG_DEID_SECRET", "one-project-secret-for-both-runs")
    out = tmp_path / "out"
    run = lambda: run_pipeline(archive / "dicom", out, reports=[archive / "reports.jsonl"], shards=2,  # noqa: E731
                               seg_dir=tmp_path / "seg")
    assert "export-seg" in _ran(run())
    assert _ran(run()) == []


def test_a_deleted_output_folder_is_rebuilt_although_its_markers_remain(archive, tmp_path, monkeypatch):
    """A user who deletes OUT/report (or the SEG folder) and runs again gets it back: a marker only counts while
    the stage's outputs are there."""
    import shutil

    monkeypatch.setenv("OPSEG_DEID_SECRET", "one-project-secret-for-both-runs")
    out, seg = tmp_path / "out", tmp_path / "seg"
    run = lambda: run_pipeline(archive / "dicom", out, reports=[archive / "reports.jsonl"], shards=2,  # noqa: E731
                               seg_dir=seg)
    run()
    shutil.rmtree(out / "report")
    shutil.rmtree(seg)
    assert sorted(_ran(run())) == ["export-seg", "report"]
    assert (out / "report" / "index.html").exists() and list(seg.glob("seg_*.dcm"))
