"""The core's health statistics: frame rate and jitter over the last frames.

The polling thread only appends a timestamp per frame (:meth:`FrameTimes.add`);
whoever asks for the numbers copies the window (a tuple of ~200 floats, a few
microseconds, under the core's lock) and does the sorting on its own time,
outside the lock (:func:`rate_and_jitter`), so a dashboard asking for the status
never holds up a frame.
"""
from __future__ import annotations

import collections
from typing import Sequence, Tuple

#: Frames the rate and jitter are computed over (about one second at full rate).
WINDOW_FRAMES = 200


class FrameTimes:
    """Timestamps of the newest frames plus the running counts."""

    def __init__(self, window: int = WINDOW_FRAMES):
        self._times: collections.deque = collections.deque(maxlen=window)
        self.frames = 0
        self.last_t = None

    def add(self, t: float) -> None:
        self._times.append(t)
        self.frames += 1
        self.last_t = t

    def window(self) -> tuple:
        """A copy of the window (take it under the lock that guards :meth:`add`)."""
        return tuple(self._times)


def rate_and_jitter(times: Sequence[float], speed: float = 1.0) -> Tuple[float, float]:
    """(frames per second of real time, p95 of |interval - median interval| in ms).

    ``speed`` is the clock's speed-up, so a sped-up mock run reports the true
    rate.  Plain Python: for 200 numbers it is several times faster than numpy.
    """
    n = len(times)
    if n < 3:
        return 0.0, 0.0
    span = times[-1] - times[0]
    rate = (n - 1) / span * speed if span > 0 else 0.0
    intervals = sorted(b - a for a, b in zip(times, times[1:]))
    median = intervals[len(intervals) // 2]
    deviations = sorted(abs(x - median) for x in intervals)
    jitter_s = deviations[min(len(deviations) - 1, int(0.95 * len(deviations)))]
    return round(float(rate), 1), round(jitter_s * 1000.0 / speed, 2)
