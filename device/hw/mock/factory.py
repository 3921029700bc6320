"""The mock-mode stack, shipped in the package the way gpiozero ships ``MockFactory``.

Mock mode swaps the lowest layer only: the real Adafruit driver talks to an
emulated ADS1x15 over an emulated I2C bus, and the LED, buzzer and button are
gpiozero devices on gpiozero's own ``MockFactory``.  Everything above runs
unchanged.
"""
from __future__ import annotations

from typing import Optional

from gpiozero.pins.mock import MockFactory

from device.analysis.settings import Settings
from device.hw import constants
from device.hw.adc import DowelAdc
from device.hw.alerts import Alerts
from device.hw.mock.ads1x15 import EmulatedADS1x15, EmulatedI2C
from device.hw.mock.faults import FaultPlan
from device.hw.mock.timing import DEFAULT_PROFILE, TimingProfile
from device.runtime.clock import RealClock, ScaledClock
from device.runtime.core import DowelCore
from device.runtime.settings_store import SettingsStore


def mock_pin_factory():
    """gpiozero's own MockFactory (mock mode, replay and tests)."""
    return MockFactory()


class _WireClock:
    """The clock as the host on a Pi sees it: a transaction has ended when it
    returns.  The emulated bus batches short sleeps (time owed but not yet
    slept), so "now" for the driver is the bus's time, owed time included."""

    def __init__(self, clock, bus) -> None:
        self._clock, self._bus = clock, bus
        self.speed = getattr(clock, "speed", 1.0)

    def now(self) -> float:
        return self._bus.now()

    def sleep(self, seconds: float) -> None:
        self._clock.sleep(seconds)


def make_mock_adc(source, clock, chip: str = "ADS1115", data_rate: Optional[int] = None,
                  gain: float = constants.ADS_GAIN, transaction_overhead_s: float = 0.0,
                  osc_tolerance: float = 0.0, seed: Optional[int] = None,
                  pipelined: bool = True, ready_pin: bool = True,
                  profile: Optional[TimingProfile] = None, tilt_every: int = 1,
                  continuous: bool = False):
    """Mock mode: ``DowelAdc`` on an emulated chip fed by ``source``.

    ``ready_pin``: the reference build's ALERT/RDY wire to GPIO23 is there (the
    emulated pin's level is read directly; low = conversion ready).
    ``continuous``: with the wire, count its pulses and read continuous
    conversions with the MUX one ahead (see ``DowelAdc``'s ``ready_edges``).

    ``profile`` (:mod:`device.hw.mock.timing`) charges a Pi's host costs: its
    per-transaction overhead and bus clock, and each read of the ALERT/RDY
    line.  Without one, ``transaction_overhead_s`` alone is added per I2C
    transaction on top of this machine's own CPU time.
    Returns ``(DowelAdc, EmulatedI2C, EmulatedADS1x15)``.
    """
    chip_model = EmulatedADS1x15(source, clock, model=chip, address=constants.ADS_ADDRESS,
                                 osc_tolerance=osc_tolerance, seed=seed)
    bus_hz = profile.bus_hz if profile else constants.I2C_BUS_HZ
    overhead = profile.transaction_overhead_s if profile else transaction_overhead_s
    bus = EmulatedI2C(clock, {constants.ADS_ADDRESS: chip_model}, bus_hz=bus_hz,
                      transaction_overhead_s=overhead)
    gpio_s = profile.gpio_read_s if profile else 0.0
    lag = profile.edge_lag_s if profile else 0.0

    def ready() -> bool:
        bus.host_time(gpio_s)               # what reading GPIO23 from Python costs
        return not chip_model.alert_rdy

    def edges():
        # One conversion-ready pulse per conversion, counted ``lag`` after it,
        # with how long ago the last counted one was (its kernel timestamp).
        bus.host_time(gpio_s)
        now = bus.now()
        count, t_pulse = chip_model.pulses_before(now - lag, now)
        return count, now - t_pulse

    adc = DowelAdc(bus, chip=chip, gain=gain, data_rate=data_rate, pipelined=pipelined,
                   ready=ready if ready_pin else None, clock=_WireClock(clock, bus),
                   tilt_every=tilt_every, ready_edges=edges if ready_pin and continuous else None)
    return adc, bus, chip_model


def build_mock_core(source=None, *, speed: float = 1.0, settings: Optional[Settings] = None,
                    settings_store: Optional[SettingsStore] = None, pin_factory=None,
                    seed: int = 0, rate_hz: Optional[float] = None,
                    max_frames: Optional[int] = None, source_name: Optional[str] = None,
                    clock=None, profile: Optional[TimingProfile] = DEFAULT_PROFILE,
                    tilt_every: int = constants.TILT_EVERY_FRAMES, osc_tolerance: float = 0.1,
                    faults: Optional[FaultPlan] = None):
    """The mock-mode stack: emulated ADS1x15 fed by ``source`` (default: a
    simulated athlete), the real Adafruit driver over the emulated I2C bus,
    gpiozero ``MockFactory`` pins, and a :class:`DowelCore` on top (not started).

    ``profile``: the board whose host costs the emulated bus charges (default
    the Pi Zero 2 W, so a laptop shows what the smallest Pi would do; None for
    none).  The chip's oscillator is off by up to ``osc_tolerance`` (drawn
    from ``seed``), as a real part's is.  ``clock`` (default real time, sped
    up by ``speed``) may be a virtual one.  ``faults``
    (:class:`~device.hw.mock.faults.FaultPlan`) are injected into the emulated
    bus and chip (``dowel run --mock --inject``).

    Returns the core; the emulated bus and chip are ``core.mock_bus`` and
    ``core.mock_chip`` (tests use them to inject I2C faults).
    """
    settings = settings or Settings()
    if clock is None:
        clock = ScaledClock(speed) if speed != 1.0 else RealClock()
    if source is None:
        from device.sim.sources import SimulatedAthlete  # sim sits above mock hardware

        source = SimulatedAthlete(seed=seed, loop=True)
        source_name = source_name or "simulated athlete"
    pins = pin_factory or mock_pin_factory()
    alerts = Alerts(pins, buzzer_enabled=settings.buzzer, button_pin=22)
    holder: dict = {}

    def adc_factory(s: Settings):
        # A new emulated chip only when the model changes (settings can switch
        # ADS1115 <-> ADS1015); otherwise reopen the same one, as on real hardware.
        if holder.get("model") != s.chip:
            adc, bus, chip = make_mock_adc(source, clock, chip=s.chip, data_rate=s.data_rate,
                                           gain=s.gain, profile=profile, tilt_every=tilt_every,
                                           osc_tolerance=osc_tolerance, seed=seed,
                                           continuous=constants.CONTINUOUS_READS)
            if faults is not None:
                faults.apply(bus, chip)
            holder.update(adc=adc, bus=bus, chip=chip, model=s.chip)
            core_ref = holder.get("core")
            if core_ref is not None:
                core_ref.mock_bus, core_ref.mock_chip = bus, chip
            return adc
        adc = holder["adc"]
        adc.data_rate, adc.gain = s.data_rate, s.gain
        return adc

    core = DowelCore(adc_factory, settings, alerts, clock=clock, settings_store=settings_store,
                     source=source, source_name=source_name or "mock", rate_hz=rate_hz,
                     max_frames=max_frames)
    # Build the emulated chip now so tests can reach it before the loop starts.
    adc_factory(settings)
    holder["core"] = core
    core.mock_bus = holder["bus"]
    core.mock_chip = holder["chip"]
    core.pin_factory = pins
    return core
