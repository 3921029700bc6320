"""Clocks.  Time is an input: everything above the bus takes timestamps from a clock
object, so a sped-up mock run and a replay give the same answers as real time."""
from __future__ import annotations

import time


class RealClock:
    """Monotonic seconds since the clock was made; ``sleep`` really sleeps."""

    speed = 1.0

    def __init__(self) -> None:
        self._t0 = time.monotonic()

    def now(self) -> float:
        return time.monotonic() - self._t0

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class ScaledClock(RealClock):
    """Runs ``speed`` times faster than real time (mock mode ``--speed``).

    Both the emulated chip (conversion and bus time) and the core's frame stamps
    use it, so at ``speed=10`` a 2 s hinge takes 0.2 s of wall time but is still
    stamped as 2 s.
    """

    def __init__(self, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        super().__init__()
        self.speed = float(speed)

    def now(self) -> float:
        return (time.monotonic() - self._t0) * self.speed

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.speed)
