"""Sensor faults: a pad that cannot be telling the truth.

Two faults a wire or a pad can have, told from what a person cannot do:

* **shorted**: the pad reads the supply voltage (above ``SHORTED_V``) for
  ``SHORTED_S``.  Pressing an FSR as hard as a hand can gives about 3.1 V;
  only a wire touching 3.3 V reads that high for that long.
* **silent**: in a set, the point has read lost for ``SILENT_REPS`` reps in a
  row while the other two held - the athlete hinged properly over and over
  and the pad never felt it.  A beginner losing the point reads it back within
  the rep.  Or, with no set: the other two have pressed for ``SILENT_IDLE_S``
  while this one read nothing at all (a dead pad would otherwise keep any set
  from starting).

A faulty pad is shown in the status (``sensor_faults``) with what to check,
and ignored until it reads like a pad again (in contact for ``CLEARED_S``, or
below the short for a shorted one): its loss no longer sounds the alarm, a set
starts and ends on the other two points.  The alarm does not beep for ever.
"""
from __future__ import annotations

from typing import Optional

from device.analysis import vocabulary
from device.analysis.contact import CONTACT, PRESENT_V
from device.hw import constants

__all__ = ["SensorWatch", "SHORTED_V", "SILENT_REPS"]

SHORTED_V = constants.SUPPLY_V - 0.05
SHORTED_S = 1.0
SILENT_REPS = 3
SILENT_IDLE_S = 5.0
#: Below this a pad reads nothing at all (noise on an open FSR is ~0.01 V).
NOTHING_V = 0.12
#: A faulty pad reading like a pad again for this long is fine again.
CLEARED_S = 0.5

POINTS = constants.POINTS


def _message(point: str, kind: str, idle: bool = False) -> str:
    label = vocabulary.point(point).label.lower()
    if kind == "shorted":
        return (f"the {label} pad reads {constants.SUPPLY_V:g} V all the time: its wire is "
                f"shorted to the supply; check the wiring")
    others = " and ".join(vocabulary.point(p).label.lower() for p in POINTS if p != point)
    spell = f"{SILENT_IDLE_S:g} s" if idle else f"{SILENT_REPS} reps"
    return (f"the {label} pad read nothing for {spell} while the {others} held: "
            f"check that it touches and that its wire is connected")


class SensorWatch:
    """Watches the three pads for the faults above; frame by frame, pure."""

    def __init__(self) -> None:
        self._faults: dict = {}                 # point -> {"point", "kind", "message", "since"}
        self._high_since: list = [None, None, None]
        self._fine_since: list = [None, None, None]
        self._lost_at_rep: list = [None, None, None]
        self._any_high = False
        self._two_since = None                  # (point index, since) two pads on, one silent
        self.watching = False                   # a point lost a while in a set is watched
        self.faulty: frozenset = frozenset()    # indexes of the faulty points

    # -- every frame -----------------------------------------------------------
    def step(self, t: float, volts: tuple, events: list) -> None:
        if not (self._faults or self._any_high or volts[0] > SHORTED_V or volts[1] > SHORTED_V
                or volts[2] > SHORTED_V):
            return                      # the usual frame: nothing to look at
        self._any_high = False
        for i, v in enumerate(volts):
            point = POINTS[i]
            if v > SHORTED_V:
                self._any_high = True
                if self._high_since[i] is None:
                    self._high_since[i] = t
                if point not in self._faults and t - self._high_since[i] >= SHORTED_S:
                    self._raise(t, point, "shorted", events)
            else:
                self._high_since[i] = None
            fault = self._faults.get(point)
            if fault is not None:
                self._maybe_clear(t, i, v, fault, events)

    def _maybe_clear(self, t: float, i: int, v: float, fault: dict, events: list) -> None:
        fine = v <= SHORTED_V if fault["kind"] == "shorted" else PRESENT_V < v <= SHORTED_V
        if not fine:
            self._fine_since[i] = None
            return
        if self._fine_since[i] is None:
            self._fine_since[i] = t
        if t - self._fine_since[i] >= CLEARED_S:
            del self._faults[fault["point"]]
            self._changed()
            self._fine_since[i] = None
            events.append({"type": "sensor_fault", "t": t, "point": fault["point"],
                           "active": False, "kind": fault["kind"], "message": None})

    def _raise(self, t: float, point: str, kind: str, events: list, idle: bool = False) -> None:
        fault = {"point": point, "kind": kind, "message": _message(point, kind, idle),
                 "since": round(t, 3)}
        self._faults[point] = fault
        self._changed()
        self._fine_since[POINTS.index(point)] = None
        events.append({"type": "sensor_fault", "t": t, "active": True, **fault})

    # -- no set ----------------------------------------------------------------
    def idle(self, t: float, volts: tuple, present_v: list, events: list) -> None:
        """Per idle frame: two pads pressing and one reading nothing, for long."""
        pressing = [v > present_v[i] for i, v in enumerate(volts)]
        if sum(pressing) != 2:
            self._two_since = None
            return
        i = pressing.index(False)
        if volts[i] >= NOTHING_V or POINTS[i] in self._faults:
            self._two_since = None
            return
        if self._two_since is None or self._two_since[0] != i:
            self._two_since = (i, t)
        elif t - self._two_since[1] >= SILENT_IDLE_S:
            self._raise(t, POINTS[i], "silent", events, idle=True)
            self._two_since = None

    # -- in a set --------------------------------------------------------------
    def set_started(self) -> None:
        self._lost_at_rep = [None, None, None]
        self.watching = False

    def in_set(self, t: float, points: list, lost_since: list, rep_count: int,
               events: list) -> None:
        """Per frame in a set: a point lost (alert on) while the other two hold,
        for ``SILENT_REPS`` completed reps in a row, is a silent pad."""
        for i, since in enumerate(lost_since):
            others_hold = all(q.state == CONTACT for j, q in enumerate(points) if j != i)
            if since is None or not others_hold:
                self._lost_at_rep[i] = None
                continue
            if self._lost_at_rep[i] is None:
                self._lost_at_rep[i] = rep_count
            elif rep_count - self._lost_at_rep[i] >= SILENT_REPS and POINTS[i] not in self._faults:
                self._raise(t, POINTS[i], "silent", events)
        # a point is being watched for a silent pad (kept as an attribute: asked every frame)
        self.watching = any(x is not None for x in self._lost_at_rep)

    def set_ended(self) -> None:
        self._lost_at_rep = [None, None, None]
        self.watching = False

    # -- reading ---------------------------------------------------------------
    def _changed(self) -> None:
        # kept as an attribute: the pipeline asks every frame
        self.faulty = frozenset(POINTS.index(p) for p in self._faults)

    def faulty_points(self) -> frozenset:
        return frozenset(self._faults)

    def faults(self) -> list:
        """For the status snapshot, in point order."""
        return [dict(self._faults[p]) for p in POINTS if p in self._faults]

    def fault(self, point: str) -> Optional[dict]:
        return self._faults.get(point)
