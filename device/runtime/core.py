"""The polling core: read frames, detect, alert, publish.  Never imports Flask.

One background thread reads frames from the ADC as fast as it allows (or at a
configured rate), stamps each with the core's clock, feeds the pure
:class:`device.analysis.pipeline.Pipeline`, drives the LED and buzzer
(:class:`device.hw.alerts.Alerts`) and publishes events and status snapshots.
Listeners (the dashboard, the history writer, the terminal) subscribe; none of
them can slow a frame.  The contract listeners rely on is
:class:`device.runtime.contract.Core`.

The jobs around the loop live in their own modules: the ADC's lifecycle and
faults (:mod:`device.runtime.adc_link`), publishing (:mod:`device.runtime.publisher`),
health statistics (:mod:`device.runtime.health`) and recording the calibration
hold (:mod:`device.runtime.calibrator`).  ``build_mock_core()`` in
:mod:`device.hw.mock.factory` assembles the mock-mode stack around this same core.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
import time
from typing import Callable, Optional

from device.analysis.calibration import Calibration, CalibrationError, CalibrationHold
from device.analysis.frames import Frame
from device.analysis.pipeline import Pipeline
from device.analysis.settings import Settings
from device.hw.alerts import Alerts
from device.runtime.adc_link import FAULT_AFTER_S, AdcLink
from device.runtime.calibrator import record_hold
from device.runtime.clock import RealClock
from device.runtime.coaching import Coaching
from device.runtime.events import EventBus, Subscription
from device.runtime.health import FrameTimes, rate_and_jitter
from device.runtime.publisher import STATUS_HZ, Publisher
from device.runtime.recovery import CrashGuard
from device.runtime.settings_store import SettingsStore

log = logging.getLogger(__name__)

__all__ = ["DowelCore", "CalibrationError", "FAULT_AFTER_S", "STATUS_HZ"]

#: Holding the button this long calibrates: after the lead-in, the hold.
BUTTON_HOLD_S = 2.0
BUTTON_LEAD_IN_S = 3.0
BUTTON_CALIBRATION_S = 3.0


class DowelCore:
    """The polling loop and its state (see :class:`device.runtime.contract.Core`).

    ``adc_factory(settings)`` makes the ADC object (anything with
    ``read_frame() -> (head, upper_back, sacrum, tilt)`` volts); it is called on
    the polling thread and again after a fault, so an ADC unplugged at boot is
    picked up once it answers.
    """

    def __init__(self, adc_factory: Callable[[Settings], object], settings: Settings,
                 alerts: Alerts, *, clock=None, bus: Optional[EventBus] = None,
                 settings_store: Optional[SettingsStore] = None, source=None,
                 source_name: str = "", rate_hz: Optional[float] = None,
                 max_frames: Optional[int] = None):
        self._settings = settings
        self.alerts = alerts
        self.clock = clock or RealClock()
        self.bus = bus or EventBus()
        self.settings_store = settings_store
        self.source = source                  # mock mode: stop when a trace runs out
        self.source_name = source_name
        self.rate_hz = rate_hz
        self.max_frames = max_frames
        self.pipeline = Pipeline(settings)
        self.adc_link = AdcLink(adc_factory, self.clock, self._fault_changed)
        self.publisher = Publisher(self.bus, self.clock, self.get_status)
        self.frame_times = FrameTimes()
        self.crash_guard = CrashGuard()
        self.coaching = Coaching(alerts)

        # Guards the pipeline, the alerts and the frame counters; held for
        # microseconds (never while sorting, sleeping or writing files).
        self._lock = threading.RLock()
        # One settings change at a time, read-modify-write whole: two PUTs at once
        # must not both start from the same old settings and drop one change.  Not
        # the polling lock: saving the file must never hold up a frame.
        self._settings_change = threading.RLock()
        self._thread: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self.finished = threading.Event()     # set when the loop has ended
        self._history_problem: Optional[str] = None
        #: what the device had to work around at start (a bad settings file set aside...),
        #: in words; shown in the status snapshot's health
        self.warnings: list = list(getattr(settings_store, "warnings", None) or ())
        self._frame_taps: tuple = ()
        self._links: dict = {}                # e.g. "mqtt": the publisher's link state

        alerts.when_button_pressed(self._button_pressed)
        alerts.when_button_held(self._button_held, BUTTON_HOLD_S)
        self._calibrating = threading.Lock()

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> "DowelCore":
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="dowel-core", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.alerts.update(loss=False, fault=False)

    def close(self) -> None:
        self.stop()
        self.alerts.close()

    def __enter__(self) -> "DowelCore":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Block until the loop ends (a trace ran out, ``max_frames`` reached, or stop)."""
        return self.finished.wait(timeout)

    # -- the loop ------------------------------------------------------------
    def _run(self) -> None:
        try:
            while True:
                try:
                    self._loop()
                    self._finish()
                    return
                except Exception:               # a bug, not a hardware fault: say so loudly
                    log.exception("internal error in the polling loop")
                    if not self._recover():
                        return
        finally:
            self.finished.set()

    @property
    def crashed(self) -> bool:
        """True when the loop gave up after internal errors (exit non-zero)."""
        return self.crash_guard.crashed

    def _recover(self) -> bool:
        """A fresh pipeline after an internal error (see :mod:`device.runtime.recovery`);
        the broken one ends its open set first so the history closes it."""
        if not self.crash_guard.error():
            return self._give_up(self.crash_guard.too_many())
        t = self.clock.now()
        try:
            with self._lock:
                old, self.pipeline = self.pipeline, Pipeline(self._settings)
        except Exception:
            log.exception("cannot rebuild the pipeline")
            return self._give_up("the pipeline cannot be rebuilt")
        try:
            events = old.finish(t)
        except Exception:
            log.exception("the broken pipeline could not end its set")
            events = []
        self.publisher.events(events, t)
        log.warning("pipeline rebuilt; polling goes on")
        return True

    def _give_up(self, why: str) -> bool:
        log.critical("polling loop stopped: %s", why)
        self.crash_guard.crashed = True
        try:
            self.adc_link.crashed(self.clock.now(), f"internal error in the polling loop: {why} (see log)")
        except Exception:                       # the status itself may be what is broken
            log.exception("cannot publish the fault")
        return False

    def _loop(self) -> None:
        clock = self.clock
        next_due = clock.now()
        while not self._stop.is_set():
            volts = self.adc_link.read(self._settings)
            if volts is None:
                if self.adc_link.fault is not None:
                    self.publisher.status(clock.now())
                continue
            self._process(Frame(clock.now(), *volts))
            if self._should_end():
                break
            if self.rate_hz:
                next_due += 1.0 / self.rate_hz
                delay = next_due - clock.now()
                if delay > 0:
                    clock.sleep(delay)
                else:
                    next_due = clock.now()

    def _should_end(self) -> bool:
        if self.max_frames is not None and self.frame_times.frames >= self.max_frames:
            return True
        return self.source is not None and getattr(self.source, "finished", False)

    def _finish(self) -> None:
        """End of the stream: close an open set, alert off, a last snapshot."""
        t = self.clock.now()
        with self._lock:
            events = self.pipeline.finish(t)
            changed = self.alerts.update(loss=False, fault=self.adc_link.fault is not None)
        self.publisher.events(events, t)
        if changed:
            self.publisher.event({"type": "alert", "t": t, "on": False, "reason": "loss", "points": []})
        self.publisher.status(t, force=True)

    def _process(self, frame: Frame) -> None:
        t = frame.t
        moved_to = None
        with self._lock:
            events = self.pipeline.feed(frame)
            changed = self.alerts.update(loss=self.pipeline.alert_wanted, fault=False)
            self.frame_times.add(t)
            lost = self.pipeline.lost_points if changed else None
            taps = self._frame_taps
            if events:
                moved_to = self.coaching.on_events(events, self._settings)
        if events:
            self.publisher.events(events, t)
            if moved_to is not None:
                self._follow_plan()
        if changed:
            self.publisher.event({"type": "alert", "t": t, "on": self.alerts.on, "reason": "loss",
                                  "points": lost})
        for tap in taps:
            tap(frame)
        if self.publisher.status_due(t):
            self.publisher.status(t)

    def _fault_changed(self, t: float, message: Optional[str]) -> None:
        with self._lock:
            self.alerts.update(loss=self.alerts.loss, fault=message is not None)
        if message:
            log.warning("%s", message)
        else:
            log.info("ADC answering again")
        self.publisher.event({"type": "fault", "t": t, "active": message is not None, "message": message})
        self.publisher.status(t, force=True)

    # -- what listeners call --------------------------------------------------
    def subscribe(self, maxsize: int = 256, types=None) -> Subscription:
        """A bounded queue of events; see docs/architecture.md for their shapes."""
        return self.bus.subscribe(maxsize=maxsize, types=types)

    def get_status(self) -> dict:
        """The status snapshot (:class:`device.runtime.contract.Status`).

        Only the copying happens under the lock the polling thread takes every
        frame; the health statistics are computed afterwards from the copy."""
        with self._lock:
            status = self.pipeline.status()
            status["plan"] = self.coaching.status()
            t = self.frame_times.last_t
            times = self.frame_times.window()
            frames = self.frame_times.frames
            alert = self.alerts.on
            settings = self._settings
        if t is None:
            t = self.clock.now()
        status.update({"t": round(t, 4), "wall": self.publisher.wall(t), "alert": alert,
                       "exercise": settings.exercise, "calibrated": settings.calibration is not None,
                       "health": self._health(times, frames)})
        return status

    def _health(self, times: tuple, frames: int) -> dict:
        rate_hz, jitter_ms = rate_and_jitter(times, self.clock.speed)
        return {
            "frame_rate_hz": rate_hz,
            "jitter_ms_p95": jitter_ms,
            "read_errors": self.adc_link.read_errors,
            "fault": self.adc_link.fault,
            "uptime_s": round(self.publisher.uptime_s(), 1),
            "frames": frames,
            "source": self.source_name,
            "history": self._history_problem or "ok",
            "subscribers": self.bus.subscriber_count,
            "mqtt": dict(self._links["mqtt"]) if self._links.get("mqtt") else None,
            "warnings": list(self.warnings),
        }

    # -- settings and calibration -------------------------------------------------
    @property
    def settings(self) -> Settings:
        return self._settings

    def update_settings(self, changes: dict) -> Settings:
        """Validate and apply a partial update as a whole (SettingsError on bad input).
        Picking an exercise makes its step of the plan the current one."""
        # The plan's move is part of the change: another change landing between
        # the two would have this pick's plan move put its exercise back over it.
        with self._settings_change:
            new = self._change_settings(changes)
            if isinstance(changes, dict) and "exercise" in changes:
                self._plan_change(lambda: self.coaching.plan.focus(new.exercise))
        return new

    def _change_settings(self, changes: dict) -> Settings:
        with self._settings_change:
            base = self._settings
            new = base.updated(changes)
            # Saved first: a settings file that cannot be written changes nothing.
            if self.settings_store is not None:
                self.settings_store.save(new)
            with self._lock:
                if self._settings is not base:
                    # The plan moved on while the file was written (_follow_plan, on
                    # another thread): this change goes on top of its exercise.
                    new = self._settings.updated(changes)
                old, self._settings = self._settings, new
                self.pipeline.update_settings(new)
                self.alerts.buzzer_enabled = new.buzzer
                if not new.buzzer:
                    self.alerts.buzzer.off()
                self.adc_link.settings_changed(old, new)
                # Published under the lock that made the change, so settings events
                # (these and the plan's) go out in the order the changes were made.
                t = self.clock.now()
                self.publisher.event({"type": "settings", "t": t, "settings": new.to_dict()})
            # A fresh snapshot at once: whoever changed the settings sees them in the
            # status as soon as the change returns (also across the channel).
            self.publisher.status(t, force=True)
        return new

    def set_exercise(self, name: str) -> Settings:
        return self.update_settings({"exercise": name})

    def calibrate(self, duration_s: float = 3.0, timeout_s: Optional[float] = None,
                  lead_in_s: float = 0.0) -> Calibration:
        """Wait ``lead_in_s`` (both hands on the dowel), record ``duration_s`` of
        the resting hold and store the thresholds; a bad hold is recorded again
        once by itself.

        Blocks while it waits and records (in real seconds: the clock's speed
        applies).  ``calibration`` events say what is happening (phase
        ``lead_in``, ``hold``, ``retry`` with the reason, ``failed``).  Raises
        :class:`CalibrationError` with a message meant for the athlete when the
        second hold cannot be used either, or at once when a calibration (a
        page's, the button's) is already recording.  A simulated athlete holds
        still when asked (``source.hold_still``).
        """
        # One hold at a time, whoever asks: two at once would each judge the
        # other's hold and their phase events would mix on the page.
        if not self._calibrating.acquire(blocking=False):
            raise CalibrationError("a calibration is already running")
        try:
            return self._calibrate(duration_s, timeout_s, lead_in_s)
        finally:
            self._calibrating.release()

    def _calibrate(self, duration_s: float, timeout_s: Optional[float], lead_in_s: float) -> Calibration:
        judge = CalibrationHold(self._settings.sensitivity)
        self._calibration_event("lead_in", lead_in_s)
        self._ask_source_to_hold(lead_in_s, duration_s * judge.attempts)
        self.clock.sleep(lead_in_s)
        calibration = None
        while calibration is None:
            self._calibration_event("hold", duration_s, attempt=judge.attempt + 1)
            frames = record_hold(self.tap_frames, self.clock, duration_s, timeout_s)
            try:
                calibration = judge.judge(frames, taken_at=time.time())
            except CalibrationError as exc:
                self._calibration_event("failed", 0.0, message=str(exc))
                raise
            if calibration is None:
                self._calibration_event("retry", duration_s, message=judge.retrying)
        self._change_settings({"calibration": calibration})
        self.publisher.event({"type": "calibrated", "t": self.clock.now(),
                              "calibration": calibration.to_dict()})
        return calibration

    def _calibration_event(self, phase: str, seconds: float, **extra) -> None:
        self.publisher.event({"type": "calibration", "t": self.clock.now(), "phase": phase,
                              "seconds": seconds, **extra})

    def _ask_source_to_hold(self, lead_in_s: float, hold_s: float) -> None:
        # mock mode: the simulated athlete stands tall with the dowel on, as asked
        hold_still = getattr(self.source, "hold_still", None)
        if hold_still is not None:
            start = self.clock.now()
            hold_still(start, start + lead_in_s + hold_s + 0.5)

    def tap_frames(self, callback: Callable[[Frame], None]) -> Callable[[], None]:
        """Call ``callback(frame)`` on the polling thread for every frame until the
        returned function is called.  The callback must be quick (queue the frame)."""
        with self._lock:
            self._frame_taps = self._frame_taps + (callback,)

        def remove() -> None:
            with self._lock:
                self._frame_taps = tuple(c for c in self._frame_taps if c is not callback)
        return remove

    # -- the history writer and the button ------------------------------------------
    def continue_session(self, sets_before: int) -> None:
        """The history says today's session already has ``sets_before`` sets: the
        next set is numbered after them (the number the history shows)."""
        with self._lock:
            self.pipeline.continue_session(sets_before)

    def report_history_problem(self, message: Optional[str]) -> None:
        """The history writer says whether reps are being saved (None = all good)."""
        with self._lock:
            changed = message != self._history_problem
            self._history_problem = message
        if changed:
            self.publisher.status(self.clock.now(), force=True)

    def report_link_state(self, name: str, state: Optional[dict]) -> None:
        """A network link (the MQTT publisher) says how it is doing; shown in the
        status as ``health.<name>`` (None = not configured)."""
        with self._lock:
            self._links[name] = state
        self.publisher.status(self.clock.now(), force=True)

    def _button_pressed(self) -> None:
        # The optional button ends the current set at once (the athlete is done
        # but still holds the dowel); sets start by themselves when the dowel goes on.
        t = self.clock.now()
        with self._lock:
            events = self.pipeline.finish(t)
            moved_to = self.coaching.on_events(events, self._settings)
        self.publisher.events(events, t)
        if moved_to is not None:
            self._follow_plan()

    def _button_held(self) -> None:
        # Held down: calibrate, off gpiozero's event thread (the hold blocks for
        # seconds).  The set-done beeps say it worked; the words go to the page.
        if not self._calibrating.acquire(blocking=False):
            return
        threading.Thread(target=self._calibrate_from_button, name="dowel-button-calibration",
                         daemon=True).start()

    def _calibrate_from_button(self) -> None:
        try:
            self._calibrate(BUTTON_CALIBRATION_S, None, BUTTON_LEAD_IN_S)
            with self._lock:
                self.alerts.set_done()
        except CalibrationError as exc:
            log.warning("calibration from the button failed: %s", exc)
        finally:
            self._calibrating.release()

    # -- the plan of the day (device/runtime/coaching.py) -----------------------------
    def plan_status(self) -> dict:
        with self._lock:
            return self.coaching.status()

    def plan_stage(self, stage: Optional[str]) -> dict:
        """The progression stage from the history (a fresh plan if not started)."""
        return self._plan_change(lambda: self.coaching.restage(stage))

    def plan_skip(self) -> dict:
        return self._plan_change(self.coaching.plan.skip)

    def plan_order(self, order) -> dict:
        """Steps in a new order (PlanError naming what is wrong)."""
        return self._plan_change(lambda: self.coaching.plan.reorder(order))

    def plan_set_done(self, exercise: str, by_hand: bool = False) -> dict:
        """A set of ``exercise`` done; ``by_hand``: logged in the history by hand,
        so it takes a set number of the session too."""
        def change() -> bool:
            moved = self.coaching.plan.set_done(exercise)
            if by_hand:
                self.pipeline.set_logged_by_hand()
            return moved
        return self._plan_change(change)

    def follow_plan(self) -> None:
        """Tag the next sets with the plan's current step (if the dowel tracks it)."""
        self._follow_plan()

    def _plan_change(self, change) -> dict:
        """Apply ``change`` (returns whether the current step changed); the next
        sets follow a new current step; the stream hears of it."""
        with self._lock:
            before = self.coaching.plan.current
            change()
            moved = self.coaching.plan.current is not before
            plan = self.coaching.status()
            # Under the lock: plan events go out in the order the changes were made.
            self.publisher.event({"type": "plan", "t": self.clock.now(), "plan": plan})
        if moved:
            self._follow_plan()
        return plan

    def _follow_plan(self) -> None:
        """Tag the next sets with the plan's current step, as the plan is now (an
        exercise picked since the plan moved wins over the move).  Kept in memory
        only: the polling thread never writes files, and the plan starts afresh
        each day."""
        with self._lock:
            exercise = self.coaching.tracked_exercise()
            if exercise is None or self._settings.exercise == exercise:
                return
            new = dataclasses.replace(self._settings, exercise=exercise)
            self._settings = new
            self.pipeline.update_settings(new)
            # Under the lock, as _change_settings does: a change made after this one
            # must not have its event overtaken by this older one.
            self.publisher.event({"type": "settings", "t": self.clock.now(), "settings": new.to_dict()})
