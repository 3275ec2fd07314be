"""The local executor with two workers overlaps stages that do not depend on each other (and only those), shares
its workers between them, and raises a worker's error."""
import os
import time
from pathlib import Path

import pytest

from curation.io.partition import Partition
from curation.io.stage import SOURCE, Stage
from curation.pipeline.base import LocalExecutor
from curation.pipeline.run import build_stages
from curation.pipeline.schedule import stage_dependencies


def _wait_for(path: Path, seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return path.exists()


class _Waits(Stage):
    """Finishes only once the independent stage has started: sequential stages would wait for ever."""
    name, reads, writes, partitioned = "waits", (SOURCE,), ("masks",), False
    flag, failure = "signals-started", "the independent stage never ran beside this one"

    def process(self, part: Partition) -> dict:
        if not _wait_for(part.out / self.flag):
            raise TimeoutError(self.failure)
        return {}


class _Signals(Stage):
    name, reads, writes, partitioned = "signals", (SOURCE,), ("links",), False

    def process(self, part: Partition) -> dict:
        (part.out / "signals-started").touch()
        return {}


class _After(Stage):
    """Reads what 'waits' writes: it must start after that stage has finished."""
    name, reads, writes = "after", ("masks",), ("qc",)

    def process(self, part: Partition) -> dict:
        return {"waits_done": (part.out / "_markers" / "waits" / "part-00000.json").exists()}


class _Fails(Stage):
    name, reads, writes, partitioned = "fails", (SOURCE,), ("findings",), False

    def process(self, part: Partition) -> dict:
        raise KeyError("a clear reason")


def test_independent_stages_overlap_and_dependent_ones_wait(tmp_path):
    reps = LocalExecutor(tmp_path, shards=2, workers=2).run([_Waits(), _Signals(), _After()])
    by = {r.name: r for r in reps}
    assert by["after"].started >= by["waits"].finished
    assert [s["waits_done"] for s in by["after"].stats] == [True, True]
    assert all(r.cpu_seconds >= 0 for r in reps)
    again = LocalExecutor(tmp_path, shards=2, workers=2).run([_Waits(), _Signals(), _After()])
    assert [r.shards_run for r in again] == [0, 0, 0]


def test_a_worker_error_is_raised_with_its_type(tmp_path):
    with pytest.raises(KeyError, match="a clear reason"):
        LocalExecutor(tmp_path, workers=2).run([_Fails(), _Signals()])


def test_the_pipeline_dag_overlaps_seg_export_with_qc_lesions_link(tmp_path, monkeypatch):
    monkeypatch.setenv("OPSEG_DEID_SECRET", "one-project-secret-for-both-runs")
    from curation.deid.secret import ProjectSecret

    stages = build_stages(tmp_path / "dicom", seg_dir=tmp_path / "seg", secret=ProjectSecret.for_output(tmp_path))
    names = [s.name for s in stages]
    deps = {s.name: {names[i] for i in d} for s, d in zip(stages, stage_dependencies(stages))}
    assert deps["export-seg"] == {"extract", "segment"}        # beside qc, lesions and link
    assert {"export-seg", "link", "qc"} <= deps["deid"]        # deid publishes every stage's quarantine rows
    assert deps["publish"] == deps["report"] == {"deid"}       # side by side
    publish, report = (next(s for s in stages if s.name == n) for n in ("publish", "report"))
    assert publish.resources.cpus == report.resources.cpus == 1 and publish.volume_threads == 1
    two = build_stages(tmp_path / "dicom", secret=ProjectSecret.for_output(tmp_path), threads=1, volume_threads=2)
    publish = next(s for s in two if s.name == "publish")   # one slot beside the report, its gzip on both cores
    assert publish.resources.cpus == 1 and publish.volume_threads == 2
    assert deps["qc"] == {"extract", "segment"} and "qc" in deps["lesions"] and "lesions" in deps["link"]


class _TwoFinishTogether(Stage):
    """Three partitions on two workers; the first two end at the same instant, so both 'done' messages arrive in
    one wait() while one partition is still queued."""
    name, reads, writes = "together", (SOURCE,), ("masks",)

    def __init__(self):
        super().__init__()
        self.at = time.time() + 2.0   # forked workers inherit the same instant

    def process(self, part: Partition) -> dict:
        if part.index < 2:
            time.sleep(max(0.0, self.at - time.time()))
        return {}


class _NeedsBothCores(Stage):
    name, reads, writes = "both", ("masks",), ("qc",)

    @property
    def resources(self):
        from curation.io.stage import Resources

        return Resources(cpus=2)

    def process(self, part: Partition) -> dict:
        return {}


def test_workers_finishing_together_give_back_their_slots(tmp_path):
    """Each worker that finishes takes the next queued partition or is stopped: none idles holding its slot, which
    left a later stage that needs both slots waiting for ever."""
    import signal

    def _hung(*_):
        raise TimeoutError("the executor hung: a worker's slot was never given back")

    old = signal.signal(signal.SIGALRM, _hung)
    signal.alarm(90)
    try:
        reps = LocalExecutor(tmp_path, shards=3, workers=2).run([_TwoFinishTogether(), _NeedsBothCores()])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert [r.shards_run for r in reps] == [3, 3]


class _ReportsGC(Stage):
    """How many of the parent's objects a forked worker holds frozen."""
    name, reads, writes, partitioned = "reports-gc", (SOURCE,), ("links",), False

    def process(self, part: Partition) -> dict:
        import gc

        return {"frozen": gc.get_freeze_count()}


def test_workers_inherit_the_parents_objects_frozen_and_the_parent_thaws_after(tmp_path):
    """gc.freeze() before each fork keeps the parent's objects out of the workers' collections (which would copy
    every page holding one); after the run the parent collects as before."""
    import gc

    assert gc.get_freeze_count() == 0
    stats = LocalExecutor(tmp_path, workers=2).run([_ReportsGC(), _Signals()])[0].stats
    assert stats[0]["frozen"] > 10_000
    assert gc.get_freeze_count() == 0


def test_a_callers_own_gc_freeze_survives_the_runs_thaw():
    """thaw() undoes only the freezing the executor did: objects a caller froze before the first fork stay frozen."""
    import gc

    from curation.pipeline import workers

    gc.freeze()
    try:
        workers._freeze_before_fork()
        workers.thaw()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
    workers._freeze_before_fork()
    workers.thaw()
    assert gc.get_freeze_count() == 0


class _HoldsOneSlot(_Waits):
    """Runs until the next stage's setup has happened: with two workers its second slot idles meanwhile."""
    name, flag, failure = "holds", "set-up-ahead", "the next stage was not set up while a slot idled"


class _SetUpAhead(Stage):
    """Reads what 'holds' writes, so it cannot start before that stage ends; its setup reads no input."""
    name, reads, writes = "ahead", ("masks",), ("qc",)

    def __init__(self, out: Path):
        super().__init__()
        self.out, self.setups, self.teardowns = out, [], 0

    def setup(self) -> None:
        self.setups.append(os.getpid())
        (self.out / "set-up-ahead").touch()

    def teardown(self) -> None:
        self.teardowns += 1

    def process(self, part: Partition) -> dict:
        return {"setups": list(self.setups)}


def test_a_stage_is_set_up_in_the_parent_while_a_slot_idles_and_its_workers_inherit_it(tmp_path):
    """The earlier stage finishes only once the later one has been set up, so the set-up happened ahead, in the
    parent, exactly once; every worker of the later stage sees that set-up and makes none of its own."""
    ahead = _SetUpAhead(tmp_path)
    reps = LocalExecutor(tmp_path, shards=2, workers=2).run([_HoldsOneSlot(), ahead])
    assert [r.shards_run for r in reps] == [1, 2]
    assert [s["setups"] for s in reps[1].stats] == [[os.getpid()], [os.getpid()]]
    assert ahead.setups == [os.getpid()] and ahead.teardowns == 1
    (tmp_path / "set-up-ahead").unlink()
    again = _SetUpAhead(tmp_path)   # up to date: 'holds' waits for nothing, so nothing is set up ahead of it
    (tmp_path / "set-up-ahead").touch()
    assert [r.shards_run for r in LocalExecutor(tmp_path, shards=2, workers=2).run([_HoldsOneSlot(), again])] == [0, 0]
    assert again.setups == [] and again.teardowns == 0


class _SetUpFailsAhead(_SetUpAhead):
    """Its first setup (the one ahead of its turn) fails; set up at its turn, it works."""

    def setup(self) -> None:
        if not self.setups:
            self.setups.append("failed")
            (self.out / "set-up-ahead").touch()
            raise OSError("a model file not there yet")
        super().setup()


def test_a_failed_setup_ahead_of_its_turn_leaves_the_running_stage_alone(tmp_path):
    """A setup made ahead, on an idle slot, used to raise into the loop while the earlier stage ran (killing its
    workers, under no stage's name); now the stage sets up again at its turn, where a failure would be its own."""
    ahead = _SetUpFailsAhead(tmp_path)
    reps = LocalExecutor(tmp_path, shards=2, workers=2).run([_HoldsOneSlot(), ahead])
    assert [r.shards_run for r in reps] == [1, 2]
    assert ahead.setups == ["failed", os.getpid()]


class _SetUpAlwaysFails(_SetUpAhead):
    def setup(self) -> None:
        (self.out / "set-up-ahead").touch()   # the holding stage may end: the setup ahead was tried
        raise OSError("no model file at /models/x.pt")


def test_a_setup_that_fails_at_its_turn_stops_the_run_under_the_stages_name(tmp_path):
    """Set up in the parent for its forked workers, a failing setup raised bare, naming no stage."""
    for workers in (1, 2):
        (tmp_path / str(workers)).mkdir()
        if workers == 1:   # one process: nothing is set up ahead, so the holding stage is let go at once
            (tmp_path / "1" / "set-up-ahead").touch()
        with pytest.raises(OSError, match="no model file at /models/x.pt") as info:
            LocalExecutor(tmp_path / str(workers), shards=2, workers=workers).run(
                [_HoldsOneSlot(), _SetUpAlwaysFails(tmp_path / str(workers))])
        assert info.value.__notes__ == ["in the setup of stage 'ahead'"]


class _Quick(Stage):
    """Three short partitions, each stamped with when it started and which partition it was."""
    name, reads, writes = "quick", (SOURCE,), ("masks",)

    def process(self, part: Partition) -> dict:
        t0 = time.time()
        time.sleep(0.3)
        return {"index": part.index, "started": t0}


class _SlowSetUp(Stage):
    """Independent of 'quick'; its setup (made in the parent, which reads no message meanwhile) takes 2 s."""
    name, reads, writes, partitioned = "slow-setup", (SOURCE,), ("links",), False

    def setup(self) -> None:
        time.sleep(2.0)
        self.set_up_by = time.time()

    def process(self, part: Partition) -> dict:
        return {}


def test_a_worker_goes_on_to_its_next_partition_while_the_parent_sets_a_stage_up(tmp_path):
    """'quick' starts first; the parent then sets 'slow-setup' up for 2 s. Its worker was given its next partition
    before that (overlap._prefetch), so it does not wait for the set-up to end; each result is its own partition's."""
    slow = _SlowSetUp()
    quick, _ = LocalExecutor(tmp_path, shards=3, workers=2).run([_Quick(), slow])
    assert [s["index"] for s in quick.stats] == [0, 1, 2] and quick.shards_run == 3
    starts = sorted(s["started"] for s in quick.stats)
    assert starts[1] < slow.set_up_by - 1.0, "the worker waited for the parent's set-up"
