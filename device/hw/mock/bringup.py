"""``dowel selftest --mock``: the bring-up steps on the emulated chip, with a scripted user.

The scripted user presses each pad when asked (after a human-like reaction
time), lets go when told, and "sees" the LED and buzzer by reading the mock
pins' own state history.  Faults injected with ``--inject`` reach the same
chip and bus, so a stuck channel fails its step as it would on the bench.
"""
from __future__ import annotations

from typing import Optional

from gpiozero import LED, Buzzer

from device.hw import constants
from device.hw.mock.faults import FaultPlan
from device.hw.mock.ads1x15 import EmulatedADS1x15, EmulatedI2C
from device.hw.mock.factory import mock_pin_factory
from device.hw.mock.timing import DEFAULT_PROFILE, TimingProfile
from device.hw.selftest import Rig, User
from device.runtime.clock import VirtualClock

#: What a pressed pad reads (about 3 N) and the tilt of a dowel standing upright.
PRESSED_V = constants.fsr_volts(3.0)
#: How long the scripted user takes to press after being asked.
REACTION_S = 0.4


class Pads:
    """The emulated chip's inputs: a pad reads pressed from ``REACTION_S`` after
    the user was asked until it is let go; the tilt rests upright."""

    finished = False

    def __init__(self, clock) -> None:
        self.clock = clock
        self.pressed: Optional[str] = None
        self.since = 0.0

    def voltages(self, t: float):
        down = self.pressed is not None and t >= self.since + REACTION_S
        return tuple(PRESSED_V if down and self.pressed == p else 0.0 for p in constants.POINTS) \
            + (constants.TILT_ZERO_V,)


class ScriptedUser(User):
    def __init__(self, pads: Pads, rig: Rig, say=print) -> None:
        super().__init__(say=say, ask=lambda q: "y")
        self.pads, self.rig = pads, rig

    def press(self, point: str) -> None:
        super().press(point)
        self.pads.pressed, self.pads.since = point, self.pads.clock.now()
        self.say(f"  (scripted user presses the {point.replace('_', ' ')} pad)")

    def release(self, point: str) -> None:
        self.pads.pressed = None

    def confirm(self, question: str) -> bool:
        # Looks at the pins instead of the dowel: each output must have gone on and off twice.
        seen = all(sum(1 for s in device.pin.states if s.state) >= 2
                   for device in (self.rig.led, self.rig.buzzer))
        self.say(f"  {question} {'yes' if seen else 'no'} (scripted user, from the pin history)")
        return seen


def mock_rig(faults: Optional[FaultPlan] = None, profile: TimingProfile = DEFAULT_PROFILE,
             chip: str = "ADS1115", ready_wired: bool = True, say=print):
    """The emulated stack and a scripted user: ``(Rig, ScriptedUser)``."""
    clock = VirtualClock(profile.wake_jitter_s)
    pads = Pads(clock)
    emulated = EmulatedADS1x15(pads, clock, model=chip, address=constants.ADS_ADDRESS,
                               osc_tolerance=0.1)
    bus = EmulatedI2C(clock, {constants.ADS_ADDRESS: emulated}, bus_hz=profile.bus_hz,
                      transaction_overhead_s=profile.transaction_overhead_s)
    if faults is not None:
        faults.apply(bus, emulated)
    pins = mock_pin_factory()

    def ready() -> bool:
        bus.host_time(profile.gpio_read_s)
        return not emulated.alert_rdy

    rig = Rig(i2c=bus, led=LED(constants.PIN_LED, pin_factory=pins),
              buzzer=Buzzer(constants.PIN_BUZZER, pin_factory=pins), now=clock.now,
              sleep=clock.sleep, chip=chip, ready=ready if ready_wired else None,
              clock_from_device_tree=None, clock=clock)
    return rig, ScriptedUser(pads, rig, say=say)
