"""Each CT series decoded once per run: HU volumes cached under ``OUT/_volumes`` for every later reader (segment,
qc, publish, report, SEG export).

An entry is ``<key>.npy`` (HU, int16 when the rescale gives whole numbers, else float32) plus ``<key>.json`` (the
geometry, or the VolumeError a series gave, so a broken series is not decoded again by every stage). The key is a
hash of the series UID and each file's SOP UID, size and mtime: a changed file is a new entry, and the name says
nothing about the series. Entries hold no UIDs and no archive paths, so a de-identified copy can point at them
(``curation.deid`` records key -> entry for its pseudonymous series) without pointing back into the raw archive.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Iterable, Optional

import numpy as np

from curation.dicom.volume import SeriesGeometry, Volume, VolumeError, load_volume
from schemas import InstanceRecord

CACHE_DIR = "_volumes"
PRIVATE_CT_VOLUMES = "_private/ct_volumes.parquet"   # in a de-identified copy: pseudonymous series -> entry


def series_key(series_uid: str, instances: Iterable[InstanceRecord]) -> str:
    h = hashlib.sha256(series_uid.encode())
    for i in sorted(instances, key=lambda i: (i.sop_uid, i.path)):
        h.update(f"|{i.sop_uid}|{i.size}|{i.mtime_ns}".encode())
    return h.hexdigest()[:32]


def _write_atomic(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        write(f)
    os.replace(tmp, path)


def store(entry: Path, volume: Volume) -> None:
    hu = volume.hu
    if hu.dtype == np.int16:   # decoded as stored (load_volume's whole_as_int16)
        keep = hu
    else:
        hu16 = hu.astype(np.int16)  # exact when the rescale gives whole numbers in range (out of range wraps: unequal)
        keep = hu16 if np.array_equal(hu16, hu) else hu
    geo = volume.geometry
    entry.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(entry.with_suffix(".npy"), lambda f: np.save(f, keep))
    meta = {"affine": np.asarray(geo.affine).ravel().tolist(), "slice_spacing": geo.slice_spacing, "rows": geo.rows,
            "columns": geo.columns, "pixel_spacing": list(geo.pixel_spacing), "shape": list(hu.shape)}
    _write_atomic(entry.with_suffix(".json"), lambda f: f.write(json.dumps(meta).encode()))  # last: marks it complete


def store_error(entry: Path, exc: VolumeError) -> None:
    entry.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(entry.with_suffix(".json"), lambda f: f.write(json.dumps({"error": exc.reason, "detail": exc.detail}).encode()))


def load_entry(entry: Path, series_uid: str = "", stored: bool = False) -> Optional[Volume]:
    """The cached volume, None when the entry is absent; raises the cached VolumeError of a broken series.
    ``stored``: HU as stored (int16 for whole-number HU, else float32), memory-mapped, for readers that want
    int16 anyway (publish) or read a few windows and convert only those (qc, report): the same values without
    reading and converting the whole volume."""
    meta_file = entry.with_suffix(".json")
    if not meta_file.exists():
        return None
    meta = json.loads(meta_file.read_text())
    if "error" in meta:
        raise VolumeError(meta["error"], meta["detail"])
    hu = np.load(entry.with_suffix(".npy"), mmap_mode="r" if stored else None)
    geo = SeriesGeometry([], np.asarray(meta["affine"], float).reshape(4, 4), float(meta["slice_spacing"]),
                         int(meta["rows"]), int(meta["columns"]), tuple(meta["pixel_spacing"]))
    return Volume(hu=hu if stored else hu.astype(np.float32, copy=False), geometry=geo, series_uid=series_uid)


class SeriesVolumes:
    """Series UID -> its HU volume, through the cache: decoded from the DICOM files on the first request of a run,
    read back from ``_volumes`` by every later one."""

    def __init__(self, entries: dict[str, Path], paths: Optional[dict[str, list[str]]] = None):
        self.entries, self.paths = entries, paths or {}
        self.decoded = 0

    def __contains__(self, series_uid: str) -> bool:
        return series_uid in self.entries

    def entry(self, series_uid: str) -> Path:
        return self.entries[series_uid]

    def load(self, series_uid: str, stored: bool = False) -> Volume:
        """``stored``: see load_entry; a volume decoded here for a stored read comes as the cache stores it (int16
        for whole-number HU), else float32."""
        if series_uid not in self.entries:
            raise VolumeError("series_not_ct", f"series {series_uid} has no CT images in the catalog")
        entry = self.entries[series_uid]
        vol = load_entry(entry, series_uid, stored)
        if vol is not None:
            return vol
        if series_uid not in self.paths:  # a de-identified copy never decodes: it has no archive paths
            raise VolumeError("volume_not_cached", f"no cached volume for series {series_uid} ({entry.name})")
        self.decoded += 1
        try:
            vol = load_volume(sorted(self.paths[series_uid]), series_uid, whole_as_int16=stored)
        except VolumeError as exc:
            store_error(entry, exc)
            raise
        store(entry, vol)
        return vol

    def ensure(self, series_uid: str) -> Path:
        """Make sure the entry exists (decode once if needed, never read back); returns it, broken series included."""
        entry = self.entries[series_uid]
        if not entry.with_suffix(".json").exists():
            try:
                self.load(series_uid, stored=True)
            except VolumeError:
                pass
        return entry


def series_volumes(out: Path, instances: Optional[list[InstanceRecord]] = None) -> SeriesVolumes:
    """The CT volumes of an output folder (or of the given catalog rows, e.g. one partition's), or of a
    de-identified copy through its private table of cache entries."""
    out = Path(out)
    private = out / PRIVATE_CT_VOLUMES
    if instances is None and not (out / "instances").is_dir() and private.exists():
        import pyarrow.parquet as pq

        t = pq.read_table(private).to_pydict()
        return SeriesVolumes({s: (out / e).resolve() for s, e in zip(t["series_uid"], t["entry"])})
    if instances is None:
        from curation.io.tables import read_records

        instances = read_records(out, InstanceRecord)
    by_series: dict[str, list[InstanceRecord]] = {}
    for i in instances:
        if i.category == "ct_image":
            by_series.setdefault(i.series_uid, []).append(i)
    root = out.resolve() / CACHE_DIR
    entries = {s: root / series_key(s, insts) for s, insts in by_series.items()}
    return SeriesVolumes(entries, {s: [i.path for i in insts] for s, insts in by_series.items()})
