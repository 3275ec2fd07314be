"""The CPU an `opseg run` cannot do without, measured piece by piece on a finished run's output folder: the floor
under its wall time on a given number of cores (bench_pipeline.py prints it beside the run it timed).

    python benchmarks/pipeline_floor.py OUT [--archive DIR] [--cores 2] [--aim 45]

Each piece is the library call the run makes, alone, warm, imports done before its clock starts (imports are their
own piece, in a fresh interpreter, as a run's parent pays them once for every forked worker):
- the imports of the run's libraries (the stage modules with pydicom, highdicom, scipy, scikit-image, pyamg,
  pyarrow; spaCy, presidio, datasets, matplotlib's pyplot);
- reading every archive file and decoding every CT image once with pydicom (bench_pipeline's naive loop; it covers
  extract's header reads);
- the default segmenter's walks alone (`segment_many` on the volumes already decoded, nothing written);
- DICOM SEG export (highdicom's Segmentation and pydicom's save, on OUT's masks);
- the CT volumes' gzip as publish writes them (ISA-L, publish's level).
Everything else a run does (tables, NLP linking, de-identification, the report's pictures, the markers, the stage
processes) is left out, so the sum is a lower bound: no scheduling of these pieces on ``--cores`` cores finishes
sooner than sum / cores.
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

IMPORTS = """
import curation.pipeline.run
from curation.io.nlp_imports import import_presidio_analyzer, import_spacy
import_spacy(); import_presidio_analyzer()
import datasets, matplotlib.pyplot
"""
PRINT_CPU = "import resource; r = resource.getrusage(resource.RUSAGE_SELF); print(r.ru_utime + r.ru_stime)"


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def imports_cpu() -> float:
    """CPU seconds of a fresh interpreter importing what a run imports (less the interpreter's own start)."""
    def child_cpu(code: str) -> float:
        return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    return child_cpu(IMPORTS + PRINT_CPU) - child_cpu(PRINT_CPU)


def walks_cpu(out: Path) -> tuple[float, int]:
    """The default segmenter on every segmentable mark of OUT, on volumes read from OUT's cache (not timed)."""
    from curation.dicom.cache import series_volumes
    from curation.io.tables import read_records
    from schemas import AnnotationRecord, InstanceRecord
    from segmentation.prompts import SEGMENTABLE, PromptError, from_annotation
    from segmentation.stage import make_segmenter

    segmenter = make_segmenter()
    volumes = series_volumes(out, read_records(out, InstanceRecord))
    by_series = defaultdict(list)
    for a in read_records(out, AnnotationRecord):
        if a.kind in SEGMENTABLE and a.series_uid in volumes and a.slice_index is not None:
            by_series[a.series_uid].append(a)
    spent, n = 0.0, 0
    for series_uid, anns in sorted(by_series.items()):
        vol = volumes.load(series_uid, stored=getattr(segmenter, "reads_windows", False))
        geo = vol.geometry
        prompts = []
        for a in anns:
            try:
                prompts.append(from_annotation(a, vol.hu.shape, geo.pixel_spacing))
            except PromptError:
                continue
        t0 = cpu()
        segmenter.segment_many(vol.hu, (geo.slice_spacing, *geo.pixel_spacing), prompts)
        spent += cpu() - t0
        n += len(prompts)
    return spent, n


def scratch_copy(out: Path, tables: tuple[str, ...], dest: Path) -> Path:
    """A folder holding copies of OUT's ``tables``, for code that also writes tables (export_seg writes its
    quarantine rows): measured there, OUT is left as it was."""
    import shutil

    for name in tables:
        shutil.copytree(out / name, dest / name)
    return dest


def seg_export_cpu(out: Path) -> tuple[float, int]:
    import highdicom  # noqa: F401
    from curation.publish.seg_export import export_seg

    with tempfile.TemporaryDirectory() as tmp:
        scratch = scratch_copy(out, ("masks", "annotations", "instances"), Path(tmp) / "out")
        t0 = cpu()
        files = export_seg(scratch, Path(tmp) / "seg")
        return cpu() - t0, len(files)


def ct_gzip_cpu(out: Path) -> tuple[float, int]:
    """publish's volume writer on every CT series the de-identified copy points at (or OUT's own masked series)."""
    import isal.igzip  # noqa: F401
    import nibabel  # noqa: F401
    from curation.dicom.cache import series_volumes
    from curation.io.tables import read_records
    from curation.publish.dataset import _export_volume
    from schemas import MaskRecord

    src = out / "deid" if (out / "deid" / "_private").is_dir() else out
    volumes = series_volumes(src)
    series = sorted({m.series_uid for m in read_records(src, MaskRecord) if m.error is None and m.series_uid in volumes})
    with tempfile.TemporaryDirectory() as tmp:
        t0 = cpu()
        for i, s in enumerate(series):
            _export_volume(s, volumes, Path(tmp) / f"{i}.nii.gz")
        return cpu() - t0, len(series)


def decode_cpu(archive: Path) -> tuple[float, int, float]:
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_pipeline import archive_files, read_and_decode_once

    files = archive_files(archive)
    mb = sum(f.stat().st_size for f in files) / 1e6
    for f in files:
        f.read_bytes()
    t0 = cpu()
    read_and_decode_once(files)
    return cpu() - t0, len(files), mb


def floor(out: Path, archive: Path) -> tuple[list[tuple[str, float]], float]:
    """[(piece, CPU s)] and the archive's MB."""
    from curation.io.tables import load_table_io

    load_table_io()
    pieces = [("imports of the run's libraries (fresh interpreter)", imports_cpu())]
    s, n_files, mb = decode_cpu(archive)
    pieces.append((f"read {n_files} files, decode every CT image once (pydicom)", s))
    s, n = walks_cpu(out)
    pieces.append((f"the default segmenter's {n} walks (segment_many, volumes decoded)", s))
    s, n = seg_export_cpu(out)
    pieces.append((f"DICOM SEG export, {n} files (highdicom + pydicom save)", s))
    s, n = ct_gzip_cpu(out)
    pieces.append((f"CT NIfTI gzip of {n} volumes (ISA-L, publish's level)", s))
    return pieces, mb


def print_floor(pieces: list[tuple[str, float]], mb: float, cores: int, aim: float, run_cpu: float | None = None) -> None:
    total = sum(s for _, s in pieces)
    print("| what the run cannot skip | CPU s |\n|---|---|")
    for name, s in pieces:
        print(f"| {name} | {s:.2f} |")
    print(f"| **sum (a lower bound: tables, linking, deid, report, processes left out)** | **{total:.2f}** |")
    print(f"floor on {cores} cores: {total / cores:.2f} s wall = at most {mb * cores / total:.1f} MB/s for {mb:.0f} MB "
          f"(aim {aim:g} MB/s needs the whole run in {mb / aim * cores:.1f} CPU s)")
    if run_cpu:
        print(f"the run's CPU {run_cpu:.1f} s is {run_cpu / total:.2f}x this floor")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path, help="a finished `opseg run` output folder (its tables and _volumes)")
    ap.add_argument("--archive", type=Path, help="the run's DICOM folder (default: the catalog's common root)")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--aim", type=float, default=45.0, help="MB/s")
    args = ap.parse_args()
    archive = args.archive
    if archive is None:
        import os

        from curation.io.tables import read_records
        from schemas import InstanceRecord

        archive = Path(os.path.commonpath([i.path for i in read_records(args.out, InstanceRecord)]))
    t0 = time.perf_counter()
    pieces, mb = floor(args.out, archive)
    print_floor(pieces, mb, args.cores, args.aim)
    print(f"({time.perf_counter() - t0:.0f} s to measure)")


if __name__ == "__main__":
    main()
