"""Calibration from the athlete's resting hold: pure, takes frames, returns thresholds.

The athlete stands (or kneels) tall with the dowel on all three points and holds
still for a few seconds.  Each point's resting voltage is the median of the hold;
contact counts as *lost* below ``off_v`` and *restored* above ``on_v``.  The gap
between the two is the hysteresis that keeps a point hovering near its threshold
from chattering.
"""
from __future__ import annotations

import time
from typing import Sequence

import numpy as np

from device.analysis.frames import Frame
from device.analysis.settings import Calibration, PointCalibration
from device.hw import constants

#: A point resting below this is not touching at all: calibration is refused.
MIN_CONTACT_V = 0.8
#: Thresholds as fractions of the resting voltage, at sensitivity 0.5.
OFF_FRACTION = 0.45
ON_FRACTION = 0.6
#: A hold that moves more than this (tilt volts, spread) is not a hold.
MAX_TILT_SPREAD_V = 0.06


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


def calibrate_from_frames(frames: Sequence[Frame], sensitivity: float = 0.5,
                          taken_at: float | None = None) -> Calibration:
    """Calibration from the frames of a resting hold (at least ~1 s of them)."""
    if len(frames) < 10:
        raise CalibrationError("too few readings: hold still with the dowel on for 3 seconds")
    data = np.asarray([f[1:] for f in frames], dtype=float)
    points = {}
    for i, point in enumerate(constants.POINTS):
        rest_v = float(np.median(data[:, i]))
        if rest_v < MIN_CONTACT_V:
            raise CalibrationError(
                f"no contact at the {point.replace('_', ' ')}: put the dowel on the head, "
                "upper back and sacrum and hold still")
        points[point] = thresholds_for(rest_v, sensitivity)
    tilt = data[:, 3]
    if float(np.percentile(tilt, 95) - np.percentile(tilt, 5)) > MAX_TILT_SPREAD_V:
        raise CalibrationError("the dowel moved during calibration: stand tall and hold still")
    return Calibration(points=points, tilt_upright_v=round(float(np.median(tilt)), 4),
                       taken_at=time.time() if taken_at is None else taken_at)
