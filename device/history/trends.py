"""Trends over the rep history and the progression suggestion (numpy).

Input is what :meth:`device.history.store.Store.all_sessions` returns: sessions
(oldest first) with sets, reps and losses.  Everything here is pure.

Per session and per exercise: reps, clean reps and clean-rep %, mean and
standard deviation (population, ddof=0) of depth and of the down and up
tempo, losses by point, and which point is lost most.

Progression (from the coaching article): do the kneeling versions, then the
standing ones, 2 sets of 10 each; "once you are comfortable, you can just do
the standing versions of both"; that leads to the deadlift.  "Comfortable" is
read from the data:

- a **comfortable session** has at least :data:`COMFORT_SETS` standing
  3-point sets of at least :data:`COMFORT_REPS` reps, and every such set has
  at least :data:`COMFORT_CLEAN_PCT` % clean reps;
- after :data:`COMFORT_SESSIONS` comfortable sessions in a row (sessions with
  instrumented reps; kettlebell-only days do not break a streak) the athlete
  is comfortable: standing versions only;
- after :data:`DEADLIFT_SESSIONS` comfortable standing-only sessions in a row
  (no kneeling sets), they are ready to progress into the deadlift.

Any session that is not comfortable resets the streak.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from device.analysis import vocabulary
from device.hw import constants

POINTS = constants.POINTS
COMFORT_SETS = 2
COMFORT_REPS = 10
COMFORT_CLEAN_PCT = 90.0
COMFORT_SESSIONS = 2
DEADLIFT_SESSIONS = 3

def _round(x, digits=2):
    return None if x is None else round(float(x), digits)


def rep_stats(reps: list) -> dict:
    """Counts and statistics of a list of rep dicts (store shape)."""
    n = len(reps)
    losses = {p: 0 for p in POINTS}
    for rep in reps:
        for loss in rep.get("losses") or ():
            losses[loss["point"]] = losses.get(loss["point"], 0) + 1
    out = {"reps": n, "clean_reps": sum(1 for r in reps if r["clean"]),
           "clean_pct": None, "losses_by_point": losses,
           "most_lost_point": most_lost(losses)}
    for key, name in (("depth_deg", "depth"), ("down_s", "down"), ("up_s", "up")):
        unit = "_deg" if key.endswith("_deg") else "_s"
        values = np.array([r[key] for r in reps], dtype=float)
        out[f"{name}_mean{unit}"] = _round(values.mean()) if n else None
        out[f"{name}_std{unit}"] = _round(values.std()) if n else None
    if n:
        out["clean_pct"] = _round(100.0 * out["clean_reps"] / n, 1)
    return out


def most_lost(losses_by_point: dict) -> Optional[str]:
    """The point with the most losses (``None`` without losses; ties: head first)."""
    if not any(losses_by_point.values()):
        return None
    return max(POINTS, key=lambda p: (losses_by_point.get(p, 0), -POINTS.index(p)))


def session_trends(session: dict) -> dict:
    """One session's statistics, overall and per exercise."""
    by_exercise: dict = {}
    all_reps: list = []
    for s in session["sets"]:
        entry = by_exercise.setdefault(s["exercise"], {"sets": 0, "manual_reps": 0, "_reps": []})
        entry["sets"] += 1
        if s.get("manual"):
            entry["manual_reps"] += s.get("manual_reps") or 0
        else:
            entry["_reps"].extend(s["reps"])
            all_reps.extend(s["reps"])
    exercises = {}
    for name, entry in by_exercise.items():
        stats = rep_stats(entry.pop("_reps"))
        stats.update(entry)
        exercises[name] = stats
    overall = rep_stats(all_reps)
    overall["sets"] = len(session["sets"])
    return {"id": session["id"], "day": session["day"], "started": session["started"],
            "overall": overall, "exercises": exercises,
            "comfortable": session_comfortable(session)}


def history_trends(sessions: list) -> dict:
    """Trends over all sessions (oldest first) and the losses by point over all of them."""
    per_session = [session_trends(s) for s in sessions]
    all_reps = [r for s in sessions for st in s["sets"] if not st.get("manual") for r in st["reps"]]
    overall = rep_stats(all_reps)
    return {"sessions": per_session, "overall": overall,
            "losses_by_point": overall["losses_by_point"],
            "most_lost_point": overall["most_lost_point"]}


def _standing_full_sets(session: dict) -> list:
    return [s for s in session["sets"]
            if s["exercise"] == "standing_3point" and not s.get("manual")
            and len(s["reps"]) >= COMFORT_REPS]


def _clean_pct(the_set: dict) -> float:
    reps = the_set["reps"]
    return 100.0 * sum(1 for r in reps if r["clean"]) / len(reps) if reps else 0.0


def session_comfortable(session: dict) -> bool:
    full = _standing_full_sets(session)
    return len(full) >= COMFORT_SETS and all(_clean_pct(s) >= COMFORT_CLEAN_PCT for s in full)


def _instrumented(session: dict) -> bool:
    return any(not s.get("manual") and s["reps"] for s in session["sets"])


def _has_kneeling(session: dict) -> bool:
    return any(s["exercise"].startswith("kneeling") for s in session["sets"])


def _describe(session: dict) -> str:
    """Why a session was or was not comfortable, in numbers."""
    full = _standing_full_sets(session)
    if not full:
        standing = [s for s in session["sets"] if s["exercise"] == "standing_3point" and not s.get("manual")]
        if not standing:
            return f"{session['day']}: no standing 3-point sets"
        longest = max(len(s["reps"]) for s in standing)
        return (f"{session['day']}: no standing 3-point set reached {COMFORT_REPS} reps "
                f"(longest {longest})")
    pcts = ", ".join(f"{_clean_pct(s):.0f} %" for s in full)
    noun = "set" if len(full) == 1 else "sets"
    return f"{session['day']}: {len(full)} standing 3-point {noun} of {COMFORT_REPS}+ reps, clean {pcts}"


def progression(sessions: list) -> dict:
    """The next step for the athlete, with its reason (see the module docstring)."""
    trained = [s for s in sessions if _instrumented(s)]
    rule = (f"comfortable = {COMFORT_SESSIONS} sessions in a row with at least {COMFORT_SETS} "
            f"standing 3-point sets of {COMFORT_REPS}+ reps, each at least "
            f"{COMFORT_CLEAN_PCT:.0f} % clean")
    if not trained:
        return {"stage": "all_four", "comfortable_streak": 0, "standing_only_streak": 0,
                "rule": rule, "focus": None,
                "suggestion": "Start with all four warm-up hinges, kneeling first: kneeling 3-point "
                              "touch, kneeling kettlebell, standing 3-point touch, standing "
                              "kettlebell - 2 sets of 10 each.",
                "reason": "No sessions with the dowel recorded yet."}
    streak = 0
    for s in reversed(trained):
        if not session_comfortable(s):
            break
        streak += 1
    standing_only = 0
    for s in reversed(trained[len(trained) - streak:]):
        if _has_kneeling(s):
            break
        standing_only += 1
    last = trained[-1]
    recent = [r for st in last["sets"] if not st.get("manual") for r in st["reps"]]
    focus_point = rep_stats(recent)["most_lost_point"]
    focus = None if focus_point is None else {"point": focus_point,
                                           "cue": vocabulary.cue(focus_point, "standing_3point")}

    if streak >= COMFORT_SESSIONS and standing_only >= DEADLIFT_SESSIONS:
        stage = "deadlift"
        suggestion = ("Ready to progress into the deadlift: start light with the same hinge, "
                      "and keep the standing hinges as your warm-up.")
        reason = (f"{standing_only} comfortable sessions in a row doing the standing versions only "
                  f"(last: {_describe(last)}).")
    elif streak >= COMFORT_SESSIONS:
        stage = "standing"
        suggestion = ("You are comfortable with the motion: just do the standing versions - "
                      "standing 3-point touch and standing kettlebell hinges, 2 sets of 10 each.")
        reason = (f"{streak} comfortable sessions in a row (last: {_describe(last)}).")
        if standing_only:
            reason += (f" {standing_only} of {DEADLIFT_SESSIONS} standing-only sessions toward "
                       f"the deadlift.")
    else:
        stage = "all_four"
        suggestion = ("Keep doing all four hinges, kneeling first, 2 sets of 10 each, until the "
                      "motion feels natural.")
        if streak == 1:
            reason = (f"One comfortable session ({_describe(last)}); one more in a row and you "
                      f"can move to the standing versions only.")
        else:
            reason = f"Not comfortable yet - {_describe(last)}; needs " + rule.split(" = ", 1)[1] + "."
    if focus and stage != "deadlift":
        reason += f" Most lost point last session: {focus_point.replace('_', ' ')}."
    return {"stage": stage, "suggestion": suggestion, "reason": reason,
            "comfortable_streak": streak, "standing_only_streak": standing_only,
            "rule": rule, "focus": focus}


def summary(sessions: list) -> dict:
    """Everything the history page and ``dowel history`` show: trends and progression."""
    trends = history_trends(sessions)
    return {"sessions": len(sessions),
            "sets": sum(len(s["sets"]) for s in sessions),
            "reps": trends["overall"]["reps"],
            "manual_reps": sum(st.get("manual_reps") or 0 for s in sessions for st in s["sets"]
                               if st.get("manual")),
            "clean_pct": trends["overall"]["clean_pct"],
            "trends": trends,
            "progression": progression(sessions)}
