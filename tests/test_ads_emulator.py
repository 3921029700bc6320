"""The emulated ADS1x15 on the register level, through the emulated I2C bus.

A test clock whose ``sleep`` only advances time keeps all timing exact and fast.
"""
from __future__ import annotations

import errno

import pytest

from device.hw.mock.ads1x15 import POWER_UP_S, EmulatedADS1x15, EmulatedI2C
from device.runtime.clock import VirtualClock

ADDR = 0x48




class Inputs:
    """Settable AIN0..AIN3 volts; records the times it was sampled at."""

    finished = False

    def __init__(self, *volts) -> None:
        self.volts = list(volts or (1.0, 2.0, 3.0, 0.5))
        self.sampled_at = []

    def voltages(self, t):
        self.sampled_at.append(t)
        return tuple(self.volts)


def make(model="ADS1115", volts=None, **kw):
    clock = VirtualClock()
    source = Inputs(*(volts or ()))
    chip = EmulatedADS1x15(source, clock, model=model, **kw)
    bus = EmulatedI2C(clock, {ADDR: chip})
    return clock, source, chip, bus


def write_reg(bus, reg, value):
    bus.writeto(ADDR, bytes((reg, value >> 8, value & 0xFF)))


def read_reg(bus, reg):
    buf = bytearray(2)
    bus.writeto_then_readfrom(ADDR, bytes((reg,)), buf)
    return buf[0] << 8 | buf[1]


def signed(v):
    return v - 0x10000 if v & 0x8000 else v


def single_shot(mux, pga=1, dr=7, mode_single=True):
    return 0x8000 | mux << 12 | pga << 9 | (0x100 if mode_single else 0) | dr << 5 | 0x03


def convert(clock, bus, config):
    write_reg(bus, 1, config)
    clock.sleep(0.2)
    return signed(read_reg(bus, 0))


def test_power_on_registers():
    _, _, _, bus = make()
    assert read_reg(bus, 1) == 0x8583
    assert read_reg(bus, 2) == 0x8000
    assert read_reg(bus, 3) == 0x7FFF
    assert read_reg(bus, 0) == 0


def test_each_single_ended_mux_reads_its_own_input():
    clock, _, _, bus = make(volts=(1.0, 2.0, 3.0, 0.5))
    lsb = 4.096 / 32768
    for ain, volts in enumerate((1.0, 2.0, 3.0, 0.5)):
        code = convert(clock, bus, single_shot(0b100 + ain))
        assert abs(code * lsb - volts) <= lsb


def test_differential_mux_codes():
    clock, _, _, bus = make(volts=(1.0, 2.0, 3.0, 0.5))
    lsb = 4.096 / 32768
    expected = {0b000: 1.0 - 2.0, 0b001: 1.0 - 0.5, 0b010: 2.0 - 0.5, 0b011: 3.0 - 0.5}
    for mux, volts in expected.items():
        assert abs(convert(clock, bus, single_shot(mux)) * lsb - volts) <= lsb


def test_pga_full_scale_and_clipping_at_the_code_rails():
    clock, source, _, bus = make(volts=(0.3, 3.0, 0.0, 0.0))
    # +-0.512 V: 0.3 V fits, 3.0 V clips at the top code.
    assert abs(convert(clock, bus, single_shot(0b100, pga=4)) - round(0.3 / 0.512 * 32768)) <= 1
    assert convert(clock, bus, single_shot(0b101, pga=4)) == 32767
    # Differential below -full-scale clips at the bottom code.
    source.volts = [0.0, 3.0, 0.0, 0.0]
    assert convert(clock, bus, single_shot(0b000, pga=2)) == -32768
    # 101..111 are all +-0.256 V.
    source.volts = [0.2, 0, 0, 0]
    assert convert(clock, bus, single_shot(0b100, pga=7)) == \
        convert(clock, bus, single_shot(0b100, pga=5)) == round(0.2 / 0.256 * 32768)


def test_input_never_above_vdd():
    clock, _, _, bus = make(volts=(5.0, -1.0, 0, 0))
    code = convert(clock, bus, single_shot(0b100, pga=0))           # +-6.144 V range
    assert abs(code * 6.144 / 32768 - 3.3) < 0.001
    assert convert(clock, bus, single_shot(0b101, pga=0)) == 0        # nor below GND


def test_ads1015_is_12_bit_left_justified():
    clock, _, _, bus = make("ADS1015", volts=(1.0, 0, 0, 0))
    raw = convert(clock, bus, single_shot(0b100, dr=6))
    assert raw & 0xF == 0
    assert raw >> 4 == round(1.0 / 4.096 * 2048)
    assert read_reg(bus, 1) & 0x8000    # idle again after the conversion


def test_os_bit_and_conversion_time():
    clock, _, chip, bus = make()
    write_reg(bus, 1, single_shot(0b100, dr=7))        # 860 SPS
    started = bus.now()                                # wire time, owed sleep included
    assert not read_reg(bus, 1) & 0x8000               # converting
    while not read_reg(bus, 1) & 0x8000:
        pass
    took = bus.now() - started
    # Done after 1/DR, seen at most one poll (120 us at 400 kHz) plus the rest of
    # the poll after the chip loaded the register later.
    assert 1 / 860 <= took <= 1 / 860 + 2 * 120e-6
    assert chip.conversions == 1


def test_n_conversions_take_n_over_dr():
    clock, _, chip, bus = make()
    t0 = bus.now()
    for _ in range(50):
        write_reg(bus, 1, single_shot(0b100, dr=5))    # 250 SPS
        while not read_reg(bus, 1) & 0x8000:
            pass
    elapsed = bus.now() - t0
    assert chip.conversions == 50
    assert 50 / 250 <= elapsed <= 50 / 250 * 1.15


def test_oscillator_tolerance_changes_the_conversion_time_within_10_percent():
    times = set()
    for seed in range(6):
        clock, _, chip, bus = make(osc_tolerance=0.1, seed=seed)
        t = chip.conversion_time_s(single_shot(0b100, dr=7))
        assert 1 / 860 / 1.1 <= t <= 1 / 860 / 0.9
        times.add(round(t, 9))
    assert len(times) > 1


def test_conversion_register_keeps_the_old_result_until_the_new_one_is_done():
    clock, source, _, bus = make(volts=(1.0, 2.0, 0, 0))
    old = convert(clock, bus, single_shot(0b100))
    write_reg(bus, 1, single_shot(0b101))              # a new conversion on AIN1
    assert signed(read_reg(bus, 0)) == old             # still AIN0's
    clock.sleep(1 / 860)
    assert abs(signed(read_reg(bus, 0)) - round(2.0 / 4.096 * 32768)) <= 1


def test_os_write_while_converting_is_ignored():
    clock, _, chip, bus = make(volts=(1.0, 2.0, 0, 0))
    write_reg(bus, 1, single_shot(0b100))
    write_reg(bus, 1, single_shot(0b101))              # OS=1 while busy: no new start
    clock.sleep(0.1)
    assert chip.conversions == 1
    # ...and the running conversion kept the MUX it started with.
    assert abs(signed(read_reg(bus, 0)) - round(1.0 / 4.096 * 32768)) <= 1


def test_input_is_sampled_during_the_conversion():
    clock, source, _, bus = make()
    write_reg(bus, 1, single_shot(0b100, dr=0))        # 8 SPS: 125 ms
    started = bus.now()
    clock.sleep(1.0)
    read_reg(bus, 0)
    assert started < source.sampled_at[-1] < started + 0.125


def test_continuous_mode_converts_back_to_back_and_switches_mux_after_the_running_one():
    clock, source, chip, bus = make(volts=(1.0, 2.0, 0, 0))
    write_reg(bus, 1, single_shot(0b100, mode_single=False) & 0x7FFF)
    assert not read_reg(bus, 1) & 0x8000               # always converting
    clock.sleep(10.5 / 860)
    assert 9 <= chip.conversions <= 11
    assert abs(signed(read_reg(bus, 0)) - round(1.0 / 4.096 * 32768)) <= 1
    write_reg(bus, 1, single_shot(0b101, mode_single=False) & 0x7FFF)
    before = chip.conversions
    clock.sleep(2.2 / 860)
    assert chip.conversions >= before + 2
    assert abs(signed(read_reg(bus, 0)) - round(2.0 / 4.096 * 32768)) <= 1
    # Back to single-shot: the running conversion finishes, then the chip idles.
    write_reg(bus, 1, single_shot(0b101) & 0x7FFF)
    clock.sleep(2 / 860)
    assert read_reg(bus, 1) & 0x8000
    n = chip.conversions
    clock.sleep(0.1)
    assert chip.conversions == n


def test_alert_rdy_as_conversion_ready_in_single_shot():
    clock, _, chip, bus = make()
    assert chip.alert_rdy                              # comparator off: pulled high
    write_reg(bus, 2, 0x0000)                          # Lo_thresh MSB 0
    write_reg(bus, 3, 0x8000)                          # Hi_thresh MSB 1
    config = single_shot(0b100) & ~0x3                 # COMP_QUE 00
    write_reg(bus, 1, config)
    assert chip.conversion_ready_mode
    assert chip.alert_rdy                              # converting: released
    clock.sleep(POWER_UP_S + 1 / 860)                  # a single shot powers up first
    assert not chip.alert_rdy                          # done: pulled low
    write_reg(bus, 1, config | 0x0008)                 # COMP_POL active high
    assert not chip.alert_rdy
    clock.sleep(POWER_UP_S + 1 / 860)
    assert chip.alert_rdy


def test_alert_rdy_pulses_in_continuous_mode():
    clock, _, chip, bus = make()
    write_reg(bus, 2, 0x0000)
    write_reg(bus, 3, 0x8000)
    write_reg(bus, 1, (single_shot(0b100, mode_single=False) & 0x7FFC))
    clock.sleep(1 / 860 + 2e-6)                        # just after the first result
    assert not chip.alert_rdy
    clock.sleep(20e-6)                                 # the ~8 us pulse is over
    assert chip.alert_rdy


def test_not_conversion_ready_without_the_threshold_msbs():
    clock, _, chip, bus = make()
    write_reg(bus, 1, single_shot(0b100) & ~0x3)       # COMP_QUE on, power-on thresholds
    assert not chip.conversion_ready_mode
    clock.sleep(0.01)
    assert chip.alert_rdy                              # traditional comparator, 32767 never passed


def test_traditional_comparator_asserts_above_hi_thresh():
    clock, _, chip, bus = make(volts=(2.0, 0, 0, 0))
    write_reg(bus, 3, 0x2000)                          # ~1.024 V
    write_reg(bus, 2, 0x1000)
    convert(clock, bus, single_shot(0b100) & ~0x3)
    assert not chip.alert_rdy
    convert(clock, bus, single_shot(0b101) & ~0x3)     # 0 V: below Lo_thresh, released
    assert chip.alert_rdy


def test_thresholds_read_back():
    _, _, _, bus = make()
    write_reg(bus, 2, 0x1234)
    write_reg(bus, 3, 0xF00D)
    assert read_reg(bus, 2) == 0x1234
    assert read_reg(bus, 3) == 0xF00D


def test_plain_read_uses_the_last_pointer():
    clock, _, _, bus = make()
    bus.writeto(ADDR, bytes((1,)))
    buf = bytearray(2)
    bus.readfrom_into(ADDR, buf)
    assert buf == bytes((0x85, 0x83))


def test_bus_time_per_transaction():
    clock, _, _, bus = make()
    t0 = bus.now()
    for _ in range(100):
        read_reg(bus, 1)
    # write 1 byte + repeated start + read 2 bytes: 48 bit times at 400 kHz.
    assert bus.now() - t0 == pytest.approx(100 * 48 / 400_000, rel=0.01)
    assert clock.now() <= bus.now() <= clock.now() + bus.sleep_quantum_s


def test_missing_device_nacks_like_linux():
    _, _, _, bus = make()
    with pytest.raises(OSError) as err:
        bus.writeto(0x49, b"\x01")
    assert err.value.errno == errno.EREMOTEIO
    assert bus.scan() == [ADDR]


def test_fail_next_and_unplug():
    clock, _, _, bus = make()
    bus.fail_next(2)
    for _ in range(2):
        with pytest.raises(OSError):
            read_reg(bus, 1)
    assert read_reg(bus, 1) == 0x8583
    write_reg(bus, 2, 0x1234)
    bus.unplug()
    assert bus.scan() == []
    for _ in range(3):
        with pytest.raises(OSError):
            read_reg(bus, 2)
    bus.plug()
    assert read_reg(bus, 2) == 0x8000                  # powered up again: defaults
    assert bus.errors == 5


def test_bus_lock_and_context_manager():
    clock, _, _, bus = make()
    with bus:
        assert bus.try_lock()
        assert not bus.try_lock()
        bus.unlock()
    with pytest.raises(ValueError):
        read_reg(bus, 1)


def test_real_time_rate_is_honoured_with_sleep_batching():
    """On a real clock the batching of short sleeps must not beat the wire."""
    from device.runtime.clock import ScaledClock

    clock = ScaledClock(20.0)           # 20x: 2000 transactions in ~12 ms of wall time
    chip = EmulatedADS1x15(Inputs(), clock)
    bus = EmulatedI2C(clock, {ADDR: chip})
    t0 = clock.now()
    for _ in range(2000):
        read_reg(bus, 1)
    assert clock.now() - t0 >= 2000 * 48 / 400_000 * 0.95
