"""An ADS1115/ADS1015 that answers on the I2C register level, and the bus it hangs on.

Mock mode swaps only the bottom row of the stack (docs/architecture.md): the real
Adafruit driver talks to :class:`EmulatedI2C` exactly as it talks to ``busio.I2C``
on a Pi, and the bus hands the bytes to :class:`EmulatedADS1x15`, which behaves
like the TI datasheet (SBAS444) says.

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

from device.hw import constants, registers
from device.hw.mock import faults
from device.hw.registers import (
    COMP_LAT, COMP_MODE_WINDOW, COMP_POL_ACTIVE_HIGH, COMP_QUE_DISABLE, COMP_QUE_MASK, DR_MASK,
    DR_SHIFT, MODE_SINGLE, MUX_INPUTS, MUX_MASK, MUX_SHIFT, OS, PGA_FULL_SCALE_V, PGA_MASK, PGA_SHIFT,
    POINTER_CONFIG, POINTER_CONVERSION, POINTER_HI_THRESH, POINTER_LO_THRESH, POINTER_MASK,
    THRESH_MSB, field, signed16)

# The register map is shared with DowelAdc (device/hw/registers.py).
DATA_RATES = registers.DATA_RATES
RESOLUTION_BITS = registers.RESOLUTION_BITS

#: A single-shot start powers the converter up first (datasheet "Single-Shot
#: Mode": the device powers up in approximately 25 us, then converts).
POWER_UP_S = 25e-6
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
                 vdd_v: float = constants.SUPPLY_V, power_up_s: float = POWER_UP_S) -> None:
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
        self.power_up_s = power_up_s
        # The ADS1015's thresholds are 12 bits, left-justified: the low 4 bits are
        # reserved and read back 0 whatever was written.
        self._thresh_bits = 0xFFFF & ~(registers.ADS1015_RESERVED_BITS if self.bits == 12 else 0)
        # A real oscillator is off by a fixed amount (within its tolerance), so
        # the error is drawn once per chip, not per conversion.
        self.osc_factor = 1.0 + random.Random(seed).uniform(-osc_tolerance, osc_tolerance)
        self._conversions = 0       # completed conversions since power-on
        self._stuck: Dict[int, float] = {}      # injected faults: input -> volts
        self._rdy_pulses = 0        # conversion-ready pulses given on ALERT/RDY
        self.bus = None             # the EmulatedI2C it hangs on, which knows the wire time
        self.reset()

    # -- power-on state ------------------------------------------------------------
    def reset(self) -> None:
        """Power-on reset: registers back to their defaults, no conversion running."""
        self._pointer = POINTER_CONVERSION
        self._config = registers.POWER_ON_CONFIG & ~OS     # OS is a status bit on read
        self._lo = registers.POWER_ON_LO_THRESH
        self._hi = registers.POWER_ON_HI_THRESH
        self._conversion = 0
        self._busy = False
        self._conv_start = 0.0
        self._conv_end = 0.0
        self._conv_cfg = self._config
        self._last_done = -math.inf
        self._prev_done = -math.inf
        self._comp_count = 0
        self._comp_active = False
        self._comp_high = False     # the alert came from a result above Hi_thresh

    # -- timing ---------------------------------------------------------------------
    def conversion_time_s(self, config: Optional[int] = None) -> float:
        """1/DR for ``config`` (default: the current one), with the oscillator error."""
        cfg = self._config if config is None else config
        rate = DATA_RATES[self.model][field(cfg, DR_SHIFT, DR_MASK)]
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
            if self._comparing(cfg):
                # The comparator queue counts every conversion, read or not.
                for k in range(skipped):
                    self._finish(end + k * period, end + (k + 1) * period, cfg)
            else:
                start = end + (skipped - 1) * period
                self._finish(start, start + period, cfg, count=skipped)
            end += skipped * period
        self._conv_start, self._conv_end, self._conv_cfg = end, end + period, cfg

    def stick(self, channel: int, volts: Optional[float]) -> None:
        """Input AIN``channel`` reads ``volts`` whatever the source says (a broken
        lead reads 0 V, a short 3.3 V); None frees it again."""
        if volts is None:
            self._stuck.pop(channel, None)
        else:
            self._stuck[channel] = float(volts)

    def _finish(self, start: float, end: float, cfg: int, count: int = 1) -> None:
        volts = self.source.voltages(0.5 * (start + end))
        if self._stuck:
            volts = list(volts)
            for channel, v in self._stuck.items():
                volts[channel] = v
        code = self._convert(cfg, volts)
        if self.bits == 12:
            code <<= 4                  # 12-bit result, left-justified
        self._conversion = code & 0xFFFF
        self._conversions += count
        if self.conversion_ready_mode:
            self._rdy_pulses += count       # ALERT/RDY pulses (falls) once per result
        if count > 1:
            self._prev_done = start         # back to back: the one before ended as this began
        else:
            self._prev_done = self._last_done
        self._last_done = end
        self._compare(signed16(self._conversion), cfg)

    def _convert(self, cfg: int, volts) -> int:
        pos, neg = MUX_INPUTS[field(cfg, MUX_SHIFT, MUX_MASK)]
        # The inputs cannot go outside the supply rails (ESD diodes clamp them).
        v = min(max(float(volts[pos]), 0.0), self.vdd_v)
        if neg is not None:
            v -= min(max(float(volts[neg]), 0.0), self.vdd_v)
        full_scale = PGA_FULL_SCALE_V[field(cfg, PGA_SHIFT, PGA_MASK)]
        top = 1 << (self.bits - 1)
        code = math.floor(v / full_scale * top + 0.5)
        return min(max(code, -top), top - 1)

    def _comparing(self, cfg: int) -> bool:
        """The comparator is on and ALERT/RDY is not a conversion-ready output."""
        return (cfg & COMP_QUE_MASK) != COMP_QUE_DISABLE and not self.conversion_ready_mode

    def _compare(self, value: int, cfg: int) -> None:
        """Traditional/window comparator on the ALERT/RDY pin (COMP_QUE != 11).

        ``value`` is the conversion register as a signed 16-bit word, compared
        with the threshold registers as they are (both left-justified on the
        ADS1015, so no further shift)."""
        if not self._comparing(cfg):
            return
        que = cfg & COMP_QUE_MASK
        hi, lo = signed16(self._hi), signed16(self._lo)
        if cfg & COMP_MODE_WINDOW:
            beyond = value > hi or value < lo
            back = not beyond
        else:
            beyond = value > hi
            back = value < lo
        if beyond:
            self._comp_count += 1
            if self._comp_count >= registers.COMP_QUE_COUNTS[que]:
                self._comp_active = True
                self._comp_high = value > hi
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
        self._pointer = data[0] & POINTER_MASK
        if len(data) < 3:
            return                      # pointer only (a 2-byte write is incomplete)
        value = (data[1] << 8) | data[2]
        if self._pointer == POINTER_CONFIG:
            self._write_config(value, t)
        elif self._pointer == POINTER_LO_THRESH:
            self._lo = value & self._thresh_bits
        elif self._pointer == POINTER_HI_THRESH:
            self._hi = value & self._thresh_bits
        # The conversion register is read-only.

    def _write_config(self, value: int, t: float) -> None:
        self._config = value & ~OS
        if self._busy:
            # A conversion in progress finishes with the settings it started with;
            # the new ones apply from the next one.  OS=1 while busy does nothing.
            return
        if not value & MODE_SINGLE or value & OS:
            # A single-shot start first powers the converter up (about 25 us).
            start = t + (self.power_up_s if value & MODE_SINGLE else 0.0)
            self._busy = True
            self._conv_start, self._conv_cfg = start, self._config
            self._conv_end = start + self.conversion_time_s(self._config)

    def alert_response(self) -> Optional[int]:
        """SMBus alert response: the byte this chip sends back (7-bit address and a
        status bit: 1 = above Hi_thresh) if its comparator holds ALERT/RDY asserted,
        else None.  Answering clears a latched alert."""
        self._advance(self._now())
        if not self._comp_active or not self._comparing(self._config):
            return None
        byte = (self.address << 1) | (1 if self._comp_high else 0)
        if self._config & COMP_LAT:
            self._comp_active = False
        return byte

    def i2c_read(self, n: int, t: float) -> bytes:
        """A read transaction: the register at the pointer, MSB first."""
        self._advance(t)
        reg = self._pointer
        if reg == POINTER_CONVERSION:
            value = self._conversion
            if self._config & COMP_LAT:
                self._comp_active = False   # reading the result clears a latched alert
        elif reg == POINTER_CONFIG:
            value = self._config | (0 if self._busy else OS)
        elif reg == POINTER_LO_THRESH:
            value = self._lo
        else:
            value = self._hi
        pair = bytes(((value >> 8) & 0xFF, value & 0xFF))
        return (pair * (n // 2 + 1))[:n]

    # -- what a test or a GPIO mock can look at ---------------------------------------
    @property
    def conversion_ready_mode(self) -> bool:
        """ALERT/RDY is a conversion-ready output (TI datasheet): Hi_thresh MSB 1, Lo_thresh
        MSB 0, COMP_QUE not 11."""
        return bool(self._hi & THRESH_MSB) and not self._lo & THRESH_MSB and \
            (self._config & COMP_QUE_MASK) != COMP_QUE_DISABLE

    @property
    def alert_rdy(self) -> bool:
        """Level of the open-drain ALERT/RDY pin with its pull-up (True = high) now."""
        t = self._now()
        self._advance(t)
        cfg = self._config
        if (cfg & COMP_QUE_MASK) == COMP_QUE_DISABLE:
            return True                 # comparator disabled: pin high-impedance
        if self.conversion_ready_mode:
            single_shot = cfg & MODE_SINGLE and (not self._busy or self._conv_cfg & MODE_SINGLE)
            if single_shot:
                asserted = not self._busy   # asserted from the end of the conversion on
            else:
                asserted = 0 <= t - self._last_done < RDY_PULSE_S   # short pulse per result
        else:
            asserted = self._comp_active
        active_high = bool(cfg & COMP_POL_ACTIVE_HIGH)
        return asserted == active_high

    def pulses_before(self, t: float, now: Optional[float] = None):
        """``(count, time)``: conversions completed by ``t`` and when the last of
        them ended (``t`` not after now, at most one period back): what an edge
        counter on ALERT/RDY that lags the line shows, with the kernel's
        timestamp of the last edge.  ``now``: the bus time, if the caller has it
        (the host polls this many times per conversion)."""
        self._advance(self._now() if now is None else now)
        if self._last_done > t:
            return self._rdy_pulses - 1, self._prev_done
        return self._rdy_pulses, self._last_done

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
        self._pointer = reg & POINTER_MASK
        data = self.i2c_read(2, self._now())
        self._pointer = saved
        return (data[0] << 8) | data[1]


class EmulatedI2C:
    """A ``busio.I2C`` look-alike that ``adafruit_bus_device.I2CDevice`` accepts.

    Each transaction costs its bit time at ``bus_hz`` (start, 9 bits per byte
    with the ACK, repeated start, stop) plus ``transaction_overhead_s`` (what
    Linux and Python add on a Pi), half of it before the bytes are on the wire
    (the call down to the controller) and half after (the interrupt and the
    return to Python): the chip sees a write at its stop condition, the host
    gets control back later.  That time is owed and slept off once it passes
    ``sleep_quantum_s``.  An oversleep is never handed back as credit: a Pi's
    transaction cannot end sooner because the previous one ended late.

    :meth:`host_time` charges other host costs (a GPIO read, a frame's
    processing) the same way.  On a virtual clock (``clock.virtual``) nothing
    is batched: time advances exactly, with ``clock.spend`` (no wake-up jitter:
    the host is busy, not asleep).  On a real clock the caller's own CPU time
    comes on top, as it does on a Pi.
    """

    def __init__(self, clock, devices: Optional[Dict[int, EmulatedADS1x15]] = None,
                 bus_hz: int = constants.I2C_BUS_HZ, transaction_overhead_s: float = 0.0,
                 sleep_quantum_s: float = 0.0002) -> None:
        if bus_hz <= 0:
            raise ValueError("bus_hz must be positive")
        self.clock = clock
        self.devices = dict(devices or {})
        self.bus_hz = bus_hz
        self.transaction_overhead_s = transaction_overhead_s
        virtual = getattr(clock, "virtual", False)
        self.sleep_quantum_s = 0.0 if virtual else sleep_quantum_s
        self._pass_time = getattr(clock, "spend", clock.sleep) if virtual else clock.sleep
        self.transactions = 0
        self.errors = 0
        self._owed_s = 0.0
        self._fail_next = 0
        self._unplugged = False
        self._error_rate = 0.0
        self._timeout_rate = 0.0
        self._error_rng = faults.make_rng(0)
        self._timeout_rng = faults.make_rng(1)
        self._gone: list = []               # (start, end) windows of the chip's clock
        self._was_gone = False
        #: Injected failures by kind, for tests and the fault bench.
        self.injected = {"error": 0, "timeout": 0, "gone": 0}
        self._lock = threading.Lock()
        self._deinited = False
        for chip in self.devices.values():
            chip.bus = self

    # -- fault injection ------------------------------------------------------------
    def fail_next(self, n: int = 1) -> None:
        """The next ``n`` transactions fail with ``OSError(121)`` (a glitch on the wire)."""
        self._fail_next += int(n)

    def inject_errors(self, rate: float, seed: int = 0) -> None:
        """That fraction of transactions fails with EIO or a NACK (seeded)."""
        self._error_rate = float(rate)
        self._error_rng = faults.make_rng(seed)

    def inject_timeouts(self, rate: float, seed: int = 1) -> None:
        """That fraction of transactions hangs :data:`~device.hw.mock.faults.TIMEOUT_S`
        and fails with ETIMEDOUT (seeded)."""
        self._timeout_rate = float(rate)
        self._timeout_rng = faults.make_rng(seed)

    def gone_for(self, start_s: float, duration_s: float) -> None:
        """The chip stops answering at ``start_s`` (clock time) for ``duration_s``,
        then answers again with its power-on registers."""
        self._gone.append((float(start_s), float(start_s) + float(duration_s)))

    def _gone_now(self) -> bool:
        now = self.now()
        gone = any(a <= now < b for a, b in self._gone)
        if self._was_gone and not gone:
            for chip in self.devices.values():
                chip.reset()                # powered up again
        self._was_gone = gone
        return gone

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
        if address == registers.GENERAL_CALL_ADDRESS:
            self._general_call(data)
            return
        chip, t_end = self._transaction(address, len(data))
        chip.i2c_write(data, t_end)

    def readfrom_into(self, address: int, buffer, *, start: int = 0,
                      end: Optional[int] = None) -> None:
        end = len(buffer) if end is None else end
        if address == registers.ALERT_RESPONSE_ADDRESS:
            self._alert_response(buffer, start, end)
            return
        chip, t_end = self._transaction(address, end - start)
        buffer[start:end] = chip.i2c_read(end - start, self._data_phase(t_end, end - start))

    def _general_call(self, data: bytes) -> None:
        """Every ADS1x15 acknowledges the general call address; a second byte of 06h
        resets its registers and powers it down (other commands are ignored)."""
        chips = () if self._unplugged else tuple(self.devices.values())
        self._spend(self.transaction_s(len(data)) if chips else self._nack_s())
        self.transactions += 1
        if not chips:
            self.errors += 1
            raise remote_io_error()
        if data[:1] == bytes((registers.GENERAL_CALL_RESET,)):
            for chip in chips:
                chip.reset()

    def _alert_response(self, buffer, start: int, end: int) -> None:
        """A read from the SMBus alert response address: the lowest-addressed chip
        holding ALERT/RDY asserted answers with its address byte (and so wins the
        arbitration); with none asserted nobody acknowledges."""
        answer = None
        if not self._unplugged:
            for address in sorted(self.devices):
                answer = self.devices[address].alert_response()
                if answer is not None:
                    break
        self._spend(self.transaction_s(end - start) if answer is not None else self._nack_s())
        self.transactions += 1
        if answer is None:
            self.errors += 1
            raise remote_io_error()
        buffer[start:end] = bytes((answer,)) + bytes(max(end - start - 1, 0))

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

    def wire_s(self, n_bytes: int, n_bytes_2: int = 0, repeated: bool = False) -> float:
        """Wire time of one transaction: start, address + data bytes (9 bits each with
        ACK), an optional repeated start + address + second part, stop."""
        bits = 1 + 9 * (1 + n_bytes) + 1
        if repeated:
            bits += 1 + 9 * (1 + n_bytes_2)
        return bits / self.bus_hz

    def transaction_s(self, n_bytes: int, n_bytes_2: int = 0, repeated: bool = False) -> float:
        """What one transaction costs the host: its wire time plus the overhead."""
        return self.wire_s(n_bytes, n_bytes_2, repeated) + self.transaction_overhead_s

    def host_time(self, seconds: float) -> None:
        """Charge host time that is not bus traffic (a GPIO read, processing a frame)."""
        if seconds > 0:
            self._spend(seconds)

    def _nack_s(self) -> float:
        """A NACK ends the transaction after the address byte."""
        return 11 / self.bus_hz + self.transaction_overhead_s

    def _data_phase(self, t_end: float, n_read: int) -> float:
        """When the chip loads the register it sends: right after the read address
        is acknowledged, ``n_read`` bytes and the stop before the transaction ends."""
        return t_end - (9 * n_read + 1) / self.bus_hz

    def _transaction(self, address: int, n_bytes: int, n_bytes_2: int = 0,
                     repeated: bool = False):
        if self._deinited:
            raise ValueError("I2C bus has been deinitialised")
        wire = self.wire_s(n_bytes, n_bytes_2, repeated)
        gone = bool(self._gone) and self._gone_now()
        chip = None if self._unplugged or gone else self.devices.get(address)
        failing = chip is None or self._fail_next > 0
        injected = None
        if gone:
            self.injected["gone"] += 1
        elif not failing and self._timeout_rate and self._timeout_rng.random() < self._timeout_rate:
            injected = faults.timeout_error()
            self.injected["timeout"] += 1
            wire += faults.TIMEOUT_S        # the adapter waits, then gives up
        elif not failing and self._error_rate and self._error_rng.random() < self._error_rate:
            injected = faults.error_for(self._error_rng)
            self.injected["error"] += 1
            wire = 11 / self.bus_hz
        if failing:
            wire = 11 / self.bus_hz
            self._fail_next = max(self._fail_next - 1, 0)
        before = 0.5 * self.transaction_overhead_s
        t_stop = self._spend(before + wire + (self.transaction_overhead_s - before)) - \
            (self.transaction_overhead_s - before)
        self.transactions += 1
        if failing or injected is not None:
            self.errors += 1
            raise injected or remote_io_error()
        return chip, t_stop

    def _spend(self, cost_s: float) -> float:
        """Owe ``cost_s`` of host time; pass it once enough is owed.  Returns the
        moment (clock time) the cost ends."""
        clock = self.clock
        t_end = clock.now() + self._owed_s + cost_s
        self._owed_s += cost_s
        if self._owed_s >= self.sleep_quantum_s:
            self._pass_time(self._owed_s)
            # An oversleep is lost, not credited to the next transactions.
            self._owed_s = max(t_end - clock.now(), 0.0)
        return t_end
