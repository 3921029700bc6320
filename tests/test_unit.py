"""The systemd unit: checked by systemd-analyze verify, and the settings the
watchdog and the installer rely on."""
import configparser
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
UNIT = REPO / "systemd" / "smart-dowel.service"


def unit_fields() -> dict:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read_string(UNIT.read_text())
    return {section: dict(parser[section]) for section in parser.sections()}


def verify(tmp_path, text: str):
    """systemd-analyze verify with ExecStart pointing into tmp_path (where a
    stand-in for the installed binary is staged: verify checks it exists)."""
    dowel = tmp_path / "opt/smart-dowel/venv/bin/dowel"
    dowel.parent.mkdir(parents=True)
    dowel.write_text("#!/bin/sh\nexit 0\n")
    dowel.chmod(0o755)
    unit = tmp_path / "smart-dowel.service"
    unit.write_text(text.replace("/opt/smart-dowel/venv/bin/dowel", str(dowel)))
    return subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "SYSTEMD_LOG_COLOR": "0"})


@pytest.mark.slow
def test_the_unit_passes_systemd_analyze_verify(tmp_path):
    result = verify(tmp_path, UNIT.read_text())
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


@pytest.mark.slow
def test_verify_catches_a_misspelt_key(tmp_path):
    result = verify(tmp_path, UNIT.read_text().replace("WatchdogSec=", "WatchdogSecs="))
    assert "Unknown key 'WatchdogSecs'" in result.stderr


def test_notify_with_a_watchdog_and_restart_on_failure():
    service = unit_fields()["Service"]
    assert service["Type"] == "notify"
    assert int(service["WatchdogSec"]) > 0
    assert service["Restart"] == "on-failure"
    assert service["RestartPreventExitStatus"] == "2"     # a bad config file: restarting cannot help
    assert service["User"] == "dowel" and set(service["SupplementaryGroups"].split()) == {"i2c", "gpio"}
    assert service["StateDirectory"] == "smart-dowel" and service["StateDirectoryMode"] == "0750"
    assert service["ExecStart"] == ("/opt/smart-dowel/venv/bin/dowel run "
                                    "--config /etc/smart-dowel/config.toml --quiet")
    assert service["KillSignal"] == "SIGTERM"
    assert unit_fields()["Install"]["WantedBy"] == "multi-user.target"
