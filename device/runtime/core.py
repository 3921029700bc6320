"""The polling core: read frames, detect, alert, publish.  Never imports Flask.

One background thread reads frames from a :class:`device.hw.adc.DowelAdc` as fast
as the ADC allows (or at a configured rate), stamps each with the core's clock,
feeds the pure :class:`device.analysis.pipeline.Pipeline`, drives the LED and buzzer
(:class:`device.hw.alerts.Alerts`) and publishes events and status snapshots on an
:class:`device.runtime.events.EventBus`.  Listeners (the dashboard, the history writer, the
terminal) subscribe; none of them can slow a frame.

Hardware faults are survived: an I2C error is counted and the read retried; an
ADC that stops answering for longer than :data:`FAULT_AFTER_S` raises a fault
(distinct LED pattern, ``fault`` event, ``health.fault`` in the status) and is
retried until it answers again.  An ADC missing at start-up is retried the same
way.

``build_mock_core()`` assembles the mock-mode stack: the same core, the real
Adafruit driver, an emulated ADS1115 fed by a simulated athlete or a trace, and
gpiozero's ``MockFactory`` pins.
"""
from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Callable, Optional

from device.analysis.calibration import CalibrationError, calibrate_from_frames
from device.analysis.frames import Frame
from device.analysis.pipeline import Pipeline
from device.analysis.settings import Settings
from device.hw.alerts import Alerts
from device.runtime.clock import RealClock
from device.runtime.events import EventBus, Subscription
from device.runtime.settings_store import SettingsStore

log = logging.getLogger(__name__)

__all__ = ["DowelCore", "CalibrationError", "build_mock_core", "FAULT_AFTER_S"]

#: Consecutive read failures for this long make a fault (LED blinks, dashboard says so).
FAULT_AFTER_S = 0.25
#: Pause between retries while the ADC is not answering.
RETRY_INTERVAL_S = 0.05
#: Pause between retries of a read that just failed (before it counts as a fault).
QUICK_RETRY_S = 0.002
#: Status snapshots published per second (the dashboard throttles further per client).
STATUS_HZ = 20.0
#: Seconds of frames kept in the ring buffer.
RING_SECONDS = 10.0


class DowelCore:
    """The polling loop and its state.  See docs/architecture.md for the contract.

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
        self._adc_factory = adc_factory
        self._adc = None
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

        self._lock = threading.RLock()        # guards pipeline state and counters
        self._thread: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self.finished = threading.Event()     # set when the loop has ended
        self._pending_adc_settings = False

        self._ring: collections.deque = collections.deque(maxlen=4096)
        self._recent_t: collections.deque = collections.deque(maxlen=200)
        self._frames = 0
        self._read_errors = 0
        self._fault: Optional[str] = None
        self._failing_since: Optional[float] = None
        self._history_problem: Optional[str] = None
        self._last_status_t = -1e9
        self._wall0 = time.time()
        self._t0 = self.clock.now()
        self._frame_taps: list = []

        alerts.when_button_pressed(self._button_pressed)

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
            self._loop()
        except Exception:                       # a bug, not a hardware fault: say so loudly
            log.exception("polling loop crashed")
            self._set_fault(self.clock.now(), "internal error in the polling loop (see log)")
            raise
        finally:
            self.finished.set()

    def _loop(self) -> None:
        clock = self.clock
        next_due = clock.now()
        while not self._stop.is_set():
            if self._adc is None or self._pending_adc_settings:
                if not self._open_adc():
                    continue
            try:
                volts = self._adc.read_frame()
            except (OSError, ValueError, RuntimeError) as exc:
                self._read_failed(exc)
                continue
            t = clock.now()
            self._process(Frame(t, *volts))
            if self.max_frames is not None and self._frames >= self.max_frames:
                break
            if self.source is not None and getattr(self.source, "finished", False):
                break
            if self.rate_hz:
                next_due += 1.0 / self.rate_hz
                delay = next_due - clock.now()
                if delay > 0:
                    clock.sleep(delay)
                else:
                    next_due = clock.now()
        t = clock.now()
        with self._lock:
            events = self.pipeline.finish(t)
            changed = self.alerts.update(loss=False, fault=self._fault is not None)
        self._publish_all(events, t)
        if changed:
            self._publish({"type": "alert", "t": t, "on": False, "reason": "loss", "points": []})
        self._publish_status(t, force=True)

    def _open_adc(self) -> bool:
        try:
            if self._adc is None:
                self._adc = self._adc_factory(self._settings)
            else:
                s = self._settings
                self._adc.data_rate = s.data_rate
                self._adc.gain = s.gain
            self._pending_adc_settings = False
            return True
        except (OSError, ValueError, RuntimeError) as exc:
            self._adc = None
            self._read_failed(exc)
            return False

    def _read_failed(self, exc: Exception) -> None:
        now = self.clock.now()
        with self._lock:
            self._read_errors += 1
            if self._failing_since is None:
                self._failing_since = now
        if now - self._failing_since >= FAULT_AFTER_S and self._fault is None:
            self._set_fault(now, f"ADC not answering: {exc}")
        if self._fault is not None:
            self._publish_status(now)
            self.clock.sleep(RETRY_INTERVAL_S)
        else:
            # A glitch is retried at once, but not in a tight loop: a NACKing bus
            # answers instantly and would otherwise burn a core.
            self.clock.sleep(QUICK_RETRY_S)

    def _set_fault(self, t: float, message: Optional[str]) -> None:
        with self._lock:
            self._fault = message
            self.alerts.update(loss=self.alerts.loss, fault=message is not None)
        if message:
            log.warning("%s", message)
        else:
            log.info("ADC answering again")
        self._publish({"type": "fault", "t": t, "active": message is not None, "message": message})
        self._publish_status(t, force=True)

    def _process(self, frame: Frame) -> None:
        t = frame.t
        if self._failing_since is not None:
            self._failing_since = None
            if self._fault is not None:
                self._set_fault(t, None)
        with self._lock:
            events = self.pipeline.feed(frame)
            changed = self.alerts.update(loss=self.pipeline.alert_wanted, fault=False)
            self._ring.append(frame)
            self._recent_t.append(t)
            self._frames += 1
            taps = self._frame_taps
        if events:
            self._publish_all(events, t)
        if changed:
            with self._lock:
                lost = self.pipeline.status()["lost_points"]
            self._publish({"type": "alert", "t": t, "on": self.alerts.on, "reason": "loss",
                           "points": lost})
        if taps:
            for tap in tuple(taps):
                tap(frame)
        if t - self._last_status_t >= 1.0 / STATUS_HZ:
            self._publish_status(t)

    # -- publishing ----------------------------------------------------------
    def _wall(self, t: float) -> float:
        return self._wall0 + (t - self._t0) / self.clock.speed

    def _publish(self, event: dict) -> None:
        event.setdefault("wall", self._wall(event["t"]))
        self.bus.publish(event)

    def _publish_all(self, events: list, t: float) -> None:
        for event in events:
            event.setdefault("t", t)
            self._publish(event)

    def _publish_status(self, t: float, force: bool = False) -> None:
        if not force and t - self._last_status_t < 1.0 / STATUS_HZ:
            return
        self._last_status_t = t
        status = self.get_status()
        status["type"] = "status"
        self.bus.publish(status)

    # -- what listeners call --------------------------------------------------
    def subscribe(self, maxsize: int = 256, types=None) -> Subscription:
        """A bounded queue of events; see docs/architecture.md for their shapes."""
        return self.bus.subscribe(maxsize=maxsize, types=types)

    def get_status(self) -> dict:
        """The status snapshot (docs/architecture.md), taken under the lock."""
        with self._lock:
            status = self.pipeline.status()
            t = self._ring[-1].t if self._ring else self.clock.now()
            status.update({
                "t": round(t, 4),
                "wall": self._wall(t),
                "alert": self.alerts.on,
                "exercise": self._settings.exercise,
                "calibrated": self._settings.calibration is not None,
                "health": self._health(),
            })
        return status

    def _health(self) -> dict:
        # Frame times of the last ~second live in their own small deque, so the
        # snapshot costs tens of microseconds, not a copy of the whole ring.
        # Plain Python: for 200 numbers it is several times faster than numpy.
        times = tuple(self._recent_t)
        rate = jitter = 0.0
        n = len(times)
        if n >= 3:
            span = times[-1] - times[0]
            if span > 0:
                # frames per second of *real* time, so a sped-up run reports the true rate
                rate = (n - 1) / span * self.clock.speed
            intervals = sorted(b - a for a, b in zip(times, times[1:]))
            median = intervals[len(intervals) // 2]
            deviations = sorted(abs(x - median) for x in intervals)
            jitter = deviations[min(len(deviations) - 1, int(0.95 * len(deviations)))]
        return {
            "frame_rate_hz": round(float(rate), 1),
            "jitter_ms_p95": round(jitter * 1000.0 / self.clock.speed, 2),
            "read_errors": self._read_errors,
            "fault": self._fault,
            "uptime_s": round((self.clock.now() - self._t0) / self.clock.speed, 1),
            "frames": self._frames,
            "source": self.source_name,
            "history": self._history_problem or "ok",
            "subscribers": self.bus.subscriber_count,
        }

    @property
    def settings(self) -> Settings:
        return self._settings

    def update_settings(self, changes: dict) -> Settings:
        """Validate and apply a partial update as a whole (SettingsError on bad input)."""
        new = self._settings.updated(changes)
        self._apply_settings(new)
        return new

    def _apply_settings(self, new: Settings) -> None:
        old = self._settings
        if self.settings_store is not None:
            self.settings_store.save(new)
        with self._lock:
            self._settings = new
            self.pipeline.update_settings(new)
            self.alerts.buzzer_enabled = new.buzzer
            if not new.buzzer:
                self.alerts.buzzer.off()
            if (new.data_rate, new.gain, new.chip) != (old.data_rate, old.gain, old.chip):
                if new.chip != old.chip:
                    self._adc = None           # a different chip: rebuild the driver
                else:
                    self._pending_adc_settings = True
        self._publish({"type": "settings", "t": self.clock.now(), "settings": new.to_dict()})

    def set_exercise(self, name: str) -> Settings:
        return self.update_settings({"exercise": name})

    def calibrate(self, duration_s: float = 3.0, timeout_s: Optional[float] = None) -> "Calibration":
        """Record ``duration_s`` of the resting hold and store the thresholds.

        Blocks while it records (in real seconds: the clock's speed applies).
        Raises :class:`CalibrationError` when a point has no contact or the
        dowel moved, with a message meant for the athlete.
        """
        frames: list = []
        done = threading.Event()
        start = self.clock.now()

        def collect(frame: Frame) -> None:
            frames.append(frame)
            if frame.t - start >= duration_s:
                done.set()

        remove = self.tap_frames(collect)
        try:
            limit = timeout_s if timeout_s is not None else duration_s / self.clock.speed + 5.0
            if not done.wait(limit):
                raise CalibrationError("no readings from the ADC: check the sensor connection")
        finally:
            remove()
        calibration = calibrate_from_frames(frames, self._settings.sensitivity)
        self._apply_settings(self._settings.updated({"calibration": calibration}))
        self._publish({"type": "calibrated", "t": self.clock.now(),
                       "calibration": calibration.to_dict()})
        return calibration

    def tap_frames(self, callback: Callable[[Frame], None]) -> Callable[[], None]:
        """Call ``callback(frame)`` on the polling thread for every frame until the
        returned function is called.  The callback must be quick (queue the frame)."""
        with self._lock:
            self._frame_taps.append(callback)

        def remove() -> None:
            with self._lock:
                if callback in self._frame_taps:
                    self._frame_taps.remove(callback)
        return remove

    def recent_frames(self, seconds: float = 5.0) -> list:
        with self._lock:
            if not self._ring:
                return []
            cutoff = self._ring[-1].t - seconds
            return [f for f in self._ring if f.t >= cutoff]

    def report_history_problem(self, message: Optional[str]) -> None:
        """The history writer says whether reps are being saved (None = all good)."""
        with self._lock:
            changed = message != self._history_problem
            self._history_problem = message
        if changed:
            self._publish_status(self.clock.now(), force=True)

    def _button_pressed(self) -> None:
        # The optional button ends the current set at once (the athlete is done
        # but still holds the dowel); sets start by themselves when the dowel goes on.
        t = self.clock.now()
        with self._lock:
            events = self.pipeline.finish(t)
        self._publish_all(events, t)
