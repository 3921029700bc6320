"""Losses during a set: which points are lost, which alerts are on, which are held.

A point below its threshold for longer than the debounce is lost and the alert
goes on at once - unless the dowel may be coming off.  Taking the dowel off
looks like this in recordings: the athlete stands upright and still, and the
three points let go within a few hundred ms of each other, each fading over
0.1-0.35 s; a lost contact instead snaps to zero within tens of ms, during a
hinge or at either end of it.  So only while the athlete is upright and still
is the alert *held*:

* a point that faded slowly (``fade_s`` from 85 % to the threshold longer than
  ``SLOW_FADE_S``) is let go: its alert is held up to ``HOLD_LETGO_S`` for the
  others to follow;
* a sudden drop is held only until the point reads zero plus
  ``HOLD_AFTER_ZERO_S`` (latency is measured from the moment force is gone, so
  this costs a real loss little), or ``HOLD_FAST_CAP_S`` if it never reads zero;
* another point letting go too (below its threshold after a fade longer than
  ``EVIDENCE_FADE_S``, or - if this point's own fade was that long - sagging,
  its smoothed reading below ``SAG_FRACTION`` of its resting level) is a
  removal under way: hold up to ``HOLD_EVIDENCE_S``.  (A lost contact shifts
  the load on the other points too, so a sag alone is no evidence.)

Measured on the simulator: real losses fade < 36 ms even at their slowest
(80 ms to zero force); let-gos of 0.1-0.35 s fade 34-150 ms.  The hold after
zero is short of the alert latency's p99 target (35 ms from zero force, on a
Pi Zero 2 W): over 100 unseen sessions at 200 and 50 frames/s, 20, 25 and 35 ms
of it gave the same false alerts, so it is no longer than the others leave room
for (the zero reading itself arrives a few ms after force is gone).

If all three points go, it was a removal: a loss still open then (begun within
``REMOVAL_WINDOW_S``) is retracted, so it never appears in the report.
"""
from __future__ import annotations

from typing import Optional

from device.analysis.contact import CONTACT, LOST

__all__ = ["Loss", "LossTracker", "REMOVAL_WINDOW_S"]

SLOW_FADE_S = 0.038
HOLD_LETGO_S = 0.60
HOLD_AFTER_ZERO_S = 0.025
HOLD_FAST_CAP_S = 0.060
SAG_FRACTION = 0.9
HOLD_EVIDENCE_S = 0.50
EVIDENCE_FADE_S = 0.025
#: A loss still open when the set ends is taken as part of the removal if it
#: began this close to the end of the set.
REMOVAL_WINDOW_S = 0.8


def r3(x: float) -> float:
    return round(x, 3)


class Loss:
    """A loss under way: the point, when it went low, whether the alert is on for it."""

    __slots__ = ("point", "start", "alerted", "record", "given")

    def __init__(self, point: str, start: float):
        self.point = point
        self.start = start
        self.alerted = False
        self.record = None      # the closed record, once the point is back
        self.given = None       # the record a rep already holds (loss still open then)


class LossTracker:
    """The open losses of one set (one slot per point), the held and alerting
    counts, and the closed loss records with which of them a rep has taken."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.open: list = [None, None, None]   # Loss per point while it is low/lost
        self.alerting = 0                      # points whose loss has the alert on
        self.held = 0                          # points whose alert is held (removal?)
        self.closed: list = []                 # closed loss records of this set
        self.assigned: set = set()             # ids of records given to a rep

    # -- a point goes and comes back -------------------------------------------
    def lost(self, i: int, point: str, start: float) -> None:
        self.open[i] = Loss(point, start)
        self.held += 1

    def restored(self, i: int, t: float, back_since: float, events: list) -> None:
        loss = self.open[i]
        self.open[i] = None
        if loss is None:
            return
        if loss.alerted:
            self.alerting -= 1
        else:
            self.held -= 1
            # a real loss after all (the point came back): report it now
            events.append({"type": "contact_lost", "t": t, "point": loss.point,
                           "start": r3(loss.start)})
        self.close(loss, back_since, t, events)

    def close(self, loss: Loss, end: float, t: float, events: list) -> None:
        duration_s = r3(max(0.0, end - loss.start))
        if loss.given is not None:
            # a rep took it while it was open: complete that same record
            record = loss.given
            record["duration_s"] = duration_s
            self.assigned.add(id(record))
        else:
            record = {"point": loss.point, "start": r3(loss.start), "duration_s": duration_s}
        loss.record = record
        self.closed.append(record)
        events.append({"type": "contact_restored", "t": t, "point": loss.point,
                       "start": record["start"], "duration_s": record["duration_s"]})

    def end_set(self, end: float, t: float, removal: bool, events: list) -> None:
        """The set ends at ``end``: close what is open, except a loss that was the
        start of taking the dowel off."""
        for loss in self.open:
            if loss is None:
                continue
            if removal and end - loss.start <= REMOVAL_WINDOW_S:
                continue                      # part of taking the dowel off
            self.close(loss, end, t, events)
        self.open = [None, None, None]
        self.alerting = 0
        self.held = 0

    # -- held alerts -------------------------------------------------------------
    def check_held(self, t: float, upright: bool, points: list, events: list,
                   faulty: frozenset = frozenset()) -> None:
        """Decide on the held alerts: still maybe a removal, or a real loss now.
        ``upright``: the athlete is upright and still (nobody takes the dowel off
        mid-hinge).  The alert of a ``faulty`` pad (indexes) does not count as on."""
        alerting = self.alerting
        if faulty:
            alerting -= sum(1 for j in faulty if self.open[j] is not None and self.open[j].alerted)
        for i, loss in enumerate(self.open):
            if loss is None or loss.alerted or loss.record is not None:
                continue
            if points[i].state != LOST:
                continue
            deadline = loss.start
            # with the alert already on for a real loss, holding this one back
            # could only switch the alert off while this point is still lost
            if upright and not alerting:
                deadline = self._removal_deadline(i, loss, points)
            if t >= deadline:
                loss.alerted = True
                self.held -= 1
                self.alerting += 1
                alerting += 1
                events.append({"type": "contact_lost", "t": t, "point": loss.point,
                               "start": r3(loss.start)})

    @staticmethod
    def _removal_deadline(i: int, loss: Loss, points: list) -> float:
        pt = points[i]
        if pt.fade_s > SLOW_FADE_S:
            deadline = loss.start + HOLD_LETGO_S
        elif pt.zero_t is not None:
            deadline = pt.zero_t + HOLD_AFTER_ZERO_S
        else:
            deadline = loss.start + HOLD_FAST_CAP_S
        for j, q in enumerate(points):
            if j == i:
                continue
            if (q.state != CONTACT and q.fade_s > EVIDENCE_FADE_S) or \
                    (pt.fade_s > EVIDENCE_FADE_S and q.fast_v < q.rest_v * SAG_FRACTION):
                return max(deadline, loss.start + HOLD_EVIDENCE_S)
        return deadline

    # -- giving losses to reps ---------------------------------------------------
    def open_before(self, limit: float) -> bool:
        """A loss begun by ``limit`` is still open and no rep holds it yet."""
        return any(loss is not None and loss.start <= limit and loss.record is None
                   and loss.given is None for loss in self.open)

    def take(self, limit: float, t: float, with_open: bool) -> list:
        """The records begun by ``limit`` that no rep has yet (now the caller's);
        with ``with_open`` also the alerted losses still open, as records whose
        duration is completed when they close."""
        mine = []
        for rec in self.closed:
            if id(rec) in self.assigned:
                continue
            if rec["start"] <= limit:
                mine.append(rec)
                self.assigned.add(id(rec))
        if with_open:
            for loss in self.open:
                if loss is not None and loss.record is None and loss.given is None \
                        and loss.alerted and loss.start <= limit:
                    loss.given = {"point": loss.point, "start": r3(loss.start),
                                  "duration_s": r3(max(0.0, t - loss.start))}
                    mine.append(loss.given)
        return mine

    def unassigned(self) -> list:
        return [rec for rec in self.closed if id(rec) not in self.assigned]

    # -- reading -----------------------------------------------------------------
    def lost_points(self) -> list:
        return [loss.point for loss in self.open if loss is not None and loss.alerted]

    def lost_since(self, i: int) -> Optional[float]:
        loss = self.open[i]
        return loss.start if loss is not None and loss.alerted else None
