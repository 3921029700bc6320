"""The live push channel: the SSE generator on a scripted clock, the Flask route,
and the waitress server over real sockets (flushing, many phones, shutdown)."""
from __future__ import annotations

import http.client
import itertools
import json
import math
import socket
import threading
import time

import pytest
from conftest import status_snapshot, wait_for

from web import create_app
from web.server import make_server
from web.stream import format_event, sse_stream


# -- the generator, on simulated time ---------------------------------------------------
class ScriptedSub:
    """A subscription whose events arrive at scripted times on a simulated clock:
    waiting in ``get`` advances the clock instead of sleeping."""

    def __init__(self, script):
        self.script = sorted(script, key=lambda item: item[0])
        self.now = 0.0
        self.closed = False

    def clock(self) -> float:
        return self.now

    def get(self, timeout=None):
        if self.script and self.script[0][0] <= self.now + timeout:
            at, event = self.script.pop(0)
            self.now = max(self.now, at)
            return event
        self.now += timeout + 1e-9      # a real wait never returns early by a rounding error
        return None


def parse(message: bytes):
    """(event name, data) of one SSE message; comments give ('comment', text)."""
    name, data = "message", None
    lines = message.decode().strip("\n").split("\n")
    if all(line.startswith(":") for line in lines):
        return "comment", lines[0][1:].strip()
    for line in lines:
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data = json.loads(line[6:])
        elif line.startswith("retry: "):
            name, data = "retry", int(line[7:])
    return name, data


def run_until(sub, gen, t_end):
    """Messages (simulated time, name, data) until the clock passes ``t_end``."""
    out = []
    for message in gen:
        if sub.now > t_end:
            break
        out.append((sub.now,) + parse(message))
    return out


def status_at(t, **kw):
    s = status_snapshot(t=t, **kw)
    s["type"] = "status"
    return s


def test_stream_starts_with_retry_and_the_current_status():
    sub = ScriptedSub([])
    gen = sse_stream(sub, status_at(0.0, rep_count=3), retry_ms=1500, now=sub.clock)
    first = next(gen)
    assert first.startswith(b"retry: 1500\n")
    name, data = parse(next(gen))
    assert name == "status" and data["rep_count"] == 3


def test_status_is_throttled_and_events_pass_at_once():
    script = [(i / 100, status_at(i / 100)) for i in range(1, 300)]     # 100 Hz for 3 s
    script.append((1.505, {"type": "contact_lost", "t": 1.505, "point": "sacrum", "start": 1.48}))
    script.append((2.2, {"type": "rep_completed", "t": 2.2, "set_index": 1, "rep_index": 2,
                         "rep": {"start": 0.5, "end": 2.2, "depth_deg": 40, "clean": True}}))
    sub = ScriptedSub(script)
    gen = sse_stream(sub, status_at(0.0), status_hz=15.0, heartbeat_s=10.0, now=sub.clock)
    msgs = run_until(sub, gen, 3.0)
    statuses = [m for m in msgs if m[1] == "status"][1:]          # after the initial one
    assert 14 * 3 - 2 <= len(statuses) <= 15 * 3 + 1
    gaps = [b[0] - a[0] for a, b in zip(statuses, statuses[1:])]
    assert min(gaps) >= 1 / 15 - 1e-9
    # each status sent is the newest one the throttle held
    assert all(sent_at - data["t"] < 0.0101 for sent_at, _, data in statuses)
    lost = [m for m in msgs if m[1] == "contact_lost"]
    assert len(lost) == 1 and lost[0][0] == pytest.approx(1.505)
    assert lost[0][2]["point"] == "sacrum"
    # no snapshot older than the loss follows it
    after = [m for m in statuses if m[0] > 1.505]
    assert after and after[0][2]["t"] >= 1.505
    reps = [m for m in msgs if m[1] == "rep_completed"]
    assert len(reps) == 1 and reps[0][0] == pytest.approx(2.2)


def test_heartbeat_keeps_an_idle_stream_alive():
    sub = ScriptedSub([(25.0, {"type": "fault", "t": 25.0, "active": True, "message": "ADC"})])
    gen = sse_stream(sub, None, heartbeat_s=10.0, now=sub.clock)
    msgs = run_until(sub, gen, 26.0)
    beats = [m[0] for m in msgs if m[1] == "comment" and m[2] == "ping"]
    assert beats == [pytest.approx(10.0), pytest.approx(20.0)]
    assert [m[1] for m in msgs][-1] == "fault"


def test_generator_ends_when_the_subscription_closes():
    sub = ScriptedSub([])
    gen = sse_stream(sub, None, now=sub.clock)
    next(gen)
    sub.closed = True
    assert list(itertools.islice(gen, 5)) == []


def test_nan_becomes_null_in_events():
    name, data = parse(format_event("status", {"pitch_deg": float("nan"), "x": [float("inf")]}))
    assert data == {"pitch_deg": None, "x": [None]}


# -- the Flask route (test client) -------------------------------------------------------
def test_route_streams_events_and_unsubscribes_on_close(client, fake_core):
    resp = client.get("/api/stream", buffered=False)
    assert resp.status_code == 200
    assert resp.mimetype == "text/event-stream"
    assert resp.headers["Cache-Control"].startswith("no-cache")
    body = iter(resp.response)
    assert next(body).startswith(b"retry:")
    assert parse(next(body))[0] == "status"
    assert fake_core.bus.subscriber_count == 1
    fake_core.publish({"type": "contact_lost", "point": "head", "start": 1.0})
    assert parse(next(body)) == ("contact_lost", pytest.approx(
        {"type": "contact_lost", "point": "head", "start": 1.0, "t": 0.0, "wall": time.time()}, abs=5))
    resp.close()
    assert fake_core.bus.subscriber_count == 0


def test_route_unsubscribes_when_the_client_leaves_before_the_first_byte(client, fake_core):
    resp = client.get("/api/stream", buffered=False)
    assert fake_core.bus.subscriber_count == 1
    resp.close()
    assert fake_core.bus.subscriber_count == 0


def test_too_many_streams_is_503_json(fake_core):
    app = create_app(fake_core, {"MAX_STREAMS": 2})
    client = app.test_client()
    open_ = [client.get("/api/stream", buffered=False) for _ in range(2)]
    resp = client.get("/api/stream")
    assert resp.status_code == 503
    assert "most live views (2)" in resp.get_json()["error"]
    assert fake_core.bus.subscriber_count == 2
    for r in open_:
        r.close()
    assert fake_core.bus.subscriber_count == 0
    assert client.get("/api/stream", buffered=False).status_code == 200


# -- waitress over real sockets -----------------------------------------------------------
class SseReader:
    """A phone: a raw socket reading SSE messages as they arrive."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.sendall(b"GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
        self.buf = b""
        self.text = b""
        head = self._until(b"\r\n\r\n")
        self.status_line = head.split(b"\r\n")[0]
        self.chunked = b"transfer-encoding: chunked" in head.lower()

    def _until(self, sep: bytes) -> bytes:
        while sep not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("connection closed")
            self.buf += data
        out, self.buf = self.buf.split(sep, 1)
        return out

    def message(self):
        """Next SSE message (name, data), taken out of the chunked transfer framing."""
        while b"\n\n" not in self.text:
            self.text += self._next_chunk()
        msg, self.text = self.text.split(b"\n\n", 1)
        return parse(msg + b"\n\n")

    def _next_chunk(self) -> bytes:
        if not self.chunked:
            data = self.buf or self.sock.recv(65536)
            self.buf = b""
            if not data:
                raise EOFError("connection closed")
            return data
        size = int(self._until(b"\r\n").split(b";")[0], 16)
        if size == 0:
            raise EOFError("end of stream")
        while len(self.buf) < size + 2:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("connection closed")
            self.buf += data
        chunk, self.buf = self.buf[:size], self.buf[size + 2:]
        return chunk

    def until(self, name: str):
        while True:
            got = self.message()
            if got[0] == name:
                return got[1]

    def close(self):
        self.sock.close()


@pytest.fixture
def served(fake_core):
    # a dozen phones, all on this machine's one address here
    app = create_app(fake_core, {"STREAM_HEARTBEAT_S": 60.0, "STREAMS_PER_CLIENT": 16})
    server = make_server(app, host="127.0.0.1", port=0, threads=24)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield fake_core, server
    server.close()
    thread.join(10)
    assert not thread.is_alive(), "server.run() did not return after close()"


def test_server_binds_a_free_port_and_serves_the_api(served):
    core, server = served
    assert server.port > 0
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/api/status")
    resp = conn.getresponse()
    assert resp.status == 200
    assert json.loads(resp.read())["health"]["source"] == "fake"


def test_a_single_small_event_is_flushed_at_once(served):
    """With a 60 s heartbeat nothing else is sent: if waitress buffered small
    writes the event would not arrive before the timeout."""
    core, server = served
    phone = SseReader(server.port)
    try:
        assert phone.status_line.endswith(b"200 OK")
        assert phone.message()[0] == "retry"
        assert phone.message()[0] == "status"
        assert wait_for(lambda: core.bus.subscriber_count == 1)
        sent = time.time()
        core.publish({"type": "contact_lost", "point": "sacrum", "start": 2.0})
        phone.sock.settimeout(10)
        name, data = phone.message()
        assert name == "contact_lost" and data["point"] == "sacrum"
        print(f"\nsingle event over the socket after {(time.time() - sent) * 1000:.1f} ms")
    finally:
        phone.close()


def test_a_dozen_phones_hold_streams_at_once_and_leave_cleanly(served):
    core, server = served
    phones = [SseReader(server.port) for _ in range(12)]
    try:
        for p in phones:
            assert p.until("status")["health"]["source"] == "fake"
        assert wait_for(lambda: core.bus.subscriber_count == 12)
        core.publish({"type": "rep_completed", "set_index": 1, "rep_index": 1,
                      "rep": {"start": 1, "end": 3, "depth_deg": 40, "clean": True}})
        for p in phones:
            assert p.until("rep_completed")["rep_index"] == 1
        # the API still answers while a dozen streams hold their threads
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("GET", "/api/settings")
        assert conn.getresponse().status == 200
    finally:
        for p in phones[:6]:
            p.close()
    # phones that leave are unsubscribed even when nothing is being sent
    assert wait_for(lambda: core.bus.subscriber_count == 6)
    core.publish({"type": "alert", "on": True, "reason": "loss", "points": ["head"]})
    for p in phones[6:]:
        assert p.until("alert")["on"] is True
    server.close()
    assert core.bus.subscriber_count == 0
    for p in phones[6:]:
        with pytest.raises((EOFError, OSError)):
            while True:
                p.message()
        p.close()


# -- a real core on the emulated chip, served by waitress -------------------------------
class HingeSource:
    """Dowel leaning on a wall, then on the back: upright 1.5 s, then 2 s hinges to
    50 degrees; every second rep loses the sacrum 0.6-1.1 s into it."""

    REP_S = 2.0

    def __init__(self):
        self.finished = False

    def voltages(self, t):
        from device.hw.constants import fsr_volts

        if t < 0.3:
            return (0.0, 0.0, 0.0, 1.65 + 0.33 * math.sin(math.radians(85)))
        u = t - 0.3
        pitch = 0.0
        sacrum = fsr_volts(2.5)
        if u > 1.5:
            k, phase = divmod(u - 1.5, self.REP_S)
            pitch = 50.0 * math.sin(math.pi * phase / self.REP_S)
            if int(k) % 2 == 1 and 0.6 <= phase < 1.1:
                sacrum = 0.0
        return (fsr_volts(3.0), fsr_volts(4.0), sacrum, 1.65 + 0.33 * math.sin(math.radians(pitch)))


def test_live_events_from_a_running_mock_device():
    from device.hw.mock.factory import build_mock_core

    core = build_mock_core(HingeSource(), speed=4.0)
    app = create_app(core)
    server = make_server(app, host="127.0.0.1", port=0, threads=8)
    threading.Thread(target=server.run, daemon=True).start()
    # The phone listens before the core starts: the first set_started is not
    # missed however slowly this machine gets the phone connected.
    phone = SseReader(server.port)
    try:
        assert phone.message()[0] == "retry"
        assert wait_for(lambda: core.bus.subscriber_count == 1)
        core.start()
        seen: dict = {}
        statuses, first, lag = 0, None, []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not ("contact_lost" in seen and "rep_completed" in seen
                                                   and statuses > 5):
            name, data = phone.message()
            now = time.time()
            if name == "status":
                statuses += 1
                first = first or now
            elif name not in ("retry", "comment"):
                seen.setdefault(name, data)
                lag.append(now - data["wall"])
        assert seen["set_started"]["set_index"] == 1
        assert seen["contact_lost"]["point"] == "sacrum"
        rep = seen["rep_completed"]
        assert rep["rep_index"] == 1 and rep["rep"] == 1 and rep["depth_deg"] > 40
        rate = (statuses - 1) / (time.time() - first)
        print(f"\nreal core: {rate:.1f} status/s on one stream, event publish-to-socket "
              f"max {max(lag) * 1000:.1f} ms")
        assert statuses > 5
        # Nothing waits in a buffer: once the core has stopped, its very last
        # snapshot reaches the phone with nothing sent after it to push it out.
        core.close()
        final = core.get_status()["health"]["frames"]
        while True:
            name, data = phone.message()
            if name == "status" and data["health"]["frames"] == final:
                break
    finally:
        phone.close()
        server.close()
        core.close()
        core.pin_factory.reset()
    assert core.bus.subscriber_count == 0


def test_a_slow_phone_loses_its_oldest_events_not_the_core(fake_core):
    app = create_app(fake_core, {"STREAM_QUEUE": 4})
    resp = app.test_client().get("/api/stream", buffered=False)
    body = iter(resp.response)
    next(body), next(body)                       # retry line, first status
    for i in range(50):                          # the phone reads nothing meanwhile
        fake_core.publish({"type": "rep_started", "set_index": 1, "rep_index": i + 1, "start": i})
    got = [parse(next(body))[1]["rep_index"] for _ in range(4)]
    assert got == [47, 48, 49, 50]
    resp.close()
    assert fake_core.bus.subscriber_count == 0


def test_stream_counter_acquire_says_yes_or_no():
    """The coach's screen counts its streams with acquire() (True/False); the
    dashboard's admit() says which limit was hit."""
    from web.api import StreamCounter

    counter = StreamCounter()
    assert counter.acquire("a", 2) is True and counter.acquire("b", 2) is True
    assert counter.acquire("c", 2) is False and counter.open == 2
    counter.release("a")
    assert counter.acquire("c", 2) is True
