"""Bounds on what one GSPS/SR object may cost, so a hostile or broken file ends in quarantine instead of
exhausting memory or hanging a worker: a size cap before reading, a point cap per graphic, a text cap, and a
wall-clock budget per object (SIGALRM in the process that parses it)."""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

MAX_OBJECT_BYTES = 64 << 20        # GSPS/SR objects are kB to a few MB; bigger ones are not annotations
MAX_POINTS_PER_GRAPHIC = 100_000   # a freehand outline has hundreds of points
MAX_TEXT_CHARS = 4096
OBJECT_SECONDS = 30.0


class ObjectTimeout(Exception):
    pass


@contextmanager
def time_limit(seconds: float):
    """Raise ObjectTimeout in the block after `seconds` (only where signals can be used: a main thread)."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum, frame):
        raise ObjectTimeout(f"parsing took longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
