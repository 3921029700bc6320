"""settings.json on disk: durable saves, bad files set aside so the device always
comes up, and strict loading for the one-shot commands (exit 2 naming file and field)."""
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from device.analysis.frames import Frame
from device.analysis.settings import Settings, SettingsError
from device.hw.constants import fsr_volts
from device.hw.mock.factory import build_mock_core
from device.runtime import settings_store as settings_module
from device.runtime.settings_store import SettingsStore
from device.sim.trace import write_trace

ROOT = Path(__file__).resolve().parents[1]

GOOD = Settings().updated({"debounce_ms": 30}).to_dict()
_TEXT = json.dumps(GOOD, indent=2)

#: (id, bytes of settings.json or None for a directory, field the error names)
BAD_FILES = [
    ("truncated", _TEXT[: len(_TEXT) // 2].encode(), "settings"),
    ("empty", b"", "settings"),
    ("top-level-list", b"[1, 2]", "settings"),
    ("wrong-type", b'{"debounce_ms": "thirty"}', "debounce_ms"),
    ("unknown-key", b'{"bogus": 1}', "bogus"),
    ("out-of-range", b'{"debounce_ms": 1e9}', "debounce_ms"),
    ("nan", b'{"sensitivity": NaN}', "sensitivity"),
    ("nan-threshold", json.dumps({"calibration": {"points": {"head": {"rest_v": 2.0, "off_v": "NaN"}}}})
     .replace('"NaN"', "NaN").encode(), "calibration"),
    ("not-utf8", b'{"exercise": "\xff\xfe"}', "settings"),
    ("directory", None, "settings"),
]


def _write_bad(path: Path, content) -> None:
    if content is None:
        path.mkdir()
        (path / "inside").write_text("{}")
    else:
        path.write_bytes(content)


def _short_trace(path: Path) -> Path:
    held = (fsr_volts(3.0), fsr_volts(4.0), fsr_volts(2.5), 1.67)
    write_trace(path, (Frame(i / 100.0, *held) for i in range(150)))
    return path


# -- saving ------------------------------------------------------------------------
def test_save_fsyncs_the_file_and_its_directory(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def spy(fd):
        synced.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        real_fsync(fd)
    monkeypatch.setattr(settings_module.os, "fsync", spy)
    store = SettingsStore(tmp_path / "settings.json")
    store.save(Settings().updated({"debounce_ms": 30}))
    # settings.json and its good copy: each file, then the directory
    assert synced == [False, True, False, True]
    assert SettingsStore(store.path).load().debounce_ms == 30
    assert json.loads(store.good_path.read_text())["debounce_ms"] == 30


def test_a_save_cut_short_leaves_the_old_settings_and_no_temporary_file(tmp_path, monkeypatch):
    store = SettingsStore(tmp_path / "settings.json")
    store.save(Settings().updated({"debounce_ms": 30}))

    def power_cut(*a):
        raise OSError(5, "Input/output error")
    monkeypatch.setattr(settings_module.os, "replace", power_cut)
    with pytest.raises(OSError):
        store.save(Settings().updated({"debounce_ms": 40}))
    monkeypatch.undo()
    assert SettingsStore(store.path).load().debounce_ms == 30
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.json", "settings.json.good"]


# -- strict loading (one-shot commands) ----------------------------------------------
@pytest.mark.parametrize("content,field", [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES])
def test_strict_load_names_the_file_and_the_field(tmp_path, content, field):
    path = tmp_path / "settings.json"
    _write_bad(path, content)
    with pytest.raises(SettingsError) as err:
        SettingsStore(path).load()
    assert err.value.field == field
    assert str(path) in str(err.value)


@pytest.mark.slow
@pytest.mark.parametrize("case", ["truncated", "not-utf8", "directory", "unknown-key", "nan"])
def test_replay_with_a_bad_settings_file_exits_2_naming_file_and_field(tmp_path, case):
    content, field = {c[0]: c[1:] for c in BAD_FILES}[case]
    data = tmp_path / "data"
    data.mkdir()
    _write_bad(data / "settings.json", content)
    trace = _short_trace(tmp_path / "short.csv")
    result = subprocess.run([sys.executable, "-m", "device.cli", "replay", str(trace)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120,
                            env=dict(os.environ, DOWEL_DATA_DIR=str(data)))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert str(data / "settings.json") in result.stderr and field in result.stderr


# -- the device always comes up --------------------------------------------------------
@pytest.mark.parametrize("content,field", [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES])
def test_a_bad_file_is_set_aside_and_the_device_starts_on_the_defaults(tmp_path, content, field):
    path = tmp_path / "settings.json"
    _write_bad(path, content)
    store = SettingsStore(path)
    assert store.load_or_recover() == Settings()
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("settings.json.bad-")]
    assert len(aside) == 1
    if content is not None:
        assert aside[0].read_bytes() == content          # kept as it was, for a look later
    assert not path.exists()
    assert len(store.warnings) == 1
    assert aside[0].name in store.warnings[0] and "the defaults" in store.warnings[0]


def test_a_bad_file_falls_back_to_the_last_good_settings_and_puts_them_back(tmp_path):
    path = tmp_path / "settings.json"
    SettingsStore(path).save(Settings().updated({"debounce_ms": 30}))
    path.write_text('{"debounce_ms": 3')                  # the power cut the old code allowed
    store = SettingsStore(path)
    assert store.load_or_recover().debounce_ms == 30
    assert "last good settings" in store.warnings[0]
    assert SettingsStore(path).load().debounce_ms == 30   # the next start is clean


def test_a_good_copy_that_went_bad_too_gives_the_defaults(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text("{")
    (tmp_path / "settings.json.good").write_text('{"bogus": 1}')
    store = SettingsStore(path)
    assert store.load_or_recover() == Settings()
    assert "the defaults" in store.warnings[0]


def test_a_file_that_loads_becomes_the_good_copy(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text('{"debounce_ms": 25}')
    store = SettingsStore(path)
    assert store.load_or_recover().debounce_ms == 25 and store.warnings == []
    assert json.loads(store.good_path.read_text()) == {"debounce_ms": 25}


def test_the_warning_is_in_the_status_snapshot_and_the_systemd_status_line(tmp_path):
    from device.runtime.notify import status_text

    path = tmp_path / "settings.json"
    path.write_bytes(b"\xff\xfe")
    store = SettingsStore(path)
    core = build_mock_core(None, settings=store.load_or_recover(), settings_store=store)
    try:
        status = core.get_status()
        assert status["health"]["warnings"] == store.warnings
        assert "settings not used" in status["health"]["warnings"][0]
        assert "settings not used" in status_text(status)
    finally:
        core.close()
        core.pin_factory.reset()


@pytest.mark.slow
@pytest.mark.parametrize("case", ["truncated", "nan-threshold", "directory"])
def test_dowel_run_starts_with_a_bad_settings_file_and_says_why(tmp_path, case):
    content, _ = {c[0]: c[1:] for c in BAD_FILES}[case]
    data = tmp_path / "data"
    data.mkdir()
    _write_bad(data / "settings.json", content)
    trace = _short_trace(tmp_path / "short.csv")
    result = subprocess.run([sys.executable, "-m", "device.cli", "run", "--mock", "--trace", str(trace),
                             "--speed", "4", "--no-web", "--no-history"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120,
                            env=dict(os.environ, DOWEL_DATA_DIR=str(data)))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "settings not used" in result.stderr and "settings.json.bad-" in result.stderr
    assert [p.name for p in data.iterdir() if p.name.startswith("settings.json.bad-")]


# -- the token -----------------------------------------------------------------------
@pytest.mark.slow
def test_a_token_path_that_is_a_directory_is_a_clear_error(tmp_path):
    (tmp_path / "token").mkdir()
    result = subprocess.run([sys.executable, "-m", "device.cli", "token", "--data-dir", str(tmp_path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"{tmp_path / 'token'}: cannot read or create the device token (is a directory)" \
        in result.stderr


@pytest.mark.slow
def test_run_with_a_token_directory_still_comes_up_watch_only(tmp_path):
    from device.runtime.token import TokenError, load_or_create_token

    (tmp_path / "token").mkdir()
    with pytest.raises(TokenError):
        load_or_create_token(tmp_path)
    trace = _short_trace(tmp_path / "short.csv")
    result = subprocess.run([sys.executable, "-m", "device.cli", "run", "--mock", "--trace", str(trace),
                             "--speed", "4", "--no-history", "--port", "0", "--host", "127.0.0.1",
                             "--data-dir", str(tmp_path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "can watch but not change anything" in result.stderr
