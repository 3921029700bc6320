"""What the core tells its listeners: events stamped with wall-clock time, and
status snapshots throttled to :data:`STATUS_HZ`.  ``publish`` never blocks (the
bus drops a slow listener's oldest events instead)."""
from __future__ import annotations

import threading
import time
from typing import Callable

from device.runtime.events import EventBus

#: Status snapshots published per second (the dashboard throttles further per client).
STATUS_HZ = 20.0


class Publisher:
    """``snapshot()`` builds the status dict; the clock turns core time into wall time."""

    def __init__(self, bus: EventBus, clock, snapshot: Callable[[], dict]):
        self.bus = bus
        self._clock = clock
        self._snapshot = snapshot
        self._wall0 = time.time()
        self._t0 = clock.now()
        self._last_status_t = -1e9
        # Snapshots are taken on several threads (the polling loop, a settings
        # change, the history writer's report): taking and publishing one is a
        # single step, so a snapshot never goes out after a newer one.  Held for
        # one snapshot's copy (the core's lock is taken inside, never around it).
        self._status_lock = threading.Lock()

    def wall(self, t: float) -> float:
        """Unix time of core time ``t`` (a sped-up mock clock is scaled back)."""
        return self._wall0 + (t - self._t0) / self._clock.speed

    def uptime_s(self) -> float:
        return (self._clock.now() - self._t0) / self._clock.speed

    def event(self, event: dict) -> None:
        event.setdefault("wall", self.wall(event["t"]))
        self.bus.publish(event)

    def events(self, events: list, t: float) -> None:
        for event in events:
            event.setdefault("t", t)
            self.event(event)

    def status_due(self, t: float) -> bool:
        return t - self._last_status_t >= 1.0 / STATUS_HZ

    def status(self, t: float, force: bool = False) -> None:
        """Publish a snapshot unless one went out less than 1/STATUS_HZ ago."""
        if not force and not self.status_due(t):
            return
        with self._status_lock:
            self._last_status_t = t
            status = self._snapshot()
            status["type"] = "status"
            self.bus.publish(status)
