"""Which CPUs the processes of ``dowel run`` use.

The core process (polling loop, alerts) keeps the CPU it prefers; the web
process, and anything else that is not the alarm, stays off it.  A lower
priority alone is not enough: a web thread waking on the CPU the polling loop
sleeps on still delays the loop's wake-up by a little each time, and the loop
sleeps many times a frame (``dowel bench dashboard`` measured 10 phones costing
5-15 % of the core's frame rate without this, about 1 % with it).  The core is
not pinned: it may still move when its CPU is busy with something else.
"""
from __future__ import annotations

import os

__all__ = ["away_from_core", "keep_off_the_core_cpu"]


def away_from_core(available: set) -> set:
    """All of ``available`` but the highest-numbered CPU, left to the core
    process, whenever there are two or more."""
    if len(available) < 2:
        return set(available)
    return set(available) - {max(available)}


def keep_off_the_core_cpu() -> None:
    """Move this process, every thread of it, off the core's CPU (threads
    started later inherit it from the thread that starts them)."""
    if not hasattr(os, "sched_setaffinity"):
        return                                  # not Linux: nothing to pin
    cpus = away_from_core(os.sched_getaffinity(0))
    try:
        threads = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        threads = [0]
    for tid in threads:
        try:
            os.sched_setaffinity(tid, cpus)
        except OSError:
            pass                                # a thread that just ended
