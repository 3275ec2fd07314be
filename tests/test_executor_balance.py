"""The local executor sends a stage's partitions largest first (by the rows of its work table), so two workers end
together instead of one idling through the largest partition sent last; what each partition writes is unchanged."""
import json
import os

from curation.io.partition import Partition, partition_of
from curation.io.stage import Stage
from curation.io.tables import write_records
from curation.pipeline.balance import largest_first, partition_rows
from curation.pipeline.base import LocalExecutor
from schemas import ReportRecord, StudyRecord

SIZES = {0: 1, 1: 6, 2: 3}   # reports per partition of 3: the largest is not the first index


def _studies(count: int, sizes: dict) -> list[str]:
    """Study UIDs whose hash partitions hold ``sizes[i]`` studies each."""
    uids, k = [], 0
    want = dict(sizes)
    while any(want.values()):
        uid = f"1.2.826.0.1.{k}"
        k += 1
        i = partition_of(uid, count)
        if want.get(i):
            want[i] -= 1
            uids.append(uid)
    return uids


def _reports(out, sizes, parts=1):
    uids = _studies(3, sizes)
    write_records(out, StudyRecord, [StudyRecord(study_uid=uid) for uid in uids])   # the studies partitions hold
    rows = [ReportRecord(report_id=f"r{n}", study_uid=uid, text="x") for n, uid in enumerate(uids)]
    for p in range(parts):   # a table in several part files (e.g. two sources) counts every part
        write_records(out, ReportRecord, rows[p::parts], part=f"part-{p:05d}")


class _Logs(Stage):
    """Appends its partition and its worker's pid to a log, so the test sees which partitions each worker ran."""
    name, reads, writes, work_table = "logs", (ReportRecord,), ("findings",), ReportRecord

    def process(self, part: Partition) -> dict:
        with open(part.out / "order.log", "a") as f:
            f.write(f"{part.index} {os.getpid()}\n")
        return {"rows": part.read_table(ReportRecord).num_rows}


def test_rows_per_partition_are_those_each_partition_reads(tmp_path):
    _reports(tmp_path, SIZES, parts=2)
    rows = partition_rows(tmp_path, ReportRecord, 3)
    assert rows == [Partition(tmp_path, i, 3).read_table(ReportRecord).num_rows for i in range(3)]
    assert rows == [SIZES[i] for i in range(3)]


def test_partitions_are_ordered_largest_first_ties_by_index(tmp_path):
    _reports(tmp_path, {0: 2, 1: 5, 2: 2})
    todo = [Partition(tmp_path, i, 3) for i in range(3)]
    assert [p.index for p in largest_first(_Logs(), todo)] == [1, 0, 2]
    plain = _Logs()
    plain.work_table = None   # a stage without a work table keeps index order
    assert [p.index for p in largest_first(plain, todo)] == [0, 1, 2]


def test_two_workers_send_the_smallest_partition_last_and_stats_stay_in_index_order(tmp_path):
    _reports(tmp_path, SIZES)
    (rep,) = LocalExecutor(tmp_path, shards=3, workers=2).run([_Logs()])
    runs = [line.split() for line in (tmp_path / "order.log").read_text().splitlines()]
    by_worker: dict[str, list[int]] = {}
    for index, pid in runs:
        by_worker.setdefault(pid, []).append(int(index))
    # the two largest go out first, one to each worker; the smallest only to a worker that has finished one (the
    # log's own order is the workers', whichever started first); sent in index order, 0 would be a worker's first
    assert sorted(by_worker.values()) == [[1, 0], [2]] or sorted(by_worker.values()) == [[1], [2, 0]]
    assert [s["rows"] for s in rep.stats] == [SIZES[i] for i in range(3)]
    markers = sorted(p.name for p in (tmp_path / "_markers" / "logs").glob("shard-*.json"))
    assert markers == [f"shard-0000{i}-of-00003.json" for i in range(3)]
    assert all(json.loads((tmp_path / "_markers" / "logs" / m).read_text())["stats"] for m in markers)
