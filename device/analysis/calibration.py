"""Calibration from the athlete's resting hold: pure, takes frames, returns thresholds.

The athlete stands (or kneels) tall with the dowel on all three points and holds
still for a few seconds.  Each point's resting voltage is the median of the hold;
contact counts as *lost* below ``off_v`` and *restored* above ``on_v``.  The gap
between the two is the hysteresis that keeps a point hovering near its threshold
from chattering.

A person standing still still sways by a degree or two and breathes; the hold
is judged on the spread of the tilt in degrees with single-frame glitches taken
out, so that is accepted while a hinge or a dowel swinging in the hands is not.
:class:`CalibrationHold` judges the holds of one calibration: a bad first hold
is tried again by itself before it gives up with words that say what to do.
"""
from __future__ import annotations

import math
import statistics
from typing import Optional, Sequence

from device.analysis.frames import Frame
from device.analysis.settings import Calibration, PointCalibration
from device.analysis.vocabulary import point as vocabulary_point
from device.hw import constants

#: A point resting below this is not touching at all: calibration is refused.
MIN_CONTACT_V = 0.8
#: A point reading above this is wired straight to the supply (an FSR under the
#: heaviest contact, 8 N, reads about 2.9 V).
SHORTED_V = constants.SUPPLY_V - 0.15
#: Thresholds as fractions of the resting voltage, at sensitivity 0.5.
OFF_FRACTION = 0.45
ON_FRACTION = 0.6
#: A hold whose tilt spreads more than this (degrees, 5th to 95th percentile,
#: glitches filtered out) is not a hold.  A person standing still sways about
#: 1-3 degrees; the shallowest rep is 25.
MAX_SWAY_DEG = 8.0
#: Fewer frames than this are not a hold (about 1 s at the slowest frame rate).
MIN_FRAMES = 10
#: Holds :class:`CalibrationHold` judges before it gives up.
ATTEMPTS = 2


class CalibrationError(ValueError):
    """The hold could not be used; the message tells the athlete what to do."""


def threshold_fractions(sensitivity: float) -> tuple:
    """(off, on) thresholds as fractions of the resting level.  Higher sensitivity
    raises them (a smaller drop counts as a loss): scale 0.6 .. 1.4 around the
    0.5 defaults, capped below the resting level itself."""
    scale = 0.6 + 0.8 * sensitivity
    return min(0.9, OFF_FRACTION * scale), min(0.95, ON_FRACTION * scale)


def thresholds_for(rest_v: float, sensitivity: float = 0.5) -> PointCalibration:
    """Thresholds for one point.  Higher sensitivity raises them (a smaller drop
    counts as a loss): at 0.5 a point is lost below 45 % of its resting voltage."""
    off_fraction, on_fraction = threshold_fractions(sensitivity)
    off_v = off_fraction * rest_v
    on_v = on_fraction * rest_v
    return PointCalibration(rest_v=round(rest_v, 4), off_v=round(off_v, 4), on_v=round(on_v, 4))


def _pads(names: list) -> str:
    """'the head pad', 'the head and sacrum pads', 'the head, upper back and sacrum pads'."""
    labels = [vocabulary_point(n).label.lower() for n in names]
    joined = labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]
    return f"the {joined} pad{'s' if len(labels) > 1 else ''}"


def _pad_problems(rest: dict) -> Optional[str]:
    """What is wrong with the pads' resting readings, in words (None if nothing)."""
    silent = [p for p in constants.POINTS if rest[p] < MIN_CONTACT_V]
    shorted = [p for p in constants.POINTS if rest[p] > SHORTED_V]
    if len(silent) == len(constants.POINTS):
        return ("no contact at the head, upper back and sacrum: put the dowel on the back of "
                "your head, your upper back and your sacrum, then hold still")
    if silent:
        one = len(silent) == 1
        where = " and ".join(vocabulary_point(p).where for p in silent)
        return (f"{_pads(silent)} read{'s' if one else ''} nothing: check {'it' if one else 'they'} "
                f"touch{'es' if one else ''} {where}")
    if shorted:
        one = len(shorted) == 1
        return (f"{_pads(shorted)} read{'s' if one else ''} {constants.SUPPLY_V:g} V: "
                f"{'its' if one else 'their'} wire is shorted to the supply; check the wiring")
    return None


def _degrees(tilt_v: float) -> float:
    s = max(-1.0, min(1.0, (tilt_v - constants.TILT_ZERO_V) / constants.TILT_SCALE_V))
    return math.degrees(math.asin(s))


def _sway_deg(tilts: Sequence[float]) -> float:
    """Spread of the tilt in degrees (5th to 95th percentile), after a median of
    three so that a single glitched frame does not count as movement."""
    filtered = [statistics.median(tilts[i - 1:i + 2]) for i in range(1, len(tilts) - 1)] or list(tilts)
    degrees = sorted(_degrees(v) for v in filtered)
    n = len(degrees)
    return degrees[min(n - 1, int(0.95 * n))] - degrees[int(0.05 * n)]


def calibrate_from_frames(frames: Sequence[Frame], sensitivity: float = 0.5,
                          taken_at: float = 0.0) -> Calibration:
    """Calibration from the frames of a resting hold (at least ~1 s of them).

    ``taken_at`` is the wall-clock time to record with it (the caller's clock:
    nothing here reads one)."""
    if len(frames) < MIN_FRAMES:
        raise CalibrationError("too few readings: hold still with the dowel on for 3 seconds")
    rest = {p: float(statistics.median(f[i + 1] for f in frames))
            for i, p in enumerate(constants.POINTS)}
    problem = _pad_problems(rest)
    if problem:
        raise CalibrationError(problem)
    tilts = [f.tilt for f in frames]
    if _sway_deg(tilts) > MAX_SWAY_DEG:
        raise CalibrationError("the dowel moved during calibration: stand tall and hold still "
                               "until it is done")
    points = {p: thresholds_for(rest[p], sensitivity) for p in constants.POINTS}
    return Calibration(points=points, tilt_upright_v=round(float(statistics.median(tilts)), 4),
                       taken_at=taken_at)


class CalibrationHold:
    """Judges the holds of one calibration, allowing a second try.

    ``judge(frames)`` returns the :class:`Calibration` of a good hold, or
    ``None`` when the hold was bad but another try is left (``retrying`` says
    why, for the athlete); after ``attempts`` bad holds it raises
    :class:`CalibrationError` with the last one's words.  Recording the frames
    is the caller's job (it has the clock).
    """

    def __init__(self, sensitivity: float = 0.5, attempts: int = ATTEMPTS):
        self.sensitivity = sensitivity
        self.attempts = attempts
        self.attempt = 0
        self.retrying: Optional[str] = None     # why the last attempt failed, while retrying

    def judge(self, frames: Sequence[Frame], taken_at: float = 0.0) -> Optional[Calibration]:
        self.attempt += 1
        try:
            return calibrate_from_frames(frames, self.sensitivity, taken_at=taken_at)
        except CalibrationError as exc:
            if self.attempt >= self.attempts:
                raise
            self.retrying = str(exc)
            return None
