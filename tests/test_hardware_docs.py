"""hardware/ agrees with the code: the pins and the address in the diagram and the
pin table are the ones in device/hw/constants.py, and the config keys it names exist."""
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from device.hw import constants
from device.runtime import config_file

HARDWARE = Path(__file__).resolve().parent.parent / "hardware"
PINS = {"alert_rdy": constants.PIN_ALERT_RDY, "led": constants.PIN_LED,
        "buzzer": constants.PIN_BUZZER, "button": constants.PIN_BUTTON}


def svg_text() -> str:
    root = ET.parse(HARDWARE / "wiring.svg").getroot()       # well-formed, or this raises
    return " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))


def test_the_diagram_shows_every_pin_and_part():
    text = svg_text()
    for pin in (*PINS.values(), constants.PIN_SDA, constants.PIN_SCL):
        assert re.search(rf"\bGPIO{pin}\b", text), pin
    for part in ("ADS1115", "ALERT/RDY", "ADDR", "pull-up", "FSR", "ADXL335", "LED", "330 Ω",
                 "NPN", "1 kΩ", "1N4148", "buzzer", "button"):
        assert part in text, part
    for point, channel in constants.ADC_CHANNEL.items():
        assert f"A{channel}" in text
    assert f"0x{constants.ADS_ADDRESS:02x}" in text.lower()


def test_the_pin_table_matches_the_constants_and_names_real_config_keys():
    wiring = (HARDWARE / "wiring.md").read_text()
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| GPIO(\d+)[^|]*\|(.*)$", wiring, re.M)}
    for name, pin in PINS.items():
        assert str(pin) in rows, name
        assert f"`pins.{name}`" in rows[str(pin)]
    for key in re.findall(r"`((?:adc|pins|detection|alerts|dashboard|mqtt)\.\w+)`", wiring):
        assert key in config_file.BY_DOTTED, key
    for point, channel in constants.ADC_CHANNEL.items():
        assert re.search(rf"^\| {point} .*\| A{channel} \|", wiring, re.M), point


def test_bring_up_ends_in_the_self_test():
    bring_up = (HARDWARE / "bring-up.md").read_text()
    assert "sudo make install" in bring_up and "dowel selftest" in bring_up
    assert bring_up.index("sudo make install") < bring_up.index("dowel selftest")


def test_the_placement_drawing_names_each_pad_and_the_axis():
    root = ET.parse(HARDWARE / "placement.svg").getroot()
    text = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    for point, channel in constants.ADC_CHANNEL.items():
        label = "accelerometer" if point == "tilt" else point.replace("_", " ") + " pad"
        assert f"{label} → A{channel}" in text, point
    assert "pointing away from the back" in text
    assert "placement.svg" in (HARDWARE / "wiring.md").read_text()
