"""The core's contract with whoever watches and steers it (the dashboard, the
history writer, the terminal), declared once.

:class:`Core` is what ``web.create_app`` is typed against.  It is kept by
:class:`device.runtime.core.DowelCore` (the polling loop itself),
:class:`device.runtime.core_proxy.CoreProxy` (the web process's view of a core
running in the core process) and the tests' ``FakeCore``; tests/test_contract.py
runs the same checks against each, so they cannot drift apart.

:class:`Status` is the status snapshot's shape, written down here and nowhere
else (docs/architecture.md shows an example).  Event shapes are in
docs/architecture.md ("Events").
"""
from __future__ import annotations

from typing import Iterable, List, Optional, Protocol, TypedDict, runtime_checkable

from device.analysis.calibration import Calibration
from device.analysis.settings import Settings


class PointStatus(TypedDict):
    v: float                    # volts at the ADC input, 3 decimals
    force_n: Optional[float]    # the FSR model's force; None where the model has no answer
    contact: bool               # in a set: the debounced contact state; else: something is there
    lost: bool                  # lost right now (in a set only)


class LinkState(TypedDict):
    """A network link's state (the MQTT publisher's, device/runtime/mqtt.py)."""

    state: str                  # "connecting", "connected", "disconnected", "off"
    broker: str                 # mqtt[s]://[user@]host:port, never the password
    device_id: str              # this dowel's topic id
    connects: int               # successful connections since start
    published: int              # messages handed to the broker
    dropped: int                # events lost (queue full while the broker was away)
    last_error: Optional[str]   # why the last connection failed or ended


class Health(TypedDict):
    frame_rate_hz: float        # frames per second of real time over the last ~200 frames
    jitter_ms_p95: float        # 95th percentile of |interval - median interval|, ms
    read_errors: int            # I2C reads that failed since start (each one retried)
    fault: Optional[str]        # why the ADC is not answering, None when it is
    uptime_s: float
    frames: int                 # frames read since start
    source: str                 # "ADS1115 on I2C", "simulated athlete (seed 0)", "trace x.csv"
    history: str                # "ok", or why reps are not being saved
    subscribers: int            # listeners on the core's event bus right now
    mqtt: Optional[LinkState]   # None unless a broker is configured
    warnings: List[str]         # what the device works around, in words ([] when all is well)


class SetStatus(TypedDict):
    number: Optional[int]       # per session (the history's number); between sets the last kept one
    active: bool                # a set is under way
    exercise: Optional[str]     # what it is tagged with
    reps: int                   # reps in the set under way
    clean_reps: int
    next_number: int            # the number of the set under way, or the next one (sets by hand count)


class SensorFault(TypedDict):
    point: str
    kind: str                   # "shorted" (reads the supply) or "silent" (read nothing for reps)
    message: str                # what to check, for a person
    since: float                # core seconds


class Status(TypedDict):
    """The status snapshot: published as event type ``status`` (20 per second at
    most) and returned by :meth:`Core.get_status`."""

    t: float                    # core seconds of the newest frame
    wall: float                 # Unix time of that frame
    points: dict                # {"head" | "upper_back" | "sacrum": PointStatus}
    pitch_deg: Optional[float]  # dowel tilt from upright, degrees; None when no set is active
    in_set: bool
    set_index: int              # 1-based within the run, 0 before the first set
    set: SetStatus
    last_set: Optional[dict]    # {"number", "exercise", "summary"} of the last kept set, for the set card
    sensor_faults: List[SensorFault]
    plan: dict                  # the day's plan: {exercise, title, tracked, set_index, sets,
                                # rep_target, step_index, steps, stage, done} (device/analysis/plan.py)
    rep_count: int              # reps in the current set
    phase: str                  # "idle" (no set), "upright", "down", "up"
    lost_points: List[str]
    alert: bool                 # LED/buzzer on for a loss right now
    exercise: str               # what the next sets are tagged with
    calibrated: bool
    health: Health


@runtime_checkable
class Subscription(Protocol):
    """One listener's bounded queue of event dicts; the core never waits for it
    (a full queue drops its oldest event)."""

    closed: bool

    def get(self, timeout: Optional[float] = None) -> Optional[dict]:
        """The next event, or None after ``timeout`` seconds or once closed."""

    def drain(self) -> list:
        """Every queued event at once, without waiting."""

    def close(self) -> None:
        """Stop receiving; a ``get`` waiting elsewhere returns None."""


@runtime_checkable
class Core(Protocol):
    """What the dashboard calls on the core.  Every method may be called from any
    thread; none of them waits for a frame except :meth:`calibrate`."""

    def get_status(self) -> Status:
        """A fresh copy of the status snapshot (the caller may change it)."""

    def subscribe(self, maxsize: int = 256, types: Optional[Iterable[str]] = None) -> Subscription:
        """Events from now on (status snapshots included unless ``types`` leaves
        them out), at most ``maxsize`` queued."""

    @property
    def settings(self) -> Settings:
        """The settings in force."""

    def update_settings(self, changes: dict) -> Settings:
        """Validate and apply a partial update as a whole and save it.  Raises
        :class:`device.analysis.settings.SettingsError` (with ``field``) on bad
        input, OSError when the settings file cannot be written; nothing changes then."""

    def set_exercise(self, name: str) -> Settings:
        """Tag the next sets with exercise ``name`` (SettingsError if unknown)."""

    def calibrate(self, duration_s: float = 3.0, lead_in_s: float = 0.0) -> Calibration:
        """Wait ``lead_in_s``, record ``duration_s`` of the resting hold (once more
        if it was bad; blocks that long) and keep its thresholds.  Raises
        :class:`device.analysis.calibration.CalibrationError` with a message for
        the athlete when the hold cannot be used."""


@runtime_checkable
class Coaching(Protocol):
    """The day's plan, kept by the core (device/runtime/coaching.py) and changed
    from the page (web/plan.py).  Each call returns the plan's status dict (the
    status snapshot's ``plan``); a change that cannot be made raises
    :class:`device.analysis.plan.PlanError` naming the input.  Kept by
    :class:`device.runtime.core.DowelCore` and the web process's ``CoreProxy``."""

    def plan_status(self) -> dict:
        """The plan as it stands."""

    def plan_stage(self, stage: Optional[str]) -> dict:
        """A fresh plan for the progression ``stage`` the history reached."""

    def plan_skip(self) -> dict:
        """On to the next step."""

    def plan_order(self, order) -> dict:
        """The steps in a new order."""

    def plan_set_done(self, exercise: str, by_hand: bool = False) -> dict:
        """A set of ``exercise`` is done (``by_hand``: logged on the page)."""
