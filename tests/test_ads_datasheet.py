"""The emulated ADS1x15 against the TI datasheet, where independent drivers found it off.

Each test states the datasheet behaviour it checks.  Virtual time: the clock only
moves when slept, so every timing here is exact.
"""
from __future__ import annotations

import errno

import pytest

from device.hw import registers as R
from device.hw.mock.ads1x15 import POWER_UP_S, EmulatedADS1x15, EmulatedI2C
from device.runtime.clock import VirtualClock

ADDR = 0x48




class Inputs:
    finished = False

    def __init__(self, *volts) -> None:
        self.volts = list(volts or (1.0, 2.0, 3.0, 0.5))

    def voltages(self, t):
        return tuple(self.volts)


def make(model="ADS1115", volts=None):
    clock = VirtualClock()
    source = Inputs(*(volts or ()))
    chip = EmulatedADS1x15(source, clock, model=model)
    bus = EmulatedI2C(clock, {ADDR: chip})
    return clock, source, chip, bus


def write_reg(bus, reg, value):
    bus.writeto(ADDR, bytes((reg, value >> 8, value & 0xFF)))


def read_reg(bus, reg):
    buf = bytearray(2)
    bus.writeto_then_readfrom(ADDR, bytes((reg,)), buf)
    return buf[0] << 8 | buf[1]


def config(model, mux=4, *, single=True, start=True, que=0, latch=False, dr=None):
    dr = R.DATA_RATES[model].index(860 if model == "ADS1115" else 3300) if dr is None else dr
    return R.config_word(mux, 1, dr, single_shot=single, start=start, comp_que=que, comp_lat=latch)


def ads1015_word(volts):
    """A 12-bit code for ``volts`` at +-4.096 V, left-justified as the register holds it."""
    return (round(volts / 4.096 * 2048) << 4) & 0xFFFF


def test_ads1015_comparator_compares_the_left_justified_result_once():
    # Datasheet (ADS101x, "Conversion Register" and "Lo_thresh and Hi_thresh"):
    # both the result and the thresholds are 12 bits left-justified in 16, so
    # they compare as they stand.  0.5 V is below a 1.0 V Hi_thresh: no alert.
    clock, source, chip, bus = make("ADS1015", volts=(0.5, 0, 0, 0))
    write_reg(bus, R.POINTER_HI_THRESH, ads1015_word(1.0))
    write_reg(bus, R.POINTER_LO_THRESH, ads1015_word(0.8))
    write_reg(bus, R.POINTER_CONFIG, config("ADS1015"))
    clock.sleep(0.01)
    assert chip.alert_rdy                              # released: not beyond Hi_thresh
    source.volts[0] = 1.5
    write_reg(bus, R.POINTER_CONFIG, config("ADS1015"))
    clock.sleep(0.01)
    assert not chip.alert_rdy                          # 1.5 V > 1.0 V: asserted (active low)


def test_comparator_queue_counts_conversions_nobody_read_in_continuous_mode():
    # Datasheet ("Comparator"): COMP_QUE = 10 asserts after four successive
    # conversions beyond the threshold; conversions count whether or not the
    # host reads them.
    clock, source, chip, bus = make(volts=(3.0, 0, 0, 0))
    write_reg(bus, R.POINTER_HI_THRESH, 0x2000)        # ~1.024 V
    write_reg(bus, R.POINTER_LO_THRESH, 0x1000)
    write_reg(bus, R.POINTER_CONFIG, config("ADS1115", single=False, start=False, que=2))
    period = chip.conversion_time_s()
    t0 = clock.t
    clock.sleep(3.5 * period)
    assert chip.alert_rdy                              # three so far: not yet
    clock.sleep(t0 + 4.5 * period - clock.t)
    assert not chip.alert_rdy                          # the fourth one asserts it


def test_general_call_reset_resets_registers_and_acknowledges():
    # Datasheet ("I2C General Call"): the device acknowledges address 0000000
    # and, when the second byte is 06h, resets its registers and powers down.
    clock, source, chip, bus = make()
    write_reg(bus, R.POINTER_LO_THRESH, 0x1234)
    write_reg(bus, R.POINTER_CONFIG, 0x4000)
    bus.writeto(R.GENERAL_CALL_ADDRESS, bytes((R.GENERAL_CALL_RESET,)))
    assert read_reg(bus, R.POINTER_LO_THRESH) == R.POWER_ON_LO_THRESH
    assert read_reg(bus, R.POINTER_CONFIG) == R.POWER_ON_CONFIG
    bus.writeto(R.GENERAL_CALL_ADDRESS, b"\x04")        # another command: ignored, still ACKed
    bus.unplug()
    with pytest.raises(OSError):
        bus.writeto(R.GENERAL_CALL_ADDRESS, bytes((R.GENERAL_CALL_RESET,)))


def test_smbus_alert_response_returns_the_address_and_clears_the_latch():
    # Datasheet ("SMBus Alert Response"): with a latched alert the device answers
    # a read of 0001100 with its address (status bit 1: above Hi_thresh) and
    # releases ALERT/RDY; with no alert asserted nobody acknowledges.
    clock, source, chip, bus = make(volts=(3.0, 0, 0, 0))
    write_reg(bus, R.POINTER_HI_THRESH, 0x2000)
    write_reg(bus, R.POINTER_LO_THRESH, 0x1000)
    write_reg(bus, R.POINTER_CONFIG, config("ADS1115", latch=True))
    clock.sleep(0.01)
    assert not chip.alert_rdy
    buf = bytearray(1)
    bus.readfrom_into(R.ALERT_RESPONSE_ADDRESS, buf)
    assert buf[0] == (ADDR << 1) | 1
    assert chip.alert_rdy                              # latch cleared
    with pytest.raises(OSError) as err:
        bus.readfrom_into(R.ALERT_RESPONSE_ADDRESS, buf)
    assert err.value.errno == errno.EREMOTEIO


def test_ads1015_reserved_threshold_bits_read_zero():
    # Datasheet (ADS101x "Lo_thresh and Hi_thresh Registers"): bits 3:0 are
    # reserved and always read 0.
    _, _, _, bus = make("ADS1015")
    write_reg(bus, R.POINTER_LO_THRESH, 0x1234)
    write_reg(bus, R.POINTER_HI_THRESH, 0xF00F)
    assert read_reg(bus, R.POINTER_LO_THRESH) == 0x1230
    assert read_reg(bus, R.POINTER_HI_THRESH) == 0xF000
    _, _, _, bus = make("ADS1115")                     # 16 bits: all kept
    write_reg(bus, R.POINTER_LO_THRESH, 0x1234)
    assert read_reg(bus, R.POINTER_LO_THRESH) == 0x1234


def test_single_shot_powers_up_before_converting():
    # Datasheet ("Single-Shot Mode"): on OS = 1 the device powers up in about
    # 25 us, then converts for 1/DR; continuous conversions follow back to back.
    clock, source, chip, bus = make()
    write_reg(bus, R.POINTER_CONFIG, config("ADS1115"))
    stop = bus.now()
    period = chip.conversion_time_s()
    clock.sleep(stop + POWER_UP_S + period - 1e-6 - bus.now())
    assert chip.converting
    clock.sleep(2e-6)
    assert not chip.converting
    assert POWER_UP_S == pytest.approx(25e-6)
