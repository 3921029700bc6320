"""Publish/subscribe between the polling core and whoever listens (web, store, terminal).

The core calls :meth:`EventBus.publish` from its polling thread; it must never
block there.  Every subscriber owns a bounded queue: when a slow subscriber's
queue is full the oldest event is dropped for that subscriber only and counted,
so ten phones on a bad Wi-Fi never slow a frame or an alert.
"""
from __future__ import annotations

import collections
import threading
from typing import Iterable, Optional


class Subscription:
    """One listener's bounded queue of events (plain dicts, see docs/architecture.md)."""

    def __init__(self, bus: "EventBus", maxsize: int, types: Optional[Iterable[str]]):
        self._bus = bus
        self._queue: collections.deque = collections.deque()
        self._maxsize = maxsize
        self._cond = threading.Condition()
        self.types = frozenset(types) if types else None
        self.dropped = 0
        self.closed = False

    def _offer(self, event: dict) -> None:
        if self.types is not None and event.get("type") not in self.types:
            return
        with self._cond:
            if len(self._queue) >= self._maxsize:
                self._queue.popleft()
                self.dropped += 1
            self._queue.append(event)
            self._cond.notify()

    def get(self, timeout: Optional[float] = None) -> Optional[dict]:
        """Next event, or ``None`` after ``timeout`` seconds (or once closed)."""
        with self._cond:
            if not self._queue and not self.closed:
                self._cond.wait(timeout)
            if self._queue:
                return self._queue.popleft()
            return None

    def drain(self) -> list:
        """All queued events at once, without waiting."""
        with self._cond:
            events = list(self._queue)
            self._queue.clear()
            return events

    def close(self) -> None:
        self._bus._remove(self)
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __iter__(self):
        while not self.closed:
            event = self.get(timeout=0.5)
            if event is not None:
                yield event


class EventBus:
    """Fan-out of event dicts to any number of subscribers; ``publish`` never blocks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: tuple = ()

    def subscribe(self, maxsize: int = 256, types: Optional[Iterable[str]] = None) -> Subscription:
        """A new :class:`Subscription`; pass ``types`` to receive only those event types."""
        sub = Subscription(self, maxsize, types)
        with self._lock:
            self._subscribers = self._subscribers + (sub,)
        return sub

    def _remove(self, sub: Subscription) -> None:
        with self._lock:
            self._subscribers = tuple(s for s in self._subscribers if s is not sub)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def publish(self, event: dict) -> None:
        # The tuple is replaced, never mutated, so iterating it needs no lock.
        for sub in self._subscribers:
            sub._offer(event)
