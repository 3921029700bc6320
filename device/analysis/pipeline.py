"""The pipeline: frames in, events out.  Pure, streaming, the same live and in replay.

``Pipeline(settings).feed(frame)`` runs one frame through the analysis and
returns the events it caused (shapes in docs/architecture.md "Events").  It
never looks ahead: the only delays are the debounce and deciding that a rep
has ended.  The jobs live in their own modules; this facade wires them:

* contact detection per point and the tilt filter (:mod:`device.analysis.contact`);
* putting the dowel on, when a set starts (:mod:`device.analysis.placement`);
* the upright tilt, calibrated or learned per set (:mod:`device.analysis.upright`);
* losses, the alert, holding it while the dowel may be coming off
  (:mod:`device.analysis.losses`);
* reps (:mod:`device.analysis.reps`) and their sets, numbers and summaries
  (:mod:`device.analysis.sets`);
* sensor faults: a pad shorted or dead (:mod:`device.analysis.sensors`).

Sets.  A set starts when all three points are touching (for the debounce)
and ends when all three are released.  With no contact at all the dowel is
idle whatever the tilt reads (leaning on a wall is not a rep).  If all three
points go, it was a removal: no alert, nothing recorded.
"""
from __future__ import annotations

import math
from typing import Optional

from device.analysis.calibration import threshold_fractions
from device.analysis.contact import CONTACT, PRESENT_V, PointContact, TiltFilter, _asin_deg
from device.analysis.frames import Frame
from device.analysis.losses import LossTracker
from device.analysis.placement import PlacementWatch
from device.analysis.reps import RETURN, UPRIGHT, RepTracker
from device.analysis.sensors import SensorWatch
from device.analysis.sets import SetRecorder
from device.analysis.settings import Settings
from device.analysis.upright import UprightLevel
from device.hw import constants
from device.hw.constants import volts_to_force

__all__ = ["Pipeline"]

POINTS = constants.POINTS

#: Holding an alert as a possible removal needs the athlete upright and still:
#: within this of the upright level (nobody takes the dowel off mid-hinge)...
UPRIGHT_BAND_DEG = 4.0
#: ...or coming back up from a rep with the pitch not dropping by a degree for this long.
RETURN_STILL_S = 0.1


class Pipeline:
    """Contact detection, set and rep analysis; see the module docstring."""

    def __init__(self, settings: Optional[Settings] = None):
        settings = settings or Settings()
        off_frac, on_frac = threshold_fractions(settings.sensitivity)
        self._points = [PointContact(p, off_frac, on_frac) for p in POINTS]
        self._tilt = TiltFilter()
        self._reps = RepTracker(settings.min_depth_deg)
        self._placement = PlacementWatch()
        self._losses = LossTracker()
        self._sets = SetRecorder(self._reps, self._losses)
        self._sensors = SensorWatch()
        cal = settings.calibration
        self._upright = UprightLevel(cal.tilt_upright_v if cal else constants.TILT_ZERO_V)
        self._in_set = False
        self._t = 0.0
        self._tilt_v = constants.TILT_ZERO_V
        self._pitch = 0.0
        self._all_low_n = 0
        self._apply(settings)

    # -- settings --------------------------------------------------------------
    def update_settings(self, settings: Settings) -> None:
        """Apply thresholds, debounce and minimum depth from now on; a new
        calibration also gives the upright tilt at once."""
        self._apply(settings)
        if settings.calibration is not None:
            self._upright.calibrated(settings.calibration.tilt_upright_v)
            self._pitch = self._upright.pitch(self._tilt_v)

    def _apply(self, settings: Settings) -> None:
        self.settings = settings
        self._debounce_s = settings.debounce_ms / 1000.0
        self._reps.min_depth_deg = settings.min_depth_deg
        cal = settings.calibration
        off_frac, on_frac = threshold_fractions(settings.sensitivity)
        for pt in self._points:
            if cal is not None:
                pc = cal.points[pt.name]
                rest = pc.rest_v if pc.rest_v > 0 else 1.0
                pt.off_frac, pt.on_frac = pc.off_v / rest, pc.on_v / rest
            else:
                pt.off_frac, pt.on_frac = off_frac, on_frac
        self._placement.present_v = ([min(PRESENT_V, cal.points[p].on_v) for p in POINTS]
                                     if cal is not None else [PRESENT_V] * 3)

    def continue_session(self, sets_before: int) -> None:
        """The session (training day) already has ``sets_before`` sets: number
        the next set after them (the history's count, manual sets included)."""
        self._sets.sets_before = max(0, int(sets_before)) - self._sets.kept

    def set_logged_by_hand(self) -> None:
        """A set was logged by hand in the session: it takes the next number."""
        self._sets.sets_before += 1

    # -- per frame -------------------------------------------------------------
    def feed(self, frame: Frame) -> list:
        t = frame.t
        self._t = t
        tv = self._tilt.step(t, frame.tilt)
        self._tilt_v = tv
        self._pitch = p = _asin_deg(tv) - self._upright.deg
        volts = (frame.head, frame.upper_back, frame.sacrum)
        events: list = []
        self._sensors.step(t, volts, events)
        if not self._in_set:
            self._watch_placing(t, frame, volts, events)
            return events
        if self._contact_step(t, volts, events):
            return events               # the dowel came off: the set is over
        if self._losses.held:
            self._losses.check_held(t, self._still_upright(t, p), self._points, events,
                                    self._sensors.faulty)
        if self._upright.learning and self._learn_upright(t, events):
            return events
        p = self._pitch
        change = self._reps.step(t, p, _asin_deg(self._tilt.mean_v) - self._upright.deg)
        if change is not None:
            self._sets.rep_change(change, t, events)
        self._sets.waiting(t, events)
        losses = self._losses
        if losses.alerting or self._sensors.watching:
            self._sensors.in_set(t, self._points, [losses.lost_since(i) for i in range(3)],
                                 self._sets.rep_count, events)
        return events

    def _contact_step(self, t: float, volts: tuple, events: list) -> bool:
        """Each point's contact; True if the set ended (all three released).
        A faulty pad is left out: the set ends when the others let go."""
        debounce_s = self._debounce_s
        faulty = self._sensors.faulty
        pts = self._points
        watched = [pt for i, pt in enumerate(pts) if i not in faulty] if faulty else pts
        all_low = True
        for i, v in enumerate(volts):
            if faulty and i in faulty:
                continue
            pt = pts[i]
            change = pt.step(t, v, debounce_s)
            if change is not None:
                if change == "lost":
                    self._losses.lost(i, pt.name, pt.low_since)
                else:
                    self._losses.restored(i, t, pt.high_since, events)
            if pt.state == CONTACT:
                all_low = False
        if not all_low or not watched:
            self._all_low_n = 0
            return False
        self._all_low_n += 1
        last_low = max(pt.low_since for pt in watched)
        if self._all_low_n >= 2 and t - last_low >= debounce_s - 1e-6:
            # the set ends when the last point has no force left
            end = max(pt.zero_t if pt.zero_t is not None else pt.low_since for pt in watched)
            self._end_set(end, events)
            return True
        return False

    def _still_upright(self, t: float, p: float) -> bool:
        """Upright and still: a hinge under way (even its first degrees) is no removal."""
        reps = self._reps
        if reps.phase == UPRIGHT:
            return p < reps.baseline + UPRIGHT_BAND_DEG
        if reps.phase == RETURN:
            return p < reps.baseline + UPRIGHT_BAND_DEG or t - reps.end_t >= RETURN_STILL_S
        return False

    def finish(self, t: float) -> list:
        """End of the stream (or the button): close a set under way at ``t``.

        The dowel may still be on (the button ends a set the athlete is done
        with): the next set starts only after it has been taken off and put back.
        """
        events: list = []
        if self._in_set:
            self._end_set(t, events, removal=False)
            self._placement.wait_release = True
        return events

    # -- placing and taking off ------------------------------------------------
    def _watch_placing(self, t: float, frame: Frame, volts: tuple, events: list) -> None:
        for pt, v in zip(self._points, volts):
            pt.v = v
        self._sensors.idle(t, volts, self._placement.present_v, events)
        ignored = self._sensors.faulty
        if self._placement.step(t, volts, self._debounce_s, ignored):
            self._start_set(t, frame, self._placement.set_start(ignored), events)

    def _start_set(self, t: float, frame: Frame, start: float, events: list) -> None:
        self._in_set = True
        self._all_low_n = 0
        self._losses.reset()
        self._sensors.set_started()
        cal = self.settings.calibration
        for pt, v in zip(self._points, (frame.head, frame.upper_back, frame.sacrum)):
            if cal is not None:
                pt.begin(t, cal.points[pt.name].rest_v, fixed=True)
            else:
                pt.begin(t, v)
        if cal is None:
            # learn the upright tilt of this set; until then take the tilt now
            self._upright.begin(t, self._tilt_v)
            self._pitch = self._upright.pitch(self._tilt_v)
        self._reps.reset(t)
        self._sets.start(t, start, self.settings.exercise, events)

    def _learn_upright(self, t: float, events: list) -> bool:
        """While the upright tilt of the set is being learned, keep the frames'
        tilt; at the end of the window set the upright and run the kept frames
        through the rep analysis.  Returns True while still learning."""
        upright = self._upright
        if upright.keep(t, self._tilt_v, self._tilt.mean_v):
            return True
        kept = upright.conclude()
        self._pitch = upright.pitch(self._tilt_v)
        reps = self._reps
        reps.reset(upright.since)
        for bt, v, mv in kept:
            change = reps.step(bt, upright.pitch(v), upright.pitch(mv))
            if change is not None:
                self._sets.rep_change(change, t, events)
        return False

    def _end_set(self, end: float, events: list, removal: bool = True) -> None:
        t = self._t
        self._losses.end_set(end, t, removal, events)
        if self._reps.finish():
            self._sets.rep_change("completed", t, events)     # back up, then took it off
        self._sets.end(t, end, events)
        self._sensors.set_ended()
        self._in_set = False
        self._placement.reset()
        self._upright.stop()

    # -- reading --------------------------------------------------------------
    @property
    def alert_wanted(self) -> bool:
        """True while a point is lost in a set (not held as a possible removal,
        not a pad known to be faulty)."""
        if not self._losses.alerting:
            return False
        faulty = self._sensors.faulty_points()
        return any(p not in faulty for p in self._losses.lost_points())

    @property
    def lost_points(self) -> list:
        return self._losses.lost_points()

    def status(self) -> dict:
        """The analysis part of the status snapshot (docs/architecture.md)."""
        points = {}
        in_set = self._in_set
        lost = self._losses.lost_points()
        present_v = self._placement.present_v
        for i, pt in enumerate(self._points):
            v = pt.v
            contact = pt.state == CONTACT if in_set else v > present_v[i]
            force = volts_to_force(v)
            points[pt.name] = {"v": round(v, 3),
                               "force_n": round(force, 2) if math.isfinite(force) else None,
                               "contact": contact, "lost": pt.name in lost}
        return {
            "points": points,
            "pitch_deg": round(self._pitch, 1) if in_set else None,
            "in_set": in_set,
            "set_index": self._sets.index,
            "set": self._sets.status(in_set),
            "last_set": self._sets.last,
            "rep_count": self._sets.rep_count,
            "phase": self._reps.status_phase() if in_set else "idle",
            "lost_points": lost,
            "sensor_faults": self._sensors.faults(),
        }

    def result(self) -> dict:
        """{"sets": [...]} in the replay document's shape (finished sets only;
        call :meth:`finish` first to close one under way)."""
        return {"sets": [dict(s) for s in self._sets.sets]}
