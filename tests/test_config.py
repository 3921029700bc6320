import json

import pytest

from device.analysis.settings import (
    Calibration,
    PointCalibration,
    Settings,
    SettingsError,
)
from device.runtime.settings_store import SettingsStore


def test_defaults_are_20ms_debounce_25deg_depth_860sps_gain_1():
    s = Settings()
    assert s.debounce_ms == 20 and s.min_depth_deg == 25 and s.data_rate == 860 and s.gain == 1
    s.validate()


@pytest.mark.parametrize("changes, field", [
    ({"debounce_ms": 0}, "debounce_ms"),
    ({"debounce_ms": "fast"}, "debounce_ms"),
    ({"min_depth_deg": 120}, "min_depth_deg"),
    ({"sensitivity": 1.5}, "sensitivity"),
    ({"data_rate": 900}, "data_rate"),
    ({"chip": "ADS1015", "data_rate": 860}, "data_rate"),
    ({"buzzer": "loud"}, "buzzer"),
    ({"exercise": "deadlift"}, "exercise"),
    ({"colour": "red"}, "colour"),
    ({"debounce_ms": float("nan")}, "debounce_ms"),
])
def test_bad_values_name_the_field_and_change_nothing(changes, field):
    s = Settings()
    with pytest.raises(SettingsError) as err:
        s.updated(changes)
    assert err.value.field == field
    assert s == Settings()


def test_a_valid_update_is_applied_whole():
    s = Settings().updated({"chip": "ADS1015", "data_rate": "3300", "buzzer": "off"})
    assert (s.chip, s.data_rate, s.buzzer) == ("ADS1015", 3300, False)


def test_store_round_trip_with_calibration(tmp_path):
    cal = Calibration(points={p: PointCalibration(2.0, 0.9, 1.2)
                              for p in ("head", "upper_back", "sacrum")}, tilt_upright_v=1.67)
    store = SettingsStore(tmp_path / "settings.json")
    assert store.load() == Settings()
    s = Settings().updated({"debounce_ms": 30, "calibration": cal})
    store.save(s)
    assert store.load() == s


def test_corrupt_settings_file_is_a_clear_error(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text("{not json")
    with pytest.raises(SettingsError, match="settings.json"):
        SettingsStore(path).load()
    path.write_text(json.dumps({"debounce_ms": -4}))
    with pytest.raises(SettingsError) as err:
        SettingsStore(path).load()
    assert err.value.field == "debounce_ms"
