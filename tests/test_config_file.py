"""The config file: loading, precedence (flags > env > page > file > defaults), every error path."""
import json
import re

import pytest

from device.analysis.settings import Settings
from device.cli import main
from device.runtime import config_file
from device.runtime.config_file import ConfigError, PageSettingsStore, load


def write(tmp_path, text, name="config.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def uncommented_template() -> str:
    return re.sub(r"^#(\w+ = )", r"\1", config_file.template(), flags=re.M)


def test_no_file_means_the_defaults_from_the_one_copy(tmp_path):
    config = load(None, env={"DOWEL_CONFIG": ""})
    assert all(source == "default" for source in config.sources.values())
    assert config.start_settings() == Settings()
    assert config["pins.led"] == 17 and config["adc.address"] == 0x48 and config["dashboard.port"] == 8080


def test_the_template_is_valid_toml_with_every_key_commented_out(tmp_path):
    text = config_file.template()
    assert config_file._toml_loads(text) == {s: {} for s in config_file.SECTIONS}
    for key in config_file.KEYS:
        assert f"#{key.name} = " in text


def test_the_template_uncommented_gives_the_defaults_with_their_lines(tmp_path):
    text = uncommented_template()
    path = write(tmp_path, text)
    config = load(str(path), env={})
    defaults = load(None, env={"DOWEL_CONFIG": ""})
    assert config.values == defaults.values
    lines = text.splitlines()
    for key in config_file.KEYS:
        where = config.sources[key.dotted]
        assert where.startswith(f"file {path}:")
        line = int(where.rsplit(":", 1)[1])
        assert lines[line - 1].startswith(f"{key.name} = ")


def test_file_values_are_typed_and_named_by_line(tmp_path):
    path = write(tmp_path, '[adc]\nchip = "ADS1015"\naddress = 0x49\n\n[dashboard]\nport = 8081\n'
                           '[detection]\ndebounce_ms = 30\n')
    config = load(str(path), env={})
    assert config["adc.chip"] == "ADS1015" and config["adc.address"] == 0x49
    assert config["detection.debounce_ms"] == 30.0
    assert config.sources["dashboard.port"] == f"file {path}:6"
    # the data rate follows the chip when nobody set it
    assert config["adc.data_rate"] == 3300 and config.start_settings().data_rate == 3300


def test_dotted_keys_at_the_top_level(tmp_path):
    path = write(tmp_path, '# hello\ndashboard.port = 9000\n')
    config = load(str(path), env={})
    assert config["dashboard.port"] == 9000 and config.sources["dashboard.port"] == f"file {path}:2"


def test_precedence_flags_over_env_over_file_over_defaults(tmp_path):
    path = write(tmp_path, "[dashboard]\nport = 8081\nhost = '127.0.0.1'\n[alerts]\nbuzzer = false\n")
    env = {"DOWEL_DASHBOARD_PORT": "8082", "DOWEL_DASHBOARD_HOST": "::1"}
    config = load(str(path), env=env, flags={"dashboard.port": (8083, "--port")})
    assert config["dashboard.port"] == 8083 and config.sources["dashboard.port"] == "flag --port"
    assert config["dashboard.host"] == "::1" and config.sources["dashboard.host"] == "env DOWEL_DASHBOARD_HOST"
    assert config["alerts.buzzer"] is False and config.sources["alerts.buzzer"] == f"file {path}:5"
    assert config.sources["pins.led"] == "default"


def test_the_environment_names_the_file(tmp_path):
    path = write(tmp_path, "[pins]\nled = 5\n")
    config = load(None, env={"DOWEL_CONFIG": str(path)})
    assert config["pins.led"] == 5 and config.path == path


@pytest.mark.parametrize("text, key, line, words", [
    ("[adc]\nchip = 'ADS1115'\ncolour = 'red'\n", "adc.colour", 3, "unknown key"),
    ("[display]\nsize = 3\n", "display", 1, "unknown section"),
    ("[dashboard]\n\nport = '8080'\n", "dashboard.port", 3, 'expected a whole number, got "8080"'),
    ("[dashboard]\nport = 80.5\n", "dashboard.port", 2, "expected a whole number"),
    ("[alerts]\nbuzzer = 1\n", "alerts.buzzer", 2, "expected true or false"),
    ("[dashboard]\nport = 70000\n", "dashboard.port", 2, "between 0 and 65535"),
    ("[adc]\naddress = 0x50\n", "adc.address", 2, "between 72 and 75"),
    ("[adc]\ngain = 3\n", "adc.gain", 2, "must be one of"),
    ("[adc]\nchip = 'ADS1015'\ndata_rate = 860\n", "adc.data_rate", 3, "for the ADS1015"),
    ("[detection]\ndebounce_ms = 0\n", "detection.debounce_ms", 2, "between 1 and 500"),
    ("[detection]\nmin_depth_deg = nan\n", "detection.min_depth_deg", 2, "finite"),
    ("[pins]\nled = 2\n", "pins.led", 2, "I2C bus"),
    ("[pins]\nbutton = 17\n", "pins.button", 2, "already pins.led"),
    ("[mqtt]\nbroker = 'broker.local:http'\n", "mqtt.broker", 2, "port must be a number"),
    ("[mqtt]\nbroker = 'http://broker.local'\n", "mqtt.broker", 2, "scheme must be mqtt://"),
    ("adc = 3\n", "adc", 1, "must be a table"),
])
def test_a_bad_file_names_the_key_and_its_line(tmp_path, text, key, line, words):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load(str(path), env={})
    assert err.value.key == key
    assert err.value.where == f"{path}:{line}"
    assert words in err.value.message


def test_not_toml_says_where(tmp_path):
    path = write(tmp_path, "[adc]\nchip = ADS1115\n")
    with pytest.raises(ConfigError, match=r"not valid TOML.*line 2"):
        load(str(path), env={})


def test_a_named_file_must_exist(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load(str(tmp_path / "nope.toml"), env={})
    with pytest.raises(ConfigError, match="no such config file"):
        load(None, env={"DOWEL_CONFIG": str(tmp_path / "nope.toml")})


@pytest.mark.parametrize("env, words", [
    ({"DOWEL_DASHBOARD_PORT": "eighty"}, "env DOWEL_DASHBOARD_PORT: dashboard.port: expected a whole number"),
    ({"DOWEL_ALERTS_BUZZER": "loud"}, "env DOWEL_ALERTS_BUZZER: alerts.buzzer: expected true or false"),
    ({"DOWEL_DETECTION_SENSITIVITY": "2"}, "env DOWEL_DETECTION_SENSITIVITY: detection.sensitivity: must be"),
])
def test_a_bad_environment_value_names_the_variable(env, words):
    with pytest.raises(ConfigError) as err:
        load(None, env={"DOWEL_CONFIG": "", **env})
    assert str(err.value).startswith(words)


def test_a_broker_url_from_the_file(tmp_path):
    path = write(tmp_path, "[mqtt]\nbroker = 'mqtts://coach:pw@broker.local:8883'\n")
    assert load(str(path), env={})["mqtt.broker"] == "mqtts://coach:pw@broker.local:8883"


def test_text_values_from_the_environment_are_parsed():
    env = {"DOWEL_CONFIG": "", "DOWEL_ADC_ADDRESS": "0x4a", "DOWEL_ALERTS_BUZZER": "off",
           "DOWEL_ADC_GAIN": "0.667"}
    config = load(None, env=env)
    assert config["adc.address"] == 0x4A and config["alerts.buzzer"] is False
    assert config["adc.gain"] == 2 / 3


# -- the page's changes ---------------------------------------------------------------
def test_the_page_stores_only_what_it_changed_and_the_file_still_counts(tmp_path):
    path = write(tmp_path, "[detection]\ndebounce_ms = 30\n")
    store = PageSettingsStore(tmp_path / "settings.json", load(str(path), env={}))
    settings = store.load()
    assert settings.debounce_ms == 30
    store.save(settings.updated({"min_depth_deg": 35}))
    assert json.loads(store.path.read_text()) == {"min_depth_deg": 35.0}
    # the maker edits the file: the key the page never touched follows it
    path.write_text("[detection]\ndebounce_ms = 40\nmin_depth_deg = 20\n")
    settings = PageSettingsStore(store.path, load(str(path), env={})).load()
    assert settings.debounce_ms == 40 and settings.min_depth_deg == 35


def test_setting_a_page_value_back_to_the_files_drops_the_change(tmp_path):
    path = write(tmp_path, "[alerts]\nbuzzer = false\n")
    store = PageSettingsStore(tmp_path / "settings.json", load(str(path), env={}))
    store.save(store.load().updated({"buzzer": True}))
    assert store.load().buzzer is True
    store.save(store.load().updated({"buzzer": False}))
    assert json.loads(store.path.read_text()) == {}


def test_env_and_flags_win_over_the_page_for_this_start_only(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"debounce_ms": 50, "buzzer": True}))
    config = load(None, env={"DOWEL_CONFIG": "", "DOWEL_DETECTION_DEBOUNCE_MS": "25"},
                  flags={"alerts.buzzer": (False, "--no-buzzer")})
    store = PageSettingsStore(path, config)
    settings = store.load()
    assert settings.debounce_ms == 25 and settings.buzzer is False
    # a page change made now keeps the stored changes the env and the flag covered
    store.save(settings.updated({"sensitivity": 0.7}))
    assert json.loads(path.read_text()) == {"debounce_ms": 50, "buzzer": True, "sensitivity": 0.7}
    # choosing on the page what the flag already gave is a choice: it is kept for later starts
    on = store.load().updated({"buzzer": True})         # as the running core applies them
    store.save(on)
    store.save(on.updated({"buzzer": False}))
    assert json.loads(path.read_text())["buzzer"] is False


def test_a_page_change_that_no_longer_fits_the_file_is_dropped(tmp_path, caplog):
    (tmp_path / "settings.json").write_text(json.dumps({"data_rate": 860, "debounce_ms": 30}))
    path = write(tmp_path, "[adc]\nchip = 'ADS1015'\n")
    settings = PageSettingsStore(tmp_path / "settings.json", load(str(path), env={})).load()
    assert (settings.chip, settings.data_rate, settings.debounce_ms) == ("ADS1015", 3300, 30)
    assert "page setting data_rate=860 no longer fits" in caplog.text


def test_the_core_saves_through_the_page_store(tmp_path):
    from device.hw.mock.factory import build_mock_core
    from device.sim.sources import SimulatedAthlete

    store = PageSettingsStore(tmp_path / "settings.json", load(None, env={"DOWEL_CONFIG": ""}))
    core = build_mock_core(SimulatedAthlete(seed=1), settings=store.load(), settings_store=store)
    try:
        core.update_settings({"debounce_ms": 45})
    finally:
        core.close()
        core.pin_factory.reset()
    assert json.loads(store.path.read_text()) == {"debounce_ms": 45.0}


# -- dowel config -----------------------------------------------------------------------
def test_dowel_config_prints_each_value_and_where_it_came_from(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DOWEL_CONFIG", raising=False)
    monkeypatch.setenv("DOWEL_DASHBOARD_HOST", "127.0.0.1")
    path = write(tmp_path, "[dashboard]\nport = 8081\n[detection]\ndebounce_ms = 30\n")
    (tmp_path / "settings.json").write_text(json.dumps({"debounce_ms": 45}))
    assert main(["config", "--config", str(path), "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line.split() and "." in line.split()[0]}
    assert re.search(rf"8081\s+file {re.escape(str(path))}:2$", rows["dashboard.port"])
    assert re.search(r'"127.0.0.1"\s+env DOWEL_DASHBOARD_HOST$', rows["dashboard.host"])
    assert re.search(rf"45.0\s+page \(settings.json\); file {re.escape(str(path))}:4 says 30.0$",
                     rows["detection.debounce_ms"])
    assert re.search(r"17\s+default$", rows["pins.led"])
    assert "never rewrites the config file" in out
    assert "The page can change: adc.chip, adc.data_rate, adc.gain, detection.sensitivity" in out
    assert f"Config file:  {path}" in out


def test_dowel_config_json_and_template(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DOWEL_CONFIG", raising=False)
    path = write(tmp_path, "[pins]\nled = 5\n")
    assert main(["config", "--config", str(path), "--data-dir", str(tmp_path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["values"]["pins.led"] == {"value": 5, "from": f"file {path}:2"}
    assert main(["config", "--template"]) == 0
    assert capsys.readouterr().out == config_file.template()


def test_dowel_config_with_a_bad_file_exits_2_naming_key_and_line(tmp_path, capsys):
    path = write(tmp_path, "[dashboard]\nport = 8080\nprot = 8081\n")
    with pytest.raises(SystemExit) as exit_:
        main(["config", "--config", str(path), "--data-dir", str(tmp_path)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"{path}:3: dashboard.prot: unknown key" in err


def test_selftest_on_the_pi_reads_the_config_file_first(tmp_path, capsys):
    path = write(tmp_path, "[adc]\naddress = 0x47\n")
    with pytest.raises(SystemExit) as exit_:
        main(["selftest", "--config", str(path)])
    assert exit_.value.code == 2
    assert f"{path}:2: adc.address: must be between" in capsys.readouterr().err

