"""Faults injected into the emulated chip and bus, survived by the polling loop.

The whole stack runs on a virtual clock, on the test's thread, so each run is
exact and repeatable: the loop is still reading frames after every fault.
"""
from __future__ import annotations

import errno

import pytest

from device.hw import constants
from device.hw.mock.faults import FaultPlan, FaultSpecError, parse_spec
from device.hw.mock.factory import build_mock_core
from device.runtime.clock import VirtualClock

HELD = (2.3, 2.1, 2.6, 1.65)


class Held:
    """The dowel on, upright, every point pressed."""

    finished = False

    def voltages(self, t):
        return HELD


def run(plan: FaultPlan, frames: int = 3000):
    core = build_mock_core(Held(), clock=VirtualClock(seed=1), faults=plan, max_frames=frames)
    events = core.subscribe(maxsize=100_000, types=("fault",))
    seen = []
    core.tap_frames(seen.append)
    try:
        core._run()
    finally:
        core.alerts.close()
        core.pin_factory.reset()
    faults = []
    while True:
        e = events.get(timeout=0)
        if e is None:
            break
        faults.append(e)
    return core, seen, faults


def test_i2c_errors_are_retried_and_counted_without_a_fault():
    core, frames, faults = run(FaultPlan(i2c_error_rate=0.03, seed=4))
    bus = core.mock_bus
    assert len(frames) == 3000                          # the loop kept reading
    assert bus.injected["error"] > 20
    assert core.get_status()["health"]["read_errors"] == bus.injected["error"]
    assert faults == []                                 # glitches, not a fault
    assert all(abs(f.head - HELD[0]) < 0.01 for f in frames)


def test_transaction_timeouts_are_survived_and_counted():
    core, frames, faults = run(FaultPlan(timeout_rate=0.01, seed=2))
    assert len(frames) == 3000
    assert core.mock_bus.injected["timeout"] > 5
    assert core.get_status()["health"]["read_errors"] == core.mock_bus.injected["timeout"]
    assert faults == []


def test_adc_gone_is_a_fault_with_its_reason_and_recovers_by_itself():
    core, frames, faults = run(parse_spec(["gone=2:3"]), frames=2000)
    assert [e["active"] for e in faults] == [True, False]
    assert "ADC not answering" in faults[0]["message"]
    assert 2.0 <= faults[0]["t"] <= 2.5                 # within the fault delay of going
    assert 5.0 <= faults[1]["t"] <= 5.2                 # back soon after it answers
    after = [f for f in frames if f.t > faults[1]["t"]]
    assert len(after) > 100 and all(abs(f.head - HELD[0]) < 0.01 for f in after)
    health = core.get_status()["health"]
    assert health["fault"] is None and health["read_errors"] > 0
    assert core.mock_chip.conversion_ready_mode         # set up again after the power-up


@pytest.mark.parametrize("spec, volts", [("open=sacrum", 0.0), ("short=head", constants.SUPPLY_V)])
def test_a_stuck_channel_reads_its_rail_and_the_loop_goes_on(spec, volts):
    core, frames, faults = run(parse_spec([spec]), frames=500)
    point = spec.split("=")[1]
    index = constants.CHANNELS.index(point)
    assert len(frames) == 500 and faults == []
    assert all(abs(f[1 + index] - volts) < 0.01 for f in frames)
    others = [i for i in range(3) if i != index]
    assert all(abs(f[1 + i] - HELD[i]) < 0.01 for f in frames for i in others)


def test_injected_errors_are_eio_and_nack_like_linux():
    from device.hw.mock.ads1x15 import EmulatedADS1x15, EmulatedI2C

    clock = VirtualClock()
    chip = EmulatedADS1x15(Held(), clock)
    bus = EmulatedI2C(clock, {0x48: chip})
    bus.inject_errors(0.5, seed=0)
    codes = set()
    for _ in range(200):
        try:
            bus.writeto(0x48, b"\x01")
        except OSError as exc:
            codes.add(exc.errno)
    assert codes == {errno.EIO, errno.EREMOTEIO}


@pytest.mark.parametrize("spec, message", [
    ("bogus", "expected one of"), ("i2c-errors=lots", "not a number"),
    ("i2c-errors=2", "fraction"), ("gone=x", "AT:SECONDS"), ("open=knee", "unknown point")])
def test_bad_fault_specs_say_what_is_wrong(spec, message):
    with pytest.raises(FaultSpecError, match=message):
        parse_spec([spec])


def test_plan_describes_itself():
    plan = parse_spec(["i2c-errors=0.02", "gone=5:3", "open=sacrum", "short=head"])
    text = plan.describe()
    assert "2.0% of I2C" in text and "gone at 5 s for 3 s" in text
    assert "sacrum open (0 V)" in text and "head shorted (3.3 V)" in text


def _dowel(*args, data_dir):
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = dict(os.environ, DOWEL_DATA_DIR=str(data_dir))
    return subprocess.run([sys.executable, "-m", "device.cli", *map(str, args)],
                          cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True,
                          timeout=120, env=env)


@pytest.mark.slow
def test_inject_from_the_command_line(tmp_path):
    from device.sim.trace import read_trace

    out = tmp_path / "stuck.csv"
    result = _dowel("record", out, "--mock", "--inject", "open=head", "--inject", "i2c-errors=0.01",
                    "--seconds", "1", "--speed", "4", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    frames = read_trace(out)
    assert frames and all(f.head < 0.01 for f in frames)


@pytest.mark.slow
def test_inject_errors_on_the_command_line_exit_2(tmp_path):
    bad = _dowel("record", tmp_path / "x.csv", "--mock", "--inject", "gone=soon", data_dir=tmp_path)
    assert bad.returncode == 2 and "--inject gone=soon" in bad.stderr
    no_mock = _dowel("run", "--inject", "open=head", "--no-web", data_dir=tmp_path)
    assert no_mock.returncode == 2 and "only applies to mock mode" in no_mock.stderr
