"""The dowel's outputs: status LED, buzzer and the optional button.

gpiozero devices built on whatever pin factory is passed in: the default one on
a Pi, ``MockFactory`` in mock mode, replay and tests.  Nothing here decides
*when* to alert; the pipeline does, from plain numbers.

Patterns, so the athlete can tell them apart without looking at a screen:

* lost contact: LED on and buzzer on, steadily, for as long as the point is off;
* hardware fault (ADC not answering): LED blinking 2 Hz, buzzer silent except a
  short double chirp when the fault starts (:data:`FAULT_CHIRP`);
* rep done: one click (:data:`REP_CHIRP`), only if the athlete turned it on;
* set done: three longer beeps (:data:`SET_DONE`).

The chirps never interrupt a loss or a fault: while either is shown they are
left out, and a loss that starts during a chirp takes the buzzer at once.
"""
from __future__ import annotations

from typing import Callable, Optional

from gpiozero import LED, Button, Buzzer

from device.hw import constants

#: Buzzer patterns as (on_s, off_s, beeps).  Told apart by ear: a loss is one
#: steady tone, a fault two quick chirps, a rep one click, a set three beeps.
FAULT_CHIRP = (0.05, 0.05, 2)
REP_CHIRP = (0.03, 0.0, 1)
SET_DONE = (0.15, 0.10, 3)
FAULT_BLINK_S = 0.25


class Alerts:
    """LED + buzzer (+ optional button) of the dowel.

    ``update(loss=..., fault=...)`` sets the outputs and returns True when the
    alert state (on/off) changed at this call, so the caller can stamp the
    change with the frame's time.
    """

    def __init__(self, pin_factory=None, *, led_pin: int = constants.PIN_LED,
                 buzzer_pin: int = constants.PIN_BUZZER,
                 button_pin: Optional[int] = None,
                 buzzer_enabled: bool = True):
        self.pin_factory = pin_factory
        self.led = LED(led_pin, pin_factory=pin_factory)
        self.buzzer = Buzzer(buzzer_pin, pin_factory=pin_factory)
        self.button = (Button(button_pin, pin_factory=pin_factory, bounce_time=None)
                       if button_pin is not None else None)
        self.buzzer_enabled = buzzer_enabled
        self.loss = False
        self.fault = False

    @property
    def on(self) -> bool:
        """True while the loss alert (LED and buzzer) is on."""
        return self.loss

    def when_button_pressed(self, callback: Callable[[], None]) -> None:
        if self.button is not None:
            self.button.when_pressed = callback

    def when_button_held(self, callback: Callable[[], None], hold_s: float = 2.0) -> None:
        """``callback`` once the button has been held down ``hold_s`` seconds."""
        if self.button is not None:
            self.button.hold_time = hold_s
            self.button.when_held = callback

    def update(self, loss: bool, fault: bool = False) -> bool:
        """Drive the outputs; returns True if the loss alert switched on or off."""
        changed = loss != self.loss
        self.loss = loss
        if fault != self.fault:
            self.fault = fault
            if fault:
                self.buzzer.off()
                self.led.blink(on_time=FAULT_BLINK_S, off_time=FAULT_BLINK_S)
                if self.buzzer_enabled:
                    self._beep(FAULT_CHIRP)
            else:
                self._show_loss()          # back to whatever the loss state is now
        elif changed and not fault:
            # During a fault the blink pattern owns the outputs; the loss state
            # is remembered and shown once the fault clears.
            self._show_loss()
        return changed

    def rep_done(self) -> bool:
        """The rep-done click; False when it was left out (silenced, or a loss
        or fault owns the buzzer).  Whether to click at all is the caller's
        setting (off by default)."""
        return self._chirp(REP_CHIRP)

    def set_done(self) -> bool:
        """The set-done beeps; False when left out."""
        return self._chirp(SET_DONE)

    def _chirp(self, pattern: tuple) -> bool:
        if not self.buzzer_enabled or self.loss or self.fault:
            return False
        self._beep(pattern)
        return True

    def _beep(self, pattern: tuple) -> None:
        on_s, off_s, n = pattern
        self.buzzer.beep(on_time=on_s, off_time=off_s, n=n)

    def _show_loss(self) -> None:
        if self.loss:
            self.led.on()
            if self.buzzer_enabled:
                self.buzzer.on()
        else:
            self.led.off()
            self.buzzer.off()

    def close(self) -> None:
        if self.button is not None:
            _wake_hold_thread(self.button)
        for dev in (self.led, self.buzzer, self.button):
            if dev is not None:
                dev.close()

    def __enter__(self) -> "Alerts":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _wake_hold_thread(button: Button) -> None:
    """Let the button's hold thread end now rather than at its next poll.

    gpiozero's ``Button.close`` joins that thread, which looks for a press only
    every 0.1 s and, while the button is down, waits ``hold_time`` for the
    release: closing the outputs took that long each time (every restart of the
    core, every test).  Told to stop and woken, it returns at once; the button
    is closed straight after, so nothing reads the events set here.
    """
    thread = getattr(button, "_hold_thread", None)
    if thread is None:
        return
    thread.stopping.set()
    thread.holding.set()
    button._inactive_event.set()
