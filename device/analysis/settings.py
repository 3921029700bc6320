"""Settings and calibration, validated (stored by ``device.runtime.settings_store``).

Everything tunable lives in :class:`Settings`.  ``Settings.updated(changes)``
validates a partial update as a whole and raises :class:`SettingsError` naming
the first bad field, so nothing partial is ever applied (the web form and the
CLI both rely on that).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Optional

from device.analysis.vocabulary import EXERCISE_IDS
from device.hw import constants


class SettingsError(ValueError):
    """A bad setting: ``field`` names it, ``str(err)`` says what is wrong."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclasses.dataclass(frozen=True)
class PointCalibration:
    """One contact point's calibration from the athlete's resting hold.

    ``rest_v`` is the median voltage of the hold; contact is *lost* below
    ``off_v`` and *restored* above ``on_v`` (hysteresis, ``on_v > off_v``).
    """

    rest_v: float
    off_v: float
    on_v: float


@dataclasses.dataclass(frozen=True)
class Calibration:
    points: dict                     # point name -> PointCalibration
    tilt_upright_v: float            # tilt voltage when upright (mounting offset)
    taken_at: float = 0.0            # wall-clock time of the calibration

    def to_dict(self) -> dict:
        return {
            "points": {p: dataclasses.asdict(c) for p, c in self.points.items()},
            "tilt_upright_v": self.tilt_upright_v,
            "taken_at": self.taken_at,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Calibration":
        """A calibration from its stored form; :class:`SettingsError` names the first
        value that is missing, not a finite voltage in range, or out of order."""
        if not isinstance(data, dict) or not isinstance(data.get("points"), dict):
            raise SettingsError("calibration.points", "expected an object with head, upper_back and sacrum")
        unknown = sorted(set(data) - {"points", "tilt_upright_v", "taken_at"})
        if unknown:
            raise SettingsError(f"calibration.{unknown[0]}", "unknown calibration field")
        points = {}
        for p in constants.POINTS:
            entry = data["points"].get(p)
            where = f"calibration.points.{p}"
            if not isinstance(entry, dict) or set(entry) != {"rest_v", "off_v", "on_v"}:
                raise SettingsError(where, "expected an object with rest_v, off_v and on_v")
            volts = {k: _volts(f"{where}.{k}", entry[k]) for k in ("rest_v", "off_v", "on_v")}
            if not volts["off_v"] < volts["on_v"] <= volts["rest_v"]:
                raise SettingsError(where, "expected off_v < on_v <= rest_v")
            points[p] = PointCalibration(**volts)
        if "tilt_upright_v" not in data:
            raise SettingsError("calibration.tilt_upright_v", "required")
        taken_at = data.get("taken_at", 0.0)
        if isinstance(taken_at, bool) or not isinstance(taken_at, (int, float)) \
                or not 0.0 <= taken_at < 1e11:
            raise SettingsError("calibration.taken_at", "expected a time in Unix seconds")
        return cls(points=points, tilt_upright_v=_volts("calibration.tilt_upright_v", data["tilt_upright_v"]),
                   taken_at=float(taken_at))


#: What an ADC input can read (the inputs sit between 0 V and the 3.3 V supply;
#: a little margin for a supply that runs high).
CALIBRATION_VOLTS = (0.0, 5.0)


def _volts(field: str, raw) -> float:
    """A finite voltage an input can read, else SettingsError naming ``field``."""
    lo, hi = CALIBRATION_VOLTS
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise SettingsError(field, f"expected a number of volts, got {type(raw).__name__}")
    value = float(raw)
    if not lo <= value <= hi:            # also false for NaN
        raise SettingsError(field, f"must be a finite voltage from {lo:g} to {hi:g} V")
    return value


#: The exercise ids, from the one vocabulary (titles and cues live there too).
EXERCISES = EXERCISE_IDS


@dataclasses.dataclass(frozen=True)
class Settings:
    """All user-tunable settings with their defaults."""

    debounce_ms: float = 20.0        # a point must stay low this long to count as lost
    min_depth_deg: float = 25.0      # shallower hinges are wobbles, not reps
    sensitivity: float = 0.5         # 0..1: higher = a smaller drop in force counts as a loss
    buzzer: bool = True              # the LED always fires; the buzzer can be silenced
    rep_chirp: bool = False          # a click of the buzzer at every rep done (off: only sets beep)
    chip: str = "ADS1115"            # or "ADS1015"
    data_rate: int = constants.DEFAULT_DATA_RATE["ADS1115"]  # ADC samples/s, shared by the four channels
    gain: float = constants.ADS_GAIN  # PGA gain; 1 = +-4.096 V
    exercise: str = "standing_3point"
    calibration: Optional[Calibration] = None

    # field -> (validator, message).  Kept next to the fields on purpose.
    def validate(self) -> None:
        def need(cond: bool, field: str, message: str) -> None:
            if not cond:
                raise SettingsError(field, message)

        need(1.0 <= self.debounce_ms <= 500.0, "debounce_ms", "must be between 1 and 500 ms")
        need(5.0 <= self.min_depth_deg <= 80.0, "min_depth_deg", "must be between 5 and 80 degrees")
        need(0.0 <= self.sensitivity <= 1.0, "sensitivity", "must be between 0 and 1")
        need(self.chip in constants.DEFAULT_DATA_RATE, "chip", "must be ADS1115 or ADS1015")
        rates = constants.ADS1115_RATES if self.chip == "ADS1115" else constants.ADS1015_RATES
        need(self.data_rate in rates, "data_rate",
             f"must be one of {', '.join(map(str, rates))} for the {self.chip}")
        need(self.gain in (2 / 3, 1, 2, 4, 8, 16), "gain", "must be one of 2/3, 1, 2, 4, 8, 16")
        need(self.exercise in EXERCISES, "exercise", f"must be one of {', '.join(EXERCISES)}")

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["calibration"] = self.calibration.to_dict() if self.calibration else None
        return d

    def updated(self, changes: dict) -> "Settings":
        """A new validated Settings with ``changes`` applied; raises SettingsError."""
        if not isinstance(changes, dict):
            raise SettingsError("settings", "expected a JSON object")
        fields = {f.name: f for f in dataclasses.fields(self)}
        values = {}
        for key, raw in changes.items():
            if key not in fields:
                raise SettingsError(key, "unknown setting")
            values[key] = _coerce(key, raw, getattr(self, key))
        new = dataclasses.replace(self, **values)
        new.validate()
        return new


def _coerce(field: str, raw: Any, current: Any) -> Any:
    if field == "calibration":
        if raw is None or isinstance(raw, Calibration):
            return raw
        if isinstance(raw, dict):
            return Calibration.from_dict(raw)
        raise SettingsError(field, "expected an object or null")
    if isinstance(current, bool):
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in ("true", "false", "on", "off", "1", "0"):
            return raw.lower() in ("true", "on", "1")
        raise SettingsError(field, "expected true or false")
    if isinstance(current, (int, float)) and not isinstance(current, bool):
        if isinstance(raw, bool):
            raise SettingsError(field, "expected a number")
        try:
            value = float(raw)
        except (TypeError, ValueError, OverflowError):
            raise SettingsError(field, f"expected a number, got {raw!r}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise SettingsError(field, "expected a finite number")
        if field == "data_rate":
            if value != int(value):
                raise SettingsError(field, "expected a whole number")
            return int(value)
        return value
    if isinstance(current, str):
        if not isinstance(raw, str):
            raise SettingsError(field, "expected a string")
        return raw
    return raw
