"""One set at a time: its reps, which losses belong to which rep, its number and summary.

A loss between reps belongs to the next rep; one after the last rep to the last
rep (the replay document keeps losses inside reps); every set also lists all
its losses (``losses``) and whether it was ``clean``.  A rep's event waits for
a loss that began within it and is still open, so the loss's duration is known
(or until the next rep or the end of the set forces it out).

Set numbers are per session (a training day): ``sets_before`` says how many
sets the session already had (the history knows; manual sets count), and each
set with reps takes the next number.  A set with no reps is *discarded*: its
``set_completed`` says so and its number is given to the next set.
"""
from __future__ import annotations

from typing import Optional

from device.analysis import vocabulary
from device.analysis.losses import LossTracker, r3
from device.analysis.reps import RepTracker
from device.hw import constants

__all__ = ["SetRecorder", "set_summary", "focus_cue"]

#: A loss belongs to a rep when it starts within this margin of the rep.
REP_MARGIN_S = 0.15


def focus_cue(losses_by_point: dict, exercise: Optional[str]) -> Optional[dict]:
    """The one cue to work on next: for the point lost most (ties: head first),
    in the exercise's words; None without losses."""
    if not any(losses_by_point.values()):
        return None
    points = constants.POINTS
    point = max(points, key=lambda p: (losses_by_point.get(p, 0), -points.index(p)))
    return {"point": point, "text": vocabulary.cue(point, exercise)}


def _mean(values: list, digits: int) -> Optional[float]:
    return round(sum(values) / len(values), digits) if values else None


def set_summary(reps: list, exercise: Optional[str]) -> dict:
    """The set card: counts, depth, tempo, losses by point and the cue."""
    n = len(reps)
    clean = sum(1 for r in reps if r["clean"])
    by_point = {p: 0 for p in constants.POINTS}
    for rep in reps:
        for loss in rep["losses"]:
            by_point[loss["point"]] += 1
    depths = [r["depth_deg"] for r in reps]
    return {
        "reps": n,
        "clean_reps": clean,
        "clean_pct": round(100.0 * clean / n, 1) if n else None,
        "depth_max_deg": max(depths) if depths else None,
        "depth_mean_deg": _mean(depths, 1),
        "down_mean_s": _mean([r["down_s"] for r in reps], 2),
        "up_mean_s": _mean([r["up_s"] for r in reps], 2),
        "losses_by_point": by_point,
        "cue": focus_cue(by_point, exercise),
    }


class SetRecorder:
    """The set under way (result shape), the finished sets, and set numbering."""

    def __init__(self, reps: RepTracker, losses: LossTracker):
        self._reps = reps
        self._losses = losses
        self.sets: list = []                    # finished sets, replay document shape
        self.current: Optional[dict] = None     # the set under way
        self.index = 0                          # sets started in this run (set_index)
        self.sets_before = 0                    # sets the session had before this run's
        self.kept = 0                           # this run's sets with reps
        self.number: Optional[int] = None       # the current (or last kept) set's number
        self.exercise: Optional[str] = None
        self.last: Optional[dict] = None        # the last kept set's number and summary
        self._pending: Optional[dict] = None    # a rep ended, waiting for its losses to close

    @property
    def rep_count(self) -> int:
        return len(self.current["reps"]) if self.current is not None else 0

    def start(self, t: float, start: float, exercise: str, events: list) -> None:
        self.index += 1
        self.number = self.sets_before + self.kept + 1
        self.exercise = exercise
        self._pending = None
        self.current = {"start": r3(start), "end": None, "reps": [], "losses": [], "clean": True}
        events.append({"type": "set_started", "t": t, "set_index": self.index,
                       "set_number": self.number, "start": r3(start), "exercise": exercise})

    # -- reps ------------------------------------------------------------------
    def rep_change(self, change: str, t: float, events: list) -> None:
        reps = self._reps
        if change == "completed":
            if self._pending is not None:
                self.emit_rep(t, events, force=True)
            r = reps.last_rep
            self._pending = {
                "start": r3(r["start"]), "end": r3(r["end"]),
                "depth_deg": round(r["depth_deg"], 1),
                "down_s": r3(r["down_s"]), "up_s": r3(r["up_s"]),
                "losses": [], "clean": True,
            }
            self.emit_rep(t, events, force=False)
            if reps.pending_start:
                reps.pending_start = False
        elif change == "started":
            if self._pending is not None:
                self.emit_rep(t, events, force=True)
            events.append({"type": "rep_started", "t": t, "set_index": self.index,
                           "set_number": self.number, "rep_index": self.rep_count + 1,
                           "start": r3(reps.start_t)})

    def waiting(self, t: float, events: list) -> None:
        """Per frame: emit the rep that ended once its losses have closed."""
        if self._pending is not None:
            self.emit_rep(t, events, force=False)

    def emit_rep(self, t: float, events: list, force: bool) -> None:
        rep = self._pending
        limit = rep["end"] + REP_MARGIN_S
        if not force and self._losses.open_before(limit):
            return                    # wait for it to close: its duration belongs here
        self._pending = None
        mine = self._losses.take(limit, t, with_open=force)
        rep["losses"] = mine
        rep["clean"] = not mine
        reps = self.current["reps"]
        reps.append(rep)
        n = len(reps)
        lost = {p: sum(1 for l in mine if l["point"] == p) for p in constants.POINTS}
        events.append({"type": "rep_completed", "t": t, "set_index": self.index,
                       "rep_index": n, "set_number": self.number, "rep": n,
                       "depth_deg": rep["depth_deg"], "down_s": rep["down_s"],
                       "up_s": rep["up_s"], "clean": rep["clean"], "losses": list(mine),
                       "start": rep["start"], "end": rep["end"],
                       "cue": focus_cue(lost, self.exercise),
                       "summary": set_summary(reps, self.exercise)})

    # -- the end ---------------------------------------------------------------
    def end(self, t: float, end: float, events: list) -> None:
        """Close the set at ``end`` (losses closed, last rep out already)."""
        if self._pending is not None:
            self.emit_rep(t, events, force=True)
        st = self.current
        reps = st["reps"]
        orphans = self._losses.unassigned()
        if orphans and reps:
            # losses between reps belong to the set's last rep (the replay shape
            # keeps losses inside reps); they are in the set's list as well
            last = reps[-1]
            last["losses"] = sorted(last["losses"] + orphans, key=lambda l: l["start"])
            last["clean"] = False
        st["end"] = r3(max(end, st["start"]))
        st["losses"] = list(self._losses.closed)
        st["clean"] = not self._losses.closed
        self.sets.append(st)
        self.current = None
        summary = set_summary(reps, self.exercise)
        discarded = not reps
        if not discarded:
            self.kept += 1
            self.last = {"number": self.number, "exercise": self.exercise, "summary": summary}
        events.append({"type": "set_completed", "t": t, "set_index": self.index,
                       "set_number": self.number, "discarded": discarded,
                       "set": {"start": st["start"], "end": st["end"], "reps": reps},
                       "summary": summary, "exercise": self.exercise})
        if discarded:
            self.number = self.last["number"] if self.last else None

    def status(self, in_set: bool) -> dict:
        """The ``set`` part of the status snapshot."""
        reps = self.current["reps"] if self.current is not None else []
        return {"number": self.number, "active": in_set, "exercise": self.exercise,
                "reps": len(reps), "clean_reps": sum(1 for r in reps if r["clean"]),
                "next_number": self.sets_before + self.kept + 1}
