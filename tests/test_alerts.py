import pytest
from conftest import wait_for
from gpiozero.pins.mock import MockFactory

from device.hw.alerts import Alerts


@pytest.fixture
def alerts():
    factory = MockFactory()
    a = Alerts(factory, button_pin=22)
    yield a
    a.close()
    factory.reset()


def states(device):
    return [s.state for s in device.pin.states]


def assert_late(pin, expected):
    """gpiozero's ``assert_states_and_times`` with a one-sided tolerance: the
    pin went through exactly the expected states, each change coming its
    expected time after the previous one or a little later (a loaded machine
    wakes a blink thread late, never early)."""
    actual = pin.states[:len(expected)]
    assert [s.state for s in actual] == [state for _, state in expected]
    for s, (after_s, _) in zip(actual, expected):   # MockPin stamps time since the last change
        assert after_s * 0.9 - 0.005 <= s.timestamp <= after_s + 0.5, (s, after_s)


def test_loss_turns_led_and_buzzer_on_and_restore_turns_them_off(alerts):
    assert alerts.update(loss=True) is True
    assert alerts.update(loss=True) is False          # no change, no pin traffic
    assert alerts.update(loss=False) is True
    assert states(alerts.led) == [False, True, False]
    assert states(alerts.buzzer) == [False, True, False]


def test_buzzer_can_be_silenced(alerts):
    alerts.buzzer_enabled = False
    alerts.update(loss=True)
    assert alerts.led.pin.state is True
    assert states(alerts.buzzer) == [False]


def test_fault_blinks_the_led_and_is_distinct_from_a_loss(alerts):
    alerts.update(loss=False, fault=True)
    assert alerts.on is False                         # a fault is not a loss alert
    # The LED blinks at 2 Hz until the fault clears: wait for two full cycles on
    # the mock pin's own history.  A loaded machine wakes the blink thread late,
    # never early, so each phase lasts at least its 0.25 s (and not seconds).
    assert wait_for(lambda: len(alerts.led.pin.states) >= 6)
    assert_late(alerts.led.pin, [(0.0, False), (0.0, True)] + [(0.25, False), (0.25, True)] * 2)
    alerts.update(loss=False, fault=False)
    assert alerts.led.pin.state is False and alerts.buzzer.pin.state is False


def test_a_fault_starts_with_a_double_chirp(alerts):
    alerts.update(loss=False, fault=True)
    alerts.buzzer._blink_thread.join()                # the chirp is two beeps, then silence
    assert len(alerts.buzzer.pin.states) == 5
    assert_late(alerts.buzzer.pin, [(0.0, False), (0.0, True), (0.05, False), (0.05, True), (0.05, False)])


def test_a_silenced_buzzer_does_not_chirp_on_a_fault(alerts):
    alerts.buzzer_enabled = False
    alerts.update(loss=False, fault=True)
    assert states(alerts.buzzer) == [False]


def test_button_callback(alerts):
    pressed = []
    alerts.when_button_pressed(lambda: pressed.append(True))
    alerts.button.pin.drive_low()
    assert pressed == [True]


def test_a_loss_still_on_when_a_fault_clears_is_shown_again(alerts):
    alerts.update(loss=True)
    alerts.update(loss=True, fault=True)
    assert alerts.update(loss=True, fault=False) is False
    assert alerts.led.pin.state is True and alerts.buzzer.pin.state is True
    assert alerts.update(loss=False) is True
    assert alerts.led.pin.state is False and alerts.buzzer.pin.state is False


def test_a_loss_during_a_fault_is_remembered(alerts):
    alerts.update(loss=False, fault=True)
    assert alerts.update(loss=True, fault=True) is True
    alerts.update(loss=True, fault=False)
    assert alerts.led.pin.state is True and alerts.buzzer.pin.state is True


# -- chirps: rep done, set done; told apart from a loss and a fault by their pin history ----
def finished(device):
    """Wait for a finite beep pattern to end (join its thread, no sleeping)."""
    thread = device._blink_thread
    if thread is not None:
        thread.join()
    return device.pin


def intervals(pin):
    """(seconds since the previous change, state) after the initial state."""
    return [(round(s.timestamp, 3), s.state) for s in pin.states[1:]]


def test_rep_done_is_one_short_click(alerts):
    from device.hw.alerts import REP_CHIRP

    alerts.buzzer.pin.clear_states()
    assert alerts.rep_done() is True
    pin = finished(alerts.buzzer)
    on_s = REP_CHIRP[0]
    assert [s.state for s in pin.states] == [False, True, False]
    assert_late(pin, [(0.0, False), (0.0, True), (on_s, False)])
    assert alerts.led.pin.state is False                  # the LED is for losses only


def test_set_done_is_three_beeps_distinct_from_the_fault_chirp(alerts):
    from device.hw.alerts import FAULT_CHIRP, SET_DONE

    on_s, off_s, n = SET_DONE
    alerts.buzzer.pin.clear_states()
    assert alerts.set_done() is True
    pin = finished(alerts.buzzer)
    expected = [(0.0, False)]
    for i in range(n):
        expected += [(0.0 if i == 0 else off_s, True), (on_s, False)]
    assert len(pin.states) == len(expected)               # nothing after the pattern
    assert_late(pin, expected)
    # by ear: more beeps than the fault's, each more than twice as long
    assert n > FAULT_CHIRP[2] and on_s > 2 * FAULT_CHIRP[0]

    alerts.buzzer.pin.clear_states()
    alerts.update(loss=False, fault=True)
    fault = finished(alerts.buzzer)
    assert [s.state for s in fault.states] == [False] + [True, False] * FAULT_CHIRP[2]
    assert_late(fault, [(0.0, False), (0.0, True), (FAULT_CHIRP[0], False),
                                   (FAULT_CHIRP[1], True), (FAULT_CHIRP[0], False)])


def test_chirps_give_way_to_a_loss_a_fault_and_silence(alerts):
    alerts.update(loss=True)
    assert alerts.rep_done() is False and alerts.set_done() is False
    assert alerts.buzzer.pin.state is True                # the loss tone goes on
    alerts.update(loss=False)
    alerts.buzzer_enabled = False
    assert alerts.set_done() is False
    alerts.buzzer_enabled = True
    alerts.update(loss=False, fault=True)
    assert alerts.rep_done() is False


def test_a_loss_during_a_chirp_takes_the_buzzer_at_once(alerts):
    alerts.set_done()
    alerts.update(loss=True)
    assert alerts.buzzer._blink_thread is None            # the beeps were stopped
    assert alerts.buzzer.pin.state is True and alerts.led.pin.state is True
