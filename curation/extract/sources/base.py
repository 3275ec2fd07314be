"""The source interface and the folder source."""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional, Protocol
from urllib.parse import parse_qs, urlparse

import pydicom
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

ANNOTATION_MODALITIES = ("PR", "SR")


@dataclass
class FetchStats:
    studies: int = 0
    series_fetched: int = 0
    series_cached: int = 0
    instances: int = 0
    requests: int = 0
    bytes: int = 0
    series_uids: list = field(default_factory=list)   # every series now in the cache (fetched or not)
    errors: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


class Source(Protocol):
    name: str

    def fetch(self, cache: Path, progress: Optional[Callable] = None) -> FetchStats:
        """Bring the annotation objects and their referenced CT series into `cache`."""


class SeriesCache:
    """root/dicom/<study>/<series>/<sop>.dcm (what extract reads) and root/_state/<series>.json once a series is
    fully stored; partial writes go through root/_tmp, so the DICOM folder only ever holds whole files."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.dicom, self.state, self.tmp = self.root / "dicom", self.root / "_state", self.root / "_tmp"

    def folder(self, study: str, series: str) -> Path:
        return self.dicom / study / series

    def complete(self, study: str, series: str) -> bool:
        return (self.state / f"{series}.json").exists()

    def save(self, ds: pydicom.Dataset) -> Path:
        folder = self.folder(str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID))
        folder.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)
        target = folder / f"{ds.SOPInstanceUID}.dcm"
        tmp = self.tmp / f"{ds.SOPInstanceUID}.dcm"
        meta = getattr(ds, "file_meta", None) or FileMetaDataset()
        meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = ds.SOPClassUID, ds.SOPInstanceUID
        if "TransferSyntaxUID" not in meta:  # DICOMweb hands datasets over decoded
            meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta = meta
        ds.save_as(tmp, enforce_file_format=True)
        os.replace(tmp, target)
        return target

    def mark_complete(self, study: str, series: str, n: int) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        (self.state / f"{series}.json").write_text(json.dumps({"study": study, "instances": n}))

    def files(self, study: str, series: str) -> list[Path]:
        return sorted(self.folder(study, series).glob("*.dcm"))


def referenced_series(ds: pydicom.Dataset) -> tuple[set[tuple[str, str]], set[str]]:
    """(study, series) pairs a GSPS/SR refers to, and referenced SOP UIDs whose series is not stated."""
    study = str(ds.get("StudyInstanceUID", ""))
    pairs, loose = set(), set()
    for s in ds.get("ReferencedSeriesSequence", []):  # GSPS
        pairs.add((study, str(s.SeriesInstanceUID)))
    for name in ("CurrentRequestedProcedureEvidenceSequence", "PertinentOtherEvidenceSequence"):  # SR evidence
        for st in ds.get(name, []):
            for s in st.get("ReferencedSeriesSequence", []):
                pairs.add((str(st.get("StudyInstanceUID", study)), str(s.SeriesInstanceUID)))

    def walk(items, depth=0):
        if depth > 64:
            return
        for item in items:
            for ref in item.get("ReferencedSOPSequence", []):
                loose.add(str(ref.ReferencedSOPInstanceUID))
            walk(item.get("ContentSequence", []), depth + 1)
    if not pairs:
        walk(ds.get("ContentSequence", []))
    return pairs, loose


class FolderSource:
    name = "folder"

    def __init__(self, path: Path):
        self.path = Path(path)

    def fetch(self, cache: Path, progress=None) -> FetchStats:  # nothing to fetch: the folder is the archive
        return FetchStats()


def open_source(spec: str):
    """A folder path, `dicomweb+http://host:port/dicom-web[?from=YYYYMMDD&to=YYYYMMDD&modalities=PR,SR]`, or
    `dimse://CALLED_AET@host:port?calling=OPSEG&store_port=11113[&from=..&to=..&modalities=PR]`."""
    if "://" not in str(spec):
        return FolderSource(Path(spec))
    url = urlparse(str(spec))
    q = {k: v[0] for k, v in parse_qs(url.query).items()}
    dates = (q.get("from"), q.get("to"))
    modalities = tuple(m.strip().upper() for m in q.get("modalities", ",".join(ANNOTATION_MODALITIES)).split(",") if m.strip())
    if url.scheme.startswith("dicomweb+"):
        from curation.extract.sources.dicomweb import DICOMwebSource

        base = f"{url.scheme.split('+', 1)[1]}://{url.netloc}{url.path}"
        return DICOMwebSource(base, dates=dates, modalities=modalities)
    if url.scheme == "dimse":
        from curation.extract.sources.dimse import DIMSESource

        return DIMSESource(url.hostname, url.port or 104, called_ae=url.username or "ANY-SCP",
                           calling_ae=q.get("calling", "OPSEG"), store_port=int(q.get("store_port", 11113)), dates=dates,
                           modalities=modalities)
    raise ValueError(f"unknown source {spec!r}: a folder, dicomweb+http(s)://... or dimse://AET@host:port")
