"""Signal sources: what feeds the emulated ADS1x15 in mock mode (docs/architecture.md).

A source answers ``voltages(t) -> (head, upper_back, sacrum, tilt)`` in volts at
source time ``t`` (seconds on the core's clock) and has ``finished`` (True once
a non-looping source has run out; the core then stops).

* :class:`SimulatedAthlete` - a simulated session (:mod:`device.sim.simulator`);
* :class:`TraceSource` - the frames of a recorded trace, sample-and-hold;
  :class:`TraceFileSource` the same, read from the file row by row;
* :class:`ScriptedAthlete` - a simulated athlete following a short fixed
  script, for end-to-end tests that need "the sacrum is lost at t = X".
"""
from __future__ import annotations

import bisect
import itertools
import math
import threading
from typing import List, Optional, Sequence, Tuple

from device.analysis.frames import Frame
from device.hw import constants
from device.sim.trace import TraceError, iter_trace
from device.sim.simulator import (
    SET,
    AthleteProfile,
    ScriptBuilder,
    SimSession,
    generate_session,
)

__all__ = ["SimulatedAthlete", "TraceSource", "TraceFileSource", "ScriptedAthlete"]

Volts = Tuple[float, float, float, float]


class SimulatedAthlete:
    """A simulated session as a source; loops forever (live mock mode) or finishes.

    ``session`` defaults to ``generate_session(seed)``.  ``truth`` and
    ``duration_s`` are the current session's (times within one pass of the loop).
    Looping over a generated session moves on to the next seed's athlete at each
    pass, so a mock dashboard left running does not replay the same minutes; the
    next session is generated in the background once the current pass is half
    played (never on the polling thread, and never for an athlete that is built
    but not run far).  A session passed in is repeated as it is.
    """

    def __init__(self, session: Optional[SimSession] = None, seed: int = 0,
                 loop: bool = True) -> None:
        self._fresh_each_pass = session is None and loop
        self.session = session if session is not None else generate_session(seed)
        self.seed = seed
        self.loop = loop
        self.finished = False
        self.duration_s = self.session.duration_s
        self._pass_start = 0.0
        self._next: Optional[SimSession] = None
        self._next_thread: Optional[threading.Thread] = None
        self._still: Optional[Tuple[float, float]] = None

    def hold_still(self, start_t: float, end_t: float) -> None:
        """Asked to calibrate: from ``start_t`` to ``end_t`` (source time) the
        athlete stands tall with the dowel on all three points, swaying a little,
        then carries on with the session."""
        self._still = (start_t, end_t)

    def _holding_still(self, t: float) -> Volts:
        profile = self.session.profile
        sway_deg = profile.sway_deg * math.sin(2 * math.pi * t / 4.0)
        hum_v = 0.004 * math.sin(2 * math.pi * 50.0 * t)
        forces = [constants.fsr_volts(profile.rest_n[p]) + hum_v for p in constants.POINTS]
        tilt = constants.TILT_ZERO_V + constants.TILT_SCALE_V * math.sin(
            math.radians(profile.tilt_offset_deg + sway_deg)) + hum_v
        return (forces[0], forces[1], forces[2], tilt)

    def _prepare_next(self) -> None:
        seed = self.seed + 1

        def build() -> None:
            self._next = generate_session(seed)

        self._next_thread = threading.Thread(target=build, name="next-athlete", daemon=True)
        self._next_thread.start()

    @property
    def truth(self) -> dict:
        return self.session.truth

    def voltages(self, t: float) -> Volts:
        if self._still is not None and self._still[0] <= t < self._still[1]:
            return self._holding_still(t)
        local = t - self._pass_start
        if self._fresh_each_pass and self._next_thread is None and local >= self.duration_s / 2:
            self._prepare_next()
        if local >= self.duration_s:
            if not self.loop:
                self.finished = True
            elif self._fresh_each_pass and self._next is not None:
                # Sessions begin and end idle (dowel off), so the seam is not a set.
                self._pass_start += self.duration_s
                self.session, self._next = self._next, None
                self.seed += 1
                self.duration_s = self.session.duration_s
                self._next_thread = None
                local = t - self._pass_start
            else:
                local = local % self.duration_s
        return self.session.voltages(local)

    def frames(self, rate_hz: float = 200.0, jitter: float = 0.2,
               seed: Optional[int] = None) -> List[Frame]:
        """One pass of the session sampled like a recording (for traces and tests)."""
        return self.session.frames(rate_hz=rate_hz, jitter=jitter, seed=seed)


class TraceSource:
    """Frames of a trace replayed in time: ``voltages(t)`` is the frame at or before
    ``t`` (sample and hold; before the first frame, the first frame).

    Not looping: ``finished`` once ``t`` is one frame period past the last frame.
    Looping: the trace starts over one frame period after its last frame.
    """

    def __init__(self, frames: Sequence[Frame], loop: bool = False) -> None:
        if not frames:
            raise ValueError("TraceSource needs at least one frame")
        self._frames = list(frames)
        self._times = [f[0] for f in self._frames]
        if any(b < a for a, b in zip(self._times, self._times[1:])):
            raise ValueError("trace times go backwards")
        self.loop = loop
        self.finished = False
        n = len(self._times)
        # one typical frame period: the median interval
        if n > 1:
            gaps = sorted(b - a for a, b in zip(self._times, self._times[1:]))
            self._period = gaps[len(gaps) // 2] or 1e-3
        else:
            self._period = 1e-3
        self._t0 = self._times[0]
        self._span = self._times[-1] - self._t0 + self._period
        self._i = 0

    @property
    def duration_s(self) -> float:
        return self._span

    def voltages(self, t: float) -> Volts:
        if self.loop:
            t = self._t0 + (t - self._t0) % self._span
        elif t > self._times[-1] + self._period:
            self.finished = True
        times, i = self._times, self._i
        # t mostly moves forward by less than a frame: step the index; else search
        if times[i] <= t:
            if i + 1 < len(times) and times[i + 1] <= t:
                i += 1
                if i + 1 < len(times) and times[i + 1] <= t:
                    i = bisect.bisect_right(times, t, i) - 1
        else:
            i = max(0, bisect.bisect_right(times, t) - 1)
        self._i = i
        f = self._frames[i]
        return (f[1], f[2], f[3], f[4])


class TraceFileSource:
    """:class:`TraceSource` played from the file, row by row: memory stays small
    whatever the trace's length (a 200 MB trace is 5 M rows).

    The header and the first rows are read at construction, so a file that is
    not a trace is a :class:`device.sim.trace.TraceError` before anything
    starts.  A bad row further on ends the play: ``finished`` is set and
    ``error`` holds the TraceError naming file, line and field (the command
    then exits 2).  A looping trace reopens the file for each pass.
    ``voltages(t)`` expects ``t`` to move forward, as the core's clock does.
    """

    #: rows read ahead at start: the typical frame period is their median interval
    PERIOD_SAMPLE = 2000

    def __init__(self, path, loop: bool = False) -> None:
        self.path = path
        self.loop = loop
        self.finished = False
        self.error: Optional[TraceError] = None
        head = list(itertools.islice(iter_trace(path), self.PERIOD_SAMPLE))
        gaps = sorted(b.t - a.t for a, b in zip(head, head[1:]))
        self._period = (gaps[len(gaps) // 2] if gaps else 0.0) or 1e-3
        self._t0 = head[0].t
        self._offset = 0.0                   # added to the file's times in this pass
        self._open()

    def _open(self) -> None:
        self._rows = iter_trace(self.path)
        self._frame = next(self._rows)
        self._next = self._read()

    def _read(self) -> Optional[Frame]:
        try:
            return next(self._rows, None)
        except TraceError as exc:            # found mid-play: stop, and say where
            self.error = exc
            self.finished = True
            return None

    def voltages(self, t: float) -> Volts:
        while True:
            local = t - self._offset
            while self._next is not None and self._next.t <= local:
                self._frame = self._next
                self._next = self._read()
            if self._next is not None or local <= self._frame.t + self._period or self.error:
                break
            if not self.loop:
                self.finished = True
                break
            # the pass is over: the trace starts over one frame period after its last frame
            self._offset += self._frame.t - self._t0 + self._period
            self._open()
        f = self._frame
        return (f[1], f[2], f[3], f[4])


class ScriptedAthlete(SimulatedAthlete):
    """A simulated athlete following a fixed script of steps, for end-to-end tests.

    ``from_steps`` takes a list of ``(kind, arg)``; ``arg`` is a duration in
    seconds or a dict:

    * ``("idle", 1.0)`` or ``("idle", {"duration_s": 1.0, "level_deg": 85})`` - dowel off
      (leaning on a wall at ``level_deg``); the script must start and end idle;
    * ``("place", 0.3)`` or ``{"duration_s": 0.3, "offsets_s": {"head": 0.1, ...}}`` -
      the points touch (all start together unless offsets are given) and reach
      their resting force by the end of the step;
    * ``("upright", 2.0)`` or ``{"duration_s": 2.0, "wobble_deg": 6}`` - held upright,
      with an optional wobble in the middle (not a rep);
    * ``("rep", {"depth_deg": 50, "down_s": 1.2, "up_s": 1.2, "pause_s": 0,
      "loss": ("sacrum", 0.5, 0.6)})`` - one hinge; a loss is (point, start after
      the rep start, duration_s): force reaches zero exactly at that start;
      ``"losses": [...]`` for several;
    * ``("remove", 0.3)`` or ``{"duration_s": 0.3, "offsets_s": {...}}`` - dowel off;
    * ``("dropout", {"point": "head", "at_s": 0.5})`` - a single-sample dropout
      (3 ms at ~0 V) ``at_s`` after the current time; takes no time itself.

    Sensor noise is seeded (``seed``), there is no postural sway, so depths and
    times are exactly the scripted ones.  ``truth`` says what happened.  It
    follows its script even when asked to calibrate (tests decide what it holds).
    """

    def hold_still(self, start_t: float, end_t: float) -> None:
        """The script says what the athlete does, calibration or not."""

    @classmethod
    def from_steps(cls, steps: Sequence[tuple], loop: bool = True, seed: int = 0,
                   profile: Optional[AthleteProfile] = None) -> "ScriptedAthlete":
        b = ScriptBuilder()
        for n, step in enumerate(steps, 1):
            try:
                kind, arg = step
            except (TypeError, ValueError):
                raise ValueError(f"step {n}: expected (kind, duration or dict), got {step!r}") \
                    from None
            opts = dict(arg) if isinstance(arg, dict) else {"duration_s": float(arg)}
            try:
                _apply_step(b, kind, opts)
            except (KeyError, TypeError, ValueError) as exc:
                msg = exc.args[0] if exc.args else exc
                raise ValueError(f"step {n} ({kind}): {msg}") from None
        if b.in_set:
            raise ValueError("the script ends with the dowel on: add a ('remove', ...) step")
        session = SimSession(b.build(still=True), profile or AthleteProfile(), seed)
        return cls(session, seed=seed, loop=loop)


def _apply_step(b: ScriptBuilder, kind: str, o: dict) -> None:
    points = constants.POINTS
    if kind == "idle":
        b.idle(o["duration_s"], level_deg=float(o.get("level_deg", 85.0)),
               transition_s=o.get("transition_s"))
    elif kind in ("place", "remove"):
        dur = float(o["duration_s"])
        offsets = {p: float(o.get("offsets_s", {}).get(p, 0.0)) for p in points}
        ramps = {p: dur - offsets[p] for p in points}
        if any(r <= 0 for r in ramps.values()):
            raise ValueError("offsets must be shorter than the step")
        (b.place if kind == "place" else b.remove)(offsets, ramps)
    elif kind == "upright":
        dur = float(o["duration_s"])
        wobble = None
        if o.get("wobble_deg"):
            wdur = min(1.0, dur * 0.6)
            wobble = ((dur - wdur) / 2, wdur, float(o["wobble_deg"]))
        b.upright(dur, wobble)
    elif kind == "rep":
        losses = list(o.get("losses", []))
        if "loss" in o:
            losses.append(o["loss"])
        b.rep(float(o["depth_deg"]), float(o["down_s"]), float(o["up_s"]),
              float(o.get("pause_s", 0.0)), losses=[tuple(l) for l in losses])
    elif kind == "dropout":
        point = o["point"]
        if point not in points:
            raise ValueError(f"unknown point {point!r}")
        b.glitch(b.t + float(o.get("at_s", 0.0)), float(o.get("width_s", 0.003)),
                 points.index(point), SET, 0.0)
    else:
        raise ValueError(f"unknown step kind {kind!r} (idle, place, upright, rep, remove, dropout)")
