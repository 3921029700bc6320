"""An ADS1115/ADS1015 that answers on the I2C register level, and the bus it hangs on.

Mock mode swaps only the bottom row of the stack (docs/architecture.md): the real
Adafruit driver talks to :class:`EmulatedI2C` exactly as it talks to ``busio.I2C``
on a Pi, and the bus hands the bytes to :class:`EmulatedADS1x15`, which behaves
like the TI datasheet (and SPEC "ADS1x15 registers") says.

Time comes from the clock object handed in (``now()``/``sleep()``), never from
threads: a conversion started at ``t0`` is simply finished for any register
access at or after ``t0 + 1/DR``.  The bus spends each transaction's bit time
with ``clock.sleep`` so the driver meets the same ceilings as on hardware, and a
``ScaledClock`` (``--speed``) or a test clock whose ``sleep`` only advances time
speeds all of it up alike.
"""
from __future__ import annotations

import errno
import math
import random
import threading
from typing import Dict, Optional

from device.hw import constants

# Register pointers (datasheet table 8-3).
REG_CONVERSION = 0
REG_CONFIG = 1
REG_LO_THRESH = 2
REG_HI_THRESH = 3

POWER_ON_CONFIG = 0x8583
POWER_ON_LO_THRESH = 0x8000
POWER_ON_HI_THRESH = 0x7FFF

# Config register fields.
OS_BIT = 0x8000
MUX_SHIFT, MUX_MASK = 12, 0x7
PGA_SHIFT, PGA_MASK = 9, 0x7
MODE_SINGLE = 0x0100
DR_SHIFT, DR_MASK = 5, 0x7
COMP_MODE_WINDOW = 0x0010
COMP_POL_HIGH = 0x0008
COMP_LAT = 0x0004
COMP_QUE_MASK = 0x0003

#: Full scale in volts per PGA code (101-111 are all +-0.256 V).
PGA_FULL_SCALE_V = (6.144, 4.096, 2.048, 1.024, 0.512, 0.256, 0.256, 0.256)

#: Samples/s per DR code.  The ADS1015 repeats 3300 for code 111.
DATA_RATES = {
    "ADS1115": (8, 16, 32, 64, 128, 250, 475, 860),
    "ADS1015": (128, 250, 490, 920, 1600, 2400, 3300, 3300),
}
RESOLUTION_BITS = {"ADS1115": 16, "ADS1015": 12}

#: MUX code -> (positive input, negative input or None for GND).
MUX_INPUTS = {0: (0, 1), 1: (0, 3), 2: (1, 3), 3: (2, 3),
              4: (0, None), 5: (1, None), 6: (2, None), 7: (3, None)}

#: Width of the conversion-ready pulse in continuous mode (datasheet: about 8 us).
RDY_PULSE_S = 8e-6

EREMOTEIO = getattr(errno, "EREMOTEIO", 121)


def remote_io_error() -> OSError:
    """What Linux's i2c-dev raises for a NACK: ``[Errno 121] Remote I/O error``."""
    return OSError(EREMOTEIO, "Remote I/O error")


class EmulatedADS1x15:
    """One ADS1115 (16 bit) or ADS1015 (12 bit, left-justified) on the I2C bus.

    ``source.voltages(t)`` gives the four input voltages (head, upper_back,
    sacrum, tilt = AIN0..AIN3) at time ``t`` on ``clock``.  A conversion samples
    its input at the middle of its 1/DR window (the delta-sigma modulator
    averages over the window).  ``osc_tolerance=0.1`` gives the chip a fixed
    oscillator error drawn in +-10 % (seeded by ``seed``).
    """

    def __init__(self, source, clock, model: str = "ADS1115", address: int = constants.ADS_ADDRESS,
                 osc_tolerance: float = 0.0, seed: Optional[int] = None,
                 vdd_v: float = constants.SUPPLY_V) -> None:
        if model not in DATA_RATES:
            raise ValueError(f"model must be ADS1115 or ADS1015, not {model!r}")
        if not 0.0 <= osc_tolerance < 0.5:
            raise ValueError("osc_tolerance must be in [0, 0.5)")
        self.source = source
        self.clock = clock
        self.model = model
        self.address = address
        self.vdd_v = vdd_v
        self.bits = RESOLUTION_BITS[model]
        # A real oscillator is off by a fixed amount (within its tolerance), so
        # the error is drawn once per chip, not per conversion.
        self.osc_factor = 1.0 + random.Random(seed).uniform(-osc_tolerance, osc_tolerance)
        self._conversions = 0       # completed conversions since power-on
        self.bus = None             # the EmulatedI2C it hangs on, which knows the wire time
        self.reset()

    # -- power-on state ------------------------------------------------------------
    def reset(self) -> None:
        """Power-on reset: registers back to their defaults, no conversion running."""
        self._pointer = REG_CONVERSION
        self._config = POWER_ON_CONFIG & ~OS_BIT     # OS is a status bit on read
        self._lo = POWER_ON_LO_THRESH
        self._hi = POWER_ON_HI_THRESH
        self._conversion = 0
        self._busy = False
        self._conv_start = 0.0
        self._conv_end = 0.0
        self._conv_cfg = self._config
        self._last_done = -math.inf
        self._comp_count = 0
        self._comp_active = False

    # -- timing ---------------------------------------------------------------------
    def conversion_time_s(self, config: Optional[int] = None) -> float:
        """1/DR for ``config`` (default: the current one), with the oscillator error."""
        cfg = self._config if config is None else config
        rate = DATA_RATES[self.model][(cfg >> DR_SHIFT) & DR_MASK]
        return 1.0 / (rate * self.osc_factor)

    def _advance(self, t: float) -> None:
        """Complete every conversion that has ended by ``t`` (lazily, no thread)."""
        if not self._busy or t < self._conv_end:
            return
        self._finish(self._conv_start, self._conv_end, self._conv_cfg)
        end = self._conv_end
        if self._config & MODE_SINGLE:
            self._busy = False          # single-shot: power down after one conversion
            return
        # Continuous: back to back with the newest config.  Skip whole periods that
        # nobody looked at; only the last finished one is visible in the register.
        cfg = self._config
        period = self.conversion_time_s(cfg)
        skipped = int((t - end) // period)
        if skipped > 0:
            start = end + (skipped - 1) * period
            self._finish(start, start + period, cfg, count=skipped)
            end = start + period
        self._conv_start, self._conv_end, self._conv_cfg = end, end + period, cfg

    def _finish(self, start: float, end: float, cfg: int, count: int = 1) -> None:
        code = self._convert(cfg, self.source.voltages(0.5 * (start + end)))
        if self.bits == 12:
            code <<= 4                  # 12-bit result, left-justified
        self._conversion = code & 0xFFFF
        self._conversions += count
        self._last_done = end
        self._compare(code, cfg)

    def _convert(self, cfg: int, volts) -> int:
        pos, neg = MUX_INPUTS[(cfg >> MUX_SHIFT) & MUX_MASK]
        # The inputs cannot go outside the supply rails (ESD diodes clamp them).
        v = min(max(float(volts[pos]), 0.0), self.vdd_v)
        if neg is not None:
            v -= min(max(float(volts[neg]), 0.0), self.vdd_v)
        full_scale = PGA_FULL_SCALE_V[(cfg >> PGA_SHIFT) & PGA_MASK]
        top = 1 << (self.bits - 1)
        code = math.floor(v / full_scale * top + 0.5)
        return min(max(code, -top), top - 1)

    def _compare(self, code: int, cfg: int) -> None:
        """Traditional/window comparator on the ALERT/RDY pin (COMP_QUE != 11)."""
        que = cfg & COMP_QUE_MASK
        if que == 3 or self.conversion_ready_mode:
            return
        value = code << 4 if self.bits == 12 else code
        hi, lo = _signed16(self._hi), _signed16(self._lo)
        if cfg & COMP_MODE_WINDOW:
            beyond = value > hi or value < lo
            back = not beyond
        else:
            beyond = value > hi
            back = value < lo
        if beyond:
            self._comp_count += 1
            if self._comp_count >= (1, 2, 4)[que]:
                self._comp_active = True
        else:
            self._comp_count = 0
            if back and not (cfg & COMP_LAT):
                self._comp_active = False

    # -- register access (what the bus calls) ---------------------------------------
    def i2c_write(self, data: bytes, t: float) -> None:
        """A write transaction's payload: pointer byte, optionally a 16-bit value."""
        if not data:
            return                      # address-only probe: just the ACK
        self._advance(t)
        self._pointer = data[0] & 0x03
        if len(data) < 3:
            return                      # pointer only (a 2-byte write is incomplete)
        value = (data[1] << 8) | data[2]
        if self._pointer == REG_CONFIG:
            self._write_config(value, t)
        elif self._pointer == REG_LO_THRESH:
            self._lo = value
        elif self._pointer == REG_HI_THRESH:
            self._hi = value
        # The conversion register is read-only.

    def _write_config(self, value: int, t: float) -> None:
        self._config = value & ~OS_BIT
        if self._busy:
            # A conversion in progress finishes with the settings it started with;
            # the new ones apply from the next one.  OS=1 while busy does nothing.
            return
        if not value & MODE_SINGLE or value & OS_BIT:
            self._busy = True
            self._conv_start, self._conv_cfg = t, self._config
            self._conv_end = t + self.conversion_time_s(self._config)

    def i2c_read(self, n: int, t: float) -> bytes:
        """A read transaction: the register at the pointer, MSB first."""
        self._advance(t)
        reg = self._pointer
        if reg == REG_CONVERSION:
            value = self._conversion
            if self._config & COMP_LAT:
                self._comp_active = False   # reading the result clears a latched alert
        elif reg == REG_CONFIG:
            value = self._config | (0 if self._busy else OS_BIT)
        elif reg == REG_LO_THRESH:
            value = self._lo
        else:
            value = self._hi
        pair = bytes(((value >> 8) & 0xFF, value & 0xFF))
        return (pair * (n // 2 + 1))[:n]

    # -- what a test or a GPIO mock can look at ---------------------------------------
    @property
    def conversion_ready_mode(self) -> bool:
        """ALERT/RDY is a conversion-ready output (SPEC): Hi_thresh MSB 1, Lo_thresh
        MSB 0, COMP_QUE not 11."""
        return bool(self._hi & 0x8000) and not self._lo & 0x8000 and \
            (self._config & COMP_QUE_MASK) != 3

    @property
    def alert_rdy(self) -> bool:
        """Level of the open-drain ALERT/RDY pin with its pull-up (True = high) now."""
        t = self._now()
        self._advance(t)
        cfg = self._config
        if (cfg & COMP_QUE_MASK) == 3:
            return True                 # comparator disabled: pin high-impedance
        if self.conversion_ready_mode:
            single_shot = cfg & MODE_SINGLE and (not self._busy or self._conv_cfg & MODE_SINGLE)
            if single_shot:
                asserted = not self._busy   # asserted from the end of the conversion on
            else:
                asserted = 0 <= t - self._last_done < RDY_PULSE_S   # short pulse per result
        else:
            asserted = self._comp_active
        active_high = bool(cfg & COMP_POL_HIGH)
        return asserted == active_high

    @property
    def conversions(self) -> int:
        """Conversions completed since the chip was made (up to now)."""
        self._advance(self._now())
        return self._conversions

    def _now(self) -> float:
        return self.bus.now() if self.bus is not None else self.clock.now()

    @property
    def converting(self) -> bool:
        self._advance(self._now())
        return self._busy

    def register(self, reg: int) -> int:
        """A register's value as a read would return it now (for tests and debugging)."""
        saved = self._pointer
        self._pointer = reg & 0x03
        data = self.i2c_read(2, self._now())
        self._pointer = saved
        return (data[0] << 8) | data[1]


def _signed16(value: int) -> int:
    return value - 0x10000 if value & 0x8000 else value


class EmulatedI2C:
    """A ``busio.I2C`` look-alike that ``adafruit_bus_device.I2CDevice`` accepts.

    Each transaction costs its bit time at ``bus_hz`` (start, 9 bits per byte
    with the ACK, repeated start, stop) plus ``transaction_overhead_s`` (what
    Linux and Python add on a Pi).  That time is owed and slept off with
    ``clock.sleep`` once it passes ``sleep_quantum_s``, and an oversleep is
    credited to the next transactions, so OS sleep granularity neither speeds up
    nor slows down the long-run rate.  The CPU time the caller spends between
    transactions comes on top, as it does on a Pi.
    """

    def __init__(self, clock, devices: Optional[Dict[int, EmulatedADS1x15]] = None,
                 bus_hz: int = constants.I2C_BUS_HZ, transaction_overhead_s: float = 0.0,
                 sleep_quantum_s: float = 0.0002, max_credit_s: float = 0.001) -> None:
        if bus_hz <= 0:
            raise ValueError("bus_hz must be positive")
        self.clock = clock
        self.devices = dict(devices or {})
        self.bus_hz = bus_hz
        self.transaction_overhead_s = transaction_overhead_s
        self.sleep_quantum_s = sleep_quantum_s
        self.max_credit_s = max_credit_s
        self.transactions = 0
        self.errors = 0
        self._owed_s = 0.0
        self._fail_next = 0
        self._unplugged = False
        self._lock = threading.Lock()
        self._deinited = False
        for chip in self.devices.values():
            chip.bus = self

    # -- fault injection ------------------------------------------------------------
    def fail_next(self, n: int = 1) -> None:
        """The next ``n`` transactions fail with ``OSError(121)`` (a glitch on the wire)."""
        self._fail_next += int(n)

    def unplug(self) -> None:
        """The breakout is pulled off: every transaction NACKs until :meth:`plug`."""
        self._unplugged = True

    def plug(self) -> None:
        """Plugged back in: the chips power up again with their power-on registers."""
        if self._unplugged:
            for chip in self.devices.values():
                chip.reset()
        self._unplugged = False

    # -- busio.I2C API ----------------------------------------------------------------
    def try_lock(self) -> bool:
        return self._lock.acquire(blocking=False)

    def unlock(self) -> None:
        self._lock.release()

    def scan(self) -> list:
        if self._unplugged:
            return []
        return sorted(self.devices)

    def writeto(self, address: int, buffer, *, start: int = 0, end: Optional[int] = None) -> None:
        data = bytes(buffer[start:end])
        chip, t_end = self._transaction(address, len(data))
        chip.i2c_write(data, t_end)

    def readfrom_into(self, address: int, buffer, *, start: int = 0,
                      end: Optional[int] = None) -> None:
        end = len(buffer) if end is None else end
        chip, t_end = self._transaction(address, end - start)
        buffer[start:end] = chip.i2c_read(end - start, self._data_phase(t_end, end - start))

    def writeto_then_readfrom(self, address: int, buffer_out, buffer_in, *, out_start: int = 0,
                              out_end: Optional[int] = None, in_start: int = 0,
                              in_end: Optional[int] = None) -> None:
        data = bytes(buffer_out[out_start:out_end])
        in_end = len(buffer_in) if in_end is None else in_end
        n_in = in_end - in_start
        chip, t_end = self._transaction(address, len(data), n_in, repeated=True)
        t_read = self._data_phase(t_end, n_in)
        chip.i2c_write(data, t_read - 10 / self.bus_hz)   # before repeated start + address
        buffer_in[in_start:in_end] = chip.i2c_read(n_in, t_read)

    def deinit(self) -> None:
        self._deinited = True

    def __enter__(self) -> "EmulatedI2C":
        return self

    def __exit__(self, *exc) -> bool:
        self.deinit()
        return False

    # -- bus time -------------------------------------------------------------------------
    def now(self) -> float:
        """Clock time on the wire: the clock plus the bus time owed but not yet slept."""
        return self.clock.now() + self._owed_s

    def transaction_s(self, n_bytes: int, n_bytes_2: int = 0, repeated: bool = False) -> float:
        """Wire time of one transaction: start, address + data bytes (9 bits each with
        ACK), an optional repeated start + address + second part, stop."""
        bits = 1 + 9 * (1 + n_bytes) + 1
        if repeated:
            bits += 1 + 9 * (1 + n_bytes_2)
        return bits / self.bus_hz + self.transaction_overhead_s

    def _data_phase(self, t_end: float, n_read: int) -> float:
        """When the chip loads the register it sends: right after the read address
        is acknowledged, ``n_read`` bytes and the stop before the transaction ends."""
        return t_end - (9 * n_read + 1) / self.bus_hz

    def _transaction(self, address: int, n_bytes: int, n_bytes_2: int = 0,
                     repeated: bool = False):
        if self._deinited:
            raise ValueError("I2C bus has been deinitialised")
        cost = self.transaction_s(n_bytes, n_bytes_2, repeated)
        chip = None if self._unplugged else self.devices.get(address)
        failing = chip is None or self._fail_next > 0
        if failing:
            # A NACK ends the transaction after the address byte.
            cost = 11 / self.bus_hz + self.transaction_overhead_s
            self._fail_next = max(self._fail_next - 1, 0)
        t_end = self._spend(cost)
        self.transactions += 1
        if failing:
            self.errors += 1
            raise remote_io_error()
        return chip, t_end

    def _spend(self, cost_s: float) -> float:
        """Owe ``cost_s`` of bus time; sleep once enough is owed.  Returns the
        moment (clock time) the transaction ends on the wire."""
        clock = self.clock
        now = clock.now()
        t_end = now + self._owed_s + cost_s
        self._owed_s += cost_s
        if self._owed_s >= self.sleep_quantum_s:
            clock.sleep(self._owed_s)
            # Whatever the OS overslept is time the wire has already had.
            self._owed_s = max(t_end - clock.now(), -self.max_credit_s)
        return t_end
