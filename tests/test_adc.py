"""DowelAdc: the real Adafruit driver against the emulated chip.

The clock is virtual: ``sleep`` advances it and every ``now()`` ticks it by a
microsecond (so a spin on the ALERT/RDY line sees time pass), which keeps the
timing checks exact and the file fast on a busy machine.
"""
from __future__ import annotations

import errno
import logging

import pytest

from device.hw import constants
from device.hw.adc import DowelAdc
from device.hw.mock.ads1x15 import EmulatedADS1x15, EmulatedI2C
from device.hw.mock.factory import make_mock_adc

READS = {"pipelined+rdy": dict(pipelined=True, ready_pin=True),
         "pipelined": dict(pipelined=True, ready_pin=False),
         "driver": dict(pipelined=False, ready_pin=False)}


class TickClock:
    speed = 1.0

    def __init__(self, tick_s: float = 1e-6) -> None:
        self.t = 0.0
        self.tick_s = tick_s

    def now(self) -> float:
        self.t += self.tick_s
        return self.t

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.t += seconds


class Ramp:
    """Each channel its own level, all drifting slowly with time, so a result
    given to the wrong channel is off by about a volt."""

    finished = False

    def __init__(self, levels=(0.5, 1.5, 2.5, 1.65), slope_v_per_s: float = 0.01) -> None:
        self.levels = list(levels)
        self.slope = slope_v_per_s

    def voltages(self, t):
        return tuple(v + self.slope * (t % 10) for v in self.levels)


def mock(read="pipelined+rdy", source=None, clock=None, **kw):
    clock = clock or TickClock()
    source = source or Ramp()
    adc, bus, chip = make_mock_adc(source, clock, **READS[read], **kw)
    return clock, source, adc, bus, chip


def assert_frame(frame, source, t, tol_v):
    expected = source.voltages(t)
    assert len(frame) == 4
    for name, got, want in zip(constants.CHANNELS, frame, expected):
        assert abs(got - want) <= tol_v, (name, got, want)


@pytest.mark.parametrize("read", READS)
def test_each_channel_reads_its_own_input(read):
    clock, source, adc, bus, chip = mock(read, source=Ramp(slope_v_per_s=0.0))
    lsb = 4.096 / 32768
    for _ in range(20):
        assert_frame(adc.read_frame(), source, clock.t, 1.01 * lsb)


@pytest.mark.parametrize("read", READS)
def test_channels_stay_in_order_over_many_frames(read):
    clock, source, adc, bus, chip = mock(read)
    for _ in range(300):
        frame = adc.read_frame()
        # Within one frame (~5 ms) the ramp moves 50 uV; a swap would be ~1 V.
        assert_frame(frame, source, clock.t, 0.001)


def test_channel_mapping_follows_hardware_table():
    assert [constants.ADC_CHANNEL[c] for c in constants.CHANNELS] == [0, 1, 2, 3]
    clock, source, adc, bus, chip = mock(source=Ramp((3.0, 0.0, 1.0, 2.0), 0.0))
    head, upper_back, sacrum, tilt = adc.read_frame()
    assert head == pytest.approx(3.0, abs=0.001)
    assert upper_back == pytest.approx(0.0, abs=0.001)
    assert sacrum == pytest.approx(1.0, abs=0.001)
    assert tilt == pytest.approx(2.0, abs=0.001)


def test_gain_scales_and_clips():
    clock, source, adc, bus, chip = mock(source=Ramp((0.3, 1.0, 3.0, 1.65), 0.0))
    adc.gain = 2                                        # +-2.048 V
    assert adc.full_scale_v == 2.048
    assert chip.register(1) >> 9 & 0x7 == 0b010
    head, upper_back, sacrum, tilt = adc.read_frame()
    lsb = 2.048 / 32768
    assert head == pytest.approx(0.3, abs=lsb)
    assert upper_back == pytest.approx(1.0, abs=lsb)
    assert sacrum == pytest.approx(2.048 - lsb, abs=1e-9)     # clipped at the top code
    adc.gain = 16                                       # +-0.256 V
    assert max(adc.read_frame()) == pytest.approx(0.256 - 0.256 / 32768, abs=1e-9)
    adc.gain = 2 / 3                                    # +-6.144 V
    assert adc.read_frame()[2] == pytest.approx(3.0, abs=6.144 / 32768)


def test_ads1015_12_bit():
    clock, source, adc, bus, chip = mock(chip="ADS1015", source=Ramp(slope_v_per_s=0.0))
    assert adc.data_rate == 3300 and adc.ceiling_hz == 825
    frame = adc.read_frame()
    assert_frame(frame, source, clock.t, 4.096 / 2048)
    assert chip.register(0) & 0xF == 0


@pytest.mark.parametrize("read", READS)
@pytest.mark.parametrize("rate", [860, 250])
def test_frame_rate_follows_the_data_rate(read, rate):
    clock, source, adc, bus, chip = mock(read, data_rate=rate)
    adc.read_frame()
    t0, n0 = bus.now(), chip.conversions
    frames = 40
    for _ in range(frames):
        adc.read_frame()
    elapsed = bus.now() - t0
    assert chip.conversions - n0 >= 4 * frames
    ideal = frames / adc.ceiling_hz
    assert ideal <= elapsed <= ideal * 1.4


def test_pipelined_with_ready_line_is_faster_than_the_plain_driver():
    per_frame = {}
    for read in READS:
        clock, source, adc, bus, chip = mock(read)
        adc.read_frame()
        t0 = bus.now()
        for _ in range(50):
            adc.read_frame()
        per_frame[read] = (bus.now() - t0) / 50
    assert per_frame["pipelined+rdy"] < per_frame["pipelined"] < per_frame["driver"]
    assert 1 / per_frame["pipelined+rdy"] >= 0.9 * 215      # on the virtual clock


def test_settings_reconfigure_the_chip():
    clock, source, adc, bus, chip = mock()
    assert adc.data_rate == 860 and adc.ceiling_hz == 215
    adc.data_rate = 128
    assert adc.ceiling_hz == 32
    assert chip.register(1) >> 5 & 0x7 == 0b100
    assert_frame(adc.read_frame(), source, clock.t, 0.001)
    with pytest.raises(ValueError, match="data_rate"):
        adc.data_rate = 3300
    with pytest.raises(ValueError, match="gain"):
        adc.gain = 3
    with pytest.raises(ValueError, match="chip"):
        DowelAdc(bus, chip="ADS1116")


def test_conversion_ready_mode_is_set_up():
    clock, source, adc, bus, chip = mock()
    adc.read_frame()
    assert chip.conversion_ready_mode
    assert adc.pipeline_misses == 0


def test_unplugged_at_boot_is_an_oserror_and_reconnects():
    clock = TickClock()
    chip = EmulatedADS1x15(Ramp(), clock)
    bus = EmulatedI2C(clock, {0x48: chip})
    bus.unplug()
    with pytest.raises(OSError):
        DowelAdc(bus, clock=clock)
    with pytest.raises(OSError) as err:
        DowelAdc(EmulatedI2C(clock, {}), clock=clock)
    assert err.value.errno == errno.EREMOTEIO
    bus.plug()
    adc = DowelAdc(bus, clock=clock, ready=lambda: not chip.alert_rdy)
    bus.unplug()
    with pytest.raises(OSError):
        adc.reconnect()
    assert not adc.connected
    bus.plug()
    assert_frame(adc.read_frame(), Ramp(), clock.t, 0.001)     # opens lazily
    assert adc.connected


@pytest.mark.parametrize("read", READS)
def test_glitches_raise_and_the_next_frame_is_right(read):
    clock, source, adc, bus, chip = mock(read)
    adc.read_frame()
    for fail_after in range(0, 12):
        # Let some transactions of the frame through, then fail in the middle.
        n = bus.transactions
        real = bus._transaction

        def flaky(*a, _n=n, _k=fail_after, **kw):
            if bus.transactions - _n == _k:
                bus.fail_next(1)
            return real(*a, **kw)

        bus._transaction = flaky
        with pytest.raises(OSError):
            for _ in range(3):
                adc.read_frame()
        bus._transaction = real
        for _ in range(3):
            assert_frame(adc.read_frame(), source, clock.t, 0.001)


@pytest.mark.parametrize("read", READS)
def test_unplug_mid_run_and_plug_back(read):
    clock, source, adc, bus, chip = mock(read)
    adc.read_frame()
    bus.unplug()
    for _ in range(3):
        with pytest.raises(OSError):
            adc.read_frame()
    bus.plug()                                          # chip back at power-on config
    for _ in range(5):
        assert_frame(adc.read_frame(), source, clock.t, 0.001)
    if read == "pipelined+rdy":
        assert chip.conversion_ready_mode and adc.ready is not None


def test_slow_host_falls_back_and_stays_right():
    # 1 ms per transaction: the check after a pipelined read always comes too late.
    clock, source, adc, bus, chip = mock("pipelined", transaction_overhead_s=0.001)
    for _ in range(5):
        assert_frame(adc.read_frame(), source, clock.t, 0.001)
    assert adc.pipeline_misses > 0


def test_unwired_ready_line_falls_back_to_polling(caplog):
    clock = TickClock()
    chip = EmulatedADS1x15(Ramp(), clock)
    bus = EmulatedI2C(clock, {0x48: chip})
    adc = DowelAdc(bus, clock=clock, ready=lambda: False)
    with caplog.at_level(logging.WARNING, logger="device.hw.adc"):
        assert_frame(adc.read_frame(), Ramp(), clock.t, 0.001)
    assert adc.ready is None
    assert "ALERT/RDY" in caplog.text
    for _ in range(5):
        assert_frame(adc.read_frame(), Ramp(), clock.t, 0.001)


class Step(Ramp):
    """The head input steps from 0.5 V to 2.9 V at ``t_step``."""

    t_step = float("inf")

    def voltages(self, t):
        v = super().voltages(t)
        return (2.9 if t >= self.t_step else 0.5,) + v[1:]


def test_pause_between_frames_does_not_give_a_stale_head():
    clock, source, adc, bus, chip = mock(source=Step(slope_v_per_s=0.0))
    adc.read_frame()
    # The core pauses; meanwhile the head input changes.  The conversion started
    # for the next frame before the pause sampled the old level.
    source.t_step = clock.t + 0.25
    clock.sleep(0.5)
    assert adc.read_frame()[0] == pytest.approx(2.9, abs=0.001)


def test_back_to_back_frames_use_the_carried_conversion():
    clock, source, adc, bus, chip = mock(source=Step(slope_v_per_s=0.0))
    adc.read_frame()
    n = chip.conversions
    adc.read_frame()
    # 4 conversions a frame whether or not one was started by the previous call.
    assert chip.conversions - n == 4
    assert adc.pipeline_misses == 0


def test_ceiling():
    clock, source, adc, bus, chip = mock()
    assert adc.ceiling_hz == 860 / 4
