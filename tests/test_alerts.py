import pytest
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
    import time

    alerts.update(loss=False, fault=True)
    time.sleep(0.8)
    led = states(alerts.led)
    assert led.count(True) >= 2                       # blinking, not steady
    assert alerts.on is False                         # a fault is not a loss alert
    alerts.update(loss=False, fault=False)
    assert alerts.led.pin.state is False and alerts.buzzer.pin.state is False


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
