"""The Ray executor writes the same tables as the local one, and a Ray run killed in the middle resumes to them."""
import os
import signal
import subprocess
import sys
import time

import pytest

from curation.demo import generate_archive
from curation.pipeline.run import run_pipeline

ray = pytest.importorskip("ray", reason="the 'ray' extra is not installed (make test installs it)")
pytestmark = pytest.mark.slow


def _files(out):
    keep = (".parquet", ".md")
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.suffix in keep and "_markers" not in p.parts}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("OPSEG_DEID_SECRET", "ray-and-local-share-this-project-secret")
    root = tmp_path_factory.mktemp("ray")
    generate_archive(root / "demo", seed=5, n_studies=3, bad_input=True)
    reference = root / "local"
    run_pipeline(root / "demo" / "dicom", reference, reports=[root / "demo" / "reports.jsonl"], shards=3)
    yield root, _files(reference)
    mp.undo()


def test_ray_run_writes_the_local_runs_files(setup):
    from curation.pipeline.ray_executor import RayConfig

    root, reference = setup
    out = root / "ray"
    reps = run_pipeline(root / "demo" / "dicom", out, reports=[root / "demo" / "reports.jsonl"], shards=3,
                        executor="ray", ray_config=RayConfig(num_cpus=2, actors=1))
    assert [r.name for r in reps][:5] == ["extract", "segment", "qc", "lesions", "link"] and reps[1].shards_run == 3
    got = _files(out)
    assert sorted(got) == sorted(reference)
    assert [k for k in got if got[k] != reference[k]] == []


def test_killed_ray_run_resumes_to_the_same_files(setup, tmp_path):
    root, reference = setup
    out = tmp_path / "killed"
    cmd = [sys.executable, "-c", "from curation.cli import app; app()", "run", str(root / "demo" / "dicom"), str(out),
           "--reports", str(root / "demo" / "reports.jsonl"), "--shards", "3", "--executor", "ray"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    marker = out / "_markers" / "segment"
    deadline = time.time() + 300
    while proc.poll() is None and time.time() < deadline and not any(marker.glob("shard-*.json")):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and the local Ray it started
    proc.wait()
    assert any(marker.glob("shard-*.json")), "killed before any segment shard finished: nothing to resume"
    from curation.pipeline.ray_executor import RayConfig

    reps = run_pipeline(root / "demo" / "dicom", out, reports=[root / "demo" / "reports.jsonl"], shards=3,
                        executor="ray", ray_config=RayConfig(num_cpus=2))
    assert reps[0].shards_skipped == 1 and reps[1].shards_skipped >= 1
    got = _files(out)
    assert [k for k in reference if got.get(k) != reference[k]] == []


def test_tables_do_not_depend_on_the_process_hash_seed(setup, tmp_path):
    """Ray workers are separate processes: anything built from set order would differ between them."""
    import shutil

    root, reference = setup
    outs = []
    for seed in ("1", "2"):
        out = tmp_path / f"seed{seed}"
        shutil.copytree(root / "local", out, ignore=shutil.ignore_patterns("findings", "links", "_markers", "hf", "deid",
                                                                          "report"))
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run([sys.executable, "-c", f"from linking.stage import run_link; run_link({str(out)!r})"], env=env,
                       check=True)
        outs.append(out)
    a, b = (_files(o / "findings") for o in outs)
    assert a and a == b
