"""Contact detection and tilt: pure, frame by frame, plain numbers in.

Nothing here reads a clock: every step takes the frame's time ``t`` (seconds),
so a replay runs as fast as the CPU allows and gives the live answer.

* :func:`pitch_deg` turns the tilt voltage into the hinge angle, with the
  sensor's mounting offset taken out (``v = 1.65 + 0.33 sin(pitch)``).
* :class:`TiltFilter` removes single-frame glitches (median of 3) and smooths
  the tilt noise lightly (time-based low-pass, so 50 and 200 frames/s agree).
* :class:`PointContact` is one contact point (head, upper back or sacrum):
  its resting level, its thresholds and the debounced low/high state.

Per-frame code here is plain Python on purpose: numpy per frame costs more
than the whole frame budget (50 us).
"""
from __future__ import annotations

import collections
import math

# One threshold rule for a calibration and for levels learned in a set.
from device.analysis.calibration import threshold_fractions
from device.hw import constants

__all__ = [
    "pitch_deg", "threshold_fractions", "TiltFilter", "PointContact",
    "PRESENT_V", "NEAR_ZERO_V", "CONTACT", "LOW", "LOST",
]

_RAD_TO_DEG = 180.0 / math.pi

#: Without calibration, a point reading above this is touching (a held contact
#: is 1-8 N, 1.6-2.9 V; an open FSR reads near 0 V).
PRESENT_V = 0.8
#: Below this a point is not touching at all (sensor noise on an open FSR is ~0.01 V).
NEAR_ZERO_V = 0.12

#: Resting level tracking.  At the start of a set the level is learned quickly
#: (the dowel has just been placed and the force is still rising); afterwards
#: slowly, so it follows FSR creep and a tiring grip but not a rep's modulation.
LEARN_S = 1.0
LEARN_TAU_S = 0.15
TRACK_TAU_S = 4.0
#: Frames below this fraction of the resting level are not used to track it
#: (a point on its way out, or a dropout, is not the resting level).
TRACK_MIN_FRACTION = 0.7

#: A point reading above this fraction of its resting level is at full contact
#: (the fade from there to the threshold tells a slow let-go from a sudden loss).
FULL_FRACTION = 0.85
#: A point reading below this fraction of its resting level (or NEAR_ZERO_V) has
#: no force left at all: the moment contact is truly gone.
ZERO_FRACTION = 0.06
#: Light smoothing of each point's reading for judging a sag of the others.
FAST_TAU_S = 0.025

#: Tilt smoothing time constant: short against a 0.8 s hinge phase, long
#: enough to average the accelerometer noise over a few frames.
TILT_TAU_S = 0.02
#: Running mean for the depth of a hinge (short against the slowest turn at
#: the bottom, 0.8 s per phase: the mean flattens such a peak by < 1 degree).
DEPTH_WINDOW_S = 0.15

#: Contact states of a point.
CONTACT = 0     # touching
LOW = 1         # below its threshold, not yet for the debounce
LOST = 2        # below its threshold for longer than the debounce

#: Tolerance for comparing frame times with the debounce: the frame clock's
#: jitter, so two low frames 19.9 ms apart at 50 frames/s count as 20 ms.
_EPS_S = 0.002


def pitch_deg(tilt_v: float, upright_v: float = constants.TILT_ZERO_V) -> float:
    """Hinge angle in degrees from the tilt voltage.

    A sensor mounted ``delta`` off reads ``1.65 + 0.33 sin(pitch + delta)``;
    ``upright_v`` is what it reads upright, so ``delta = asin((upright_v - 1.65)/0.33)``
    and ``pitch = asin((v - 1.65)/0.33) - delta`` (subtracting volts would be
    wrong away from upright, where the sine flattens).
    """
    return _asin_deg(tilt_v) - _asin_deg(upright_v)


def _asin_deg(tilt_v: float) -> float:
    s = (tilt_v - constants.TILT_ZERO_V) / constants.TILT_SCALE_V
    if s > 1.0:
        s = 1.0
    elif s < -1.0:
        s = -1.0
    return math.asin(s) * _RAD_TO_DEG


def _crossed_at(t: float, dt: float, v: float, prev_v: float, level: float) -> float:
    """When the reading passed ``level`` between the previous frame (``prev_v``,
    ``dt`` earlier) and this one (``v`` at ``t``), by linear interpolation;
    never before the previous frame.  The caller knows ``prev_v != v``."""
    return max(t - dt, t - dt * (level - v) / (prev_v - v))


class TiltFilter:
    """Median of the last three tilt readings, then a first-order low-pass.

    The median drops a single-frame glitch (an I2C hiccup reading 0 V) before
    it can reach the low-pass; the low-pass coefficient comes from the frame
    interval so the result does not depend on the frame rate.

    ``mean_v`` is a centred-in-effect running mean of the median over the last
    ``window_s``: it lags, but the deepest point of a hinge read from it is not
    inflated by noise the way the maximum of a lightly smoothed signal is
    (that matters near 90 degrees, where the sine is flat and noise in volts
    becomes degrees).
    """

    __slots__ = ("a", "b", "value", "last_t", "tau_s", "window_s", "_win", "_sum", "mean_v")

    def __init__(self, tau_s: float = TILT_TAU_S, window_s: float = DEPTH_WINDOW_S):
        self.tau_s = tau_s
        self.window_s = window_s
        self.reset()

    def reset(self) -> None:
        self.a = self.b = self.value = self.mean_v = None
        self.last_t = None
        self._win = collections.deque()
        self._sum = 0.0

    def step(self, t: float, v: float) -> float:
        a, b = self.a, self.b
        if a is None:
            self.a = self.b = self.value = self.mean_v = v
            self.last_t = t
            self._win.append((t, v))
            self._sum = v
            return v
        # median of (a, b, v) without building a list
        if a > b:
            a, b = b, a
        m = b if v > b else (a if v < a else v)
        self.a, self.b = self.b, v
        win = self._win
        win.append((t, m))
        total = self._sum + m
        limit = t - self.window_s
        while win[0][0] < limit:
            total -= win.popleft()[1]
        self._sum = total
        self.mean_v = total / len(win)
        dt = t - self.last_t
        self.last_t = t
        if dt <= 0.0:
            return self.value
        k = dt / (self.tau_s + dt)
        self.value += k * (m - self.value)
        return self.value


class PointContact:
    """One contact point: resting level, thresholds, debounced state.

    ``step(t, v)`` returns ``None`` or one of ``"lost"`` (below the off
    threshold for longer than the debounce *and* for at least two frames, so a
    single-frame dropout is never a loss at any frame rate) and ``"restored"``
    (above the on threshold the same way).  ``low_since`` is when the reading
    fell through the off threshold (interpolated between the frames): the loss
    start, and where the debounce is counted from (``high_since`` likewise).  Thresholds are fractions of ``rest_v``,
    which follows the point's in-contact level.

    For telling a loss from taking the dowel off it also keeps ``fast_v`` (the
    reading lightly smoothed), ``full_t`` (when the reading last fell through
    ``FULL_FRACTION`` of the resting level), ``fade_s`` (how long it then took
    to fall through the off threshold: a let-go fades over a couple of hundred
    ms, a lost contact snaps) and ``zero_t`` (first frame of the current low
    run with no force left).  Crossing times are interpolated between frames,
    so they do not depend on the frame rate.
    """

    __slots__ = ("name", "rest_v", "off_frac", "on_frac", "state", "low_since", "low_n",
                 "high_since", "high_n", "v", "set_start_t", "last_t", "fixed",
                 "fast_v", "full_t", "zero_t", "fade_s", "v_prev")

    def __init__(self, name: str, off_frac: float, on_frac: float):
        self.name = name
        self.off_frac = off_frac
        self.on_frac = on_frac
        self.rest_v = 0.0
        self.fixed = False
        self.v = 0.0
        self.last_t = None
        self.begin(0.0, 0.0)

    def begin(self, t: float, rest_v: float, fixed: bool = False) -> None:
        """A set starts: the point is touching at ``rest_v`` (first guess)."""
        self.rest_v = rest_v
        self.fixed = fixed        # calibrated resting level: learn only slowly
        self.state = CONTACT
        self.low_since = None
        self.low_n = 0
        self.high_since = None
        self.high_n = 0
        self.set_start_t = t
        self.last_t = t
        self.fast_v = rest_v
        self.v_prev = rest_v
        self.full_t = t
        self.zero_t = None
        self.fade_s = 0.0

    @property
    def off_v(self) -> float:
        return self.rest_v * self.off_frac

    @property
    def on_v(self) -> float:
        return self.rest_v * self.on_frac

    def step(self, t: float, v: float, debounce_s: float):
        self.v = v
        dt = t - self.last_t
        self.last_t = t
        if dt > 0.0:
            self.fast_v += (v - self.fast_v) * (dt / (FAST_TAU_S + dt))
        prev_v = self.v_prev
        self.v_prev = v
        if self.state == LOST:
            return self._step_lost(t, v, prev_v, dt, debounce_s)
        if v < self.rest_v * self.off_frac:
            if self.state == CONTACT:
                self._went_low(t, v, prev_v, dt)
                return None
            return self._step_low(t, v, debounce_s)
        if self.state == LOW:
            self.state = CONTACT
            self.low_n = 0
        # in contact (the usual frame, kept inline): note full contact, follow the resting level
        rest = self.rest_v
        full = rest * FULL_FRACTION
        if v >= full:
            self.full_t = t
        elif prev_v >= full and dt > 0.0:
            # fell through full contact between the frames: when exactly
            self.full_t = _crossed_at(t, dt, v, prev_v, full)
        if v > rest * TRACK_MIN_FRACTION and dt > 0.0:
            learning = not self.fixed and t - self.set_start_t < LEARN_S
            tau = LEARN_TAU_S if learning else TRACK_TAU_S
            self.rest_v = rest + (v - rest) * (dt / (tau + dt))
        return None

    def _no_force(self, v: float) -> bool:
        return v < NEAR_ZERO_V or v < self.rest_v * ZERO_FRACTION

    def _went_low(self, t: float, v: float, prev_v: float, dt: float) -> None:
        """The first frame below the off threshold: when exactly it crossed
        (and full contact before it), interpolated between the frames."""
        rest = self.rest_v
        self.state = LOW
        self.low_n = 1
        self.zero_t = t if self._no_force(v) else None
        off = rest * self.off_frac
        full = rest * FULL_FRACTION
        if prev_v > v and dt > 0.0:
            if prev_v >= full:          # fell through both in one frame
                self.full_t = _crossed_at(t, dt, v, prev_v, full)
            t_off = _crossed_at(t, dt, v, prev_v, off)
        else:
            t_off = t
        # The reading has been low since it crossed the threshold, not since
        # this frame: the debounce runs from there, so the alert does not wait
        # up to a frame longer than the debounce (and the loss starts where
        # the reading went, at any frame rate).
        self.low_since = t_off
        self.fade_s = max(0.0, t_off - self.full_t)

    def _step_low(self, t: float, v: float, debounce_s: float):
        """Still low: lost once it has been for the debounce and two frames."""
        if self.zero_t is None and self._no_force(v):
            self.zero_t = t
        self.low_n += 1
        if self.low_n >= 2 and t - self.low_since >= debounce_s - _EPS_S:
            self.state = LOST
            self.high_n = 0
            return "lost"
        return None

    def _step_lost(self, t: float, v: float, prev_v: float, dt: float, debounce_s: float):
        """Lost: wait for the point to come back above the on threshold (since
        the crossing, interpolated between the frames like the loss's own)."""
        if self.zero_t is None and self._no_force(v):
            self.zero_t = t
        on = self.rest_v * self.on_frac
        if v > on:
            if self.high_n == 0:
                self.high_since = _crossed_at(t, dt, v, prev_v, on) \
                    if prev_v < v and dt > 0.0 else t
            self.high_n += 1
            if self.high_n >= 2 and t - self.high_since >= debounce_s - _EPS_S:
                self.state = CONTACT
                self.low_n = 0
                self.high_n = 0
                self.zero_t = None
                self.full_t = t
                return "restored"
        else:
            self.high_n = 0
        return None
