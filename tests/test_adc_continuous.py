"""DowelAdc's continuous schedule: MUX one conversion ahead, results attributed by the
ALERT/RDY pulse count and timestamps, on the emulated chip in virtual time."""
from __future__ import annotations

import logging

import pytest

from device.hw import constants
from device.hw.mock.factory import make_mock_adc
from device.hw.mock.timing import IDEAL, PI_4, PI_ZERO_2W
from device.runtime.clock import VirtualClock


class Ramp:
    """Each channel its own level (a wrong channel is off by about a volt), drifting."""

    finished = False

    def __init__(self, levels=(0.5, 1.5, 2.5, 1.65), slope=0.01):
        self.levels, self.slope = list(levels), slope
        self.step_at = float("inf")

    def voltages(self, t):
        v = [x + self.slope * (t % 10) for x in self.levels]
        if t >= self.step_at:
            v[0] = 2.9
        return tuple(v)


def mock(profile=PI_ZERO_2W, seed=0, source=None, **kw):
    clock = VirtualClock(profile.wake_jitter_s, seed=seed)
    source = source or Ramp()
    adc, bus, chip = make_mock_adc(source, clock, profile=profile, osc_tolerance=0.1, seed=seed,
                                   tilt_every=4, continuous=True, **kw)
    return clock, source, adc, bus, chip


def check(frame, source, t, tol=0.02):
    for name, got, want in zip(constants.CHANNELS, frame, source.voltages(t)):
        assert abs(got - want) <= tol, (name, got, want)


@pytest.mark.parametrize("profile", [PI_ZERO_2W, PI_4, IDEAL], ids=lambda p: p.name)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_channel_gets_its_own_result(profile, seed):
    clock, source, adc, bus, chip = mock(profile, seed)
    for _ in range(300):
        check(adc.read_frame(), source, clock.now())
        bus.host_time(profile.frame_cpu_s)
    assert adc._chain is not None                      # still continuous
    assert adc.lost_results <= 3


def test_the_chip_never_waits_for_the_host_on_the_pi_zero_profile():
    clock, source, adc, bus, chip = mock()
    adc.read_frame()
    n, t0 = chip.conversions, clock.now()
    for _ in range(400):
        adc.read_frame()
        bus.host_time(PI_ZERO_2W.frame_cpu_s)
    conversions_per_s = (chip.conversions - n) / (clock.now() - t0)
    assert conversions_per_s == pytest.approx(860 * chip.osc_factor, rel=0.02)
    assert (chip.conversions - n) / 400 == pytest.approx(3.25, abs=0.05)


def test_a_pause_between_frames_gives_fresh_values():
    clock, source, adc, bus, chip = mock(source=Ramp(slope=0.0))
    adc.read_frame()
    source.step_at = clock.now() + 0.2
    clock.sleep(0.5)                                   # the core paused; conversions went on
    assert adc.read_frame()[0] == pytest.approx(2.9, abs=0.002)


def test_a_glitch_mid_frame_raises_and_the_next_frames_are_right():
    clock, source, adc, bus, chip = mock()
    for k in range(8):
        adc.read_frame()
        bus.fail_next(1) if k % 2 else None
        try:
            adc.read_frame()
        except OSError:
            pass
        for _ in range(3):
            check(adc.read_frame(), source, clock.now())


def test_unplugged_and_back_it_resumes_continuous_reads():
    clock, source, adc, bus, chip = mock()
    adc.read_frame()
    bus.unplug()
    with pytest.raises(OSError):
        adc.read_frame()
    bus.plug()
    for _ in range(20):
        check(adc.read_frame(), source, clock.now())
    assert chip.conversion_ready_mode and adc._chain is not None


def test_a_host_too_slow_falls_back_to_single_shots_and_stays_right():
    clock, source, adc, bus, chip = mock(PI_ZERO_2W.at(100_000))
    for _ in range(50):
        check(adc.read_frame(), source, clock.now())
    assert adc._single_shot_frames_left > 0


def test_pulses_that_never_come_fall_back_with_a_warning(caplog):
    clock, source, adc, bus, chip = mock()
    adc.ready_edges = lambda: (0, 1.0)                 # a counter that never moves
    with caplog.at_level(logging.WARNING, logger="device.hw.adc"):
        with pytest.raises(OSError):
            adc.read_frame()
    assert adc.ready_edges is None and "ALERT/RDY pulses" in caplog.text
    for _ in range(5):
        check(adc.read_frame(), source, clock.now())


def test_settings_change_leaves_continuous_mode_cleanly():
    clock, source, adc, bus, chip = mock()
    adc.read_frame()
    adc.data_rate = 475
    for _ in range(5):
        check(adc.read_frame(), source, clock.now())
    assert adc.ceiling_hz == pytest.approx(475 / 3.25)


def test_ready_line_counts_falls_with_their_timestamps():
    from gpiozero.pins.mock import MockFactory

    from device.hw.ready import ReadyLine

    factory = MockFactory()
    line = ReadyLine(pin_factory=factory)
    pin = factory.pin(constants.PIN_ALERT_RDY)
    assert line.edges()[0] == 0 and not line.is_ready()
    pin.drive_low()
    assert line.is_ready()
    pin.drive_high()
    pin.drive_low()
    pin.drive_high()
    count, age = line.edges()
    assert count == 2 and 0 <= age < 1.0
    line.close()
    factory.reset()


@pytest.mark.parametrize("seed", range(10))
def test_a_host_slow_at_random_never_gives_a_channel_another_ones_result(seed):
    import random

    rng = random.Random(seed)
    levels = (0.0, 0.5, 1.0, 1.65)
    clock, source, adc, bus, chip = mock(seed=seed, source=Ramp(levels, slope=0.0))
    spend = bus._spend
    # Every transaction and host cost takes a random extra (preempted, slow Python).
    bus._spend = lambda cost: spend(cost + rng.expovariate(1 / 200e-6))
    for _ in range(200):
        frame = adc.read_frame()
        assert all(abs(got - want) < 0.002 for got, want in zip(frame, levels)), frame
        if rng.random() < 0.05:
            clock.sleep(rng.uniform(0.0, 0.01))
