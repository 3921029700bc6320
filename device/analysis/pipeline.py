"""The pipeline: frames in, events out.  Pure, streaming, the same live and in replay.

``Pipeline(settings).feed(frame)`` runs contact detection
(:mod:`device.analysis.contact`), set segmentation, the removal check and rep
analysis (:mod:`device.analysis.reps`) on one frame and returns the events it
caused (shapes in docs/architecture.md "Events").  It never looks ahead:
the only delays are the debounce (SPEC) and deciding that a rep has ended.

Sets.  A set starts when all three points are touching (for the debounce)
and ends when all three are released.  With no contact at all the dowel is
idle whatever the tilt reads (leaning on a wall is not a rep).

Losses and removal.  A point below its threshold for longer than the
debounce is lost and the alert goes on at once - unless the dowel may be
coming off.  Taking the dowel off looks like this in recordings: the athlete
stands upright and still, and the three points let go within a few hundred ms
of each other, each fading over 0.1-0.35 s; a lost contact instead snaps to
zero within tens of ms, during a hinge or at either end of it.  So only while
the athlete is upright and still is the alert *held* (``HOLD_*``):

* a point that faded slowly (a let-go) is held up to ``HOLD_LETGO_S``;
* a sudden drop only until it reads zero plus ``HOLD_AFTER_ZERO_S`` (the
  SPEC measures latency from the moment contact is gone, so this costs a real
  loss almost nothing), longer if another point is letting go too.

If all three points go, it was a removal: no alert, nothing recorded, and a
loss still open at that moment (begun within ``REMOVAL_WINDOW_S``) is
retracted, so it never appears in the report (the alert, if it fired, does:
the pins changed).  Otherwise the loss is reported with its true start (the
first low frame).  A loss between reps belongs to the next rep; one after the
last rep to the last rep (the SPEC shape keeps losses inside reps); every set
also lists all its losses (``losses``) and whether it was ``clean``.
"""
from __future__ import annotations

import math
from typing import Optional

from device.analysis.contact import (
    CONTACT,
    LOST,
    NEAR_ZERO_V,
    PRESENT_V,
    PointContact,
    TiltFilter,
    _asin_deg,
    threshold_fractions,
)
from device.analysis.frames import Frame
from device.analysis.reps import RETURN, UPRIGHT, RepTracker
from device.analysis.settings import Settings
from device.hw import constants
from device.hw.constants import volts_to_force

__all__ = ["Pipeline"]

POINTS = constants.POINTS

#: Removal check, only while the athlete is upright and still (within
#: ``UPRIGHT_BAND_DEG`` of the upright level: nobody takes the dowel off mid-hinge).  A real loss is a sudden drop to no force at all (the contact
#: snaps within tens of ms); taking the dowel off is a let-go of all three points
#: within a few hundred ms of each other, each fading over 0.1-0.35 s.
#:
#: * A point that faded slowly (``fade_s`` from 85 % to the threshold longer than
#:   ``SLOW_FADE_S``) is let go: its alert is held up to ``HOLD_LETGO_S`` for the
#:   others to follow.
#: * A sudden drop is held only until the point reads zero plus
#:   ``HOLD_AFTER_ZERO_S`` (latency is measured from the moment force is gone, so
#:   this costs a real loss little), or ``HOLD_FAST_CAP_S`` if it never reads zero.
#: * Another point letting go too (below its threshold after a fade longer than
#:   ``EVIDENCE_FADE_S``, or - if this point's own fade was that long - sagging,
#:   its smoothed reading below ``SAG_FRACTION`` of its resting level) is a
#:   removal under way: hold up to ``HOLD_EVIDENCE_S``.  (A lost contact shifts
#:   the load on the other points too, so a sag alone is no evidence.)
#:
#: Measured on the simulator (docs in the bench): real losses fade < 36 ms even
#: at their slowest (80 ms to zero force); let-gos of 0.1-0.35 s fade 34-150 ms.
UPRIGHT_BAND_DEG = 4.0
SLOW_FADE_S = 0.038
HOLD_LETGO_S = 0.60
HOLD_AFTER_ZERO_S = 0.035
HOLD_FAST_CAP_S = 0.060
SAG_FRACTION = 0.9
HOLD_EVIDENCE_S = 0.50
EVIDENCE_FADE_S = 0.025
#: Coming back up from a rep counts as "upright and still" once the pitch has
#: not dropped by a degree for this long.
RETURN_STILL_S = 0.1
#: A loss still open when the set ends is taken as part of the removal if it
#: began this close to the end of the set.
REMOVAL_WINDOW_S = 0.8
#: Upright tilt learned from the start of each set: skip the placing, then average.
UPRIGHT_SKIP_S = 0.15
UPRIGHT_LEARN_S = 1.0
UPRIGHT_GATE_DEG = 4.0
#: A loss belongs to a rep when it starts within this margin of the rep.
REP_MARGIN_S = 0.15
#: Set start: when the last of the three points began to touch, if that was at most
#: this long before all three were firmly on.
PLACE_MAX_S = 1.0


def _r3(x: float) -> float:
    return round(x, 3)


class _Loss:
    """A loss under way: the point, when it went low, whether the alert is on for it."""

    __slots__ = ("point", "start", "alerted", "record", "given")

    def __init__(self, point: str, start: float):
        self.point = point
        self.start = start
        self.alerted = False
        self.record = None
        self.given = None       # the record a rep already holds (loss still open then)


class Pipeline:
    """Contact detection, set and rep analysis; see the module docstring."""

    def __init__(self, settings: Optional[Settings] = None):
        settings = settings or Settings()
        self._points = [PointContact(p, 0.45, 0.6) for p in POINTS]
        self._tilt = TiltFilter()
        self._reps = RepTracker(settings.min_depth_deg)
        self.update_settings(settings)
        self._sets: list = []
        self._set: Optional[dict] = None          # the set under way (result shape + extras)
        self._set_index = 0
        self._in_set = False
        self._t = 0.0
        self._tilt_v = constants.TILT_ZERO_V
        self._pitch = 0.0
        self._upright_v = (settings.calibration.tilt_upright_v if settings.calibration
                           else constants.TILT_ZERO_V)
        self._upright_deg = _asin_deg(self._upright_v)
        # idle: watching for the dowel to be placed
        self._present_since = 0.0
        self._present_n = 0
        self._touch_t: list = [None, None, None]
        self._idle_prev_t: Optional[float] = None
        self._wait_release = False                # a set ended with the dowel still on
        # in a set
        self._set_confirm_t = 0.0
        self._upright_samples: list = []           # (t, tilt_v, mean tilt_v) while learning
        self._upright_learning = False
        self._all_low_n = 0
        self._open: list = [None, None, None]     # _Loss per point while it is low/lost
        self._alerting = 0                        # points whose loss has the alert on
        self._held = 0                            # points whose alert is held (removal?)
        self._losses: list = []                   # closed loss records of this set
        self._assigned: set = set()               # ids of loss records given to a rep
        self._pending_rep: Optional[dict] = None  # ended, waiting for its losses to close
        self._rep_count = 0

    # -- settings --------------------------------------------------------------
    def update_settings(self, settings: Settings) -> None:
        """Apply thresholds, debounce and minimum depth from now on."""
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
        if cal is not None:
            self._present_v = [min(PRESENT_V, cal.points[p].on_v) for p in POINTS]
            if hasattr(self, "_tilt_v"):          # a calibration taken mid-session
                self._upright_learning = False
                self._upright_samples = []
                self._set_upright(cal.tilt_upright_v)
        else:
            self._present_v = [PRESENT_V] * 3

    # -- per frame -------------------------------------------------------------
    def feed(self, frame: Frame) -> list:
        t = frame.t
        self._t = t
        tv = self._tilt.step(t, frame.tilt)
        self._tilt_v = tv
        p = _asin_deg(tv) - self._upright_deg
        self._pitch = p
        events: list = []
        if not self._in_set:
            self._watch_placing(t, frame, events)
            return events

        debounce_s = self._debounce_s
        pts = self._points
        all_low = True
        for i, v in enumerate((frame.head, frame.upper_back, frame.sacrum)):
            pt = pts[i]
            change = pt.step(t, v, debounce_s)
            if change is not None:
                if change == "lost":
                    self._open[i] = _Loss(pt.name, pt.low_since)
                    self._held += 1
                else:
                    self._restored(i, t, events)
            if pt.state == CONTACT:
                all_low = False

        if all_low:
            self._all_low_n += 1
            last_low = max(pt.low_since for pt in pts)
            if self._all_low_n >= 2 and t - last_low >= debounce_s - 1e-6:
                # the set ends when the last point has no force left
                end = max(pt.zero_t if pt.zero_t is not None else pt.low_since for pt in pts)
                self._end_set(end, events)
                return events
        else:
            self._all_low_n = 0

        if self._held:
            self._check_held(t, p, events)

        if self._upright_learning and self._learn_upright(t, events):
            return events
        p = self._pitch
        change = self._reps.step(t, p, _asin_deg(self._tilt.mean_v) - self._upright_deg)
        if change is not None:
            self._rep_change(change, t, events)
        if self._pending_rep is not None:
            self._try_emit_rep(t, events, force=False)
        return events

    def finish(self, t: float) -> list:
        """End of the stream (or the button): close a set under way at ``t``.

        The dowel may still be on (the button ends a set the athlete is done
        with): the next set starts only after it has been taken off and put back.
        """
        events: list = []
        if self._in_set:
            self._end_set(t, events, removal=False)
            self._wait_release = True
        return events

    # -- placing and taking off ------------------------------------------------
    def _watch_placing(self, t: float, frame: Frame, events: list) -> None:
        h, u, s = frame.head, frame.upper_back, frame.sacrum
        pts = self._points
        pts[0].v, pts[1].v, pts[2].v = h, u, s
        # when each point began touching (the set starts when the last one did)
        # (the last frame before it read anything: the force starts from zero)
        touch = self._touch_t
        before = self._idle_prev_t if self._idle_prev_t is not None else t
        for i, v in enumerate((h, u, s)):
            if v < NEAR_ZERO_V:
                touch[i] = None
            elif touch[i] is None:
                touch[i] = before
        self._idle_prev_t = t
        pv = self._present_v
        if h > pv[0] and u > pv[1] and s > pv[2]:
            if self._wait_release:
                return
            if self._present_n == 0:
                self._present_since = t
            self._present_n += 1
            if self._present_n >= 2 and t - self._present_since >= self._debounce_s - 1e-6:
                self._start_set(t, frame, events)
        else:
            self._present_n = 0
            self._wait_release = False

    def _start_set(self, t: float, frame: Frame, events: list) -> None:
        start = self._present_since
        touched = [x for x in self._touch_t if x is not None]
        if len(touched) == 3 and start - max(touched) <= PLACE_MAX_S:
            start = max(touched)
        self._in_set = True
        self._set_index += 1
        self._present_n = 0
        self._all_low_n = 0
        self._open = [None, None, None]
        self._alerting = 0
        self._held = 0
        self._losses = []
        self._assigned = set()
        self._pending_rep = None
        self._rep_count = 0
        cal = self.settings.calibration
        for pt, v in zip(self._points, (frame.head, frame.upper_back, frame.sacrum)):
            if cal is not None:
                pt.begin(t, cal.points[pt.name].rest_v, fixed=True)
            else:
                pt.begin(t, v)
        self._set_confirm_t = t
        if cal is None:
            # learn the upright tilt of this set; until then take the tilt now
            # (the dowel has just gone on the back of an athlete standing tall)
            self._set_upright(self._tilt_v)
            self._upright_learning = True
            self._upright_samples = []
        self._reps.reset(t)
        self._set = {"start": _r3(start), "end": None, "reps": [], "losses": [], "clean": True}
        events.append({"type": "set_started", "t": t, "set_index": self._set_index,
                       "start": _r3(start), "exercise": self.settings.exercise})

    def _set_upright(self, tilt_v: float) -> None:
        self._upright_v = tilt_v
        self._upright_deg = _asin_deg(tilt_v)
        self._pitch = _asin_deg(self._tilt_v) - self._upright_deg

    def _learn_upright(self, t: float, events: list) -> bool:
        """While the upright tilt of the set is being learned, keep the frames'
        tilt; at the end of the window set the upright and run the kept frames
        through the rep analysis.  Returns True while still learning."""
        if t - self._set_confirm_t < UPRIGHT_SKIP_S + UPRIGHT_LEARN_S:
            self._upright_samples.append((t, self._tilt_v, self._tilt.mean_v))
            return True
        self._upright_learning = False
        kept = self._upright_samples
        self._upright_samples = []
        start = self._set_confirm_t + UPRIGHT_SKIP_S
        tilts = sorted(v for (bt, v, _) in kept if bt >= start)
        if len(tilts) >= 5:
            # the median, then the median of what lies near it: a hinge begun
            # inside the window does not drag the upright along
            mid_deg = _asin_deg(tilts[len(tilts) // 2])
            near = [v for v in tilts if abs(_asin_deg(v) - mid_deg) < UPRIGHT_GATE_DEG]
            self._set_upright(near[len(near) // 2] if len(near) >= 5 else tilts[len(tilts) // 2])
        up = self._upright_deg
        reps = self._reps
        reps.reset(self._set_confirm_t)
        for bt, v, mv in kept:
            change = reps.step(bt, _asin_deg(v) - up, _asin_deg(mv) - up)
            if change is not None:
                self._rep_change(change, t, events)
        return False

    def _end_set(self, end: float, events: list, removal: bool = True) -> None:
        t = self._t
        for i, loss in enumerate(self._open):
            if loss is None:
                continue
            if removal and end - loss.start <= REMOVAL_WINDOW_S:
                continue                      # part of taking the dowel off
            self._close_loss(loss, end, events)
        self._open = [None, None, None]
        self._alerting = 0
        self._held = 0
        if self._reps.finish():
            self._rep_change("completed", t, events)     # back up, then took it off
        if self._pending_rep is not None:
            self._try_emit_rep(t, events, force=True)
        st = self._set
        reps = st["reps"]
        orphans = [l for l in self._losses if id(l) not in self._assigned]
        if orphans and reps:
            # losses between reps belong to the set's last rep (the SPEC shape
            # keeps losses inside reps); they are in the set's list as well
            last = reps[-1]
            last["losses"] = sorted(last["losses"] + orphans, key=lambda l: l["start"])
            last["clean"] = False
        st["end"] = _r3(max(end, st["start"]))
        st["losses"] = list(self._losses)
        st["clean"] = not self._losses
        self._sets.append(st)
        self._set = None
        self._in_set = False
        self._touch_t = [None, None, None]
        self._idle_prev_t = None
        self._present_n = 0
        self._upright_learning = False
        events.append({"type": "set_completed", "t": t, "set_index": self._set_index,
                       "set": {"start": st["start"], "end": st["end"], "reps": reps},
                       "exercise": self.settings.exercise})

    # -- losses ---------------------------------------------------------------
    def _check_held(self, t: float, p: float, events: list) -> None:
        """Decide on the held alerts: still maybe a removal, or a real loss now."""
        pts = self._points
        reps = self._reps
        # upright and still: a hinge under way (even its first degrees) is no removal
        if reps.phase == UPRIGHT:
            upright = p < reps.baseline + UPRIGHT_BAND_DEG
        elif reps.phase == RETURN:
            upright = p < reps.baseline + UPRIGHT_BAND_DEG or t - reps.end_t >= RETURN_STILL_S
        else:
            upright = False
        for i, loss in enumerate(self._open):
            if loss is None or loss.alerted or loss.record is not None:
                continue
            pt = pts[i]
            if pt.state != LOST:
                continue
            deadline = loss.start
            # with the alert already on for a real loss, holding this one back
            # could only switch the alert off while this point is still lost
            if upright and not self._alerting:
                if pt.fade_s > SLOW_FADE_S:
                    deadline = loss.start + HOLD_LETGO_S
                elif pt.zero_t is not None:
                    deadline = pt.zero_t + HOLD_AFTER_ZERO_S
                else:
                    deadline = loss.start + HOLD_FAST_CAP_S
                for j in range(3):
                    q = pts[j]
                    if j == i:
                        continue
                    if (q.state != CONTACT and q.fade_s > EVIDENCE_FADE_S) or \
                            (pt.fade_s > EVIDENCE_FADE_S and q.fast_v < q.rest_v * SAG_FRACTION):
                        deadline = max(deadline, loss.start + HOLD_EVIDENCE_S)
                        break
            if t >= deadline:
                loss.alerted = True
                self._held -= 1
                self._alerting += 1
                events.append({"type": "contact_lost", "t": t, "point": loss.point,
                               "start": _r3(loss.start)})

    def _restored(self, i: int, t: float, events: list) -> None:
        loss = self._open[i]
        self._open[i] = None
        if loss is None:
            return
        if loss.alerted:
            self._alerting -= 1
        else:
            self._held -= 1
            # a real loss after all (the point came back): report it now
            events.append({"type": "contact_lost", "t": t, "point": loss.point,
                           "start": _r3(loss.start)})
        self._close_loss(loss, self._points[i].high_since, events)

    def _close_loss(self, loss: _Loss, end: float, events: list) -> None:
        duration_s = _r3(max(0.0, end - loss.start))
        if loss.given is not None:
            # a rep took it while it was open: complete that same record
            record = loss.given
            record["duration_s"] = duration_s
            self._assigned.add(id(record))
        else:
            record = {"point": loss.point, "start": _r3(loss.start), "duration_s": duration_s}
        loss.record = record
        self._losses.append(record)
        events.append({"type": "contact_restored", "t": self._t, "point": loss.point,
                       "start": record["start"], "duration_s": record["duration_s"]})

    # -- reps -----------------------------------------------------------------
    def _rep_change(self, change: str, t: float, events: list) -> None:
        reps = self._reps
        if change == "completed":
            if self._pending_rep is not None:
                self._try_emit_rep(t, events, force=True)
            r = reps.last_rep
            self._pending_rep = {
                "start": _r3(r["start"]), "end": _r3(r["end"]),
                "depth_deg": round(r["depth_deg"], 1),
                "down_s": _r3(r["down_s"]), "up_s": _r3(r["up_s"]),
                "losses": [], "clean": True,
            }
            self._try_emit_rep(t, events, force=False)
            if reps.pending_start:
                reps.pending_start = False
        elif change == "started":
            if self._pending_rep is not None:
                self._try_emit_rep(t, events, force=True)
            events.append({"type": "rep_started", "t": t, "set_index": self._set_index,
                           "rep_index": len(self._set["reps"]) + 1, "start": _r3(reps.start_t)})

    def _try_emit_rep(self, t: float, events: list, force: bool) -> None:
        rep = self._pending_rep
        limit = rep["end"] + REP_MARGIN_S
        if not force:
            for loss in self._open:
                if loss is not None and loss.start <= limit and loss.record is None \
                        and loss.given is None:
                    return                    # wait for it to close: its duration belongs here
        self._pending_rep = None
        mine = []
        for rec in self._losses:
            if id(rec) in self._assigned:
                continue
            if rec["start"] <= limit:
                mine.append(rec)
                self._assigned.add(id(rec))
        if force:
            for loss in self._open:
                if loss is not None and loss.record is None and loss.given is None \
                        and loss.alerted and loss.start <= limit:
                    loss.given = {"point": loss.point, "start": _r3(loss.start),
                                  "duration_s": _r3(max(0.0, t - loss.start))}
                    mine.append(loss.given)
        rep["losses"] = mine
        rep["clean"] = not mine
        self._set["reps"].append(rep)
        self._rep_count = len(self._set["reps"])
        events.append({"type": "rep_completed", "t": t, "set_index": self._set_index,
                       "rep_index": self._rep_count, "rep": rep})

    # -- reading --------------------------------------------------------------
    @property
    def alert_wanted(self) -> bool:
        """True while any point is lost in a set (and not held as a possible removal)."""
        return self._alerting > 0

    @property
    def lost_points(self) -> list:
        return [loss.point for loss in self._open if loss is not None and loss.alerted]

    def status(self) -> dict:
        """The analysis part of the status snapshot (docs/architecture.md)."""
        points = {}
        in_set = self._in_set
        lost = self.lost_points
        for i, pt in enumerate(self._points):
            v = pt.v
            if in_set:
                contact = pt.state == CONTACT
            else:
                contact = v > self._present_v[i]
            force = volts_to_force(v)
            points[pt.name] = {"v": round(v, 3),
                               "force_n": round(force, 2) if math.isfinite(force) else None,
                               "contact": contact, "lost": pt.name in lost}
        reps = len(self._set["reps"]) if self._set is not None else 0
        return {
            "points": points,
            "pitch_deg": round(self._pitch, 1),
            "in_set": in_set,
            "set_index": self._set_index,
            "rep_count": reps,
            "phase": self._reps.status_phase() if in_set else "idle",
            "lost_points": lost,
        }

    def result(self) -> dict:
        """{"sets": [...]} in the SPEC replay shape (finished sets only; call
        :meth:`finish` first to close one under way)."""
        return {"sets": [dict(s) for s in self._sets]}
