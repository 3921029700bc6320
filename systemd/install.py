#!/usr/bin/env python3
"""Install, upgrade or remove the smart dowel on a Raspberry Pi (``make install``).

    sudo python3 systemd/install.py install            # the Pi itself (Bookworm)
    python3 systemd/install.py install --root DIR      # stage into DIR, run nothing
    sudo python3 systemd/install.py uninstall [--purge]

Installing again upgrades in place: the program is replaced; the config file,
the device token, the settings and the history are kept.  Uninstalling keeps
``/etc/smart-dowel`` and ``/var/lib/smart-dowel`` unless ``--purge``.

With ``--root DIR`` every file goes under DIR and no system command is run
(no apt, useradd, chown, raspi-config, systemctl, pip): each is written, as it
would have been run, to DIR/var/log/smart-dowel/install.log.  That is how the
tests check the installer.  Only the standard library is used: this runs on a
fresh Pi's python3 before the virtual environment exists.
"""
from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent
PREFIX = "/opt/smart-dowel"
VENV = f"{PREFIX}/venv"
DATA_DIR = "/var/lib/smart-dowel"
CONFIG_DIR = "/etc/smart-dowel"
CONFIG = f"{CONFIG_DIR}/config.toml"
UNIT = "/etc/systemd/system/smart-dowel.service"
AVAHI = "/etc/avahi/services/smart-dowel.service"
LOG = "/var/log/smart-dowel/install.log"
COMMAND_LINK = "/usr/local/bin/dowel"
USER = GROUP = "dowel"
#: The service user's groups: i2c for the ADS1115, gpio for LED, buzzer, button.
GROUPS = ("i2c", "gpio")
#: Debian packages: the venv, the GPIO library gpiozero uses on Bookworm and numpy
#: prebuilt (the venv sees them: --system-site-packages), i2cdetect, mDNS, and a
#: compiler with Python's headers: Blinka's sysv_ipc has no wheel for 64-bit ARM.
APT_PACKAGES = ("python3-venv", "python3-lgpio", "python3-numpy", "i2c-tools", "avahi-daemon",
                "python3-dev", "gcc")
#: Bookworm keeps config.txt in /boot/firmware; older images in /boot.
BOOT_CONFIGS = ("/boot/firmware/config.txt", "/boot/config.txt")
I2C_BAUDRATE = 400_000


class Installer:
    def __init__(self, root: str = "/"):
        self.root = Path(root).resolve()
        self.staged = self.root != Path("/")
        self.reboot_reasons: list = []
        self.port = 8080
        self.log_lines: list = []

    # -- the two kinds of action: files under root, and commands -----------
    def path(self, target: str) -> Path:
        """Where ``target`` (an absolute path on the Pi) lives under root."""
        return self.root / target.lstrip("/")

    def run(self, *argv: str, check: bool = True) -> int:
        """Run a system command, or with --root only record it."""
        line = shlex.join(argv)
        self.record(("would run: " if self.staged else "run: ") + line)
        if self.staged:
            return 0
        print(f"  $ {line}", flush=True)
        result = subprocess.run(argv)
        if check and result.returncode != 0:
            raise SystemExit(f"install: `{line}` failed with exit status {result.returncode}")
        return result.returncode

    def record(self, line: str) -> None:
        self.log_lines.append(line)

    def own(self, target: str, owner: str, mode: int) -> None:
        """Set the mode; set the owner (recorded either way, done only on the Pi)."""
        os.chmod(self.path(target), mode)
        self.record(f"owner {owner} mode {mode:04o} {target}")
        if not self.staged:
            user, _, group = owner.partition(":")
            shutil.chown(self.path(target), user, group or None)

    def write(self, target: str, text: str, owner: str = "root:root", mode: int = 0o644) -> None:
        path = self.path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
        self.own(target, owner, mode)
        print(f"  wrote {target}", flush=True)

    def save_log(self) -> None:
        path = self.path(LOG)
        path.parent.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        with path.open("a") as f:
            f.write(f"# {stamp} install.py {' '.join(sys.argv[1:])}\n")
            f.writelines(line + "\n" for line in self.log_lines)

    # -- install -------------------------------------------------------------
    def install(self) -> None:
        upgrade = self.path(f"{VENV}/bin/dowel").exists() or self.path(UNIT).exists()
        print(f"{'Upgrading' if upgrade else 'Installing'} the smart dowel"
              f"{f' into {self.root} (staged: nothing is run)' if self.staged else ''}", flush=True)
        self.run("apt-get", "update", "-qq")
        self.run("apt-get", "install", "-y", "--no-install-recommends", *APT_PACKAGES)
        self.service_user()
        self.program()
        self.data_dir()
        self.config_file()
        self.i2c()
        self.unit(upgrade)
        self.avahi()
        self.save_log()
        self.summary()

    def service_user(self) -> None:
        for group in GROUPS:
            # Raspberry Pi OS has both groups; a plain Debian may lack gpio.
            self.run("sh", "-c", f"getent group {group} >/dev/null || groupadd --system {group}")
        self.run("sh", "-c", f"getent passwd {USER} >/dev/null || useradd --system --user-group "
                             f"--home-dir {DATA_DIR} --no-create-home --shell /usr/sbin/nologin {USER}")
        self.run("usermod", "--append", "--groups", ",".join(GROUPS), USER)

    def program(self) -> None:
        """A venv under /opt/smart-dowel with the package and its Pi extras; the docs beside it."""
        if not self.path(f"{VENV}/bin/python").exists():
            self.run("python3", "-m", "venv", "--system-site-packages", VENV)
        pip = f"{VENV}/bin/pip"
        with tempfile.TemporaryDirectory(prefix="smart-dowel-build-") as tmp:
            src = self._build_copy(Path(tmp))
            self.run(pip, "install", "--quiet", f"{src}[pi]")
            # The same version number twice would keep the old code: reinstall this
            # package itself (only it) on every upgrade.
            self.run(pip, "install", "--quiet", "--no-deps", "--force-reinstall", str(src))
        docs = self.path(f"{PREFIX}/doc")
        if docs.exists():
            shutil.rmtree(docs)
        shutil.copytree(SRC / "hardware", docs / "hardware")
        shutil.copy2(SRC / "README.md", docs / "README.md")
        self.own(f"{PREFIX}/doc", "root:root", 0o755)
        # `dowel` on everyone's PATH (e.g. `sudo -u dowel dowel selftest`).
        link = self.path(COMMAND_LINK)
        if link.is_symlink() or link.exists():
            link.unlink()
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(f"{VENV}/bin/dowel")
        self.record(f"link {COMMAND_LINK} -> {VENV}/bin/dowel")

    def _build_copy(self, tmp: Path) -> Path:
        """The source to build from.  On the Pi a copy: pip run as root would leave
        root-owned build files in the user's clone (and break its own `make setup`)."""
        if self.staged:
            return SRC
        copy = tmp / "src"
        shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns(
            ".git", ".venv", "__pycache__", "*.egg-info", "build", "output", ".pytest_cache"))
        return copy

    def data_dir(self) -> None:
        """Settings, token and history: made if missing, never emptied."""
        self.path(DATA_DIR).mkdir(parents=True, exist_ok=True)
        self.own(DATA_DIR, f"{USER}:{GROUP}", 0o750)

    def config_file(self) -> None:
        """config.toml with every key commented at its default, written once and then
        left alone; config.toml.default is the current template, for comparing after
        an upgrade."""
        template = _template()
        self.write(f"{CONFIG}.default", template)
        if self.path(CONFIG).exists():
            print(f"  kept {CONFIG}", flush=True)
            self.record(f"kept {CONFIG}")
        else:
            self.write(CONFIG, template)
        self.own(CONFIG_DIR, "root:root", 0o755)

    def i2c(self) -> None:
        """I2C on, at 400 kHz: the Pi's bus runs at 100 kHz unless config.txt says
        otherwise, and Blinka cannot change it from Python."""
        boot = next((b for b in BOOT_CONFIGS if self.path(b).exists()), None)
        if boot is None:
            print("  no /boot/firmware/config.txt: not a Raspberry Pi OS image, I2C left alone")
            self.record("no config.txt found: I2C left alone")
            return
        before = self.path(boot).read_text()
        if self.staged or shutil.which("raspi-config"):
            self.run("raspi-config", "nonint", "do_i2c", "0")
        else:
            # Not Raspberry Pi OS (no raspi-config): what do_i2c does, by hand.
            print("  no raspi-config: turning I2C on in config.txt and loading i2c-dev at boot")
            if not re.search(r"^\s*dtparam=.*\bi2c_arm=on", before, re.M):
                self.path(boot).write_text(before.rstrip("\n") + "\ndtparam=i2c_arm=on\n")
            self.write("/etc/modules-load.d/smart-dowel-i2c.conf", "i2c-dev\n")
        text = self.path(boot).read_text()
        new = set_i2c_baudrate(text, I2C_BAUDRATE)
        if new != text:
            self.path(boot).write_text(new)
            self.record(f"set dtparam=i2c_arm_baudrate={I2C_BAUDRATE} in {boot}")
        if new != before:
            self.reboot_reasons.append(f"{boot} changed (I2C at {I2C_BAUDRATE // 1000} kHz)")
            self.record(f"reboot needed: {boot} changed")

    def unit(self, upgrade: bool) -> None:
        self.write(UNIT, (SRC / "systemd" / "smart-dowel.service").read_text())
        self.run("systemctl", "daemon-reload")
        self.run("systemctl", "enable", "smart-dowel.service")
        # restart = start on a first install; on an upgrade the new code runs now.
        self.run("systemctl", "restart", "smart-dowel.service")

    def avahi(self) -> None:
        """Publish the dashboard over mDNS/DNS-SD so a phone finds http://<hostname>.local:PORT/."""
        self.port = self._dashboard_port()
        self.write(AVAHI, avahi_service(self.port))

    def _dashboard_port(self) -> int:
        sys.path.insert(0, str(SRC))
        try:
            from device.runtime import config_file

            config = config_file.load(str(self.path(CONFIG)), env={})
            return int(config["dashboard.port"]) or 8080
        except Exception as exc:            # a bad file: the service will say which line
            print(f"  warning: {exc}; publishing port 8080", flush=True)
            return 8080
        finally:
            sys.path.remove(str(SRC))

    def summary(self) -> None:
        print("Done." if not self.staged else f"Staged. Commands recorded in {self.path(LOG)}")
        print("  status:    systemctl status smart-dowel")
        print("  log:       journalctl -u smart-dowel -f   (the dashboard URL and the device token)")
        print("  config:    /etc/smart-dowel/config.toml   (then: sudo systemctl restart smart-dowel)")
        host = "<hostname>" if self.staged else socket.gethostname()
        print(f"  dashboard: http://{host}.local:{self.port}/")
        if self.reboot_reasons:
            print(f"Reboot needed: {'; '.join(self.reboot_reasons)}.  Run: sudo reboot")

    # -- uninstall -----------------------------------------------------------
    def uninstall(self, purge: bool) -> None:
        self.run("systemctl", "disable", "--now", "smart-dowel.service", check=False)
        for target in (UNIT, AVAHI, COMMAND_LINK):
            if self.path(target).exists() or self.path(target).is_symlink():
                self.path(target).unlink()
                self.record(f"removed {target}")
        self.run("systemctl", "daemon-reload")
        if self.path(PREFIX).exists():
            shutil.rmtree(self.path(PREFIX))
            self.record(f"removed {PREFIX}")
        if purge:
            for target in (CONFIG_DIR, DATA_DIR):
                if self.path(target).exists():
                    shutil.rmtree(self.path(target))
                    self.record(f"removed {target}")
            self.run("userdel", USER, check=False)
            print("Removed the program, the config, the token and the history.")
        else:
            print(f"Removed the program. Kept {CONFIG_DIR} and {DATA_DIR} (config, token, history): "
                  "`make uninstall PURGE=1` removes them too.")
        print("I2C stays enabled in config.txt (other devices may use it).")
        self.save_log()


def set_i2c_baudrate(text: str, hz: int) -> str:
    """config.txt with ``i2c_arm_baudrate`` set to ``hz``: an existing setting is
    changed where it is (also inside ``dtparam=a,b=c`` lists), else one line is
    added at the end; already right means unchanged."""
    pattern = re.compile(r"^(\s*dtparam=.*?\bi2c_arm_baudrate=)(\d+)", re.M)
    if pattern.search(text):
        return pattern.sub(lambda m: f"{m.group(1)}{hz}", text)
    if text and not text.endswith("\n"):
        text += "\n"
    return text + f"dtparam=i2c_arm_baudrate={hz}\n"


def avahi_service(port: int) -> str:
    return f"""<?xml version="1.0" standalone='no'?>
<!DOCTYPE service-group SYSTEM "avahi-service.dtd">
<!-- The smart dowel's dashboard, found by phones as "Smart dowel" (installed by make install). -->
<service-group>
  <name>Smart dowel</name>
  <service>
    <type>_http._tcp</type>
    <port>{port}</port>
    <txt-record>path=/</txt-record>
  </service>
</service-group>
"""


def _template() -> str:
    """The commented config file, from the config module itself (not typed twice)."""
    sys.path.insert(0, str(SRC))
    try:
        from device.runtime.config_file import template

        return template()
    finally:
        sys.path.remove(str(SRC))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("install", "uninstall"))
    parser.add_argument("--root", default="/", help="stage into this directory and run no command")
    parser.add_argument("--purge", action="store_true", help="uninstall: also remove config, token, history")
    args = parser.parse_args(argv)
    installer = Installer(args.root)
    if not installer.staged and os.geteuid() != 0:
        print("install: needs root on the Pi: sudo make install  (or stage with make install ROOT=DIR)",
              file=sys.stderr)
        return 1
    if args.action == "install":
        installer.install()
    else:
        installer.uninstall(args.purge)
    return 0


if __name__ == "__main__":
    sys.exit(main())
