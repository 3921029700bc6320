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


class VirtualClock:
    """Simulated time for benchmarks and tests: nothing passes unless charged.

    ``sleep`` is a thread going to sleep: the OS wakes it late by a random
    amount with mean ``wake_jitter_s`` (exponential, seeded, so two runs are
    identical).  ``spend`` is time the host is busy (a bus transaction, a frame's
    processing): it passes exactly.  Single-threaded use only.
    """

    speed = 1.0
    virtual = True

    def __init__(self, wake_jitter_s: float = 0.0, seed: int = 0) -> None:
        import random

        self.t = 0.0
        self.wake_jitter_s = wake_jitter_s
        self._rng = random.Random(seed)

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.t += seconds
            if self.wake_jitter_s:
                self.t += self._rng.expovariate(1.0 / self.wake_jitter_s)

    def spend(self, seconds: float) -> None:
        if seconds > 0:
            self.t += seconds
