"""Run a snippet in a fresh interpreter on this tree: for what a module loads (sys.modules), which a test process
that already imported everything cannot show."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def fresh_python(code: str) -> str:
    """The snippet's stdout; fails the test with its stderr when it exits non-zero."""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={"PYTHONPATH": str(ROOT), "PATH": str(Path(sys.executable).parent)})
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()
