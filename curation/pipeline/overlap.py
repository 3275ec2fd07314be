"""Stages that overlap on one pool of ``workers`` processes (the local executor with more than one worker).

A stage is planned (fingerprints, reasons, cleared outputs, plan.json) the moment every stage it waits for
(curation.pipeline.schedule) has finished, exactly as the sequential run plans it, so markers and tables are the
same. Its partitions then compete for the ``workers`` slots with those of every other started stage: free slots
go in fair shares (each started stage with partitions left gets a worker, in pipeline order, before any gets
another), and a stage's worker keeps taking that stage's partitions, so its model is set up once; a worker takes
``min(cpus, workers)`` slots, so a stage whose threads use every core runs beside nothing. Thus export-seg runs
beside qc, lesions and link, and report beside publish, while no core idles behind a stage that the others do
not wait for.

A slot that no started stage can use (deid alone, export-seg's last partition) is used to set up, in this
process, the next stages whose workers inherit their setup (deid's recognisers, the libraries publish and
report import): their workers are forked ready instead of setting up on the critical path (see _warm_next).
"""
from __future__ import annotations

import time
from multiprocessing.connection import wait
from typing import TYPE_CHECKING

from curation.io.stage import has_setup
from curation.io.tables import load_table_io
from curation.pipeline.balance import largest_first
from curation.pipeline.errors import set_up
from curation.pipeline.schedule import stage_dependencies
from curation.pipeline.workers import StageWorker, thaw

if TYPE_CHECKING:
    from curation.io.stage import Stage
    from curation.pipeline.base import LocalExecutor, StagePlan, StageReport


class _Running:
    """A started stage: its plan, its report, the partitions not yet sent, its workers and results."""

    def __init__(self, plan: StagePlan, rep: StageReport, tick):
        self.plan, self.rep, self.tick = plan, rep, tick
        self.queue = largest_first(plan.stage, plan.todo)
        self.workers: list[StageWorker] = []
        self.results: dict[int, dict] = {}
        self.shared = False   # the parent holds the stage's setup, which its forked workers inherit

    @property
    def done(self) -> bool:
        return len(self.results) == len(self.plan.todo)


def run_overlapped(ex: LocalExecutor, stages: list[Stage]) -> list[StageReport]:
    load_table_io()   # before the first fork: every worker reads and writes tables
    deps = stage_dependencies(stages)
    reports: dict[int, StageReport] = {}
    running: dict[int, _Running] = {}
    bars: dict[tuple[int, int], object] = {}
    warmed: dict[int, float] = {}   # stage -> CPU seconds of its setup, made here before the stage could start
    unready: set[int] = set()       # stages whose setup ahead failed: set up again at their turn (as without it)
    free = ex.workers
    try:
        while len(reports) < len(stages):
            for i, stage in enumerate(stages):   # start what can start (a stage with nothing to do ends at once)
                if i not in reports and i not in running and deps[i] <= set(reports):
                    plan, rep = ex.start_stage(stage)
                    rep.cpu_seconds += warmed.get(i, 0.0)
                    if plan.todo:
                        running[i] = r = _Running(plan, rep, ex.stage_progress(plan))
                        r.shared = i in warmed
                    else:
                        if i in warmed:
                            stage.teardown()
                        rep.finish()
                        reports[i] = rep
            if len(reports) == len(stages):
                break
            free = _dispatch(ex, stages, running, free)
            more = free > 0 and _warm_next(stages, deps, running, reports, warmed, unready)
            free += _receive(ex, running, reports, bars, timeout=0 if more else None)
    finally:
        try:
            for r in running.values():
                for w in r.workers:
                    w.kill()
                if r.shared:
                    r.plan.stage.teardown()
            for i in warmed:
                if i not in reports and i not in running:
                    stages[i].teardown()
        finally:
            thaw()
    return [reports[i] for i in range(len(stages))]


def _warm_next(stages: list[Stage], deps: list[set[int]], running: dict[int, _Running], reports: dict,
               warmed: dict[int, float], unready: set[int]) -> bool:
    """With a slot idle, set up a stage that waits only for started stages (the next to start) and whose workers
    inherit its setup (it reads no input: recognisers, libraries), so it is ready when its inputs are; earliest
    in pipeline order first. Returns whether another could follow; one per call, so the loop looks at its
    workers' messages in between. Not further ahead: every worker forked later holds the parent's pages in its
    RSS (shared, but counted), so link set up during segment's tail put +60 MB on each export-seg worker, and
    all four +130 MB. A stage that turns out up to date tears its setup down unused."""
    started = set(reports) | set(running)
    waiting = [i for i, s in enumerate(stages) if i not in started and i not in warmed and i not in unready
               and deps[i] <= started
               and s.share_setup and has_setup(s)]
    if not waiting:
        return False
    i, t0 = waiting[0], time.process_time()
    _prefetch(running)
    try:
        stages[i].setup()
    except Exception:   # not this stage's turn yet (it may even be up to date): it is set up again when it has
        unready.add(i)  # work, at its turn, where a failure stops the run as it did without the head start
        return True
    warmed[i] = time.process_time() - t0
    return len(waiting) > 1


def _slots(ex: LocalExecutor, stage: Stage) -> int:
    return max(1, min(ex.workers, stage.resources.cpus))


def _dispatch(ex: LocalExecutor, stages: list[Stage], running: dict[int, _Running], free: int) -> int:
    """Idle workers take their stage's next partition; free slots start workers, earliest stage first. A stage
    whose workers can share its setup is set up here, once, before its first worker is forked: every worker
    inherits it, and so does every stage forked later (link's setup imports torch and transformers, which deid
    needs too: set up in a worker, each process paid ~5-10 CPU s for the same imports). The loop waits meanwhile;
    running workers go on with their partition and the next one they were given ahead (_prefetch)."""
    cap = 1   # fair shares: every started stage gets a worker before any gets a second (in pipeline order)
    while free and any(r.queue for r in running.values()) and cap <= ex.workers:
        for i in sorted(running):
            r, stage = running[i], stages[i]
            slots = _slots(ex, stage)
            if not r.queue or len(r.workers) >= cap or slots > free:
                continue
            if stage.share_setup and not r.shared and has_setup(stage):
                _prefetch(running)
                t0 = time.process_time()
                set_up(stage)   # every worker forked from here on inherits it
                r.rep.cpu_seconds += time.process_time() - t0
                r.shared = True
            inherited = [w.conn for x in running.values() for w in x.workers]
            w = StageWorker(stage, setup=not r.shared, slots=slots, close_in_child=inherited)
            r.workers.append(w)
            free -= slots
            _send_next(ex, r, w)
        cap += 1
    return free


def _prefetch(running: dict[int, _Running]) -> None:
    """Before this process sets a stage up (seconds during which it reads no message), give every worker that has
    only its current partition its stage's next one: it goes straight on to it instead of waiting for the set-up
    to end (an export-seg worker idled 0.5 s behind link's spaCy). One ahead at most, and only here: a worker
    holding a second partition at a stage's tail could leave another idle."""
    for r in running.values():
        for w in r.workers:
            if r.queue and len(w.assigned) == 1:
                w.send(r.queue.pop(0), r.plan.key, False)


def _send_next(ex: LocalExecutor, r: _Running, w: StageWorker) -> None:
    """The stage's next queued partition to this worker (a single-partition stage relays its progress bars)."""
    w.send(r.queue.pop(0), r.plan.key, len(r.plan.todo) == 1 and ex.progress is not None)


def _receive(ex: LocalExecutor, running: dict[int, _Running], reports: dict, bars: dict, timeout=None) -> int:
    """Wait for a worker's message (at most ``timeout`` seconds); returns the slots given back."""
    by_conn = {w.conn: (i, w) for i, r in running.items() for w in r.workers}
    freed = 0
    for conn in wait(list(by_conn), timeout):
        i, w = by_conn[conn]
        r = running[i]
        try:
            msg = conn.recv()
        except EOFError:
            raise RuntimeError(f"a worker of stage {r.plan.stage.name!r} died (exit code {w.proc.exitcode})") from None
        kind = msg[0]
        if kind == "bar":
            bars[(id(w), msg[1])] = ex.progress(msg[2], msg[3]) if ex.progress else None
        elif kind == "tick":
            bar = bars.get((id(w), msg[1]))
            if bar:
                bar(msg[2])
        elif kind == "error":
            exc, tb = msg[1], msg[2]
            if exc is None:
                raise RuntimeError(f"stage {r.plan.stage.name!r} failed in a worker:\n{tb}")
            raise exc from RuntimeError(f"in a worker of stage {r.plan.stage.name!r}:\n{tb}")
        else:   # done
            r.results[w.assigned.pop(0).index] = msg[1]
            r.rep.cpu_seconds += msg[2]
            if r.tick:
                r.tick(1)
            if w.assigned:   # it already holds its next partition (see _prefetch)
                pass
            elif r.queue:   # straight on: a worker left idle here, beside another that took the last partition,
                # would never be stopped and its slots never given back (a later stage needing them waited forever)
                _send_next(ex, r, w)
            else:
                w.stop()
                w.join()
                r.workers.remove(w)
                freed += w.slots
            if r.done:
                _finish(i, running, reports)
    return freed


def _finish(i: int, running: dict[int, _Running], reports: dict) -> None:
    r = running.pop(i)
    if r.shared:
        r.plan.stage.teardown()
    r.rep.stats = [r.results[p.index] for p in r.plan.todo]
    r.rep.shards_run = len(r.rep.stats)
    r.rep.finish()
    reports[i] = r.rep
