"""A worker process that serves the partitions of one stage, for the overlapping local executor.

Forked (on Linux) when its stage gets a free slot, so it inherits the pipeline without re-importing it, and a
model the parent has set up (``Stage.share_setup``) without loading it again; otherwise it sets the stage up
itself, once, before its first partition. It runs partitions the parent sends until told to stop, then tears
the stage down and exits. Progress bars of a partition are drawn by the parent (messages on the pipe); the
CPU seconds of each partition (the worker's and its own child processes') come back with its stats. On Linux a
worker dies with the parent (a killed run leaves no worker finishing a partition behind the rerun's back).
"""
from __future__ import annotations

import gc
import multiprocessing
import resource
import sys
import traceback
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import Optional

from curation.io.partition import Partition
from curation.io.stage import Stage


def cpu_seconds() -> float:
    """User + system time of this process (all its threads) and of its reaped children."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


class StageWorker:
    def __init__(self, stage: Stage, setup: bool, slots: int, close_in_child: list[Connection]):
        fork = sys.platform.startswith("linux")
        ctx = multiprocessing.get_context("fork" if fork else "spawn")
        self.stage, self.slots = stage, slots
        self.assigned: list[Partition] = []   # sent and not yet done, in the order the worker runs them
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, stage, setup, close_in_child if fork else []),
                                name=f"opseg-{stage.name}", daemon=False)  # not daemonic: extract has its own pool
        if fork:
            _freeze_before_fork()
        self.proc.start()
        child.close()

    def send(self, part: Partition, key: dict, progress: bool) -> None:
        self.assigned.append(part)
        self.conn.send((replace(part, progress=None), key, progress))

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except OSError:
            pass

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join()
        self.conn.close()

    def join(self) -> None:
        self.proc.join()
        self.conn.close()


_caller_froze: "bool | None" = None   # whether objects were frozen before this process first forked a worker


def _freeze_before_fork() -> None:
    """The parent's objects out of every collection, here and in the child: see thaw()."""
    global _caller_froze
    if _caller_froze is None:
        _caller_froze = gc.get_freeze_count() > 0
    gc.freeze()


def thaw() -> None:
    """Undo the ``gc.freeze()`` made before each fork, once the run's workers are gone. Freezing is what Python's gc
    docs advise before a fork: the parent's ~250k objects (every stage's imports) are shared with the forked
    workers, and a worker's full collection visits them all, writing to each object's header and so copying every
    page that holds one (~60 MB, ~0.2 CPU s a collection, in each worker). Frozen, collections skip them (the
    stages after segment on the 20-study demo: ~20 % less CPU). Thawed, a program that runs the pipeline collects
    its garbage as before. A caller that froze objects itself keeps them frozen (unfreezing is all or nothing)."""
    global _caller_froze
    if _caller_froze is False:
        gc.unfreeze()
    _caller_froze = None


def _die_with_parent() -> None:
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _serve(conn: Connection, stage: Stage, setup: bool, close_in_child: list[Connection]) -> None:
    from curation.pipeline.base import run_partition

    for c in close_in_child:   # the parent's ends of the other workers' pipes, inherited by the fork
        c.close()
    if sys.platform.startswith("linux"):
        _die_with_parent()
    progress = _piped_progress(conn)
    try:
        if setup:
            stage.setup()
        while (msg := conn.recv()) is not None:
            part, key, with_progress = msg
            t0 = cpu_seconds()
            stats = run_partition(stage, replace(part, progress=progress) if with_progress else part, key)
            conn.send(("done", stats, cpu_seconds() - t0))
        if setup:
            stage.teardown()
    except EOFError:   # the parent is gone
        return
    except BaseException as exc:   # noqa: BLE001 - every failure goes back to the parent, which raises it
        conn.send(("error", _picklable(exc), traceback.format_exc()))


def _picklable(exc: BaseException) -> Optional[BaseException]:
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:   # noqa: BLE001
        return None


def _piped_progress(conn: Connection):
    counter = iter(range(1 << 62))

    def factory(what: str, total: int):
        bar = next(counter)
        conn.send(("bar", bar, what, total))
        return lambda n=1: conn.send(("tick", bar, n))
    return factory
