"""The dowel's ADC: an ADS1115 (or ADS1015) on I2C.

:class:`DowelAdc` talks to the chip the way Adafruit's driver does, through
``adafruit_bus_device.I2CDevice`` on whatever bus it is handed (``busio.I2C`` on
a Pi, :class:`~device.hw.mock.ads1x15.EmulatedI2C` in mock mode), with register
words from the one register map (:mod:`device.hw.registers`).  The driver's
own ``AnalogIn`` (its public API) is used for the plain read mode only.  Bus
errors (``OSError``) reach the caller, which counts and retries them; nothing
here swallows a fault.
"""
from __future__ import annotations

import collections
import errno
import logging
from typing import Callable, Optional, Tuple

from adafruit_ads1x15 import ADS1015, ADS1115, AnalogIn, ads1x15
from adafruit_bus_device.i2c_device import I2CDevice

from device.hw import constants, registers
from device.runtime.clock import RealClock

log = logging.getLogger(__name__)
EREMOTEIO = getattr(errno, "EREMOTEIO", 121)

_DRIVERS = {"ADS1115": ADS1115, "ADS1015": ADS1015}
_RATES = {"ADS1115": constants.ADS1115_RATES, "ADS1015": constants.ADS1015_RATES}
_GAINS = tuple(registers.PGA_CODE)
_PINS = (ads1x15.Pin.A0, ads1x15.Pin.A1, ads1x15.Pin.A2, ads1x15.Pin.A3)
#: The OS bit as it arrives in the first byte of a config register read.
_OS_HIGH_BYTE = registers.OS >> 8
#: Polls of the OS bit before a conversion counts as hung (a poll is >= 50 us of
#: bus time, so this is far beyond the slowest 8 SPS conversion).
MAX_POLLS = 10_000
#: After a frame whose pipelined reads could not be trusted, read plainly this long.
PLAIN_FRAMES_AFTER_MISSES = 200
#: The earliest a conversion can end, in periods of the nominal data rate (the
#: oscillator may run 10 % fast), and how much earlier to wake up than that,
#: because the OS oversleeps.
EARLIEST_END = 1 / 1.1
SLEEP_MARGIN_S = 0.00015
MIN_SLEEP_S = 0.0001
#: The most the ALERT/RDY edge counter may lag the line (a Pi hands GPIO edges to
#: Python on a thread: an ESTIMATE for a loaded Pi Zero 2 W, not a measurement);
#: waited out once when continuous reads begin, so an old edge is not taken for ours.
EDGE_LAG_MAX_S = 0.0003
#: Continuous mode: a read or MUX write must end this long before the earliest
#: moment the next result can land to count as unambiguous.
DEADLINE_GUARD_S = 0.00002
#: The learned period is taken this much shorter, for the counter's jitter.
PERIOD_LEARN_MARGIN = 0.01
#: How long ALERT/RDY may stay quiet before the chip is asked over I2C.
READY_TIMEOUT_PERIODS = 3
READY_TIMEOUT_S = 0.005
MAX_SPINS = 200_000
#: A carried-over conversion started longer than one period (+ this) before the
#: next read_frame holds a stale sample and is converted again.
CARRY_GRACE_S = 0.0005


class DowelAdc:
    """Four single-ended channels (head, upper_back, sacrum, tilt) of one ADS1x15.

    Construction talks to the chip; if nobody answers (breakout unplugged at
    boot) it raises ``OSError`` so the caller can retry later with
    :meth:`reconnect` (or by building a new one).  Bad settings raise
    ``ValueError`` before any bus traffic.

    How a frame is read:

    * ``pipelined=False``: the driver's own ``AnalogIn.voltage`` for each channel
      in turn (config write, busy-poll of the config register, result read).
    * ``pipelined=True`` (default): single-shot conversions started with config
      words from the register map, but the chip never waits for the host: each
      result is read while the next conversion runs (the conversion register
      keeps the old result until the new one is done), the next frame's first
      conversion starts as this one returns, and the host sleeps through most of
      each conversion instead of polling all of it.
    * ``ready``: optional callable, True while the ALERT/RDY line (GPIO23 in the
      reference build) says a conversion is done, e.g. ``lambda: rdy.is_active``
      for a gpiozero ``DigitalInputDevice(23, pull_up=True)``.  The chip is then
      set up as a conversion-ready output and the end of a conversion is seen
      on the pin instead of by I2C polls.  If the line never moves, polling
      takes over.
    * ``ready_edges``: optional callable, ``(count, age_s)``: the number of
      conversion-ready pulses ALERT/RDY has given so far and how long ago the
      last of them was, by its edge timestamp (:class:`device.hw.ready.ReadyLine`
      on a Pi; the count may lag the line, the timestamp does not).  With it the
      chip converts *continuously* and the next channel's MUX is written while
      the current conversion runs (the datasheet: a config written during a
      conversion applies from the next one), so the chip never waits for the
      host: the only schedule that reaches about the full data rate with a Pi's
      per-transaction overhead.  Each result is attributed by counting pulses;
      a transaction that straddles a pulse makes its result ambiguous, and it
      is thrown away and converted again.  Without the counter, or when the
      host cannot keep up, it falls back to pipelined single-shot reads.
    * ``tilt_every=N`` (pipelined only): the tilt is converted on every Nth
      frame and held in between.  The hinge angle changes about ten times
      slower than contact does, so the contact points get the conversions.

    ``clock`` (``now()``/``sleep()``, default :class:`~device.runtime.clock.RealClock`)
    is only used to sleep through conversions; it must be the emulated chip's
    clock in mock mode.
    """

    def __init__(self, i2c, chip: str = "ADS1115", gain: float = constants.ADS_GAIN,
                 data_rate: Optional[int] = None, address: int = constants.ADS_ADDRESS, *,
                 pipelined: bool = True, ready: Optional[Callable[[], bool]] = None,
                 clock=None, tilt_every: int = 1,
                 ready_edges: Optional[Callable[[], int]] = None,
                 edge_lag_max_s: float = EDGE_LAG_MAX_S) -> None:
        if chip not in _DRIVERS:
            raise ValueError(f"chip must be one of {', '.join(_DRIVERS)}, not {chip!r}")
        if not isinstance(tilt_every, int) or tilt_every < 1:
            raise ValueError(f"tilt_every must be a whole number >= 1, not {tilt_every!r}")
        self.i2c = i2c
        self.chip = chip
        self.address = address
        self._gain = _check_gain(gain)
        self._data_rate = _check_rate(chip, constants.DEFAULT_DATA_RATE[chip]
                                      if data_rate is None else data_rate)
        self.pipelined = pipelined
        self.ready = ready
        self.clock = clock or RealClock()
        self.tilt_every = tilt_every if pipelined else 1
        self.ready_edges = ready_edges if pipelined else None
        self.edge_lag_max_s = edge_lag_max_s
        self._first_pulse = None
        self._last_pulse = (0, 0.0)
        #: Continuous-mode results lost (read too late or ambiguous) and read again.
        self.lost_results = 0
        self._chain = None                      # continuous mode: see _read_continuous
        self._cont_may_run = False              # the chip may be converting continuously
        self._single_shot_frames_left = 0       # continuous mode paused (host too slow)
        #: Pipelined results that could not be trusted and were converted again.
        self.pipeline_misses = 0
        self._plain_frames_left = 0
        self._carry_t: Optional[float] = None   # next frame's first conversion started at
        self._maybe_busy = False                # a conversion may still be running
        self._needs_setup = False               # ALERT/RDY mode to be set up again
        self._at_config = False                 # register pointer is at config
        self._frame_index = 0
        self._tilt_raw = 0
        self._poll_buf = bytearray(1)
        self._word_buf = bytearray(2)
        self._write_buf = bytearray(3)
        self._pointer_buf = bytearray(1)
        self._device: Optional[I2CDevice] = None
        self._channels: Tuple[AnalogIn, ...] = ()
        # MUX code per frame channel (AINx against GND), in frame order.
        self._mux = tuple(registers.MUX_SINGLE_ENDED[constants.ADC_CHANNEL[name]]
                          for name in constants.CHANNELS)
        self._tilt_index = constants.CHANNELS.index("tilt")
        self._start_words: Tuple[int, ...] = ()
        self.open()

    # -- connection ---------------------------------------------------------------------
    def open(self) -> None:
        """(Re)open the chip on the bus: probes the address and writes the config."""
        self._device = None
        self._carry_t = None
        try:
            device = I2CDevice(self.i2c, self.address)
            if not self.pipelined:
                ads = _DRIVERS[self.chip](self.i2c, gain=self._gain, data_rate=self._data_rate,
                                          address=self.address)
                self._channels = tuple(AnalogIn(ads, _PINS[constants.ADC_CHANNEL[name]])
                                       for name in constants.CHANNELS)
        except ValueError as exc:
            # adafruit_bus_device reports a missing device as ValueError; to the
            # caller it is a bus fault like any NACK, so make it an OSError.
            if "No I2C device" in str(exc):
                raise OSError(EREMOTEIO, f"no {self.chip} answering at I2C address "
                                         f"0x{self.address:02x}") from exc
            raise
        self._device = device
        self._build_words()
        self._write_register(registers.POINTER_CONFIG, self._idle_word())
        self._maybe_busy = True
        self._setup_ready()

    reconnect = open

    @property
    def connected(self) -> bool:
        return self._device is not None

    def _build_words(self) -> None:
        """The config words that start one conversion of each channel."""
        pga = registers.PGA_CODE[self._gain]
        dr = registers.dr_code(self.chip, self._data_rate)
        que = registers.COMP_QUE_DISABLE if self.ready is None else 0   # 00: after one conversion
        self._start_words = tuple(registers.config_word(mux, pga, dr, start=True, comp_que=que)
                                  for mux in self._mux)

    def _idle_word(self) -> int:
        """Config with our gain and rate, single-shot, nothing started."""
        return self._start_words[0] & ~registers.OS

    def _setup_ready(self) -> None:
        """ALERT/RDY as conversion-ready output: Hi_thresh MSB 1, Lo_thresh MSB 0,
        comparator queue on (asserts after one conversion)."""
        if self.ready is None:
            return
        self._write_register(registers.POINTER_HI_THRESH, registers.CONVERSION_READY_HI_THRESH)
        self._write_register(registers.POINTER_LO_THRESH, registers.CONVERSION_READY_LO_THRESH)
        self._at_config = False

    # Register traffic over I2CDevice, as the driver does it.
    def _write_register(self, pointer: int, value: int) -> None:
        buf = self._write_buf
        buf[0], buf[1], buf[2] = pointer, (value >> 8) & 0xFF, value & 0xFF
        with self._device as dev:
            dev.write(buf)

    def _read_register(self, pointer: int) -> int:
        self._pointer_buf[0] = pointer
        with self._device as dev:
            dev.write_then_readinto(self._pointer_buf, self._word_buf)
        return (self._word_buf[0] << 8) | self._word_buf[1]

    # -- reading -------------------------------------------------------------------------
    def read_frame(self) -> Tuple[float, float, float, float]:
        """(head, upper_back, sacrum, tilt) volts, one single-shot conversion each
        (the tilt held from an earlier frame when ``tilt_every`` > 1)."""
        if self._device is None:
            self.open()
        try:
            if self._maybe_busy or (self._carry_t is not None and not self.pipelined):
                # A start written into a running conversion is ignored and the
                # next result would be the wrong channel's: let it finish first.
                self._carry_t = None
                if self._cont_may_run:
                    self._leave_continuous()
                self._wait_idle()
                self._maybe_busy = False
            if not self.pipelined:
                self._at_config = False
                return tuple(ch.voltage for ch in self._channels)
            order = self._frame_order()
            if self._plain_frames_left > 0:
                self._plain_frames_left -= 1
                raw = self._read_plain(order)
            elif self.ready_edges is not None and self.ready is not None and \
                    self._single_shot_frames_left == 0:
                raw = self._read_continuous(order)
            else:
                self._single_shot_frames_left = max(self._single_shot_frames_left - 1, 0)
                raw = self._read_pipelined(order)
        except OSError:
            # The chip may have been reset (unplugged): set the ALERT/RDY mode up
            # again with the first read that gets through.
            self._maybe_busy = True
            self._carry_t = None
            self._chain = None
            self._needs_setup = self.ready is not None
            raise
        self._frame_index += 1
        if self._tilt_index in order:
            self._tilt_raw = raw[self._tilt_index]
        else:
            raw[self._tilt_index] = self._tilt_raw
        return tuple(self._volts(code) for code in raw)

    def _frame_order(self) -> Tuple[int, ...]:
        """Frame channels converted this frame: the contact points always, the tilt
        on every ``tilt_every``-th frame (and on the first)."""
        n = len(self._mux)
        if self.tilt_every == 1 or self._frame_index % self.tilt_every == 0:
            return tuple(range(n))
        return tuple(i for i in range(n) if i != self._tilt_index)

    def _volts(self, code: int) -> float:
        return registers.code_to_volts(code, self.chip, registers.PGA_CODE[self._gain])

    def _read_plain(self, order) -> list:
        raw = [0] * len(self._mux)
        for i in order:
            t_start = self._start(i)
            self._wait(t_start)
            raw[i] = self._result()
        return raw

    def _read_pipelined(self, order) -> list:
        """One frame of pipelined single-shot conversions (see the class docstring).

        A result read while the next conversion runs is only trusted when the
        check right after it still says "converting" (else the new result may
        already have replaced it); such a channel is converted again on its own.
        The first channel of every frame is the head, so the conversion carried
        into the next frame is always the head's.
        """
        raw = [0] * len(self._mux)
        steps = list(order) + [order[0]]    # the last step starts the next frame's first
        misses = 0
        pending = None                  # channel whose result sits in the register
        first = 0
        if self._carry_t is not None:
            fresh = self.clock.now() - self._carry_t <= 1.0 / self._data_rate + CARRY_GRACE_S
            self._wait(self._carry_t)
            self._carry_t = None
            if fresh:
                pending, first = order[0], 1
            # else: the caller paused; that head sample is stale, convert it again
        last = len(steps) - 1
        for k in range(first, len(steps)):
            index = steps[k]
            t_start = self._start(index)
            if pending is not None:
                value = self._result()
                if self._converting_now():
                    raw[pending] = value
                else:
                    misses += 1
                    if k < last:
                        raw[index] = self._result()
                    t_redo = self._start(pending)
                    self._wait(t_redo)
                    raw[pending] = self._result()
                    pending = None
                    if k == last:
                        self._maybe_busy = False
                        break
                    continue
            if k == last:
                self._carry_t = t_start
                break
            self._wait(t_start)
            pending = index
        self.pipeline_misses += misses
        if misses > 1:
            # The host cannot keep up with the conversions (very high data rate,
            # sped-up clock, busy CPU): plain reads are faster for a while.
            self._plain_frames_left = PLAIN_FRAMES_AFTER_MISSES
            if self._carry_t is not None:
                self._carry_t = None
                self._maybe_busy = True
        return raw

    # -- continuous mode, MUX one conversion ahead ---------------------------------------
    def _read_continuous(self, order) -> list:
        """One frame from continuous conversions (see ``ready_edges`` in the class
        docstring).

        The edge counter may lag the line (a Pi delivers GPIO edges to Python
        through a thread), so results are attributed by time: every pulse's
        moment is known from the edge timestamps (back to back, evenly spaced),
        every MUX write's from the host's clock before and after it.  The
        conversion that began at a pulse used the MUX of the last write that
        had surely ended by then; a pulse inside a write's window leaves it
        unknown.  A result read after the earliest moment the next one could
        land is only kept if every conversion it could be has the same channel.
        A result nobody can attribute is thrown away and converted again.

        ``self._chain`` carries across frames: pulses counted, the moment of
        the last one, and the channel converting since it (None if unknown);
        ``self._writes`` the recent MUX writes as (start, end, channel).
        """
        raw = [0] * len(self._mux)
        need = list(order)
        lost = 0
        if self._chain is None:
            if self._carry_t is not None:   # a single shot from the pipelined reads runs
                self._carry_t = None
                self._wait_idle()
            self._enter_continuous(need)
        clock = self.clock
        while need:
            count, t_count, current = self._chain
            seen, t_seen = self._wait_edge(count, t_count)
            spacing = (t_seen - t_count) / (seen - count)

            def started_at(pulse: int):
                """Channel of the conversion that began at ``pulse`` (None: unknown)."""
                if pulse == count:
                    return current
                return self._mux_at(t_count + (pulse - count) * spacing)

            done, current = started_at(seen - 1), started_at(seen)
            value = self._result()
            t_read = clock.now()
            period_min = self._period_min()
            if t_read > t_seen + period_min - DEADLINE_GUARD_S:
                # Later results may already be in the register: keep it only if
                # each conversion it could be is the same channel.
                later = int((t_read - t_seen) / period_min) + 1
                period = self._period_est(spacing)
                could_be = {done, current} | {self._mux_at(t_seen + k * period)
                                              for k in range(1, later + 1)}
                if len(could_be) != 1:
                    done = None
            if done is not None and done in need:
                raw[done] = value
                need.remove(done)
            else:
                lost += done is None
            following = next((c for c in need if c != current), None)
            if following is None:
                following = order[0] if current != order[0] else 1     # the next frame's
            t_write = clock.now()
            self._write_register(registers.POINTER_CONFIG, self._cont_words[following])
            self._writes.append((t_write, clock.now(), following))
            self._chain = (seen, t_seen, current)
            self._note_pulse(seen, t_seen)
            if lost > 2:
                self._fall_back_from_continuous()
                if need:
                    rest = self._read_plain(tuple(need))
                    for c in need:
                        raw[c] = rest[c]
                break
        self.lost_results += lost
        return raw

    def _mux_at(self, t: float):
        """The channel in the config register at moment ``t``: the last write that
        had surely ended; None if ``t`` falls inside a write or before them all."""
        value = None
        for start, end, channel in self._writes:
            if end + DEADLINE_GUARD_S <= t:
                value = channel
            elif start - DEADLINE_GUARD_S < t:
                return None
            else:
                break
        return value

    def _period_est(self, spacing: float) -> float:
        first = self._first_pulse
        if first is not None and self._last_pulse[0] - first[0] >= 64:
            (n0, t0), (n1, t1) = first, self._last_pulse
            return (t1 - t0) / (n1 - n0)
        return spacing if spacing > 0 else 1.0 / self._data_rate

    def _period_min(self) -> float:
        """The shortest the chip's period can be: learned from the pulses once enough
        were counted, else the nominal one with the oscillator 10 % fast."""
        first = self._first_pulse
        if first is not None and self._last_pulse[0] - first[0] >= 64:
            (n0, t0), (n1, t1) = first, self._last_pulse
            return (t1 - t0) / (n1 - n0) * (1.0 - PERIOD_LEARN_MARGIN)
        return EARLIEST_END / self._data_rate

    def _note_pulse(self, count: int, t_seen: float) -> None:
        if self._first_pulse is None:
            self._first_pulse = (count, t_seen)
        self._last_pulse = (count, t_seen)

    def _enter_continuous(self, need) -> None:
        """From idle: start converting ``need[0]`` continuously, queue ``need[1]``."""
        self._cont_words = tuple((w & ~(registers.OS | registers.MODE_SINGLE))
                                 for w in self._start_words)
        first = need[0]
        second = need[1] if len(need) > 1 else first
        if self._needs_setup:               # the chip was reset: ALERT/RDY mode again
            self._setup_ready()
            self._needs_setup = False
        # The chip is idle; let the counter catch up with the pulse that ended
        # the last conversion, so no late count is taken for one of ours.
        self.clock.sleep(self.edge_lag_max_s)
        count, _ = self.ready_edges()
        t_before = self.clock.now()
        self._write_register(registers.POINTER_CONFIG, self._cont_words[first])
        self._cont_may_run = True
        t_second = self.clock.now()
        self._write_register(registers.POINTER_CONFIG, self._cont_words[second])
        # The first conversion began with the first write; the queued MUX applies
        # from a pulse after the second write (or is unknown, if one fell inside it).
        self._writes = collections.deque([(t_before, t_second, first),
                                          (t_second, self.clock.now(), second)], maxlen=8)
        self._chain = (count, t_second, first)
        self._first_pulse = None
        self._last_pulse = (count, t_before)
        self._at_config = False

    def _wait_edge(self, count: int, t_pulse: float):
        """Until the counter passes ``count``: sleep through the part of the
        conversion that cannot have ended, then watch it.  Returns the count and
        when its last pulse was (the edge's own timestamp, not when it was seen)."""
        clock = self.clock
        period = 1.0 / self._data_rate
        delay = t_pulse + self._period_min() - SLEEP_MARGIN_S - clock.now()
        if delay > MIN_SLEEP_S:
            clock.sleep(delay)
        deadline = t_pulse + READY_TIMEOUT_PERIODS * period + READY_TIMEOUT_S + self.edge_lag_max_s
        spins = 0
        while True:
            seen, age_s = self.ready_edges()
            now = clock.now()
            if seen > count:
                return seen, now - age_s
            spins += 1
            if spins >= MAX_SPINS or now > deadline:
                log.warning("ALERT/RDY pulses do not follow the conversions; "
                            "reading single-shot instead")
                self.ready_edges = None
                self._fall_back_from_continuous()
                raise OSError(errno.ETIMEDOUT, "no conversion-ready pulse from the "
                                               f"{self.chip}")

    def _leave_continuous(self) -> None:
        """Back to single-shot: the running conversion ends, then the chip powers down."""
        self._write_register(registers.POINTER_CONFIG, self._idle_word())
        self._cont_may_run = False
        self._at_config = False

    def _fall_back_from_continuous(self) -> None:
        # The host cannot keep up (slow bus, busy CPU): pipelined single shots for a while.
        self._chain = None
        self._leave_continuous()
        self._maybe_busy = True
        self._wait_idle()
        self._maybe_busy = False
        self._single_shot_frames_left = PLAIN_FRAMES_AFTER_MISSES

    def _start(self, index: int) -> float:
        """Config write with OS=1 and the channel's MUX: starts one conversion.
        Returns the clock time it started at."""
        if self._needs_setup:
            self._setup_ready()
            self._needs_setup = False
        self._write_register(registers.POINTER_CONFIG, self._start_words[index])
        self._at_config = True
        return self.clock.now()

    def _result(self) -> int:
        word = self._read_register(registers.POINTER_CONVERSION)
        self._at_config = False
        return registers.conversion_code(word, self.chip)

    def _converting_i2c(self) -> bool:
        """OS bit of the config register.  With the pointer already at config a
        one-byte read (20 bit times) does, shorter than a pointer write and read."""
        if not self._at_config:
            busy = not self._read_register(registers.POINTER_CONFIG) & registers.OS
            self._at_config = True
            return busy
        with self._device as dev:
            dev.readinto(self._poll_buf, end=1)
        return not self._poll_buf[0] & _OS_HIGH_BYTE

    def _converting_now(self) -> bool:
        if self.ready is not None:
            return not self.ready()
        return self._converting_i2c()

    def _wait(self, t_start: float) -> None:
        """Until the conversion started at ``t_start`` is done: sleep through the
        part of it that cannot have ended yet, then watch ALERT/RDY or poll."""
        clock = self.clock
        period = 1.0 / self._data_rate
        delay = t_start + period * EARLIEST_END - SLEEP_MARGIN_S - clock.now()
        if delay > MIN_SLEEP_S:
            clock.sleep(delay)
        ready = self.ready
        if ready is not None:
            deadline = t_start + READY_TIMEOUT_PERIODS * period + READY_TIMEOUT_S
            spins = 0
            while not ready():
                spins += 1
                # The spin count also ends the wait on a clock that is not moving.
                if spins >= MAX_SPINS or clock.now() > deadline:
                    if self._converting_i2c():
                        break                   # slow chip: keep polling below
                    log.warning("ALERT/RDY line does not follow the conversions; "
                                "polling the config register instead")
                    self.ready = None
                    return
            else:
                return
        for _ in range(MAX_POLLS):
            if not self._converting_i2c():
                return
        raise OSError(errno.ETIMEDOUT, f"{self.chip} conversion did not finish")

    def _wait_idle(self) -> None:
        self._at_config = False
        for _ in range(MAX_POLLS):
            if not self._converting_i2c():
                return
        raise OSError(errno.ETIMEDOUT, f"{self.chip} conversion did not finish")

    # -- settings -----------------------------------------------------------------------
    @property
    def data_rate(self) -> int:
        """Conversions per second of the chip, shared by the four channels."""
        return self._data_rate

    @data_rate.setter
    def data_rate(self, rate: int) -> None:
        rate = _check_rate(self.chip, rate)
        if rate != self._data_rate:
            self._data_rate = rate
            self._settings_changed()
        self._data_rate = rate

    @property
    def gain(self) -> float:
        """PGA gain (1 = +-4.096 V full scale)."""
        return self._gain

    @gain.setter
    def gain(self, gain: float) -> None:
        gain = _check_gain(gain)
        if gain != self._gain:
            self._gain = gain
            self._settings_changed()
        self._gain = gain

    def _settings_changed(self) -> None:
        # A conversion started with the old settings must not be scaled with the
        # new ones: let it run out and start afresh.  The chip gets the new
        # config at once (it applies from the next conversion).
        self._carry_t = None
        self._chain = None
        self._maybe_busy = True
        self._at_config = False
        if self._device is not None:
            self._build_words()
            self._write_register(registers.POINTER_CONFIG, self._idle_word())
            if not self.pipelined:
                self.open()             # the driver keeps its own copy of the settings

    @property
    def full_scale_v(self) -> float:
        return registers.PGA_FULL_SCALE_V[registers.PGA_CODE[self._gain]]

    @property
    def conversions_per_frame(self) -> float:
        """Conversions a frame costs on average: three contact points, and the tilt
        on one frame in ``tilt_every``."""
        return len(constants.POINTS) + 1.0 / self.tilt_every

    @property
    def ceiling_hz(self) -> float:
        """The most frames/s the chip can give: its data rate over the conversions
        one frame costs (215 for an ADS1115 at 860 SPS reading all four)."""
        return self._data_rate / self.conversions_per_frame


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
    """The Pi's hardware I2C.  Blinka is imported here, not at module import: its
    ``board`` module fails to import anywhere but on a Pi.

    On Linux the bus clock is not Python's to set: it is ``dtparam=i2c_arm_baudrate``
    in config.txt (``make install`` sets 400 kHz, ``dowel selftest`` measures it).
    Blinka ignores any frequency and warns on every open, whatever is passed."""
    import warnings

    import board
    import busio

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="I2C frequency is not settable", category=RuntimeWarning)
        return busio.I2C(board.SCL, board.SDA)
