"""OUT/reviews: radiologists' scores, appended and never rewritten.

Every score is its own small Parquet file with a unique name (UTC time + random suffix), written to a temporary
name and renamed, so any number of reviewers and servers can write at once without locks and a reader never
sees half a file. A reviewer's latest score for a mask is the one that counts; earlier ones stay as history.
"""
from __future__ import annotations

import datetime as dt
import threading
import uuid
from pathlib import Path
from typing import Iterable, Optional

import pyarrow.parquet as pq

from curation.io.tables import table_dir, write_records
from schemas import REVIEW_SCORES, ReviewRecord


def score_rank(score: str) -> int:
    """0 for accept, 1 for minor, 2 for major (lower is better)."""
    return REVIEW_SCORES.index(score)


def latest(records: Iterable[ReviewRecord]) -> dict[tuple[str, str], ReviewRecord]:
    """(mask_id, reviewer) -> that reviewer's latest score of the mask (ties: the later-written row wins)."""
    best: dict[tuple[str, str], ReviewRecord] = {}
    for r in records:  # records arrive in write order, so >= lets the later of two equal times win
        key = (r.mask_id, r.reviewer)
        if key not in best or r.reviewed_at >= best[key].reviewed_at:
            best[key] = r
    return best


def worst_ranks(best: dict[tuple[str, str], ReviewRecord]) -> dict[str, int]:
    """mask_id -> rank of its worst latest score over reviewers (see `latest`)."""
    worst: dict[str, int] = {}
    for (mask_id, _), r in best.items():
        worst[mask_id] = max(worst.get(mask_id, 0), score_rank(r.score))
    return worst


def passing_masks(records: Iterable[ReviewRecord], bar: str) -> set[str]:
    """Masks whose every reviewer's latest score is `bar` or better; a mask nobody scored is not in the set."""
    if bar not in REVIEW_SCORES:
        raise ValueError(f"review bar must be one of {REVIEW_SCORES}, not {bar!r}")
    return {m for m, rank in worst_ranks(latest(records)).items() if rank <= score_rank(bar)}


class ReviewStore:
    """The reviews of one output folder. Files are immutable once written, so each is read once and cached;
    files written by other processes are picked up on the next read."""

    def __init__(self, out: Path):
        self.out = Path(out)
        self.folder = table_dir(self.out, ReviewRecord)
        self._files: dict[str, list[ReviewRecord]] = {}
        self._lock = threading.Lock()

    def append(self, mask_id: str, reviewer: str, score: str, comment: Optional[str] = None,
               at: Optional[dt.datetime] = None) -> ReviewRecord:
        if score not in REVIEW_SCORES:
            raise ValueError(f"score must be one of {REVIEW_SCORES}, not {score!r}")
        rec = ReviewRecord(mask_id=mask_id, reviewer=reviewer, score=score, comment=comment or None,
                           reviewed_at=at or dt.datetime.now(dt.timezone.utc))
        part = f"{rec.reviewed_at.astimezone(dt.timezone.utc):%Y%m%dT%H%M%S%f}Z-{uuid.uuid4().hex[:12]}"
        path = write_records(self.out, ReviewRecord, [rec], part=part)
        with self._lock:
            self._files[path.name] = [rec]
        return rec

    def records(self) -> list[ReviewRecord]:
        """Every score ever given, oldest file first."""
        names = sorted(p.name for p in self.folder.glob("*.parquet")) if self.folder.is_dir() else []
        with self._lock:
            for name in names:
                if name not in self._files:
                    rows = pq.read_table(self.folder / name, schema=ReviewRecord.arrow_schema()).to_pylist()
                    self._files[name] = [ReviewRecord.from_row(r) for r in rows]
            return [r for name in names for r in self._files[name]]

    def latest(self) -> dict[tuple[str, str], ReviewRecord]:
        return latest(self.records())
