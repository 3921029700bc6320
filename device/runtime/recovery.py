"""How the polling loop survives its own bugs.

An internal error (not a hardware fault: those are the ADC link's) is logged
with its traceback, the open set is ended and the loop goes on with a fresh
pipeline.  An error that keeps coming back (more than :data:`CRASH_LIMIT`
within :data:`CRASH_WINDOW_S` real seconds), or a pipeline that cannot be
rebuilt, stops the loop as crashed: the process then exits non-zero so systemd
restarts it.
"""
from __future__ import annotations

import collections
import time

#: Internal errors survived within CRASH_WINDOW_S; one more means the error comes
#: back with every frame, and rebuilding again would only fill the log.
CRASH_LIMIT = 5
CRASH_WINDOW_S = 60.0


class CrashGuard:
    """Counts internal errors and says when to stop trying."""

    def __init__(self, limit: int = CRASH_LIMIT, window_s: float = CRASH_WINDOW_S,
                 monotonic=time.monotonic):
        self.limit = limit
        self.window_s = window_s
        self._monotonic = monotonic
        self._times: collections.deque = collections.deque(maxlen=limit + 1)
        self.errors = 0
        #: set when the loop gave up: the process must exit non-zero
        self.crashed = False

    def error(self) -> bool:
        """Count one internal error; False when they come too fast to go on."""
        self.errors += 1
        now = self._monotonic()          # real time: a sped-up mock clock must not matter
        self._times.append(now)
        return not (len(self._times) > self.limit and now - self._times[0] < self.window_s)

    def too_many(self) -> str:
        return f"{len(self._times)} internal errors within {self.window_s:g} s"
