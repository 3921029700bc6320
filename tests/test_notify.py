"""sd_notify against a test datagram socket: READY after start, pings while the loop
runs, none while it is stalled."""
import os
import socket
import tempfile
import threading
import uuid

import pytest

from device.analysis.settings import Settings
from device.hw.alerts import Alerts
from device.hw.mock.factory import mock_pin_factory
from device.runtime.core import DowelCore
from device.runtime.notify import (Notifier, Watchdog, loop_progress, status_text,
                                   watchdog_interval_s)


class NotifySocket:
    """What systemd listens on: a datagram socket; ``messages()`` parses what arrived."""

    def __init__(self, abstract=True):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"dowel-test-{uuid.uuid4().hex}"
            self.sock.bind("\0" + name)
            self.address = "@" + name
        else:
            self._dir = tempfile.mkdtemp(dir="/tmp")      # short: a socket path is <= 107 bytes
            self.address = os.path.join(self._dir, "notify")
            self.sock.bind(self.address)
        self.sock.settimeout(10.0)

    def receive(self) -> dict:
        data = self.sock.recv(4096).decode()
        return dict(line.split("=", 1) for line in data.split("\n"))

    def receive_until(self, predicate, limit=200) -> list:
        got = []
        for _ in range(limit):
            got.append(self.receive())
            if predicate(got[-1]):
                return got
        raise AssertionError(f"never arrived; got {got[-5:]}")

    def close(self):
        self.sock.close()
        if hasattr(self, "_dir"):
            os.unlink(self.address)
            os.rmdir(self._dir)


@pytest.fixture
def notify_socket():
    s = NotifySocket()
    yield s
    s.close()


class ScriptedAdc:
    """Reads steady frames until ``hang`` is set, then blocks like a wedged driver;
    ``unplugged`` makes every read fail as a missing chip does."""

    def __init__(self):
        self.hang = threading.Event()
        self.release = threading.Event()
        self.unplugged = False
        self.reads = 0

    def read_frame(self):
        if self.unplugged:
            raise OSError(121, "Remote I/O error")
        if self.hang.is_set():
            self.release.wait()
        self.reads += 1
        threading.Event().wait(0.002)
        return (2.4, 2.4, 2.4, 1.65)


@pytest.fixture
def scripted_core():
    adc = ScriptedAdc()
    pins = mock_pin_factory()
    core = DowelCore(lambda s: adc, Settings(), Alerts(pins), source_name="scripted")
    yield core, adc
    adc.release.set()
    core.close()
    pins.reset()


def test_no_socket_no_messages():
    assert Notifier(env={}).send(READY=1) is False
    assert not Notifier(env={}).enabled


@pytest.mark.parametrize("abstract", [True, False])
def test_a_message_reaches_the_socket(abstract):
    s = NotifySocket(abstract=abstract)
    try:
        n = Notifier(env={"NOTIFY_SOCKET": s.address})
        assert n.ready("3 frames/s\nsecond line")
        assert s.receive() == {"READY": "1", "STATUS": "3 frames/s second line"}
        n.close()
    finally:
        s.close()


def test_a_socket_that_is_gone_is_not_an_error():
    n = Notifier(address="/tmp/no-such-notify-socket")
    assert n.send(WATCHDOG=1) is False


def test_watchdog_interval_is_half_of_watchdog_sec():
    assert watchdog_interval_s({"WATCHDOG_USEC": "10000000"}) == 5.0
    assert watchdog_interval_s({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": str(os.getpid())}) == 5.0
    assert watchdog_interval_s({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_interval_s({}) is None
    assert watchdog_interval_s({"WATCHDOG_USEC": "soon"}) is None


def test_ready_after_start_then_pings_while_the_loop_runs(notify_socket, scripted_core):
    core, adc = scripted_core
    notifier = Notifier(address=notify_socket.address)
    dog = Watchdog(notifier, core.get_status, interval_s=0.1)
    dog.start()                                   # before the core: READY must wait for a frame
    core.start()
    first = notify_socket.receive()
    assert first["READY"] == "1" and "frames/s" in first["STATUS"] and "no fault" in first["STATUS"]
    assert adc.reads > 0                           # READY came after the ADC answered
    pings = [notify_socket.receive() for _ in range(5)]
    assert all(p.get("WATCHDOG") == "1" for p in pings)
    dog.stop()
    assert notify_socket.receive_until(lambda m: m.get("STOPPING") == "1")[-1]["STATUS"].startswith("stopping")


def test_a_hung_loop_gets_no_pings(notify_socket, scripted_core):
    core, adc = scripted_core
    dog = Watchdog(Notifier(address=notify_socket.address), core.get_status, interval_s=0.1).start()
    core.start()
    notify_socket.receive_until(lambda m: m.get("WATCHDOG") == "1")
    adc.hang.set()                                 # the driver wedges inside a read
    got = notify_socket.receive_until(lambda m: "stalled" in m.get("STATUS", ""))
    # after the stall is seen, several rounds pass with no ping at all
    later = [notify_socket.receive() for _ in range(5)]
    assert all("WATCHDOG" not in m for m in later) and all("stalled" in m["STATUS"] for m in later)
    assert dog.stalled and core._thread.is_alive()
    adc.release.set()
    adc.hang.clear()                               # the loop moves again: pings come back
    notify_socket.receive_until(lambda m: m.get("WATCHDOG") == "1")
    assert got and not dog.stalled
    dog.stop()


def test_an_unplugged_adc_is_ready_in_the_fault_state_and_still_pinged(notify_socket, scripted_core):
    core, adc = scripted_core
    adc.unplugged = True
    dog = Watchdog(Notifier(address=notify_socket.address), core.get_status, interval_s=0.1).start()
    core.start()
    first = notify_socket.receive()
    assert first["READY"] == "1" and "FAULT: ADC not answering" in first["STATUS"]
    assert core.get_status()["health"]["frames"] == 0
    # the loop keeps retrying the chip: that is progress, not a hang
    pings = [notify_socket.receive() for _ in range(3)]
    assert all(p.get("WATCHDOG") == "1" for p in pings)
    dog.stop()


def test_status_only_without_a_watchdog(notify_socket):
    frames = iter(range(100, 10_000, 50))
    status = {"health": {"frame_rate_hz": 49.6, "frames": 0, "read_errors": 0, "fault": None}}

    def get_status():
        status["health"]["frames"] = next(frames)
        return status

    dog = Watchdog(Notifier(address=notify_socket.address), get_status, env={})
    assert not dog.pinging and dog.interval_s == 5.0
    assert dog.check_ready() and dog.check() is False
    assert notify_socket.receive()["READY"] == "1"
    assert "WATCHDOG" not in notify_socket.receive()


def test_status_text_reads_like_a_sentence():
    status = {"in_set": True, "set": {"number": 2}, "rep_count": 7,
              "health": {"frame_rate_hz": 51.2, "fault": None, "read_errors": 3, "frames": 10}}
    assert status_text(status) == "51 frames/s, set 2, rep 7, no fault, 3 read errors"
    status = {"in_set": False, "set_index": 0,
              "health": {"frame_rate_hz": 0.0, "fault": "ADC not answering: EIO", "frames": 0}}
    assert status_text(status) == "0 frames/s, idle, FAULT: ADC not answering: EIO"
    status = {"in_set": True, "set": {"number": 1}, "rep_count": 3,
              "sensor_faults": [{"point": "sacrum", "kind": "shorted"}],
              "health": {"frame_rate_hz": 50, "fault": None, "frames": 9, "warnings": ["settings not used"]}}
    assert status_text(status) == ("50 frames/s, set 1, rep 3, no fault, sensor fault: sacrum shorted, "
                                   "WARNING: settings not used")
    assert loop_progress({"health": {"frames": 5, "read_errors": 2}}) == 7
