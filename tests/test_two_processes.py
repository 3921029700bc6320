"""``dowel run`` as two real processes (core and web) under its supervisor:
start and stop together, the web killed and restarted while the core goes on,
the core killed (the page hears the device is down, the command exits non-zero),
and commands crossing the channel with their errors."""
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from device.runtime.core_proxy import DEVICE_DOWN

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests" / "data" / "sloppy-two-sets.csv"
WAIT_S = 60.0            # generous: two cores shared by several test runs


def wait_for(predicate, timeout=WAIT_S, every=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    return None


class Device:
    """A running ``dowel run --mock`` with its printed lines collected as they come."""

    def __init__(self, tmp_path, *extra):
        env = dict(os.environ, PYTHONUNBUFFERED="1", DOWEL_DATA_DIR=str(tmp_path))
        cmd = [sys.executable, "-m", "device.cli", "run", "--mock", "--host", "127.0.0.1",
               "--port", "0", "--data-dir", str(tmp_path), *map(str, extra)]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True)
        self.lines: list = []
        self.err: list = []
        threading.Thread(target=self._collect, args=(self.proc.stdout, self.lines), daemon=True).start()
        threading.Thread(target=self._collect, args=(self.proc.stderr, self.err), daemon=True).start()
        url = wait_for(lambda: self._find(r"Dashboard: http://127\.0\.0\.1:(\d+)/"))
        assert url, self.output()
        self.port = int(url)
        self.token = wait_for(lambda: self._find(r"Device token \(.*\): (\S+)"))
        assert wait_for(lambda: self.request("GET", "/api/status")[0] == 200), self.output()

    @staticmethod
    def _collect(pipe, into):
        for line in pipe:
            into.extend(part for part in line.split("\r") if part.strip())

    def _find(self, pattern):
        for line in list(self.lines):
            m = re.search(pattern, line)
            if m:
                return m.group(1)
        return None

    def output(self) -> str:
        return "".join(self.lines[-40:]) + "\n--- stderr ---\n" + "".join(self.err[-40:])

    def request(self, method, path, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"X-Dowel-Token": self.token or ""}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
            response = conn.getresponse()
            data = response.read()
            return response.status, (json.loads(data) if data else None)
        except (OSError, http.client.HTTPException):
            return None, None
        finally:
            conn.close()

    def children(self) -> dict:
        """{"core": pid, "web": pid} from the kernel's list of the supervisor's children."""
        roles = {}
        try:
            pids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        except FileNotFoundError:
            return roles
        for pid in pids:
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except FileNotFoundError:
                continue
            if b"--role" in argv:
                roles[argv[argv.index(b"--role") + 1].decode()] = int(pid)
        return roles

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)


class Stream:
    """The dashboard's live stream read on a thread: the events, in order."""

    def __init__(self, port):
        self.events: list = []
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT_S)
        self.conn.request("GET", "/api/stream")
        self.response = self.conn.getresponse()
        assert self.response.status == 200
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        kind = None
        try:
            for raw in self.response:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind:
                    self.events.append((kind, json.loads(line[6:])))
        except (OSError, ValueError, http.client.HTTPException):
            pass

    def close(self):
        self.conn.close()


@pytest.fixture
def device(tmp_path, request):
    started = []

    def start(*extra):
        d = Device(tmp_path, *extra)
        started.append(d)
        return d
    yield start
    for d in started:
        d.stop()


def gone(pid) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a zombie is gone too: it no longer runs
    return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] == "Z"


def test_both_processes_start_and_stop_together(device):
    d = device()
    roles = wait_for(lambda: (lambda c: c if set(c) == {"core", "web"} else None)(d.children()))
    assert roles, d.output()
    assert d.request("GET", "/api/status")[1]["health"]["frames"] > 0
    # the web process runs below the core in priority
    nice = {role: int(Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[16])
            for role, pid in roles.items()}
    assert nice["web"] > nice["core"]
    # ...and, every thread of it, off the CPU the core prefers (when there are two or more)
    cpus = os.sched_getaffinity(0)
    if len(cpus) > 1:
        for task in Path(f"/proc/{roles['web']}/task").iterdir():
            assert os.sched_getaffinity(int(task.name)) == cpus - {max(cpus)}, task
        assert os.sched_getaffinity(roles["core"]) == cpus
    d.proc.send_signal(signal.SIGTERM)
    assert d.proc.wait(WAIT_S) == 0, d.output()
    assert all(gone(pid) for pid in roles.values())
    out = "".join(d.lines)
    assert "LED off, buzzer off." in out and "Stopped." in out


def test_the_core_goes_on_while_the_web_is_killed_and_comes_back(device):
    d = device("--trace", SAMPLE, "--loop", "--speed", "4")
    roles = wait_for(lambda: (lambda c: c if set(c) == {"core", "web"} else None)(d.children()))
    assert roles, d.output()
    status, reps = d.request("GET", "/api/reps?limit=1")
    assert status == 200
    before = reps["total"]
    lines_at_kill = len(d.lines)
    os.kill(roles["web"], signal.SIGKILL)
    # the core keeps alerting and storing reps with no web process at all
    assert wait_for(lambda: any("LOST" in l for l in d.lines[lines_at_kill:])), d.output()
    assert wait_for(lambda: sum("rep " in l for l in d.lines[lines_at_kill:]) >= 2), d.output()
    # the supervisor starts a new web process on the same port
    new_web = wait_for(lambda: (d.children().get("web") or 0) not in (0, roles["web"]) and d.children()["web"])
    assert new_web, d.output()
    assert d.children()["core"] == roles["core"]
    assert wait_for(lambda: d.request("GET", "/api/status")[0] == 200), d.output()
    assert wait_for(lambda: d.request("GET", "/api/reps?limit=1")[1]["total"] > before)
    stream = Stream(d.port)
    try:
        assert wait_for(lambda: any(k == "status" for k, _ in stream.events))
        assert wait_for(lambda: any(k == "contact_lost" for k, _ in stream.events)), d.output()
    finally:
        stream.close()


def test_a_killed_core_makes_the_page_say_down_and_the_command_fail(device):
    d = device()
    roles = wait_for(lambda: (lambda c: c if set(c) == {"core", "web"} else None)(d.children()))
    assert roles, d.output()
    stream = Stream(d.port)
    try:
        assert wait_for(lambda: any(k == "status" for k, _ in stream.events))
        os.kill(roles["core"], signal.SIGKILL)
        assert wait_for(lambda: any(k == "fault" and e["message"] == DEVICE_DOWN
                                    for k, e in stream.events)), d.output()
        assert wait_for(lambda: any(k == "status" and e["health"]["fault"] == DEVICE_DOWN
                                    for k, e in stream.events))
        assert d.request("GET", "/api/status")[1]["health"]["fault"] == DEVICE_DOWN
        # non-zero, so systemd (Restart=on-failure) starts the device again
        assert d.proc.wait(WAIT_S) == 1, d.output()
        assert gone(roles["web"])
    finally:
        stream.close()
    assert "the core process ended (killed by SIGKILL)" in "".join(d.err)


def test_commands_cross_the_channel_with_their_errors(device):
    d = device()
    status, body = d.request("PUT", "/api/settings", {"debounce_ms": 30, "data_rate": 7})
    assert status == 400 and body["field"] == "data_rate"
    assert d.request("GET", "/api/settings")[1]["debounce_ms"] != 30     # nothing changed
    status, body = d.request("PUT", "/api/settings", {"debounce_ms": 30, "exercise": "kneeling_3point"})
    assert status == 200 and body["debounce_ms"] == 30
    assert d.request("GET", "/api/settings")[1]["debounce_ms"] == 30
    assert d.request("GET", "/api/status")[1]["exercise"] == "kneeling_3point"
    status, athlete = d.request("POST", "/api/athletes", {"name": "Grace", "current": True})
    assert status == 201 and athlete["current"] is True
    listed = d.request("GET", "/api/athletes")[1]
    assert listed["current"] == athlete["id"] and "Grace" in [a["name"] for a in listed["athletes"]]
    status, body = d.request("POST", "/api/calibrate", {"duration_s": 0.5})
    assert status == 400 and body["field"] == "duration_s"
    # the day's plan lives in the core process too
    status, plan = d.request("GET", "/api/plan")
    assert status == 200 and plan["steps"]
    status, moved = d.request("POST", "/api/plan/skip", {})
    assert status == 200 and moved["step_index"] == plan["step_index"] + 1
    status, body = d.request("POST", "/api/plan/order", {"order": ["no such step"]})
    assert status == 400 and body["field"]


def test_a_killed_supervisor_takes_both_children_with_it(device):
    d = device()
    roles = wait_for(lambda: (lambda c: c if set(c) == {"core", "web"} else None)(d.children()))
    assert roles, d.output()
    os.kill(d.proc.pid, signal.SIGKILL)
    assert wait_for(lambda: all(gone(pid) for pid in roles.values())), d.output()
    assert "LED off, buzzer off." in "".join(d.lines)


def sigterm_pending(pid) -> bool:
    """SIGTERM is waiting in the process's queue (blocked, not yet handled)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    pending = {k: int(v, 16) for k, v in (line.split(":\t") for line in status.splitlines()
                                           if line.startswith(("SigPnd", "ShdPnd")))}
    return any(mask & (1 << (signal.SIGTERM - 1)) for mask in pending.values())


def test_a_stop_during_the_core_start_up_is_a_clean_stop(tmp_path):
    # systemd stopping (or restarting) the service while the core process is still
    # starting (a Pi Zero takes seconds to import numpy): the SIGTERM used to find
    # the core without its handler and kill it outright, LED and buzzer left as
    # they were and the service "failed" (exit 1).  The core is held at a known
    # step of its start-up, before any handler: reading its settings file, a FIFO
    # the test writes only once the SIGTERM has reached the core.
    settings = tmp_path / "settings.json"
    os.mkfifo(settings)
    env = dict(os.environ, PYTHONUNBUFFERED="1", DOWEL_DATA_DIR=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-m", "device.cli", "run", "--mock", "--host", "127.0.0.1",
                             "--port", "0", "--data-dir", str(tmp_path)], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    fifo = None
    try:
        def core_reads_its_settings():
            try:     # succeeds only once a reader has the FIFO open: the core, mid start-up
                return os.open(settings, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                return None
        fifo = wait_for(core_reads_its_settings)
        assert fifo is not None, "the core never read its settings"
        core = next(int(pid) for pid in Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
                    .read_text().split()
                    if b"core" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"))
        proc.send_signal(signal.SIGTERM)            # the supervisor passes it on to both
        assert wait_for(lambda: sigterm_pending(core) or gone(core))
        try:
            os.write(fifo, b"{}\n")
        except BrokenPipeError:
            pass                                    # the core is gone: the status says how
        os.close(fifo)
        fifo = None
        out, err = proc.communicate(timeout=WAIT_S)
    finally:
        if fifo is not None:
            os.close(fifo)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
    assert proc.returncode == 0, err
    assert "LED off, buzzer off." in out and "Stopped." in out, out + err


def test_a_child_whose_supervisor_died_before_it_asked_to_follow_it_stops_cleanly():
    # The supervisor killed between its fork and the child's asking the kernel for
    # a SIGTERM on the supervisor's death: the child would have run on, orphaned.
    # Here the child's "supervisor" is a process that is not its parent: the same
    # as one already gone.  The SIGTERM waits, blocked, for the child's handler.
    from device.cli.supervisor import _child_start

    not_the_parent = os.getpid() + 1_000_000
    child = subprocess.run([sys.executable, "-c", "from device.cli.common import stop_on_signals; "
                            "print('stopped' if stop_on_signals().wait(60) else 'ran on')"],
                           cwd=ROOT, capture_output=True, text=True, timeout=WAIT_S,
                           preexec_fn=_child_start(not_the_parent))
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "stopped"
