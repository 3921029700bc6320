"""Recording the resting hold for calibration, from the frames the loop reads."""
from __future__ import annotations

import threading
from typing import Callable, Optional

from device.analysis.calibration import CalibrationError


def record_hold(tap_frames: Callable, clock, duration_s: float,
                timeout_s: Optional[float] = None) -> list:
    """The frames of the next ``duration_s`` core seconds.

    Blocks the calling thread (never the polling thread) for the hold, in real
    seconds: the clock's speed applies.  Raises :class:`CalibrationError` when
    the ADC delivers no frames in time.
    """
    frames: list = []
    done = threading.Event()
    start = clock.now()

    def collect(frame) -> None:
        # Only the polling thread calls this, in order; it may call it once more
        # after the hold ended (it took its taps before remove() ran): that frame
        # is not part of the hold being judged.
        if done.is_set():
            return
        frames.append(frame)
        if frame.t - start >= duration_s:
            done.set()

    remove = tap_frames(collect)
    try:
        limit = timeout_s if timeout_s is not None else duration_s / clock.speed + 5.0
        if not done.wait(limit):
            raise CalibrationError("no readings from the ADC: check the sensor connection")
    finally:
        remove()
    return frames
