"""``dowel selftest``: the bring-up steps, on the emulated chip with a scripted user."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from device.hw.mock.bringup import mock_rig
from device.hw.mock.faults import parse_spec
from device.hw.mock.timing import PI_ZERO_2W
from device.hw.selftest import run_selftest

ROOT = Path(__file__).resolve().parents[1]


def dowel(*args):
    return subprocess.run([sys.executable, "-m", "device.cli", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, env=dict(os.environ))


def steps(faults=(), **kw):
    rig, user = mock_rig(parse_spec(list(faults)), say=lambda line: None, **kw)
    return {r.name: r for r in run_selftest(rig, user)}


@pytest.mark.slow
def test_selftest_mock_passes_every_step():
    result = dowel("selftest", "--mock")
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("ADC answers at 0x48", "head pad", "upper_back pad", "sacrum pad", "tilt at rest",
                 "ALERT/RDY follows conversions", "I2C clock", "LED and buzzer"):
        assert f"[PASS] {name}" in result.stdout, name
    assert "All 8 steps passed." in result.stdout


@pytest.mark.slow
def test_an_open_channel_fails_its_step_with_what_to_check():
    result = dowel("selftest", "--mock", "--inject", "open=sacrum")
    assert result.returncode == 1
    assert "[FAIL] sacrum pad: never above 1 V while pressed" in result.stdout
    assert "check the sacrum FSR" in result.stdout
    assert "[PASS] head pad" in result.stdout
    assert "1 of 8 steps failed: sacrum pad" in result.stdout


def test_a_shorted_channel_is_named():
    result = steps(["short=head"])
    assert not result["head pad"].ok
    assert "shorted to 3.3 V" in result["head pad"].detail
    assert result["upper_back pad"].ok


def test_a_wrong_address_says_which_addresses_answered():
    rig, user = mock_rig(None, say=lambda line: None)
    rig.address = 0x49
    results = run_selftest(rig, user)
    assert not results[0].ok and "0x48 (ADDR to GND)" in results[0].detail
    assert [r.name for r in results] == ["ADC answers at 0x49", "LED and buzzer"]


def test_a_gone_adc_fails_the_first_step():
    rig, user = mock_rig(None, say=lambda line: None)
    rig.i2c.unplug()
    results = run_selftest(rig, user)
    assert not results[0].ok and "nothing answers on the bus" in results[0].detail


def test_the_bus_clock_is_measured_and_100_khz_is_a_warning():
    fast = steps()["I2C clock"]
    assert fast.ok and fast.warning is None and "400 kHz" in fast.detail
    slow = steps(profile=PI_ZERO_2W.at(100_000))["I2C clock"]
    assert slow.ok and "100 kHz" in slow.detail
    assert "i2c_arm_baudrate=400000" in slow.warning


def test_an_unwired_ready_line_is_skipped_not_failed():
    result = steps(ready_wired=False)["ALERT/RDY follows conversions"]
    assert result.ok and result.skipped


def test_a_ready_line_that_never_moves_fails():
    rig, user = mock_rig(None, say=lambda line: None)
    rig.ready = lambda: False
    result = {r.name: r for r in run_selftest(rig, user)}["ALERT/RDY follows conversions"]
    assert not result.ok and "GPIO23" in result.detail


@pytest.mark.slow
def test_selftest_flags_are_checked():
    result = dowel("selftest", "--mock", "--inject", "open=elbow")
    assert result.returncode == 2 and "unknown point" in result.stderr
    result = dowel("selftest", "--inject", "open=head")
    assert result.returncode == 2 and "only applies to --mock" in result.stderr
