"""The console script end to end: demo-archive then extract, as the README runs them."""
import duckdb
from typer.testing import CliRunner

from curation.cli import app


def test_demo_archive_then_extract(tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["demo-archive", str(tmp_path / "demo"), "--studies", "1", "--seed", "7"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["extract", str(tmp_path / "demo" / "dicom"), "--reports", str(tmp_path / "demo" / "reports.jsonl"),
                              "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert "annotations" in res.output and "quarantined" in res.output
    kinds = duckdb.sql(f"select count(*) from read_parquet('{tmp_path}/out/annotations/*.parquet')").fetchall()[0][0]
    assert kinds >= 2
    again = runner.invoke(app, ["extract", str(tmp_path / "demo" / "dicom"), "--out", str(tmp_path / "out")])
    assert "0 read" in again.output


def test_demo_archive_is_deterministic(tmp_path):
    from curation.demo import generate_archive
    a, b = tmp_path / "a", tmp_path / "b"
    generate_archive(a, seed=3, n_studies=1, size=128)
    generate_archive(b, seed=3, n_studies=1, size=128)
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b
    assert (a / "truth" / "annotations.jsonl").read_text() == (b / "truth" / "annotations.jsonl").read_text()
    ct = [p for p in files_a if p.suffix == ".dcm"][:3]
    assert all((a / p).read_bytes() == (b / p).read_bytes() for p in ct)


def test_the_console_script_keeps_exit_codes_and_output(tmp_path):
    """``opseg`` is curation.cli:main (the app, then an exit past the final collections): what the app printed and
    its exit code must come through, for a finished command and for a refused one."""
    import subprocess
    import sys

    run = [sys.executable, "-c", "import sys; from curation.cli import main; sys.exit(main())"]
    ok = subprocess.run(run + ["demo-archive", str(tmp_path / "d"), "--studies", "1"], capture_output=True, text=True)
    assert ok.returncode == 0 and (tmp_path / "d" / "dicom").is_dir() and "reports" in ok.stdout, ok.stderr
    bad = subprocess.run(run + ["extract", str(tmp_path / "missing")], capture_output=True, text=True)
    assert bad.returncode != 0 and "missing" in bad.stdout + bad.stderr
