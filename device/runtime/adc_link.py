"""The ADC's lifecycle as the polling loop sees it: open it, apply changed
settings, survive failed reads, and decide when failures have become a fault.

An I2C error is counted and the read retried; reads failing for longer than
:data:`FAULT_AFTER_S` make a fault (``on_fault(t, message)``), and the ADC is
retried every :data:`RETRY_INTERVAL_S` until it answers (``on_fault(t, None)``).
An ADC missing at start-up is retried the same way.  Everything here runs on
the polling thread except :meth:`AdcLink.settings_changed`.
"""
from __future__ import annotations

import threading
from typing import Callable, Optional

#: Consecutive read failures for this long make a fault (LED blinks, dashboard says so).
FAULT_AFTER_S = 0.25
#: Pause between retries while the ADC is not answering.
RETRY_INTERVAL_S = 0.05
#: Pause between retries of a read that just failed (before it counts as a fault).
QUICK_RETRY_S = 0.002

#: What a driver raises when the chip does not answer or answers nonsense.
READ_ERRORS = (OSError, ValueError, RuntimeError)


class AdcLink:
    """``factory(settings)`` makes the ADC (anything with ``read_frame() ->
    (head, upper_back, sacrum, tilt)`` volts); it is called on the polling thread
    and again after a chip change or a failed open."""

    def __init__(self, factory: Callable, clock, on_fault: Callable[[float, Optional[str]], None]):
        self._factory = factory
        self._clock = clock
        self._on_fault = on_fault
        self.adc = None
        self.fault: Optional[str] = None
        self.read_errors = 0
        self._failing_since: Optional[float] = None
        # A change of settings comes from another thread and may land while the
        # polling thread is building or reconfiguring the driver.  It is a numbered
        # request (``_wanted``) that the polling thread takes whole under the lock
        # and marks done (``_applied``) only for the number it took, so a change
        # arriving mid-build is applied before the next read, never lost.
        self._change_lock = threading.Lock()
        self._wanted = 0
        self._applied = 0
        self._pending = None
        self._rebuild = False

    def settings_changed(self, old, new) -> None:
        """Called (under the core's lock) when settings change: a new chip model
        rebuilds the driver, a new data rate or gain is applied before the next read."""
        rebuild = new.chip != old.chip
        if not rebuild and (new.data_rate, new.gain) == (old.data_rate, old.gain):
            return
        with self._change_lock:
            self._pending = new
            self._rebuild = self._rebuild or rebuild
            self._wanted += 1

    def read(self, settings) -> Optional[tuple]:
        """The next frame's four volts, or None after a failure (already waited for)."""
        if (self.adc is None or self._applied != self._wanted) and not self._open(settings):
            return None
        try:
            volts = self.adc.read_frame()
        except READ_ERRORS as exc:
            self._failed(exc)
            return None
        if self._failing_since is not None:
            self._failing_since = None
            if self.fault is not None:
                self._set_fault(self._clock.now(), None)
        return volts

    def _open(self, settings) -> bool:
        with self._change_lock:
            wanted, rebuild = self._wanted, self._rebuild
            if self._pending is not None:
                settings = self._pending
        try:
            if self.adc is None or rebuild:
                self.adc = self._factory(settings)
            else:                               # only called with a change wanted
                self.adc.data_rate = settings.data_rate
                self.adc.gain = settings.gain
        except READ_ERRORS as exc:
            self.adc = None
            self._failed(exc)
            return False
        with self._change_lock:
            if self._wanted == wanted:
                self._rebuild = False
                self._pending = None
            self._applied = wanted
        return True

    def _failed(self, exc: Exception) -> None:
        now = self._clock.now()
        self.read_errors += 1
        if self._failing_since is None:
            self._failing_since = now
        if self.fault is None and now - self._failing_since >= FAULT_AFTER_S:
            self._set_fault(now, f"ADC not answering: {exc}")
        # A glitch is retried at once, but not in a tight loop: a NACKing bus
        # answers instantly and would otherwise burn a core.
        self._clock.sleep(RETRY_INTERVAL_S if self.fault is not None else QUICK_RETRY_S)

    def _set_fault(self, t: float, message: Optional[str]) -> None:
        self.fault = message
        self._on_fault(t, message)

    def crashed(self, t: float, message: str) -> None:
        """The loop itself failed (a bug): show it like a hardware fault."""
        self._set_fault(t, message)
