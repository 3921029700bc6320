"""``dowel run --mqtt``: bad flags are exit 2 with a message naming the flag; the
device id is made once and kept."""
import pytest

from device.cli import main
from device.runtime.mqtt import load_or_create_device_id


@pytest.mark.parametrize("flags, words", [
    (["--mqtt", "http://broker"], "--mqtt: broker URL"),
    (["--mqtt", "mqtt://broker:0x"], "--mqtt: broker URL"),
    (["--mqtt-ca", "/nonexistent.pem"], "--mqtt-ca: needs a broker"),
    (["--mqtt", "mqtts://broker", "--mqtt-ca", "/nonexistent.pem"], "no such file"),
])
def test_bad_mqtt_flags_exit_2(flags, words, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DOWEL_MQTT_BROKER", raising=False)
    with pytest.raises(SystemExit) as exc:
        main(["run", "--mock", "--no-web", "--no-history", "--data-dir", str(tmp_path)] + flags)
    assert exc.value.code == 2
    assert words in capsys.readouterr().err


def test_device_id_is_made_once_and_kept(tmp_path):
    first = load_or_create_device_id(tmp_path)
    assert first.startswith("dowel-") and len(first) == len("dowel-") + 6
    assert load_or_create_device_id(tmp_path) == first
    (tmp_path / "device_id").write_text("not/a topic\n")     # hand-edited into something unusable
    assert load_or_create_device_id(tmp_path) != "not/a topic"


def test_coach_needs_a_usable_broker_url(capsys):
    assert main(["coach", "--mqtt", "http://broker", "--port", "0"]) == 2
    assert "--mqtt: broker URL" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["coach"])
    assert exc.value.code == 2
