"""The ADS1x15's ALERT/RDY line on a GPIO: its level, and a count of its pulses.

In continuous mode the chip marks each result with a pulse of about 8 us,
too short to poll; the kernel catches each edge with its own timestamp and
gpiozero hands it to a callback on its event thread.  :meth:`ReadyLine.edges`
gives ``(count, age_s)``: how many conversion-ready falls so far, and how long
ago the last one was by the edge's timestamp (which, unlike the moment the
callback runs, does not lag the line).  That is what
:class:`device.hw.adc.DowelAdc` needs to read continuous conversions.
"""
from __future__ import annotations

import threading

from device.hw import constants


class ReadyLine:
    """GPIO ``pin`` (open drain, pulled up; low = conversion ready)."""

    def __init__(self, pin: int = constants.PIN_ALERT_RDY, pin_factory=None) -> None:
        from gpiozero import DigitalInputDevice

        self.device = DigitalInputDevice(pin, pull_up=True, pin_factory=pin_factory)
        self._lock = threading.Lock()
        self._count = 0
        self._last_ticks = None
        self._factory = self.device.pin_factory
        # The pin-level callback gets every edge with the edge's own ticks; the
        # device's own handler (is_active, when_activated) is kept after ours.
        self._device_handler = self.device.pin.when_changed
        self.device.pin.when_changed = self._changed

    def _changed(self, ticks, state) -> None:
        if not state:                       # a fall: the chip pulls the line low
            with self._lock:
                self._count += 1
                self._last_ticks = ticks
        if self._device_handler is not None:
            self._device_handler(ticks, state)

    def is_ready(self) -> bool:
        return self.device.is_active

    def edges(self):
        """``(count, age_s)`` of the conversion-ready falls seen so far."""
        with self._lock:
            count, ticks = self._count, self._last_ticks
        if ticks is None:
            return count, float("inf")
        return count, self._factory.ticks_diff(self._factory.ticks(), ticks)   # seconds

    def close(self) -> None:
        self.device.close()

