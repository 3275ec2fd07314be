"""Archive indexing: walk a folder, read DICOM headers only, keep a catalog keyed by UID.

The catalog is Parquet (``OUT/instances``), the same format as every other opseg table: DuckDB reads
it in place, it needs no server or lock, and a rerun compares path + size + mtime against it so only
new or changed files are read again. Files that are not DICOM or cannot be read go to quarantine; the
state of those is kept in ``OUT/_state/index_rejects.parquet`` so they are not re-read either.
"""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import pyarrow as pa
import pyarrow.parquet as pq
import pydicom
from pydicom.errors import InvalidDicomError

from curation.dicom.dicom_classes import classify
from curation.dicom.dicom_fast import value as _raw
from curation.io.errors import ReasonedError
from curation.io.tables import read_records, write_records
from schemas import InstanceRecord, QuarantineRecord
from curation.dicom.read import read_dicom

HEADER_TAGS = [
    "SOPInstanceUID", "SOPClassUID", "StudyInstanceUID", "SeriesInstanceUID", "Modality", "PatientID",
    "AccessionNumber", "StudyDate", "SeriesNumber", "InstanceNumber", "Rows", "Columns", "NumberOfFrames",
    "PixelSpacing", "ImagerPixelSpacing", "ImagePositionPatient", "ImageOrientationPatient",
    "SliceThickness", "FrameOfReferenceUID", "SeriesDescription", "StudyDescription", "BitsAllocated",
    "SamplesPerPixel", "SpecificCharacterSet",
]
UNCOMPRESSED = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"}
REJECTS_STATE = ("_state", "index_rejects.parquet")
PARALLEL_MIN_FILES = 64


class IndexError_(ReasonedError):
    """A file that cannot enter the catalog; ``reason`` is short and machine-readable."""


@dataclass
class IndexResult:
    instances: list[InstanceRecord]
    quarantine: list[QuarantineRecord]
    n_files: int = 0
    n_read: int = 0
    n_reused: int = 0
    removed: list[str] = field(default_factory=list)


def walk_files(root: Path) -> list[Path]:
    """Every regular file under root, any name, nested; sorted so runs are deterministic."""
    found: list[Path] = []
    stack = [Path(root)]
    while stack:
        folder = stack.pop()
        with os.scandir(folder) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file():
                    found.append(Path(entry.path))
    return sorted(found)


def _num(v, cast):
    if v is None or v == "" or isinstance(v, list):
        return None
    try:
        return cast(v)
    except (TypeError, ValueError):
        return None


def _floats(v) -> Optional[list]:
    if v is None or v == "":
        return None
    try:
        return [float(x) for x in (v if isinstance(v, (list, tuple, pydicom.multival.MultiValue)) else [v])]
    except (TypeError, ValueError):
        return None


def _has_pixel_data_tag(path: Path) -> bool:
    """Tell a truncated image from a header-only stub: only the former has a (7FE0,0010) element."""
    data = path.read_bytes()
    return b"\xe0\x7f\x10\x00" in data or b"\x7f\xe0\x00\x10" in data


def read_instance(path: Path, st: Optional[os.stat_result] = None) -> InstanceRecord:
    """Header-only read of one file; raises IndexError_ for anything that cannot be catalogued."""
    st = st or path.stat()
    try:
        ds = read_dicom(path, stop_before_pixels=True, specific_tags=HEADER_TAGS)
    except InvalidDicomError as exc:
        raise IndexError_("not_dicom", f"{path}: {exc}") from None
    except Exception as exc:  # pydicom raises many types on truncated or corrupt headers
        raise IndexError_("unreadable", f"{path}: {type(exc).__name__}: {exc}") from None
    sop = _raw(ds, "SOPInstanceUID")
    if not sop or not _raw(ds, "StudyInstanceUID") or not _raw(ds, "SeriesInstanceUID"):
        raise IndexError_("missing_uids", f"{path}: no SOP/Study/Series Instance UID in the header")
    ts = str(ds.file_meta.get("TransferSyntaxUID", "")) if hasattr(ds, "file_meta") else ""
    rows, cols = _num(_raw(ds, "Rows"), int), _num(_raw(ds, "Columns"), int)
    frames = _num(_raw(ds, "NumberOfFrames"), int) or (1 if rows else None)
    category = classify(_raw(ds, "SOPClassUID"), _raw(ds, "Modality"), has_pixels=bool(rows))
    if rows and cols and ts in UNCOMPRESSED:
        bits = _num(_raw(ds, "BitsAllocated"), int) or 16
        spp = _num(_raw(ds, "SamplesPerPixel"), int) or 1
        expected = rows * cols * frames * spp * bits // 8
        if st.st_size < expected and _has_pixel_data_tag(path):
            raise IndexError_("truncated", f"{path}: {st.st_size} bytes, pixel data alone needs {expected}")
    return InstanceRecord(
        path=str(path), size=st.st_size, mtime_ns=st.st_mtime_ns, sop_uid=str(sop),
        sop_class_uid=str(_raw(ds, "SOPClassUID") or ""), study_uid=str(_raw(ds, "StudyInstanceUID")),
        series_uid=str(_raw(ds, "SeriesInstanceUID")), modality=_raw(ds, "Modality"), category=category,
        patient_id=_raw(ds, "PatientID"), accession_number=_raw(ds, "AccessionNumber") or None,
        study_date=_raw(ds, "StudyDate") or None, series_number=_num(_raw(ds, "SeriesNumber"), int),
        instance_number=_num(_raw(ds, "InstanceNumber"), int), rows=rows, columns=cols, n_frames=frames,
        pixel_spacing=_floats(_raw(ds, "PixelSpacing")), imager_pixel_spacing=_floats(_raw(ds, "ImagerPixelSpacing")),
        image_position=_floats(_raw(ds, "ImagePositionPatient")),
        image_orientation=_floats(_raw(ds, "ImageOrientationPatient")),
        slice_thickness=_num(_raw(ds, "SliceThickness"), float),
        frame_of_reference_uid=_raw(ds, "FrameOfReferenceUID"),
        series_description=_raw(ds, "SeriesDescription") or None, study_description=_raw(ds, "StudyDescription") or None,
        transfer_syntax_uid=ts or None,
    )


def _read_many(paths: list[str]) -> list[tuple[str, Optional[InstanceRecord], Optional[tuple[str, str]], int, int]]:
    out = []
    for p in paths:
        path = Path(p)
        try:
            st = path.stat()
            out.append((p, read_instance(path, st), None, st.st_size, st.st_mtime_ns))
        except IndexError_ as exc:
            out.append((p, None, (exc.reason, exc.detail), st.st_size, st.st_mtime_ns))
        except OSError as exc:
            out.append((p, None, ("unreadable", f"{p}: {exc}"), 0, 0))
    return out


def _chunks(items: list, n: int) -> list[list]:
    size = max(1, min(256, len(items) // (n * 4) or 1))
    return [items[i:i + size] for i in range(0, len(items), size)]


def read_headers(paths: list[Path], workers: int | None = None, progress: Callable[[int], None] | None = None):
    """Read headers of many files, in worker processes when there are enough to be worth it."""
    items = [str(p) for p in paths]
    workers = workers or os.cpu_count() or 1
    if workers <= 1 or len(items) < PARALLEL_MIN_FILES:
        for chunk in _chunks(items, 1):
            res = _read_many(chunk)
            if progress:
                progress(len(res))
            yield from res
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for res in pool.map(_read_many, _chunks(items, workers)):
            if progress:
                progress(len(res))
            yield from res


def _load_rejects(out: Path) -> dict[str, tuple[int, int, str, str]]:
    path = out.joinpath(*REJECTS_STATE)
    if not path.exists():
        return {}
    return {r["path"]: (r["size"], r["mtime_ns"], r["reason"], r["detail"]) for r in pq.read_table(path).to_pylist()}


def _save_rejects(out: Path, rejects: dict[str, tuple[int, int, str, str]]) -> None:
    path = out.joinpath(*REJECTS_STATE)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{"path": p, "size": s, "mtime_ns": m, "reason": r, "detail": d} for p, (s, m, r, d) in sorted(rejects.items())]
    schema = pa.schema([("path", pa.string()), ("size", pa.int64()), ("mtime_ns", pa.int64()),
                        ("reason", pa.string()), ("detail", pa.string())])
    tmp = path.with_suffix(".tmp")
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), tmp)
    os.replace(tmp, path)


def index_archive(root: Path, out: Path, workers: int | None = None,
                  progress_factory: Callable[[int], Callable[[int], None]] | None = None) -> IndexResult:
    """Index ``root`` into ``OUT/instances``; reuse rows whose file is unchanged since the last run."""
    root, out = Path(root).resolve(), Path(out)
    files = walk_files(root)
    previous = {r.path: r for r in read_records(out, InstanceRecord)}
    rejects = _load_rejects(out)
    keep: dict[str, InstanceRecord] = {}
    todo: list[Path] = []
    for f in files:
        st = f.stat()
        key = str(f)
        old = previous.get(key)
        rej = rejects.get(key)
        if old is not None and old.size == st.st_size and old.mtime_ns == st.st_mtime_ns:
            keep[key] = old
        elif rej is not None and rej[0] == st.st_size and rej[1] == st.st_mtime_ns:
            continue
        else:
            todo.append(f)
    present = {str(f) for f in files}
    rejects = {p: v for p, v in rejects.items() if p in present}
    progress = progress_factory(len(todo)) if progress_factory else None
    for path, rec, err, size, mtime in read_headers(todo, workers, progress):
        if rec is not None:
            keep[path] = rec
            rejects.pop(path, None)
        else:
            rejects[path] = (size, mtime, err[0], err[1])
    instances = [keep[p] for p in sorted(keep)]
    write_records(out, InstanceRecord, instances)
    _save_rejects(out, rejects)
    quarantine = [QuarantineRecord(stage="index", path=p, reason=r, detail=d) for p, (_, _, r, d) in sorted(rejects.items())]
    return IndexResult(instances=instances, quarantine=quarantine, n_files=len(files), n_read=len(todo),
                       n_reused=len(files) - len(todo),
                       removed=sorted(set(previous) - present))
