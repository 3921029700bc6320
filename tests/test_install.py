"""The installer staged with ``make install ROOT=DIR``: files, modes, recorded owners
and commands, the unit, and what a second run (an upgrade) keeps."""
import importlib.util
import os
import stat
import xml.etree.ElementTree as ET
import subprocess
from pathlib import Path

import pytest

from device.runtime import config_file

REPO = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("dowel_install", REPO / "systemd" / "install.py")
install = importlib.util.module_from_spec(spec)
spec.loader.exec_module(install)

PI_CONFIG_TXT = "# Raspberry Pi OS\n[all]\ndtparam=audio=on\ndtparam=i2c_arm=on\n"


#: System commands the installer runs on a Pi; staged, none of them may run.
SYSTEM_COMMANDS = ("apt-get", "useradd", "usermod", "groupadd", "userdel", "chown", "raspi-config",
                   "systemctl", "pip", "sh")


@pytest.fixture(autouse=True)
def trap_system_commands(tmp_path_factory, monkeypatch):
    """Put stand-ins for the system commands first on PATH: each notes that it ran."""
    bin_dir = tmp_path_factory.mktemp("bin")
    ran = bin_dir / "ran.log"
    for name in SYSTEM_COMMANDS:
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\necho "{name} $*" >> "{ran}"\n')
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    yield
    assert not ran.exists(), f"a staged install ran system commands: {ran.read_text()}"


def make(*args):
    result = subprocess.run(["make", "--no-print-directory", "-C", str(REPO), *args],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def log_of(root: Path) -> list:
    return (root / "var/log/smart-dowel/install.log").read_text().splitlines()


@pytest.fixture
def root(tmp_path):
    (tmp_path / "boot/firmware").mkdir(parents=True)
    (tmp_path / "boot/firmware/config.txt").write_text(PI_CONFIG_TXT)
    return tmp_path


@pytest.mark.slow
def test_a_staged_install_writes_every_file_with_its_mode(root):
    out = make("install", f"ROOT={root}")
    config = root / "etc/smart-dowel/config.toml"
    assert config.read_text() == config_file.template()
    assert (root / "etc/smart-dowel/config.toml.default").read_text() == config_file.template()
    assert mode(config) == 0o644
    data = root / "var/lib/smart-dowel"
    assert data.is_dir() and mode(data) == 0o750
    unit = root / "etc/systemd/system/smart-dowel.service"
    assert unit.read_text() == (REPO / "systemd/smart-dowel.service").read_text()
    assert mode(unit) == 0o644
    avahi = ET.parse(root / "etc/avahi/services/smart-dowel.service").getroot()
    assert avahi.tag == "service-group" and avahi.findtext("name") == "Smart dowel"
    assert avahi.findtext("service/type") == "_http._tcp"
    assert avahi.findtext("service/port") == "8080"
    assert (root / "opt/smart-dowel/doc/README.md").exists()
    assert (root / "opt/smart-dowel/doc/hardware/wiring.svg").exists()
    assert os.readlink(root / "usr/local/bin/dowel") == "/opt/smart-dowel/venv/bin/dowel"
    boot = (root / "boot/firmware/config.txt").read_text()
    assert boot == PI_CONFIG_TXT + "dtparam=i2c_arm_baudrate=400000\n"
    assert "Reboot needed" in out
    assert "dashboard: http://<hostname>.local:8080/" in out


@pytest.mark.slow
def test_the_staged_install_records_owners_and_commands_and_runs_none(root):
    make("install", f"ROOT={root}")
    log = log_of(root)
    assert "owner dowel:dowel mode 0750 /var/lib/smart-dowel" in log
    assert "owner root:root mode 0644 /etc/smart-dowel/config.toml" in log
    commands = [line[len("would run: "):] for line in log if line.startswith("would run: ")]
    assert not [line for line in log if line.startswith("run: ")]
    assert any("useradd --system" in c and c.endswith(" dowel'") for c in commands)
    assert "usermod --append --groups i2c,gpio dowel" in commands
    assert "python3 -m venv --system-site-packages /opt/smart-dowel/venv" in commands
    assert any(c.startswith("/opt/smart-dowel/venv/bin/pip install") and "[pi]" in c for c in commands)
    assert "raspi-config nonint do_i2c 0" in commands
    assert commands[-3:] == ["systemctl daemon-reload", "systemctl enable smart-dowel.service",
                             "systemctl restart smart-dowel.service"]


@pytest.mark.slow
def test_a_second_run_upgrades_and_keeps_config_token_and_history(root):
    make("install", f"ROOT={root}")
    config = root / "etc/smart-dowel/config.toml"
    config.write_text("[dashboard]\nport = 8090\n")
    data = root / "var/lib/smart-dowel"
    kept = {"token": "s3cret-token-of-the-device\n", "history.db": "SQLite format 3\0 rows",
            "settings.json": '{"debounce_ms": 30}\n'}
    for name, text in kept.items():
        (data / name).write_text(text)
    (data / "token").chmod(0o600)
    out = make("install", f"ROOT={root}")
    assert "Upgrading the smart dowel" in out
    assert config.read_text() == "[dashboard]\nport = 8090\n"
    for name, text in kept.items():
        assert (data / name).read_text() == text
    assert mode(data / "token") == 0o600
    # config.txt already right: not touched again, no reboot asked for
    assert (root / "boot/firmware/config.txt").read_text().count("i2c_arm_baudrate") == 1
    assert "Reboot needed" not in out
    # the published port follows the config file
    assert "dashboard: http://<hostname>.local:8090/" in out
    assert "<port>8090</port>" in (root / "etc/avahi/services/smart-dowel.service").read_text()
    assert log_of(root).count("kept /etc/smart-dowel/config.toml") == 1


@pytest.mark.slow
def test_uninstall_keeps_the_data_unless_purged(root):
    make("install", f"ROOT={root}")
    (root / "var/lib/smart-dowel/history.db").write_text("rows")
    make("uninstall", f"ROOT={root}")
    assert not (root / "opt/smart-dowel").exists()
    assert not (root / "etc/systemd/system/smart-dowel.service").exists()
    assert not (root / "etc/avahi/services/smart-dowel.service").exists()
    assert not (root / "usr/local/bin/dowel").is_symlink()
    assert (root / "var/lib/smart-dowel/history.db").read_text() == "rows"
    assert (root / "etc/smart-dowel/config.toml").exists()
    make("uninstall", f"ROOT={root}", "PURGE=1")
    assert not (root / "var/lib/smart-dowel").exists() and not (root / "etc/smart-dowel").exists()
    assert "would run: userdel dowel" in log_of(root)


@pytest.mark.parametrize("before, after", [
    ("dtparam=i2c_arm=on,i2c_arm_baudrate=100000\n", "dtparam=i2c_arm=on,i2c_arm_baudrate=400000\n"),
    ("dtparam=i2c_arm_baudrate=100000\n[all]\n", "dtparam=i2c_arm_baudrate=400000\n[all]\n"),
    ("dtparam=i2c_arm_baudrate=400000\n", "dtparam=i2c_arm_baudrate=400000\n"),
    ("[all]", "[all]\ndtparam=i2c_arm_baudrate=400000\n"),
    ("# dtparam=i2c_arm_baudrate=100000\n", "# dtparam=i2c_arm_baudrate=100000\ndtparam=i2c_arm_baudrate=400000\n"),
])
def test_the_i2c_clock_is_set_once_wherever_it_was(before, after):
    assert install.set_i2c_baudrate(before, 400_000) == after


@pytest.mark.slow
def test_without_root_on_the_real_system_it_refuses(monkeypatch, capsys):
    monkeypatch.setattr(install.os, "geteuid", lambda: 1000)
    assert install.main(["install"]) == 1
    assert "sudo make install" in capsys.readouterr().err


def test_on_the_pi_pip_builds_from_a_copy_without_the_clones_own_files(tmp_path):
    copy = install.Installer("/")._build_copy(tmp_path)
    names = {p.name for p in copy.iterdir()}
    assert {"device", "web", "pyproject.toml", "README.md", "hardware"} <= names
    assert not names & {".git", ".venv", ".pytest_cache"}
    assert not list(copy.rglob("__pycache__"))
