"""The dowel's ADC: an ADS1115 (or ADS1015) read through Adafruit's driver.

:class:`DowelAdc` is thin: it builds ``adafruit_ads1x15`` on whatever I2C bus it
is handed (``busio.I2C`` on a Pi, :class:`~device.ads_emulator.EmulatedI2C` in
mock mode), one ``AnalogIn`` per channel of ``hardware.ADC_CHANNEL``, and reads
a frame as four single-shot conversions.  Bus errors (``OSError``) reach the
caller, which counts and retries them; nothing here swallows a fault.
"""
from __future__ import annotations

import errno
from typing import Optional, Tuple

from adafruit_ads1x15 import ADS1015, ADS1115, AnalogIn, ads1x15

from . import hardware

_DRIVERS = {"ADS1115": ADS1115, "ADS1015": ADS1015}
_RATES = {"ADS1115": hardware.ADS1115_RATES, "ADS1015": hardware.ADS1015_RATES}
_GAINS = (2 / 3, 1, 2, 4, 8, 16)
_PINS = (ads1x15.Pin.A0, ads1x15.Pin.A1, ads1x15.Pin.A2, ads1x15.Pin.A3)


class DowelAdc:
    """Four single-ended channels (head, upper_back, sacrum, tilt) of one ADS1x15.

    Construction talks to the chip; if nobody answers (breakout unplugged at
    boot) it raises ``OSError`` so the caller can retry later with
    :meth:`reconnect` (or by building a new one).  Bad settings raise
    ``ValueError`` before any bus traffic.
    """

    def __init__(self, i2c, chip: str = "ADS1115", gain: float = hardware.ADS_GAIN,
                 data_rate: Optional[int] = None, address: int = hardware.ADS_ADDRESS) -> None:
        if chip not in _DRIVERS:
            raise ValueError(f"chip must be one of {', '.join(_DRIVERS)}, not {chip!r}")
        self.i2c = i2c
        self.chip = chip
        self.address = address
        self._gain = _check_gain(gain)
        self._data_rate = _check_rate(chip, hardware.DEFAULT_DATA_RATE[chip]
                                      if data_rate is None else data_rate)
        self._ads = None
        self._channels: Tuple[AnalogIn, ...] = ()
        self.open()

    # -- connection ---------------------------------------------------------------------
    def open(self) -> None:
        """(Re)build the driver on the bus: probes the address and writes the config."""
        self._ads = None
        try:
            ads = _DRIVERS[self.chip](self.i2c, gain=self._gain, data_rate=self._data_rate,
                                      address=self.address)
        except ValueError as exc:
            # adafruit_bus_device reports a missing device as ValueError; to the
            # caller it is a bus fault like any NACK, so make it an OSError.
            if "No I2C device" in str(exc):
                raise OSError(errno.EREMOTEIO if hasattr(errno, "EREMOTEIO") else 121,
                              f"no {self.chip} answering at I2C address 0x{self.address:02x}") \
                    from exc
            raise
        self._channels = tuple(AnalogIn(ads, _PINS[hardware.ADC_CHANNEL[name]])
                               for name in hardware.CHANNELS)
        self._ads = ads

    reconnect = open

    @property
    def connected(self) -> bool:
        return self._ads is not None

    # -- reading -------------------------------------------------------------------------
    def read_frame(self) -> Tuple[float, float, float, float]:
        """(head, upper_back, sacrum, tilt) volts, one single-shot conversion each."""
        if self._ads is None:
            self.open()
        return tuple(ch.voltage for ch in self._channels)

    # -- settings -----------------------------------------------------------------------
    @property
    def data_rate(self) -> int:
        """Conversions per second of the chip, shared by the four channels."""
        return self._data_rate

    @data_rate.setter
    def data_rate(self, rate: int) -> None:
        rate = _check_rate(self.chip, rate)
        if self._ads is not None and rate != self._ads.data_rate:
            self._ads.data_rate = rate          # writes the config register
        self._data_rate = rate

    @property
    def gain(self) -> float:
        """PGA gain (1 = +-4.096 V full scale)."""
        return self._gain

    @gain.setter
    def gain(self, gain: float) -> None:
        gain = _check_gain(gain)
        if self._ads is not None and gain != self._ads.gain:
            self._ads.gain = gain
        self._gain = gain

    @property
    def full_scale_v(self) -> float:
        return {2 / 3: 6.144, 1: 4.096, 2: 2.048, 4: 1.024, 8: 0.512, 16: 0.256}[self._gain]

    @property
    def ceiling_hz(self) -> float:
        """The most frames/s the chip can give: its data rate shared by four channels."""
        return self._data_rate / len(hardware.CHANNELS)


def _check_rate(chip: str, rate) -> int:
    if rate not in _RATES[chip]:
        raise ValueError(f"data_rate must be one of {', '.join(map(str, _RATES[chip]))} "
                         f"for the {chip}, not {rate!r}")
    return int(rate)


def _check_gain(gain) -> float:
    for g in _GAINS:
        if gain == g or (isinstance(gain, float) and abs(gain - g) < 1e-9):
            return g        # the driver's own key, so 0.6666 lookups match exactly
    raise ValueError(f"gain must be one of 2/3, 1, 2, 4, 8, 16, not {gain!r}")


def open_pi_bus():
    """The Pi's hardware I2C at 400 kHz.  Blinka is imported here, not at module
    import: its ``board`` module fails to import anywhere but on a Pi."""
    import board
    import busio

    return busio.I2C(board.SCL, board.SDA, frequency=hardware.I2C_BUS_HZ)


def make_mock_adc(source, clock, chip: str = "ADS1115", data_rate: Optional[int] = None,
                  gain: float = hardware.ADS_GAIN, transaction_overhead_s: float = 0.0,
                  osc_tolerance: float = 0.0, seed: Optional[int] = None):
    """Mock mode: the real driver on an emulated chip fed by ``source``.

    ``transaction_overhead_s`` is what Linux and Python would add per I2C
    transaction on top of this machine's own CPU time (0.1-0.3 ms on a Pi Zero).
    Returns ``(DowelAdc, EmulatedI2C, EmulatedADS1x15)``.
    """
    from .ads_emulator import EmulatedADS1x15, EmulatedI2C

    chip_model = EmulatedADS1x15(source, clock, model=chip, address=hardware.ADS_ADDRESS,
                                 osc_tolerance=osc_tolerance, seed=seed)
    bus = EmulatedI2C(clock, {hardware.ADS_ADDRESS: chip_model},
                      transaction_overhead_s=transaction_overhead_s)
    adc = DowelAdc(bus, chip=chip, gain=gain, data_rate=data_rate)
    return adc, bus, chip_model
