"""``dowel bench`` as a user meets it, and the timing model it rests on.

No figure is asserted against a target here (performance is what the bench
prints); the tests check that every row prints, that virtual-time figures are
the same on two runs, and the timing profiles' arithmetic.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from device.bench import KINDS, README_END, README_START, update_readme
from device.hw import registers as R
from device.hw.mock.ads1x15 import EmulatedADS1x15, EmulatedI2C
from device.hw.mock.factory import make_mock_adc
from device.hw.mock.timing import PI_4, PI_ZERO_2W, PROFILES, profile
from device.runtime.clock import VirtualClock

ROOT = Path(__file__).resolve().parents[1]


def dowel(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "device.cli", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, env=dict(os.environ))


class Still:
    finished = False

    def voltages(self, t):
        return (2.0, 2.0, 2.0, 1.65)


def test_a_known_transaction_sequence_costs_its_sum():
    clock = VirtualClock()
    chip = EmulatedADS1x15(Still(), clock)
    p = PI_ZERO_2W.at(100_000)
    bus = EmulatedI2C(clock, {0x48: chip}, bus_hz=p.bus_hz,
                      transaction_overhead_s=p.transaction_overhead_s)
    bus.writeto(0x48, bytes((R.POINTER_CONFIG, 0x85, 0x83)))        # 1 + 4 * 9 + 1 = 38 bits
    buf = bytearray(2)
    bus.writeto_then_readfrom(0x48, bytes((R.POINTER_CONVERSION,)), buf)   # 48 bits
    bus.host_time(p.gpio_read_s)
    expected = (38 + 48) / 100_000 + 2 * p.transaction_overhead_s + p.gpio_read_s
    assert clock.now() == pytest.approx(expected, rel=1e-9)
    assert bus.now() == clock.now()                   # virtual time: nothing owed, nothing batched


def test_a_write_reaches_the_chip_at_its_stop_not_when_the_host_returns():
    clock = VirtualClock()
    chip = EmulatedADS1x15(Still(), clock)
    bus = EmulatedI2C(clock, {0x48: chip}, transaction_overhead_s=200e-6)
    start = R.config_word(4, 1, 7, start=True)
    bus.writeto(0x48, bytes((R.POINTER_CONFIG, start >> 8, start & 0xFF)))
    stop = 100e-6 + 38 / 400_000                      # half the overhead, then the wire
    assert clock.now() == pytest.approx(stop + 100e-6)
    clock.spend(stop + 25e-6 + chip.conversion_time_s() - clock.now() - 1e-7)
    assert chip.converting
    clock.spend(2e-7)
    assert not chip.converting


def test_virtual_clock_jitter_is_seeded_and_spend_has_none():
    a, b = VirtualClock(80e-6, seed=3), VirtualClock(80e-6, seed=3)
    for clock in (a, b):
        for _ in range(100):
            clock.sleep(1e-3)
    assert a.now() == b.now() > 0.1
    c = VirtualClock(80e-6)
    c.spend(0.5)
    assert c.now() == 0.5


def test_profiles_are_named_and_the_pi_costs_more_than_the_wire():
    assert profile("pi-zero-2w") is PI_ZERO_2W and set(PROFILES) >= {"pi-zero-2w", "pi-4", "pi-5"}
    with pytest.raises(ValueError, match="pi-zero-2w"):
        profile("pi-3")
    frame_s = {}
    for p in (PI_ZERO_2W, PI_4):
        clock = VirtualClock()
        adc, bus, chip = make_mock_adc(Still(), clock, profile=p, tilt_every=4)
        adc.read_frame()
        t0 = clock.now()
        for _ in range(20):
            adc.read_frame()
        frame_s[p.name] = (clock.now() - t0) / 20
    assert frame_s["pi-zero-2w"] > frame_s["pi-4"] > 3.25 / 860    # no faster than the chip


@pytest.mark.slow
def test_tilt_every_fourth_frame_costs_fewer_conversions_and_holds_the_tilt():
    clock = VirtualClock()
    adc, bus, chip = make_mock_adc(Still(), clock, tilt_every=4)
    assert adc.ceiling_hz == pytest.approx(860 / 3.25)
    adc.read_frame()
    n = chip.conversions
    frames = [adc.read_frame() for _ in range(8)]
    assert chip.conversions - n == 8 * 3 + 2
    assert all(f[3] == pytest.approx(1.65, abs=0.001) for f in frames)


def test_readme_table_is_replaced_between_the_marks(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{README_START}\nold\n{README_END}\n\nafter\n")
    update_readme(str(readme), "| new |")
    assert readme.read_text() == f"# x\n\n{README_START}\n| new |\n{README_END}\n\nafter\n"
    bare = tmp_path / "bare.md"
    bare.write_text("no marks")
    with pytest.raises(ValueError, match="bare.md"):
        update_readme(str(bare), "| new |")


def test_the_readme_carries_the_marks():
    text = (ROOT / "README.md").read_text()
    assert README_START in text and README_END in text


@pytest.mark.slow
def test_bench_quick_prints_every_bench_and_its_summary():
    result = dowel("bench", "--quick")
    assert result.returncode == 0, result.stderr
    for i, kind in enumerate(KINDS):
        assert f"[{i + 1}/{len(KINDS)}] {kind}:" in result.stderr
    out = result.stdout
    for title in ("Sampling in virtual time", "Alert latency and accuracy", "Accuracy:",
                  "CPU per frame", "Dashboard, 10 phones", "Dashboard, 50 phones", "Memory:",
                  "History", "Summary"):
        assert title in out, title
    summary = out[out.index("Summary"):]
    for what in ("sampling, Pi Zero 2 W, I2C 400 kHz", "sampling, Pi Zero 2 W, I2C 100 kHz",
                 "sampling, Pi 4", "sampling, Pi 5", "alert latency p50 / p99 / max",
                 "rep count exact", "core CPU per frame p50", "replay speed",
                 "10 dashboard phones", "50 dashboard phones", "memory after",
                 "finished rep to on disk"):
        assert what in summary, what
    assert "ok" in summary


@pytest.mark.slow
def test_virtual_time_rows_are_identical_on_two_runs():
    runs = []
    for _ in range(2):
        result = dowel("bench", "sampling", "latency", "--quick", "--json")
        assert result.returncode == 0, result.stderr
        doc = json.loads(result.stdout)
        rows = [(r["what"], r["measured"]) for r in doc["summary"] if r["virtual_time"]]
        assert rows
        runs.append(rows)
    assert runs[0] == runs[1]


@pytest.mark.slow
def test_bench_rejects_an_unknown_kind():
    result = dowel("bench", "speed")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr and "sampling" in result.stderr
