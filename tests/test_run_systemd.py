"""``dowel run`` as systemd starts it (Type=notify, WatchdogSec=): READY, STATUS and
pings on a test notify socket, then SIGTERM: STOPPING, exit 0, history closed."""
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def messages(sock):
    data = sock.recv(4096).decode()
    return dict(line.split("=", 1) for line in data.split("\n"))


@pytest.mark.slow
def test_run_under_systemd_notifies_pings_and_stops_cleanly(tmp_path):
    name = f"dowel-run-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(60)
    config = tmp_path / "config.toml"
    config.write_text('[dashboard]\nhost = "127.0.0.1"\nport = 0\n')
    env = {**os.environ, "NOTIFY_SOCKET": "@" + name, "WATCHDOG_USEC": "400000",
           "DOWEL_DATA_DIR": str(tmp_path)}
    env.pop("WATCHDOG_PID", None)
    proc = subprocess.Popen([sys.executable, "-m", "device.cli", "run", "--mock", "--quiet", "--speed", "4",
                             "--config", str(config)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready = messages(sock)
        assert ready.get("READY") == "1", ready
        assert "frames/s" in ready["STATUS"]
        pings = [messages(sock) for _ in range(3)]
        assert all(p.get("WATCHDOG") == "1" and "frames/s" in p["STATUS"] for p in pings)
        # stop in the middle of a set, a rep or more into it
        for _ in range(500):
            status = messages(sock).get("STATUS", "")
            if ", set " in status and ", rep 0," not in status:
                break
        else:
            raise AssertionError(f"no set under way in the status lines: {status}")
        proc.send_signal(signal.SIGTERM)
        while True:
            last = messages(sock)
            if last.get("STOPPING") == "1":
                break
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        sock.close()
    assert proc.returncode == 0, err
    assert "Stopped." in out and "Dashboard: http://127.0.0.1:" in out
    db = sqlite3.connect(tmp_path / "history.db")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    # the set under way was finished on the way out, not left open
    assert db.execute("SELECT COUNT(*) FROM sets").fetchone()[0] >= 1
    assert db.execute('SELECT COUNT(*) FROM sets WHERE "end" IS NULL').fetchone()[0] == 0


@pytest.mark.slow
def test_run_with_a_bad_config_file_stops_with_exit_2(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[pins]\nled = 17\nbuzer = 27\n")
    result = subprocess.run([sys.executable, "-m", "device.cli", "run", "--mock", "--no-web",
                             "--config", str(config)], cwd=ROOT, capture_output=True, text=True,
                            timeout=60, env={**os.environ, "DOWEL_DATA_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert f"{config}:3: pins.buzer: unknown key" in result.stderr
    assert "Traceback" not in result.stderr
