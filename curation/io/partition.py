"""Work split by study. A study always lands in the same partition for a given count, so a rerun or a resumed run
recomputes exactly the partitions that were not finished and writes the same part files. A partition reads only
its own rows: the part an upstream stage wrote for the same partition, else the rows of its studies."""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curation.io.tables import read_records, table_dir, write_records
from schemas import Record, SeriesRecord, StudyRecord

ProgressFactory = Callable[[str, int], Callable[[int], None]]


def partition_of(study_uid: Optional[str], count: int) -> int:
    if count == 1:
        return 0
    return int(hashlib.sha1((study_uid or "").encode()).hexdigest()[:8], 16) % count


@dataclass(frozen=True)
class Partition:
    out: Path
    index: int = 0
    count: int = 1
    stage: str = ""                                   # the stage writing through it (names its quarantine part)
    progress: Optional[ProgressFactory] = field(default=None, compare=False, repr=False)

    def contains(self, study_uid: Optional[str]) -> bool:
        return partition_of(study_uid, self.count) == self.index

    @property
    def whole(self) -> bool:
        return self.count == 1

    @property
    def part(self) -> str:
        """The part file a stage writes for this partition (the whole-archive partition keeps the plain name)."""
        return "part-00000" if self.count == 1 else f"shard-{self.index:05d}-of-{self.count:05d}"

    def part_name(self, cls: type[Record]) -> str:
        if cls.TABLE != "quarantine":
            return self.part
        return self.stage if self.count == 1 else f"{self.stage}-{self.part}"

    def write(self, cls: type[Record], records: Iterable[Record]) -> Path:
        return write_records(self.out, cls, records, part=self.part_name(cls))

    def read(self, cls: type[Record]) -> list:
        return [cls.from_row(r) for r in self.read_table(cls).to_pylist()]

    def read_table(self, cls: type[Record]) -> pa.Table:
        """This partition's rows of a table: an upstream part of the same partitioning when there is one (no
        filtering needed), else every part filtered to the partition's studies (or their series)."""
        folder = table_dir(self.out, cls)
        schema = cls.arrow_schema()
        own = folder / f"{self.part}.parquet"
        if self.whole or own.exists() and cls.TABLE != "quarantine":
            paths = [own] if not self.whole else sorted(folder.glob("*.parquet")) if folder.is_dir() else []
            return pa.concat_tables([pq.read_table(p, schema=schema) for p in paths]) if paths else schema.empty_table()
        parts = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
        if not parts:
            return schema.empty_table()
        if "study_uid" in schema.names:
            key, keep = "study_uid", self._study_uids
        elif "series_uid" in schema.names:
            key, keep = "series_uid", self._series_uids
        else:
            raise ValueError(f"table {cls.TABLE} has no study or series column to partition by")
        tables = [pq.read_table(p, schema=schema) for p in parts]
        with_null = self.contains(None)  # rows without a study (quarantined upstream) belong to the partition of ""
        return pa.concat_tables([t.filter(pc.or_kleene(pc.is_in(t[key], value_set=keep),
                                                       pc.and_kleene(pc.is_null(t[key]), pa.scalar(with_null))))
                                 for t in tables])

    @functools.cached_property
    def _study_uids(self) -> pa.Array:
        uids = {s.study_uid for s in read_records(self.out, StudyRecord)}
        uids |= {s.study_uid for s in read_records(self.out, SeriesRecord)}
        return pa.array(sorted(u for u in uids if self.contains(u)), pa.string())

    @functools.cached_property
    def _series_uids(self) -> pa.Array:
        return pa.array(sorted(s.series_uid for s in read_records(self.out, SeriesRecord) if self.contains(s.study_uid)),
                        pa.string())

    def tick(self, what: str, total: int):
        return self.progress(what, total) if self.progress and total else None
