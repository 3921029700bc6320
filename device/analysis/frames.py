"""The frame: one reading of all four ADC channels, stamped with a time."""
from __future__ import annotations

from typing import NamedTuple


class Frame(NamedTuple):
    t: float            # seconds on the core's clock (or the trace's time column)
    head: float         # volts at A0
    upper_back: float   # volts at A1
    sacrum: float       # volts at A2
    tilt: float         # volts at A3
