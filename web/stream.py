"""Server-Sent Events for the dashboard: one generator per connected phone.

The core publishes a status snapshot up to 20 times a second plus discrete
events (``contact_lost``, ``rep_completed``, ...).  Each phone gets:

* the discrete events at once, in order, each as ``event: <type>``;
* the status, throttled to ``status_hz`` (the newest snapshot wins, older
  ones waiting in the throttle are discarded);
* a ``retry:`` line so the browser's EventSource reconnects by itself after a
  dropped connection or a device restart, and a comment heartbeat so idle
  connections are noticed and kept open.

The generator only reads from its own bounded :class:`device.runtime.events.Subscription`;
when a phone is slow the bus drops that phone's oldest events, never the core's
frames.
"""
from __future__ import annotations

import time
from typing import Callable, Iterator, Optional

from .errors import to_json  # noqa: F401  (the one NaN-safe writer; imported from here too)


def format_event(event_type: str, data) -> bytes:
    """One SSE message: ``event: TYPE`` and a single ``data:`` line of JSON."""
    return f"event: {event_type}\ndata: {to_json(data)}\n\n".encode()


HEARTBEAT = b": ping\n\n"
#: Longest wait between checks that the phone is still there.
DISCONNECT_CHECK_S = 0.5


def sse_stream(sub, initial_status: Optional[dict], *, status_hz: float = 15.0,
               heartbeat_s: float = 10.0, retry_ms: int = 2000,
               now: Callable[[], float] = time.monotonic,
               disconnected: Optional[Callable[[], bool]] = None) -> Iterator[bytes]:
    """Yield SSE messages from ``sub`` until it is closed (or the consumer stops).

    ``disconnected()``, when the server offers it, says the phone has gone; it
    is asked at least every :data:`DISCONNECT_CHECK_S` so a quiet stream does
    not hold a thread until the next heartbeat.  The caller owns ``sub`` and
    closes it when the response ends.
    """
    min_gap_s = 1.0 / status_hz
    # The retry line and the first snapshot go out at once so the page can draw
    # the moment it connects.
    yield f"retry: {int(retry_ms)}\n: connected\n\n".encode()
    last_status = last_sent = now()
    if initial_status is not None:
        yield format_event("status", initial_status)
    pending: Optional[dict] = None
    while not sub.closed:
        if disconnected is not None and disconnected():
            return
        t = now()
        if pending is not None and t - last_status >= min_gap_s:
            yield format_event("status", pending)
            pending = None
            last_status = last_sent = t
            continue
        if t - last_sent >= heartbeat_s:
            yield HEARTBEAT
            last_sent = t
            continue
        deadline = last_sent + heartbeat_s
        if pending is not None:
            deadline = min(deadline, last_status + min_gap_s)
        if disconnected is not None:
            deadline = min(deadline, t + DISCONNECT_CHECK_S)
        event = sub.get(timeout=max(0.0, deadline - t))
        if event is None:
            continue
        kind = event.get("type", "message")
        if kind == "status":
            t = now()
            if pending is None and t - last_status >= min_gap_s:
                yield format_event("status", event)
                last_status = last_sent = t
            else:
                pending = event
            continue
        # A snapshot taken before this event would contradict it on the page
        # (a point drawn green again just after it was lost); the core sends a
        # fresh one within 50 ms.
        if pending is not None and pending.get("t", 0.0) <= event.get("t", 0.0):
            pending = None
        yield format_event(kind, event)
        last_sent = now()
