"""Helpers for the browser tests: a `dowel run --mock` replaying a scripted
athlete, a reader of its live stream in Python, and a phone-sized page paired
with the device (opened through the pairing link, as a phone would)."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = Path(__file__).resolve().parent / "output"
CHROMIUM = os.environ.get("DOWEL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHONE = {"width": 390, "height": 844}


def write_trace(path: Path, steps: list) -> None:
    from device.sim.sources import ScriptedAthlete
    from device.sim.trace import write_trace as write

    write(path, ScriptedAthlete.from_steps(steps, loop=False).frames(rate_hz=200))


@contextlib.contextmanager
def running_device(tmp: Path, steps: list, *extra: str):
    """`dowel run --mock` on a free port replaying `steps` in a loop: yields (url, token)."""
    trace = tmp / "athlete.csv"
    write_trace(trace, steps)
    dowel = shutil.which("dowel", path=str(ROOT / ".venv" / "bin")) or shutil.which("dowel")
    cmd = [dowel] if dowel else [sys.executable, "-m", "device.cli"]
    cmd += ["run", "--mock", "--trace", str(trace), "--loop", "--host", "127.0.0.1", "--port", "0",
            "--data-dir", str(tmp / "data"), "--db", str(tmp / "history.db"), "--quiet", *extra]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url, token, lines = None, None, []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("Dashboard: "):
            url = line.split(" ", 1)[1].strip().split("#", 1)[0].rstrip("/")
        if "#token=" in line:          # the pairing link, printed after the address
            token = line.split("#token=", 1)[1].split()[0]
            break
    if url is None or token is None:
        proc.kill()
        pytest.fail("dowel run printed no dashboard URL and pairing link:\n" + "".join(lines) + (proc.stdout.read() or ""))
    # keep draining its output so it never blocks on a full pipe
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
    try:
        yield url, token
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class StreamWatcher:
    """Reads /api/stream in Python: every discrete event (``events``, ``of``), each
    with the wall time it arrived (``arrivals``, ``arrived``), and how many status
    snapshots came since when (``statuses``, ``first_status_at``)."""

    def __init__(self, base_url: str):
        host, port = base_url.split("//", 1)[1].split(":")
        self.sock = socket.create_connection((host, int(port.strip("/"))), timeout=60)
        self.sock.sendall(f"GET /api/stream HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        self.events: list = []
        self.arrivals: list = []        # (arrived wall time, name, data)
        self.statuses = 0
        self.first_status_at = None
        self._stop = False
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        buf = b""
        try:
            while not self._stop:
                data = self.sock.recv(65536)
                if not data:
                    return
                arrived = time.time()
                buf += data
                while b"\n\n" in buf:
                    msg, buf = buf.split(b"\n\n", 1)
                    name, payload = None, None
                    for line in msg.split(b"\n"):
                        line = line.strip(b"\r")
                        if line.startswith(b"event: "):
                            name = line[7:].decode()
                        elif line.startswith(b"data: "):
                            payload = json.loads(line[6:])
                    if name == "status":
                        self.statuses += 1
                        if self.first_status_at is None:
                            self.first_status_at = arrived
                    elif name:
                        self.events.append(payload)
                        self.arrivals.append((arrived, name, payload))
        except OSError:
            return

    def of(self, kind: str) -> list:
        return [e for e in self.events if e.get("type") == kind]

    def arrived(self, name: str) -> list:
        """(arrived wall time, name, data) of each ``name`` event."""
        return [e for e in self.arrivals if e[1] == name]

    def close(self) -> None:
        self._stop = True
        self.sock.close()


def open_phone(browser, url: str, token: str, view: str = "live", scheme: str = "dark",
               init_script: str = "", viewport: dict = PHONE):
    """A new phone (its own storage) on `url`, paired with `token`: (context, page, errors)."""
    # bypass_csp: wait_for_function evaluates strings, which the page's CSP forbids
    context = browser.new_context(viewport=viewport, device_scale_factor=2, color_scheme=scheme, bypass_csp=True)
    if init_script:
        context.add_init_script(init_script)
    page = context.new_page()
    page.set_default_timeout(20000)
    errors: list = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{url.rstrip('/')}/#{view}&token={token}")
    page.wait_for_selector("html[data-ready=true]")
    page.wait_for_selector('#connection[data-state="live"]')
    return context, page, errors
