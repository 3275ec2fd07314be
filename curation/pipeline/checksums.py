"""Checksums of model files (weights, model folders), part of every completion marker: new weights under the same
path re-run the stage. sha256 of the bytes, cached by path, size and mtime in ``OUT/_markers/checksums.json`` so a
multi-GB checkpoint is read once, not on every run."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

CACHE = "_markers/checksums.json"


def _files(p: Path) -> list[Path]:
    return sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]


def file_sha256(path: Path, cache: dict) -> str:
    st = path.stat()
    k = str(path.resolve())
    hit = cache.get(k)
    if hit and hit["size"] == st.st_size and hit["mtime_ns"] == st.st_mtime_ns:
        return hit["sha256"]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    cache[k] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": h.hexdigest()}
    return cache[k]["sha256"]


def model_checksum(out: Path, paths: list[Path]) -> str:
    """One checksum over every model file of a stage ("" when it has none; "missing:<path>" for an absent one)."""
    if not paths:
        return ""
    cache_file = Path(out) / CACHE
    cache = json.loads(cache_file.read_text()) if cache_file.exists() else {}
    before = dict(cache)
    h = hashlib.sha256()
    for p in map(Path, paths):
        if not p.exists():
            h.update(f"missing:{p}".encode())
            continue
        for f in _files(p):
            h.update(f"{f.relative_to(p) if p.is_dir() else f.name}:{file_sha256(f, cache)}".encode())
    if cache != before:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_name(f".checksums.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cache, indent=1, sort_keys=True))
        os.replace(tmp, cache_file)
    return h.hexdigest()[:20]
