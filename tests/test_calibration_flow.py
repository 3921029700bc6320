"""Calibration that works: a lead-in, the hold, one retry by itself, words that name
the pad; in mock mode the simulated athlete holds still when asked.  From the
core, the page's endpoint, the command line and the button."""
from __future__ import annotations

import math

import pytest

from device.analysis.calibration import CalibrationError
from device.analysis.settings import Settings
from device.hw.constants import fsr_volts
from device.hw.mock.factory import build_mock_core
from device.runtime.clock import VirtualClock
from tests.test_cli import dowel

HELD = (fsr_volts(3.0), fsr_volts(4.0), fsr_volts(2.5))


class Athlete:
    """Dowel on and upright; hinging (``moving_until``) at first; a pad may be missing."""

    def __init__(self, moving_until=0.0, missing=None):
        self.moving_until = moving_until
        self.missing = missing
        self.finished = False

    def voltages(self, t):
        pitch = 30.0 * (1 - math.cos(2 * math.pi * t / 2.0)) if t < self.moving_until else 1.0
        volts = [0.0 if p == self.missing else v
                 for p, v in zip(("head", "upper_back", "sacrum"), HELD)]
        return (*volts, 1.65 + 0.33 * math.sin(math.radians(pitch)))


@pytest.fixture
def started():
    cores = []

    def start(source=None, **kw):
        # Virtual time (``clock=VirtualClock()``) where the test does not race the
        # clock; the spoilt hold sets a time from the test thread, so real time x4.
        core = build_mock_core(source, speed=4.0, settings=Settings(), **kw)
        cores.append(core)
        core.start()
        return core

    yield start
    for core in cores:
        core.close()
        core.pin_factory.reset()


def phases(sub):
    return [(e["phase"], e.get("message")) for e in sub.drain() if e["type"] == "calibration"]


def test_the_simulated_athlete_holds_still_when_asked(started):
    core = started(clock=VirtualClock())                          # mid-session: idle or hinging, whatever it was doing
    with core.subscribe(types={"calibration", "calibrated"}) as sub:
        calibration = core.calibrate(1.0, lead_in_s=1.0)
        assert [p for p, _ in phases(sub)] == ["lead_in", "hold"]
    assert core.settings.calibration == calibration
    assert all(c.rest_v > 1.5 for c in calibration.points.values())


def test_a_hold_spoilt_by_moving_is_tried_again_by_itself(started):
    athlete = Athlete()
    core = started(athlete)
    athlete.moving_until = core.clock.now() + 0.9     # still hinging for most of the first hold
    with core.subscribe(types={"calibration"}) as sub:
        core.calibrate(1.0)
        seen = phases(sub)
    assert [p for p, _ in seen] == ["lead_in", "hold", "retry", "hold"]
    assert "moved" in seen[2][1]


def test_a_pad_reading_nothing_twice_fails_with_what_to_do(started):
    core = started(Athlete(missing="head"), clock=VirtualClock())
    with core.subscribe(types={"calibration"}) as sub:
        with pytest.raises(CalibrationError, match="^the head pad reads nothing: check it touches"):
            core.calibrate(1.0)
        assert [p for p, _ in phases(sub)] == ["lead_in", "hold", "retry", "hold", "failed"]
    assert core.settings.calibration is None


def test_holding_the_button_calibrates(started, monkeypatch):
    from device.runtime import core as core_module

    monkeypatch.setattr(core_module, "BUTTON_LEAD_IN_S", 0.5)
    monkeypatch.setattr(core_module, "BUTTON_CALIBRATION_S", 1.0)
    core = started(Athlete(), clock=VirtualClock())
    core.alerts.button.hold_time = 0.05
    with core.subscribe(types={"calibrated"}) as sub:
        core.alerts.button.pin.drive_low()
        event = sub.get(timeout=30)
        core.alerts.button.pin.drive_high()
    assert event is not None and event["type"] == "calibrated"
    assert core.settings.calibration is not None


def test_the_endpoint_takes_the_lead_in_from_the_server_or_the_body(client, fake_core, app):
    assert client.post("/api/calibrate").status_code == 200
    assert fake_core.lead_in_calls[-1] == app.config["CALIBRATE_LEAD_IN_S"]
    opts = client.get("/api/options").get_json()["calibration"]
    assert opts == {"lead_in_s": app.config["CALIBRATE_LEAD_IN_S"], "hold_s": app.config["CALIBRATE_S"]}
    assert client.post("/api/calibrate", json={"lead_in_s": 0}).status_code == 200
    assert fake_core.lead_in_calls[-1] == 0
    resp = client.post("/api/calibrate", json={"lead_in_s": 60})
    assert resp.status_code == 400 and resp.get_json()["field"] == "lead_in_s"


@pytest.mark.slow
def test_dowel_calibrate_mock_succeeds_with_its_defaults(tmp_path):
    result = dowel("calibrate", "--mock", "--speed", "4", "--data-dir", tmp_path, data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Calibrated" in result.stdout
    assert (tmp_path / "settings.json").exists()
