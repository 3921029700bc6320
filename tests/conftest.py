"""Shared fixtures.  ``FakeCore`` keeps the core's contract
(:class:`device.runtime.contract.Core`, checked by tests/test_contract.py) without
a polling thread, so web tests decide exactly which events happen."""
from __future__ import annotations

import copy
import time

import pytest

from device.analysis.calibration import calibrate_from_frames
from device.analysis.frames import Frame
from device.analysis.plan import Plan
from device.analysis.settings import Settings
from device.hw import constants
from device.runtime.contract import Core
from device.runtime.events import EventBus


def status_snapshot(t: float = 0.0, lost=(), rep_count: int = 0, pitch_deg: float = 0.0) -> dict:
    """A status snapshot in the shape of :class:`device.runtime.contract.Status`."""
    points = {p: {"v": 0.0 if p in lost else 2.4, "force_n": 0.0 if p in lost else 3.1,
                  "contact": p not in lost, "lost": p in lost} for p in constants.POINTS}
    return {
        "t": t, "wall": time.time(), "points": points, "pitch_deg": pitch_deg,
        "in_set": True, "set_index": 1, "rep_count": rep_count, "phase": "upright",
        "set": {"number": 1, "active": True, "exercise": "standing_3point", "reps": rep_count,
                "clean_reps": rep_count, "next_number": 2},
        "last_set": None, "sensor_faults": [], "plan": Plan().status(),
        "lost_points": list(lost), "alert": bool(lost), "exercise": "standing_3point",
        "calibrated": False,
        "health": {"frame_rate_hz": 200.0, "jitter_ms_p95": 0.5, "read_errors": 0, "fault": None,
                   "uptime_s": 1.0, "frames": 200, "source": "fake", "history": "ok",
                   "subscribers": 0, "mqtt": None, "warnings": []},
    }


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.01) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass; returns
    whether it came true.  The one way tests wait on another thread's progress:
    the timeout is a safety net on a loaded machine, never a measurement."""
    end = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(interval)


class FakeCore(Core):
    """The core's public contract, driven by the test: ``publish`` events, set
    ``holding`` to say whether the athlete holds the dowel on for calibration."""

    def __init__(self, settings: Settings | None = None):
        self.bus = EventBus()
        self._settings = settings or Settings()
        self.status = status_snapshot()
        self.holding = True
        self.history_problem = None
        self.calibrate_calls = []
        self.lead_in_calls = []

    def get_status(self) -> dict:
        status = copy.deepcopy(self.status)
        status["health"]["subscribers"] = self.bus.subscriber_count
        status["exercise"] = self._settings.exercise
        status["calibrated"] = self._settings.calibration is not None
        return status

    def subscribe(self, maxsize: int = 256, types=None):
        return self.bus.subscribe(maxsize=maxsize, types=types)

    def publish(self, event: dict) -> None:
        event.setdefault("t", self.status["t"])
        event.setdefault("wall", time.time())
        self.bus.publish(event)

    @property
    def settings(self) -> Settings:
        return self._settings

    def update_settings(self, changes: dict) -> Settings:
        self._settings = self._settings.updated(changes)
        self.publish({"type": "settings", "settings": self._settings.to_dict()})
        return self._settings

    def set_exercise(self, name: str) -> Settings:
        return self.update_settings({"exercise": name})

    def calibrate(self, duration_s: float = 3.0, lead_in_s: float = 0.0):
        self.calibrate_calls.append(duration_s)
        self.lead_in_calls.append(lead_in_s)
        v = 2.4 if self.holding else 0.0
        frames = [Frame(i / 100, v, v * 0.9, v * 1.05, 1.66) for i in range(int(duration_s * 100))]
        calibration = calibrate_from_frames(frames, self._settings.sensitivity)
        self._settings = self._settings.updated({"calibration": calibration})
        self.publish({"type": "calibrated", "calibration": calibration.to_dict()})
        return calibration

    def report_history_problem(self, message) -> None:
        self.history_problem = message

    def report_link_state(self, name: str, state) -> None:
        self.status["health"][name] = state


@pytest.fixture
def fake_core() -> FakeCore:
    return FakeCore()


#: The device token the ``app`` fixture is built with.
TEST_TOKEN = "test-token-0123456789abcdef"


@pytest.fixture
def app(fake_core):
    from web import create_app

    return create_app(fake_core, {"TESTING": True, "TOKEN": TEST_TOKEN})


@pytest.fixture
def client(app):
    """A paired phone: every request carries the device token."""
    client = app.test_client()
    client.environ_base["HTTP_X_DOWEL_TOKEN"] = TEST_TOKEN
    return client


@pytest.fixture
def stranger(app):
    """A phone on the same network that was never paired: no token."""
    return app.test_client()


@pytest.fixture(scope="module")
def chromium():
    """Debian's chromium, headless, one per test module (Playwright drives it)."""
    from pathlib import Path

    from dowel_page import CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
