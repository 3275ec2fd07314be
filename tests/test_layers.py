"""The layers hold: import-linter's contracts (.importlinter) over the source tree, as CI runs them."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept():
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    if not Path(exe).exists():
        pytest.fail("lint-imports is missing: install the test extra (pip install -e '.[test]')")
    res = subprocess.run([exe, "--config", str(ROOT / ".importlinter"), "--no-cache"], cwd=ROOT, capture_output=True,
                         text=True, env={"PYTHONPATH": str(ROOT), "PATH": str(Path(sys.executable).parent)})
    assert res.returncode == 0, res.stdout + res.stderr
    assert "0 broken" in res.stdout


def test_a_stage_importing_another_stage_breaks_the_contract(tmp_path):
    """The contract is live: a report module importing the qc stage is reported as broken."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("schemas", "curation", "segmentation", "linking", ".importlinter"):
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, src / name, **({"ignore": shutil.ignore_patterns("__pycache__")} if copy is shutil.copytree else {}))
    bad = src / "curation" / "report" / "stage.py"
    bad.write_text(bad.read_text() + "\nfrom curation.qc.stage import QCStage  # noqa: E402,F401\n")
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    res = subprocess.run([exe, "--no-cache"], cwd=src, capture_output=True, text=True,
                         env={"PYTHONPATH": str(src), "PATH": str(Path(sys.executable).parent)})
    assert res.returncode != 0 and "curation.report.stage -> curation.qc.stage" in res.stdout
