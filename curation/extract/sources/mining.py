"""The mining walk shared by the PACS sources: find annotation series, fetch them, read what they reference,
fetch only those CT series. A source supplies three primitives (find, fetch one series, locate a SOP)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Optional, Protocol

import pydicom

from curation.extract.sources.base import FetchStats, SeriesCache, referenced_series
from curation.dicom.read import read_dicom


class PacsClient(Protocol):
    stats: FetchStats

    def annotation_series(self) -> list[tuple[str, str]]:
        """(study, series) of every GSPS/SR series in the date range."""

    def fetch_series(self, study: str, series: str) -> Iterable[pydicom.Dataset]:
        """All instances of one series."""

    def series_of_sop(self, study: str, sop: str) -> Optional[str]:
        """The series holding a SOP instance (for SRs that reference images without their series)."""


def _store(client: PacsClient, cache: SeriesCache, study: str, series: str) -> list[Path]:
    stats = client.stats
    if cache.complete(study, series):
        stats.series_cached += 1
        return cache.files(study, series)
    n = 0
    for ds in client.fetch_series(study, series):
        cache.save(ds)
        n += 1
    stats.instances += n
    stats.series_fetched += 1
    if n:
        cache.mark_complete(study, series, n)
    return cache.files(study, series)


def mine(client: PacsClient, root: Path, progress=None) -> FetchStats:
    cache, stats = SeriesCache(root), client.stats
    wanted = client.annotation_series()
    stats.studies = len({s for s, _ in wanted})
    tick = progress("fetch annotation series", len(wanted)) if progress else None
    targets: set[tuple[str, str]] = set()
    for study, series in wanted:
        try:
            for f in _store(client, cache, study, series):
                pairs, loose = referenced_series(read_dicom(f, stop_before_pixels=True))
                targets |= pairs
                for sop in sorted(loose):
                    found = client.series_of_sop(study, sop)
                    if found:
                        targets.add((study, found))
        except Exception as exc:  # one unreachable series is recorded; the rest goes on
            stats.errors.append(f"{study}/{series}: {type(exc).__name__}: {exc}")
        if tick:
            tick(1)
    targets -= set(wanted)
    tick = progress("fetch referenced CT series", len(targets)) if progress else None
    for study, series in sorted(targets):
        try:
            _store(client, cache, study, series)
        except Exception as exc:
            stats.errors.append(f"{study}/{series}: {type(exc).__name__}: {exc}")
        if tick:
            tick(1)
    stats.series_uids = sorted({se for _, se in wanted} | {se for st, se in targets if cache.complete(st, se)})
    return stats
