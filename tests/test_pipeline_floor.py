"""benchmarks/pipeline_floor.py, the floor docs/benchmarks.md gives under `opseg run` (issue 13): every piece is
measured on the run's own output and leaves that output as it was (an earlier SEG-phase benchmark wrote export-seg's
quarantine rows into it, and the next run re-ran deid)."""
import importlib.util
from pathlib import Path

from curation.io.tables import read_records
from schemas import MaskRecord


def _floor_module():
    path = Path(__file__).parents[1] / "benchmarks" / "pipeline_floor.py"
    spec = importlib.util.spec_from_file_location("pipeline_floor", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tree(root: Path) -> dict:
    return {p.relative_to(root): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def test_the_floor_measures_every_piece_and_leaves_the_output_alone(processed_out, demo_dir, capsys):
    floor = _floor_module()
    before = _tree(processed_out)
    pieces, mb = floor.floor(processed_out, demo_dir / "dicom")
    assert _tree(processed_out) == before
    names = [name for name, _ in pieces]
    assert len(pieces) == 5 and all(seconds > 0 for _, seconds in pieces), pieces
    ok = [m for m in read_records(processed_out, MaskRecord) if m.error is None]
    masked = {m.series_uid for m in ok}
    assert f"the default segmenter's {len(ok)} walks" in names[2]   # every mark the run segmented, once
    assert f"{len(masked)} files" in names[3] and f"of {len(masked)} volumes" in names[4]
    floor.print_floor(pieces, mb, cores=2, aim=45.0, run_cpu=3 * sum(s for _, s in pieces))
    printed = capsys.readouterr().out
    assert "at most" in printed and "the run's CPU" in printed and "3.00x this floor" in printed
