"""Coaching kept by the core: the plan of the day and the buzzer's rep and set chirps.

The polling thread hands every batch of pipeline events to
:meth:`Coaching.on_events` (under the core's lock): a finished set moves the
plan (:class:`device.analysis.plan.Plan`) on, and the buzzer clicks for a rep
(if the athlete turned that on) and beeps for a set.  The dashboard's plan
endpoints call the other methods from their own threads; the core's lock
guards them too.

:func:`follow_history` reads what the plan and the set numbers need from the
history: the progression stage (only the standing versions once comfortable)
and how many sets today's session already has.
"""
from __future__ import annotations

import logging
from typing import Optional

from device.analysis.plan import Plan

log = logging.getLogger(__name__)

__all__ = ["Coaching", "follow_history", "session_sets", "progression_stage"]


class Coaching:
    """The plan of the day and the chirps; see the module docstring."""

    def __init__(self, alerts, stage: Optional[str] = None):
        self.alerts = alerts
        self.plan = Plan(stage)

    def on_events(self, events: list, settings) -> Optional[str]:
        """React to the pipeline's events; the exercise the plan moved on to
        (a step the dowel tracks), if it did."""
        moved_to = None
        for event in events:
            kind = event["type"]
            if kind == "rep_completed":
                if getattr(settings, "rep_chirp", False):
                    self.alerts.rep_done()
            elif kind == "set_completed" and not event.get("discarded"):
                self.alerts.set_done()
                if self.plan.set_done(event.get("exercise") or settings.exercise):
                    moved_to = self.tracked_exercise()
        return moved_to

    def tracked_exercise(self) -> Optional[str]:
        """The current step's exercise if the dowel tracks it (the next sets are
        tagged with it), else None."""
        step = self.plan.current
        return step.exercise if step is not None and step.tracked else None

    def restage(self, stage: Optional[str]) -> bool:
        """A new progression stage: a fresh plan for it, unless today's plan has
        already been started (then it stays as the athlete left it)."""
        stage = stage or "all_four"
        if stage == self.plan.stage or self.plan.started:
            return False
        self.plan = Plan(stage)
        return True

    def status(self) -> dict:
        return self.plan.status()


def session_sets(store, athlete_id: Optional[int] = None) -> int:
    """Sets in today's session of the athlete (manual ones included)."""
    session = store.current_session(athlete_id)
    return len(session["sets"]) if session else 0


def progression_stage(store, athlete_id: Optional[int] = None) -> str:
    """The progression rule's stage for the athlete (``"all_four"``,
    ``"standing"`` or ``"deadlift"``)."""
    from device.history.trends import progression

    athlete_id = store.current_athlete_id() if athlete_id is None else athlete_id
    return progression(store.all_sessions(athlete_id))["stage"]


def follow_history(core, store) -> None:
    """At start: give the core what the history says (the stage for the plan,
    the session's set count so set numbers continue it).  The exercise setting
    stays as it was: picking the plan's step, or the plan moving on, changes it."""
    try:
        core.plan_stage(progression_stage(store))
        core.continue_session(session_sets(store))
    except Exception:          # the history is a help here, never a reason to stop
        log.exception("could not read the plan's stage or the session's sets from the history")
