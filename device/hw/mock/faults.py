"""Faults injected into the emulated chip and bus, on demand (``dowel run --mock --inject``, tests).

What a real dowel meets when a wire wiggles, each in its datasheet/Linux form:

* ``i2c-errors=RATE``: that fraction of transactions fails, half as ``EIO``
  (``[Errno 5] Input/output error``, a bus glitch) and half as a NACK
  (``[Errno 121] Remote I/O error``);
* ``timeouts=RATE``: that fraction of transactions hangs until the I2C
  adapter gives up (:data:`TIMEOUT_S`) and fails with ``ETIMEDOUT``;
* ``gone=AT:SECONDS``: the ADC stops answering at ``AT`` seconds for
  ``SECONDS`` (breakout pulled off), then answers again, powered up afresh
  with its power-on registers;
* ``open=POINT``: the point's FSR lead is broken, the input reads 0 V;
* ``short=POINT``: the point's input is shorted to 3.3 V.

Random choices come from a seeded generator, so a run with faults is
repeatable.  :func:`parse_spec` turns the command-line form into a
:class:`FaultPlan`; :meth:`FaultPlan.apply` hangs it on a bus and chip.
"""
from __future__ import annotations

import errno
import random
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from device.hw import constants

#: How long a hung transaction takes to fail (the kernel's I2C adapter timeout
#: is of this order on a Pi; the loop must survive it, not wait out seconds).
TIMEOUT_S = 0.035
KINDS = ("i2c-errors", "timeouts", "gone", "open", "short")


class FaultSpecError(ValueError):
    """A bad ``--inject`` value; the message names it and says what is expected."""


@dataclass
class FaultPlan:
    i2c_error_rate: float = 0.0
    timeout_rate: float = 0.0
    #: (start, duration) in seconds of the chip's clock.
    gone: List[Tuple[float, float]] = field(default_factory=list)
    #: ADC input index -> volts it is stuck at.
    stuck: Dict[int, float] = field(default_factory=dict)
    seed: int = 0

    def apply(self, bus, chip) -> None:
        """Inject this plan into an :class:`~device.hw.mock.ads1x15.EmulatedI2C` and its chip."""
        bus.inject_errors(self.i2c_error_rate, seed=self.seed)
        bus.inject_timeouts(self.timeout_rate, seed=self.seed + 1)
        for start, duration in self.gone:
            bus.gone_for(start, duration)
        for channel, volts in self.stuck.items():
            chip.stick(channel, volts)

    def describe(self) -> str:
        parts = []
        if self.i2c_error_rate:
            parts.append(f"{self.i2c_error_rate:.1%} of I2C transactions fail")
        if self.timeout_rate:
            parts.append(f"{self.timeout_rate:.1%} time out")
        parts += [f"ADC gone at {a:g} s for {d:g} s" for a, d in self.gone]
        names = {v: k for k, v in constants.ADC_CHANNEL.items()}
        parts += [f"{names[c]} {'open (0 V)' if v == 0 else f'shorted ({v:g} V)'}"
                  for c, v in self.stuck.items()]
        return "; ".join(parts) or "no faults"


def _rate(kind: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise FaultSpecError(f"--inject {kind}={text}: not a number (a fraction, e.g. 0.02)") from None
    if not 0.0 <= value < 1.0:
        raise FaultSpecError(f"--inject {kind}={text}: must be a fraction in [0, 1)")
    return value


def _point(kind: str, text: str) -> int:
    if text not in constants.POINTS:
        raise FaultSpecError(f"--inject {kind}={text}: unknown point (one of "
                             f"{', '.join(constants.POINTS)})")
    return constants.ADC_CHANNEL[text]


def parse_spec(specs, seed: int = 0) -> FaultPlan:
    """``["i2c-errors=0.02", "gone=5:3", "open=sacrum"]`` -> :class:`FaultPlan`."""
    plan = FaultPlan(seed=seed)
    for spec in specs or ():
        kind, sep, value = spec.partition("=")
        if kind not in KINDS or not sep:
            raise FaultSpecError(f"--inject {spec}: expected one of "
                                 + ", ".join(f"{k}=..." for k in KINDS))
        if kind == "i2c-errors":
            plan.i2c_error_rate = _rate(kind, value)
        elif kind == "timeouts":
            plan.timeout_rate = _rate(kind, value)
        elif kind == "gone":
            at, colon, seconds = value.partition(":")
            try:
                window = (float(at), float(seconds)) if colon else (2.0, float(at))
            except ValueError:
                raise FaultSpecError(f"--inject gone={value}: expected AT:SECONDS "
                                     "(e.g. gone=5:3, gone at 5 s for 3 s)") from None
            if window[0] < 0 or window[1] <= 0:
                raise FaultSpecError(f"--inject gone={value}: AT must be >= 0 and SECONDS > 0")
            plan.gone.append(window)
        elif kind == "open":
            plan.stuck[_point(kind, value)] = 0.0
        else:
            plan.stuck[_point(kind, value)] = constants.SUPPLY_V
    return plan


def error_for(rng: random.Random) -> OSError:
    """A failed transaction as Linux's i2c-dev reports it: EIO or a NACK."""
    if rng.random() < 0.5:
        return OSError(errno.EIO, "Input/output error")
    return OSError(getattr(errno, "EREMOTEIO", 121), "Remote I/O error")


def timeout_error() -> OSError:
    return OSError(errno.ETIMEDOUT, "Connection timed out")


def make_rng(seed: Optional[int]) -> random.Random:
    return random.Random(seed)
