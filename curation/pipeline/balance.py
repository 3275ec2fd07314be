"""Largest partitions first. Studies land in partitions by a hash, so partitions differ in size (on the 20-study
demo, 4 partitions hold 52, 45, 72 and 17 marks); sent in index order to 2 workers, the largest came last and one
core idled through it. Sent largest first (longest-processing-time order), the workers end closer together.
The order changes when a partition runs, never what it writes: its part files and marker are its own."""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import pyarrow.parquet as pq

from curation.io.partition import Partition, partition_of
from curation.io.tables import table_dir

if TYPE_CHECKING:
    from curation.io.stage import Stage


def partition_rows(out: Path, cls, count: int) -> Optional[list[int]]:
    """Rows of table ``cls`` in each of ``count`` partitions: the footers of a table written in that partitioning,
    else one read of its ``study_uid`` column; None for a table with neither (its order is left as it is)."""
    folder = table_dir(out, cls)
    parts = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    own = [folder / f"{Partition(out, i, count).part}.parquet" for i in range(count)]
    if parts and set(parts) == set(own):
        return [pq.read_metadata(p).num_rows for p in own]
    if "study_uid" not in cls.arrow_schema().names:
        return None
    studies = Counter()
    for p in parts:
        studies.update(pq.read_table(p, columns=["study_uid"]).column("study_uid").to_pylist())
    rows = [0] * count
    for uid, n in studies.items():
        rows[partition_of(uid, count)] += n
    return rows


def largest_first(stage: Stage, todo: list[Partition]) -> list[Partition]:
    """The partitions to run, the one with most rows of the stage's ``work_table`` first (ties in index order)."""
    if stage.work_table is None or len(todo) < 2:
        return list(todo)
    rows = partition_rows(todo[0].out, stage.work_table, todo[0].count)
    if rows is None:
        return list(todo)
    return sorted(todo, key=lambda p: (-rows[p.index], p.index))
