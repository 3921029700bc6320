"""The terminal view of a running device: one status line redrawn in place and
one line per event (set started/done, rep, contact lost/back, fault)."""
from __future__ import annotations

import sys
import time
from typing import Optional

_POINT_LABELS = (("head", "head"), ("upper_back", "upper"), ("sacrum", "sacrum"))


def status_line(status: dict) -> str:
    points = status.get("points", {})
    marks = []
    for name, label in _POINT_LABELS:
        p = points.get(name, {})
        mark = "LOST" if p.get("lost") else ("on" if p.get("contact") else "--")
        marks.append(f"{label} {mark:<4}")
    h = status.get("health", {})
    alert = "ALERT" if status.get("alert") else "     "
    fault = f"  FAULT: {h['fault']}" if h.get("fault") else ""
    phase = status.get("phase", "idle")
    pitch = status.get("pitch_deg")
    pitch_text = "  -- " if pitch is None else f"{pitch:5.1f}"     # no set: no hinge angle
    number = (status.get("set") or {}).get("number") or status.get("set_index", 0)
    return (f"{' | '.join(marks)} | pitch {pitch_text} deg | "
            f"set {number} rep {status.get('rep_count', 0):2d} {phase:<7} | "
            f"{alert} | {h.get('frame_rate_hz', 0):5.1f} fps{fault}")


def event_line(event: dict) -> Optional[str]:
    """One line for the events a person at the terminal cares about, else None."""
    kind = event.get("type")
    t = event.get("t", 0.0)
    if kind == "set_started":
        number = event.get("set_number", event.get("set_index"))
        return f"[{t:8.2f}s] set {number} started ({event.get('exercise', '')})"
    if kind == "set_completed":
        reps = event.get("set", {}).get("reps", [])
        clean = sum(1 for r in reps if r.get("clean"))
        number = event.get("set_number", event.get("set_index"))
        if event.get("discarded"):
            return f"[{t:8.2f}s] set {number} ended without reps (not kept)"
        cue = (event.get("summary") or {}).get("cue")
        focus = f"; next: {cue['text']}" if cue else ""
        return f"[{t:8.2f}s] set {number} done: {len(reps)} reps, {clean} clean{focus}"
    if kind == "rep_completed":
        rep = event["rep"] if isinstance(event.get("rep"), dict) else event
        losses = ", ".join(l["point"] for l in rep.get("losses", [])) or "clean"
        return (f"[{t:8.2f}s] rep {event.get('rep_index')}: depth {rep.get('depth_deg', 0):.0f} deg, "
                f"down {rep.get('down_s', 0):.1f}s up {rep.get('up_s', 0):.1f}s, {losses}")
    if kind == "contact_lost":
        return f"[{t:8.2f}s] {event['point']} LOST"
    if kind == "contact_restored":
        return f"[{t:8.2f}s] {event['point']} back after {event.get('duration_s', 0):.2f}s"
    if kind == "sensor_fault":
        return (f"[{t:8.2f}s] SENSOR: {event['message']}" if event.get("active") else
                f"[{t:8.2f}s] {event['point']} pad reads normally again")
    if kind == "fault":
        return f"[{t:8.2f}s] FAULT: {event['message']}" if event.get("active") else \
            f"[{t:8.2f}s] ADC answering again"
    return None


class Console:
    """Prints what the core publishes: on a terminal the status line is redrawn in
    place (10 per second at most); piped, a status line every 2 s; event lines always
    (unless quiet)."""

    TTY_INTERVAL_S = 0.1
    PIPE_INTERVAL_S = 2.0

    def __init__(self, quiet: bool = False, stream=None):
        self.stream = stream or sys.stdout
        self.quiet = quiet
        self.tty = self.stream.isatty() and not quiet
        self._last_line = 0.0

    def show(self, message: dict) -> None:
        if self.quiet:
            return
        if message.get("type") == "status":
            self._show_status(message)
            return
        line = event_line(message)
        if line:
            print(("\r\x1b[K" if self.tty else "") + line, file=self.stream, flush=True)

    def _show_status(self, status: dict) -> None:
        now = time.monotonic()
        if now - self._last_line <= (self.TTY_INTERVAL_S if self.tty else self.PIPE_INTERVAL_S):
            return
        self._last_line = now
        if self.tty:
            print("\r" + status_line(status) + "\x1b[K", end="", file=self.stream, flush=True)
        else:
            print(status_line(status), file=self.stream, flush=True)

    def close(self) -> None:
        if self.tty:
            print(file=self.stream)
