"""The words of the domain, written once: contact points, exercises, cues.

Everything a person reads about the three points and the four warm-up hinges
comes from here: the dashboard gets it through ``GET /api/options``, the
history's progression advice and the set summary's cue take it from here, and
the settings validate the exercise against :data:`EXERCISE_IDS`.

The instructions and cues are the coaching article's ("The Hip Hinge", Laura
Hobson): the dowel along the back touching the back of the head, the upper
back and the sacrum; kneeling first, then standing; 2 sets of 10 of each as a
warm-up; once comfortable, only the standing versions.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

from device.hw import constants

__all__ = [
    "Point", "Exercise", "POINTS", "EXERCISES", "EXERCISE_IDS", "WARMUP_SETS", "WARMUP_REPS",
    "point", "exercise", "cue", "options",
]


class Point(NamedTuple):
    id: str
    label: str          # as a heading: "Upper back"
    where: str          # in a sentence: "your upper back"


class Exercise(NamedTuple):
    id: str
    title: str
    tracked: bool       # the dowel counts its reps; otherwise it is logged by hand
    stance: str         # "kneeling" or "standing"
    instructions: str
    cues: dict          # point id -> what to do when that point comes off


#: In ADC channel order (the order of :data:`device.hw.constants.POINTS`).
POINTS = (
    Point("head", "Head", "the back of your head"),
    Point("upper_back", "Upper back", "your upper back"),
    Point("sacrum", "Sacrum", "your sacrum, right above the glutes"),
)
assert tuple(p.id for p in POINTS) == constants.POINTS

_HEAD_CUE = "keep the back of your head on the dowel: tuck the chin, eyes down"
_UPPER_BACK_CUE = ("keep your shoulders back: squeeze the shoulder blades together into "
                   "the dowel, but don't overdo it")

#: The article's warm-up, in its order: kneeling first, 3-point touch before kettlebell.
EXERCISES = (
    Exercise(
        "kneeling_3point", "Kneeling 3-point touch hinge", True, "kneeling",
        "On your knees, place the dowel behind your back touching the back of your head, "
        "your upper back and your sacrum (right above your glutes) at all times. Push your "
        "hips back towards your heels, keeping the 3 points of contact throughout the whole "
        "movement, then come back up. If the spine bends, the dowel comes off one of the points.",
        {"head": _HEAD_CUE, "upper_back": _UPPER_BACK_CUE,
         "sacrum": "push your hips back towards your heels and keep your sacrum on the dowel"},
    ),
    Exercise(
        "kneeling_kettlebell", "Kneeling kettlebell hinge", False, "kneeling",
        "On your knees, kettlebell or dumbbell held behind your back: this leaves out the lower "
        "legs so you focus on the hips only. Keep your shoulders back (squeeze the shoulder "
        "blades together, but don't overdo it) and use your butt to push the kettlebell behind "
        "you towards your heels.",
        {"head": _HEAD_CUE, "upper_back": _UPPER_BACK_CUE,
         "sacrum": "use your butt to push the kettlebell back towards your heels"},
    ),
    Exercise(
        "standing_3point", "Standing 3-point touch hinge", True, "standing",
        "Standing, the same three points of contact: back of the head, upper back and sacrum. "
        "Push your butt back and hinge at the hip; the lower leg (knee down) stays nearly "
        "vertical. A stretch in the hamstrings is a good sign you are doing it right.",
        {"head": _HEAD_CUE, "upper_back": _UPPER_BACK_CUE,
         "sacrum": "push your butt back and hinge at the hip, shins nearly vertical"},
    ),
    Exercise(
        "standing_kettlebell", "Standing kettlebell hinge", False, "standing",
        "Standing, kettlebell behind your back: push it back with your butt as in the kneeling "
        "version. The lower leg stays nearly vertical; feel the stretch in the hamstrings.",
        {"head": _HEAD_CUE, "upper_back": _UPPER_BACK_CUE,
         "sacrum": "push the kettlebell back with your butt, shins nearly vertical"},
    ),
)

EXERCISE_IDS = tuple(e.id for e in EXERCISES)

#: The article: "2 sets of 10 reps of each exercise as part of your warm up".
WARMUP_SETS = 2
WARMUP_REPS = 10

_POINTS_BY_ID = {p.id: p for p in POINTS}
_EXERCISES_BY_ID = {e.id: e for e in EXERCISES}


def point(point_id: str) -> Point:
    """The point named ``point_id``; KeyError naming it when there is none."""
    try:
        return _POINTS_BY_ID[point_id]
    except KeyError:
        raise KeyError(f"unknown point {point_id!r} (one of {', '.join(constants.POINTS)})") \
            from None


def exercise(exercise_id: str) -> Exercise:
    """The exercise named ``exercise_id``; KeyError naming it when there is none."""
    try:
        return _EXERCISES_BY_ID[exercise_id]
    except KeyError:
        raise KeyError(f"unknown exercise {exercise_id!r} (one of {', '.join(EXERCISE_IDS)})") \
            from None


def cue(point_id: str, exercise_id: Optional[str] = None) -> str:
    """What to do when ``point_id`` comes off, in the words for ``exercise_id``
    (the standing 3-point touch hinge's when none or an unknown one is given)."""
    ex = _EXERCISES_BY_ID.get(exercise_id or "", _EXERCISES_BY_ID["standing_3point"])
    return ex.cues[point(point_id).id]


def options() -> dict:
    """The vocabulary as plain JSON for the page (``points`` and ``exercises``)."""
    return {
        "points": [p._asdict() for p in POINTS],
        "exercises": [e._asdict() for e in EXERCISES],
        "warmup": {"sets": WARMUP_SETS, "reps": WARMUP_REPS},
    }
