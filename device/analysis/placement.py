"""Putting the dowel on: when does a set start, and when did it really begin.

A set starts when all three points are touching (above their presence level)
for the debounce, at least two frames.  Its start is when the last of the
three began to touch (the last frame before it read anything: the force
starts from zero), if that was at most ``PLACE_MAX_S`` before; otherwise when
all three were first firmly on.  After a set ended with the dowel still on
(the button), the next one starts only once it has been taken off and put back.
"""
from __future__ import annotations

from typing import Optional

from device.analysis.contact import NEAR_ZERO_V

__all__ = ["PlacementWatch", "PLACE_MAX_S"]

#: Set start: when the last of the three points began to touch, if that was at most
#: this long before all three were firmly on.
PLACE_MAX_S = 1.0


class PlacementWatch:
    """Watches the idle dowel for being placed on the back."""

    def __init__(self) -> None:
        self.present_v = [0.0, 0.0, 0.0]     # per point: above this it is touching
        self.wait_release = False            # a set ended with the dowel still on
        self.reset()

    def reset(self) -> None:
        """Forget the touches seen so far (a set just ended)."""
        self.present_since = 0.0
        self.present_n = 0
        self.touch_t: list = [None, None, None]
        self._prev_t: Optional[float] = None

    def step(self, t: float, volts: tuple, debounce_s: float,
             ignored: frozenset = frozenset()) -> bool:
        """One idle frame; True when a set starts at this frame.  Points in
        ``ignored`` (a sensor fault) need not touch."""
        touch = self.touch_t
        before = self._prev_t if self._prev_t is not None else t
        for i, v in enumerate(volts):
            if v < NEAR_ZERO_V:
                touch[i] = None
            elif touch[i] is None:
                touch[i] = before
        self._prev_t = t
        pv = self.present_v
        if all(v > pv[i] or i in ignored for i, v in enumerate(volts)):
            if self.wait_release:
                return False
            if self.present_n == 0:
                self.present_since = t
            self.present_n += 1
            return self.present_n >= 2 and t - self.present_since >= debounce_s - 1e-6
        self.present_n = 0
        self.wait_release = False
        return False

    def set_start(self, ignored: frozenset = frozenset()) -> float:
        """When the set that starts now began (see the module docstring)."""
        start = self.present_since
        touched = [x for i, x in enumerate(self.touch_t) if x is not None and i not in ignored]
        if len(touched) == 3 - len(ignored) and touched and start - max(touched) <= PLACE_MAX_S:
            start = max(touched)
        self.present_n = 0
        return start
