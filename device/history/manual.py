"""Kettlebell sets logged by hand: what a valid one is.

Checked before anything is written, so a bad field changes nothing; the
message names the field for the page.
"""
from __future__ import annotations

from typing import Optional

MANUAL_EXERCISES = ("kneeling_kettlebell", "standing_kettlebell")
MAX_MANUAL_REPS = 50
MAX_WEIGHT_KG = 200.0


class FieldError(ValueError):
    """Bad input for one field: ``field`` names it, ``message`` says what is wrong."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _number(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float))


def validate_manual_set(exercise, reps, weight_kg=None) -> tuple:
    """(exercise, reps, weight_kg or None), checked; :class:`FieldError` names the bad field."""
    if exercise not in MANUAL_EXERCISES:
        raise FieldError("exercise", f"must be one of {', '.join(MANUAL_EXERCISES)}")
    if isinstance(reps, bool) or not isinstance(reps, int) or not 1 <= reps <= MAX_MANUAL_REPS:
        raise FieldError("reps", f"must be a whole number from 1 to {MAX_MANUAL_REPS}")
    weight: Optional[float] = None
    if weight_kg is not None:
        # the comparison is also false for NaN, so NaN is refused here too
        if not _number(weight_kg) or not 0 < weight_kg <= MAX_WEIGHT_KG:
            raise FieldError("weight_kg", f"must be a number of kilograms above 0 and at most "
                                          f"{MAX_WEIGHT_KG:g}")
        weight = float(weight_kg)
    return exercise, reps, weight
