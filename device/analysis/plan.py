"""The plan for the day: the article's warm-up, step by step.  Pure: no clock, no I/O.

Each exercise 2 sets of 10 (:data:`device.analysis.vocabulary.WARMUP_SETS` x
``WARMUP_REPS``), kneeling first, in the article's order; once the progression
rule (:func:`device.history.trends.progression`) says the athlete is
comfortable (stage ``"standing"`` or ``"deadlift"``), only the standing
versions.  A step the dowel tracks moves on by itself when its sets are done;
a kettlebell step is logged by hand ("done 10").  The athlete can skip the
current step, put the steps in another order, or pick an exercise (its step
becomes the current one).

``Plan.status()`` is the ``plan`` part of the status snapshot:
``{exercise, title, tracked, set_index, sets, rep_target, step_index, steps,
stage, done}`` with ``set_index`` the set the athlete is on (1-based) and
``step_index`` the current step (0-based; ``len(steps)`` once all are done).
"""
from __future__ import annotations

from typing import Optional

from device.analysis import vocabulary

__all__ = ["Plan", "PlanError", "STANDING_STAGES"]

#: Progression stages that mean "only the standing versions".
STANDING_STAGES = ("standing", "deadlift")


class PlanError(ValueError):
    """A plan change that cannot be made: ``field`` names the input, the
    message says why in words."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


class Step:
    __slots__ = ("exercise", "sets", "reps", "sets_done", "skipped")

    def __init__(self, exercise: str, sets: int, reps: int):
        self.exercise = exercise
        self.sets = sets
        self.reps = reps
        self.sets_done = 0
        self.skipped = False

    @property
    def finished(self) -> bool:
        return self.skipped or self.sets_done >= self.sets

    @property
    def tracked(self) -> bool:
        return vocabulary.exercise(self.exercise).tracked


class Plan:
    """The day's warm-up: steps, the current one, and what moves it on."""

    def __init__(self, stage: Optional[str] = None, sets: int = vocabulary.WARMUP_SETS,
                 reps: int = vocabulary.WARMUP_REPS):
        self.stage = stage or "all_four"
        standing_only = self.stage in STANDING_STAGES
        self.steps = [Step(e.id, sets, reps) for e in vocabulary.EXERCISES
                      if not standing_only or e.stance == "standing"]
        self.index = 0

    # -- reading ---------------------------------------------------------------
    @property
    def current(self) -> Optional[Step]:
        return self.steps[self.index] if self.index < len(self.steps) else None

    @property
    def done(self) -> bool:
        return self.current is None

    @property
    def started(self) -> bool:
        """Anything done or changed yet (a fresh plan may be rebuilt for a new stage)."""
        return self.index > 0 or any(s.sets_done or s.skipped for s in self.steps)

    def status(self) -> dict:
        step = self.current
        steps = []
        for i, s in enumerate(self.steps):
            state = ("skipped" if s.skipped else "done" if s.finished
                     else "current" if i == self.index else "next")
            steps.append({"exercise": s.exercise, "title": vocabulary.exercise(s.exercise).title,
                          "tracked": s.tracked, "sets": s.sets, "sets_done": s.sets_done,
                          "reps": s.reps, "state": state})
        return {
            "exercise": step.exercise if step else None,
            "title": vocabulary.exercise(step.exercise).title if step else None,
            "tracked": step.tracked if step else None,
            "set_index": min(step.sets_done + 1, step.sets) if step else None,
            "sets": step.sets if step else None,
            "rep_target": step.reps if step else None,
            "step_index": self.index,
            "steps": steps,
            "stage": self.stage,
            "done": step is None,
        }

    # -- what moves it on --------------------------------------------------------
    def set_done(self, exercise: str) -> bool:
        """A set of ``exercise`` was done (tracked by the dowel or logged by
        hand): it counts for the current step if that is the exercise, else for
        the first unfinished step of it.  True if the plan moved to another step."""
        step = self.current
        if step is None or step.exercise != exercise:
            step = next((s for s in self.steps if s.exercise == exercise and not s.finished), None)
            if step is None:
                return False                    # not in today's plan, or already done
        step.sets_done += 1
        return self._advance()

    def log_by_hand(self) -> str:
        """The one-tap "done" of a step logged by hand: its exercise (for the
        history).  PlanError when the current step is one the dowel tracks."""
        step = self.current
        if step is None:
            raise PlanError("plan", "the plan is done for today")
        if step.tracked:
            raise PlanError("plan", f"{vocabulary.exercise(step.exercise).title} is counted by "
                                    "the dowel: do the set with it on")
        self.set_done(step.exercise)
        return step.exercise

    def skip(self) -> bool:
        """Skip the current step; True if there was one."""
        step = self.current
        if step is None:
            return False
        step.skipped = True
        self._advance()
        return True

    def reorder(self, order) -> None:
        """Put the steps in ``order`` (a list of every step's exercise id, each
        once); the current step becomes the first unfinished one."""
        ids = [s.exercise for s in self.steps]
        if not isinstance(order, list) or not all(isinstance(x, str) for x in order):
            raise PlanError("order", "expected a list of exercise ids")
        if sorted(order) != sorted(ids):
            unknown = [x for x in order if x not in ids]
            if unknown:
                raise PlanError("order", f"{unknown[0]!r} is not in today's plan "
                                         f"({', '.join(ids)})")
            raise PlanError("order", f"list every step of today's plan once: {', '.join(ids)}")
        by_id = {s.exercise: s for s in self.steps}
        self.steps = [by_id[x] for x in order]
        self.index = next((i for i, s in enumerate(self.steps) if not s.finished), len(self.steps))

    def focus(self, exercise: str) -> bool:
        """The athlete picked ``exercise``: its step (if unfinished) is the current
        one from now on.  True if the current step changed."""
        for i, s in enumerate(self.steps):
            if s.exercise == exercise and not s.finished:
                moved = i != self.index
                self.index = i
                return moved
        return False

    def _advance(self) -> bool:
        """Once the current step is finished, on to the next unfinished one (after
        it, then from the top); True if the current step changed."""
        before = self.index
        if before < len(self.steps) and not self.steps[before].finished:
            return False
        n = len(self.steps)
        start = before if before < n else -1
        for k in range(1, n + 1):
            j = (start + k) % n
            if not self.steps[j].finished:
                self.index = j
                return True
        self.index = n
        return before != n
