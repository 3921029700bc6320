"""Bring-up: check the dowel's wiring step by step and say what to fix.

Each step talks to the hardware through a :class:`Rig` (the Pi's bus and GPIO,
or the emulated chip and mock pins) and a :class:`User` (a person at a
terminal, or a scripted one in mock mode), and returns a :class:`StepResult`
with a verdict and a line saying what was seen or what to check.

Steps: the ADC answers at its address; each contact point reads its pad
pressed; the tilt reads a steady, plausible value at rest; ALERT/RDY follows
conversions; the I2C clock the bus really runs; the LED and the buzzer click.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from statistics import median
from typing import Callable, List, Optional

from device.hw import constants, registers
from device.hw.adc import DowelAdc

#: A pad counts as pressed above this (1 N in the divider reads about 1.65 V).
PRESSED_V = 1.0
#: ...and as released below this before the press.
RELEASED_V = 0.5
#: A pad shorted to the 3.3 V rail reads at least this.
SHORTED_V = constants.SUPPLY_V - 0.1
#: Seconds to watch for a press.
PRESS_TIMEOUT_S = 10.0
#: The tilt at rest: inside this band around upright's 1.65 V (+-0.33 V is +-90 deg),
#: and this steady.
TILT_BAND_V = 0.4
TILT_STEADY_V = 0.05
#: Below this the bus is at the Pi's 100 kHz default.
FAST_BUS_HZ = 300_000


@dataclass
class StepResult:
    name: str
    ok: bool
    detail: str
    warning: Optional[str] = None
    skipped: bool = False

    @property
    def verdict(self) -> str:
        return "skip" if self.skipped else ("PASS" if self.ok else "FAIL")


@dataclass
class Rig:
    """What the self-test talks to.  ``ready()`` is True while ALERT/RDY reads
    low (conversion ready), or None when the line is not wired; ``now()`` and
    ``sleep()`` are the clock the bus runs on; ``clock_from_device_tree`` is the
    I2C clock the kernel was told, when known."""

    i2c: object
    led: object
    buzzer: object
    now: Callable[[], float]
    sleep: Callable[[float], None]
    chip: str = "ADS1115"
    address: int = constants.ADS_ADDRESS
    ready: Optional[Callable[[], bool]] = None
    clock_from_device_tree: Optional[int] = None
    clock: object = None


class User:
    """The person doing the bring-up: asked to press pads and to confirm what they saw."""

    def __init__(self, say: Callable[[str], None] = print, ask: Callable[[str], str] = input):
        self.say, self._ask = say, ask

    def press(self, point: str) -> None:
        self.say(f"  Press the {point.replace('_', ' ')} pad now and hold it "
                 f"(watching for {PRESS_TIMEOUT_S:g} s)...")

    def release(self, point: str) -> None:
        self.say("  Let go.")

    def confirm(self, question: str) -> bool:
        return self._ask(f"  {question} [y/n] ").strip().lower().startswith("y")


def scan(rig: Rig) -> List[int]:
    """Addresses that acknowledge on the bus (what ``i2cdetect`` shows)."""
    i2c = rig.i2c
    while not i2c.try_lock():
        pass
    try:
        return list(i2c.scan())
    finally:
        i2c.unlock()


def step_adc_found(rig: Rig) -> StepResult:
    name = f"ADC answers at 0x{rig.address:02x}"
    found = scan(rig)
    if rig.address in found:
        return StepResult(name, True, f"{rig.chip} found (the bus shows "
                                      f"{', '.join(f'0x{a:02x}' for a in found)})")
    ads = [a for a in found if a in registers.ADDRESSES]
    if ads:
        pins = dict(zip(registers.ADDRESSES, ("GND", "VDD", "SDA", "SCL")))
        hint = ", ".join(f"0x{a:02x} (ADDR to {pins[a]})" for a in ads)
        return StepResult(name, False, f"nothing at 0x{rig.address:02x}, but an ADS1x15 answers at "
                                       f"{hint}: rewire ADDR, or use that address (--address, adc.address)")
    if found:
        return StepResult(name, False, "no ADS1x15; addresses that answered: "
                                       + ", ".join(f"0x{a:02x}" for a in found))
    return StepResult(name, False, "nothing answers on the bus: check SDA (GPIO2), SCL (GPIO3), "
                                   "3.3 V and GND to the breakout, and that I2C is enabled")


def _adc(rig: Rig) -> DowelAdc:
    return DowelAdc(rig.i2c, chip=rig.chip, address=rig.address, clock=rig.clock)


def step_point(rig: Rig, user: User, adc: DowelAdc, point: str) -> StepResult:
    name = f"{point} pad"
    index = constants.CHANNELS.index(point)
    before = adc.read_frame()[index]
    if before >= SHORTED_V:
        return StepResult(name, False, f"reads {before:.2f} V before any press: the input is "
                                       "shorted to 3.3 V (check the divider's 10 kOhm to GND)")
    user.press(point)
    start = rig.now()
    best = before
    while rig.now() - start < PRESS_TIMEOUT_S:
        best = max(best, adc.read_frame()[index])
        if best >= PRESSED_V:
            break
        rig.sleep(0.02)
    user.release(point)
    force = constants.volts_to_force(best)
    if best < PRESSED_V:
        return StepResult(name, False, f"never above {PRESSED_V:g} V while pressed (best "
                                       f"{best:.2f} V): check the {point} FSR, its lead and the "
                                       f"divider on A{constants.ADC_CHANNEL[point]} (open?)")
    if before > RELEASED_V:
        return StepResult(name, True, f"{best:.2f} V pressed ({force:.1f} N)",
                          warning=f"already {before:.2f} V before the press: the pad is loaded "
                                  "or the dowel rests on it")
    return StepResult(name, True, f"{before:.2f} V released, {best:.2f} V pressed ({force:.1f} N)")


def step_tilt(rig: Rig, adc: DowelAdc) -> StepResult:
    name = "tilt at rest"
    values = [adc.read_frame()[3] for _ in range(20)]
    mid, spread = median(values), max(values) - min(values)
    if abs(mid - constants.TILT_ZERO_V) > TILT_BAND_V:
        return StepResult(name, False, f"reads {mid:.2f} V, outside {constants.TILT_ZERO_V:g} "
                                       f"+- {TILT_BAND_V:g} V: check the accelerometer's 3.3 V, "
                                       "GND and its axis output to A3")
    if spread > TILT_STEADY_V:
        return StepResult(name, False, f"not steady at rest ({spread * 1000:.0f} mV peak to peak): "
                                       "a loose lead to A3?")
    pitch = math.degrees(math.asin(max(-1.0, min(1.0, (mid - constants.TILT_ZERO_V)
                                                 / constants.TILT_SCALE_V))))
    return StepResult(name, True, f"{mid:.3f} V, {pitch:+.0f} deg from vertical, steady "
                                  f"({spread * 1000:.1f} mV)")


def _write(rig: Rig, pointer: int, value: int) -> None:
    from adafruit_bus_device.i2c_device import I2CDevice

    with I2CDevice(rig.i2c, rig.address, probe=False) as dev:
        dev.write(bytes((pointer, value >> 8, value & 0xFF)))


def step_ready_line(rig: Rig) -> StepResult:
    name = "ALERT/RDY follows conversions"
    if rig.ready is None:
        return StepResult(name, True, "not wired (--no-rdy): the chip is polled over I2C",
                          skipped=True)
    _write(rig, registers.POINTER_HI_THRESH, registers.CONVERSION_READY_HI_THRESH)
    _write(rig, registers.POINTER_LO_THRESH, registers.CONVERSION_READY_LO_THRESH)
    dr = registers.DATA_RATES[rig.chip].index(constants.DEFAULT_DATA_RATE[rig.chip])
    period = 1.0 / constants.DEFAULT_DATA_RATE[rig.chip]
    followed = 0
    for _ in range(5):
        _write(rig, registers.POINTER_CONFIG, registers.config_word(
            registers.MUX_SINGLE_ENDED[0], 1, dr, start=True, comp_que=0))
        busy_seen = not rig.ready()
        rig.sleep(3 * period)
        done_seen = rig.ready()
        followed += busy_seen and done_seen
    if followed == 5:
        return StepResult(name, True, "released while converting, pulled low when done (5 of 5)")
    return StepResult(name, False, f"followed {followed} of 5 conversions: check ALERT/RDY to "
                                   f"GPIO{constants.PIN_ALERT_RDY} and its pull-up (or run with --no-rdy)")


def measure_bus_hz(rig: Rig, repeats: int = 30) -> float:
    """The clock the bus runs, from transaction times: a 17-byte read and a 1-byte read
    differ by 16 bytes (144 bits) on the wire and by nothing else, so the per-call
    overhead cancels out."""
    from adafruit_bus_device.i2c_device import I2CDevice

    short, long_ = bytearray(1), bytearray(17)
    diffs = []
    with I2CDevice(rig.i2c, rig.address, probe=False) as dev:
        for _ in range(repeats):
            t0 = rig.now()
            dev.readinto(short)
            t1 = rig.now()
            dev.readinto(long_)
            t2 = rig.now()
            diffs.append((t2 - t1) - (t1 - t0))
    d = median(diffs)
    return 144 / d if d > 0 else float("inf")


def step_bus_clock(rig: Rig) -> StepResult:
    name = "I2C clock"
    measured = measure_bus_hz(rig)
    told = rig.clock_from_device_tree
    detail = f"measured {measured / 1000:.0f} kHz from transaction times"
    if told:
        detail += f"; the device tree says {told / 1000:.0f} kHz"
    hz = told or measured
    if hz < FAST_BUS_HZ:
        return StepResult(name, True, detail,
                          warning="the bus runs at the Pi's default 100 kHz: add "
                                  "dtparam=i2c_arm_baudrate=400000 to /boot/firmware/config.txt "
                                  "and reboot (sudo make install does it)")
    return StepResult(name, True, detail)


def step_outputs(rig: Rig, user: User) -> StepResult:
    name = "LED and buzzer"
    for device in (rig.led, rig.buzzer):
        for _ in range(2):
            device.on()
            rig.sleep(0.15)
            device.off()
            rig.sleep(0.15)
    if user.confirm("Did the LED blink twice and the buzzer click twice?"):
        return StepResult(name, True, "blinked and clicked")
    return StepResult(name, False, f"not seen/heard: check the LED and its resistor on "
                                   f"GPIO{constants.PIN_LED}, the buzzer's transistor on "
                                   f"GPIO{constants.PIN_BUZZER}")


def run_selftest(rig: Rig, user: User, report: Callable[[StepResult], None] = lambda r: None,
                 ) -> List[StepResult]:
    """Every step in order (the later ones need the ADC, so they stop if it is missing)."""
    results: List[StepResult] = []

    def done(result: StepResult) -> None:
        results.append(result)
        report(result)

    done(step_adc_found(rig))
    if results[-1].ok:
        adc = _adc(rig)
        for point in constants.POINTS:
            done(step_point(rig, user, adc, point))
        done(step_tilt(rig, adc))
        done(step_ready_line(rig))
        done(step_bus_clock(rig))
    done(step_outputs(rig, user))
    return results


def device_tree_i2c_hz(path: str = "/sys/class/i2c-adapter/i2c-1/of_node/clock-frequency"
                       ) -> Optional[int]:
    """The I2C clock the kernel configured (4 bytes, big-endian), None off a Pi."""
    try:
        with open(path, "rb") as f:
            data = f.read(4)
    except OSError:
        return None
    return int.from_bytes(data, "big") if len(data) == 4 else None


def wall_clock():
    """``now``/``sleep`` on real time (for the Pi)."""
    return time.monotonic, time.sleep
