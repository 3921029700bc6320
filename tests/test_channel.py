"""The channel between the core process and the web process
(device/runtime/channel.py, device/runtime/core_proxy.py), in one process:
framing, the per-client buffer, a reader that stops reading, the peer check,
and history writes sent to the core's side."""
import os
import socket
import stat
import threading
import time

import pytest

from device.history.store import FieldError, Store
from device.runtime.channel import (HEADER, ChannelError, ChannelServer, Decoder, _Client,
                                    encode, runtime_dir)
from device.runtime.core_proxy import CoreProxy, CoreUnavailable, HistoryReader



def wait_for(predicate, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return False


# -- framing ------------------------------------------------------------------------
def test_messages_survive_any_split_of_the_byte_stream():
    messages = [{"type": "status", "t": 1.5, "points": {"head": {"v": 2.4}}},
                {"type": "rep_completed", "t": 2.0, "rep": {"losses": []}, "note": "é ✓"},
                {"type": "reply", "id": 3, "ok": True, "result": None}]
    data = b"".join(encode(m) for m in messages)
    for chunk in (1, 2, 3, 7, len(data)):
        decoder = Decoder()
        got = []
        for i in range(0, len(data), chunk):
            got.extend(decoder.feed(data[i:i + chunk]))
        assert got == messages


def test_a_length_over_the_limit_or_not_json_is_refused():
    with pytest.raises(ChannelError, match="over the"):
        Decoder().feed(HEADER.pack(1 << 30) + b"{}")
    with pytest.raises(ChannelError, match="not JSON"):
        Decoder().feed(HEADER.pack(3) + b"{x}")
    with pytest.raises(ChannelError, match="JSON object"):
        Decoder().feed(HEADER.pack(2) + b"[]")


# -- one client's buffer ------------------------------------------------------------------
def test_a_backlogged_client_loses_status_snapshots_first_and_never_events():
    a, b = socket.socketpair()
    client = _Client(a, 1)
    status = [encode({"type": "status", "n": i}) for i in range(5)]
    event = [encode({"type": "contact_lost", "n": i}) for i in range(3)]
    limit = 10_000
    # consecutive snapshots merge: only the newest of a run waits
    assert client.queue(status[0], True, limit) and client.queue(status[1], True, limit)
    assert client.queue(event[0], False, limit)
    assert client.queue(status[2], True, limit) and client.queue(status[3], True, limit)
    assert client.queue(event[1], False, limit)
    assert [d for _, d in client.out] == [status[1], event[0], status[3], event[1]]
    assert client.status_dropped == 2
    # over the bound: every waiting snapshot goes, the events stay in order
    small = sum(len(d) for d in (event[0], event[1], event[2])) + 1
    assert client.queue(event[2], False, small)
    assert [d for _, d in client.out] == [event[0], event[1], event[2]]
    # events alone over the bound: the client is to be dropped
    assert not client.queue(encode({"type": "rep_completed", "pad": "x" * 100}), False, small)
    a.close()
    b.close()


# -- server and proxy around a real core --------------------------------------------------
@pytest.fixture
def mock_core():
    from device.hw.mock.factory import build_mock_core

    core = build_mock_core(speed=2.0)
    core.start()
    yield core
    core.close()


@pytest.fixture
def served(mock_core, tmp_path):
    store = Store(tmp_path / "history.db")
    server = ChannelServer(mock_core, tmp_path / "core.sock", store=store).start()
    yield mock_core, server, store
    server.stop()
    store.close()


def test_the_socket_is_the_service_users_alone(served, tmp_path):
    _, server, _ = served
    mode = os.stat(server.path).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
    private = runtime_dir(mock=True, env={"XDG_RUNTIME_DIR": str(tmp_path)})
    assert private.parent == tmp_path and stat.S_IMODE(os.stat(private).st_mode) == 0o700


def test_a_connection_from_another_user_is_refused(mock_core, tmp_path):
    # The kernel's SO_PEERCRED says who connected; a server for another service
    # user turns this test's process away before a single byte.
    server = ChannelServer(mock_core, tmp_path / "core.sock", allowed_uid=os.getuid() + 1).start()
    try:
        with pytest.raises(CoreUnavailable, match="did not say hello"):
            CoreProxy(server.path).connect(timeout_s=2)
        assert server.refused == 1 and server.client_count == 0
    finally:
        server.stop()


def test_a_reader_that_stops_reading_is_dropped_and_the_core_goes_on(mock_core, tmp_path):
    server = ChannelServer(mock_core, tmp_path / "core.sock", buffer_bytes=64 * 1024).start()
    try:
        stuck = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stuck.connect(str(server.path))            # and never reads
        reader = CoreProxy(server.path).connect(timeout_s=10)
        assert wait_for(lambda: server.client_count == 2)
        notes = reader.subscribe(maxsize=10_000, types={"note"})
        frames_before = mock_core.get_status()["health"]["frames"]
        blob = "x" * 8000
        got = []
        for n in range(400):                       # ~3 MB: more than any socket buffer
            mock_core.bus.publish({"type": "note", "t": 0.0, "n": n, "blob": blob})
            if n % 4 == 3:
                # A reader that keeps up: never more than 4 events (32 kB, half its
                # bound) behind, however slowly this machine runs its thread.
                assert wait_for(lambda: got.extend(e["n"] for e in notes.drain()) or len(got) > n)
        assert wait_for(lambda: server.dropped_clients == 1)
        assert server.client_count == 1
        # the reader that keeps up got every event, in order
        assert got == list(range(400))
        assert wait_for(lambda: mock_core.get_status()["health"]["frames"] > frames_before + 50)
        stuck.close()
        reader.close()
    finally:
        server.stop()


def test_history_writes_go_to_the_core_side_with_their_errors(served, tmp_path):
    _, server, store = served
    proxy = CoreProxy(server.path).connect(timeout_s=10)
    web_store = HistoryReader(Store(tmp_path / "history.db", readonly=True), proxy)
    try:
        athlete = web_store.add_athlete("Ada")
        assert athlete["name"] == "Ada"
        web_store.set_current_athlete(athlete["id"])
        assert store.current_athlete_id() == athlete["id"]          # written by the core side
        assert web_store.current_athlete_id() == athlete["id"]      # read straight from SQLite
        with pytest.raises(KeyError):
            web_store.set_current_athlete(999)
        with pytest.raises(FieldError) as caught:
            web_store.add_manual_set(athlete["id"], "kneeling_kettlebell", 0, None)
        assert caught.value.field == "reps"
        assert web_store.delete_session(12345) is False
        with pytest.raises(AttributeError):
            web_store.no_such_method()
    finally:
        proxy.close()


def test_when_the_core_side_goes_the_proxy_says_the_device_is_down(mock_core, tmp_path):
    from device.runtime.core_proxy import DEVICE_DOWN

    server = ChannelServer(mock_core, tmp_path / "core.sock").start()
    proxy = CoreProxy(server.path).connect(timeout_s=10)
    faults = proxy.subscribe(types={"fault"})
    statuses = proxy.subscribe(maxsize=1000, types={"status"})
    server.stop()
    event = faults.get(timeout=10)
    assert event is not None and event["active"] and event["message"] == DEVICE_DOWN
    # listeners also get a status saying so (the page draws from statuses)
    assert wait_for(lambda: any(s["health"]["fault"] == DEVICE_DOWN for s in statuses.drain()))
    assert proxy.get_status()["health"]["fault"] == DEVICE_DOWN
    with pytest.raises(CoreUnavailable):
        proxy.update_settings({"debounce_ms": 30})
    proxy.close()


def test_an_unknown_command_is_an_error_reply_not_a_crash(served):
    _, server, _ = served
    proxy = CoreProxy(server.path).connect(timeout_s=10)
    try:
        with pytest.raises(RuntimeError, match="unknown command"):
            proxy._call("format_the_disk")
        assert proxy.get_status()["health"]["fault"] is None      # still connected
        assert proxy.update_settings({"debounce_ms": 25}).debounce_ms == 25
    finally:
        proxy.close()


def test_the_dashboard_answers_503_for_a_change_while_the_core_is_down(mock_core, tmp_path):
    from web import create_app

    from device.runtime.core_proxy import DEVICE_DOWN

    server = ChannelServer(mock_core, tmp_path / "core.sock").start()
    proxy = CoreProxy(server.path).connect(timeout_s=10)
    client = create_app(proxy, {"TESTING": True, "TOKEN": "test-token"}).test_client()
    headers = {"X-Dowel-Token": "test-token", "Host": "127.0.0.1"}
    assert client.put("/api/settings", json={"debounce_ms": 30}, headers=headers).status_code == 200
    server.stop()
    assert wait_for(lambda: proxy.down is not None)
    r = client.put("/api/settings", json={"debounce_ms": 40}, headers=headers)
    assert r.status_code == 503 and "down" in r.get_json()["error"]
    status = client.get("/api/status", headers=headers)
    assert status.status_code == 200 and status.get_json()["health"]["fault"] == DEVICE_DOWN
    proxy.close()


def test_a_settings_reply_read_late_does_not_undo_a_newer_change(served):
    # Two phones change settings at once through one web process.  The reply to the
    # first is in, but its request thread is slow to pick it up: meanwhile the second
    # change is made and its settings event arrives.  The proxy must keep the newer
    # settings, as the core does, not put the first reply's back.
    import threading

    core, server, _ = served
    proxy = CoreProxy(server.path).connect(timeout_s=10)
    call = proxy._call
    late = []

    def slow_to_wake(op, *args, **kwargs):
        result = call(op, *args, **kwargs)
        if op == "update_settings" and not late:
            late.append(result)
            other = threading.Thread(target=proxy.update_settings, args=({"debounce_ms": 40},))
            other.start()
            other.join()
            assert wait_for(lambda: proxy.settings.debounce_ms == 40)
        return result

    proxy._call = slow_to_wake
    try:
        first = proxy.update_settings({"debounce_ms": 30})
        assert first.debounce_ms == 30                # the call still answers with its change
        assert core.settings.debounce_ms == 40
        assert proxy.settings == core.settings
        assert proxy.get_status()["exercise"] == core.settings.exercise
    finally:
        proxy.close()


def test_a_new_reader_hears_nothing_older_than_its_hello(served):
    # Events the core published just before a reader connected may still wait on
    # the channel thread when it is accepted.  They are older than its hello: sent
    # after it, a stale settings event would undo the hello's settings in the web
    # process, and a stale status would follow the fresh one.
    from device.analysis.settings import Settings

    core, server, _ = served
    accept = server._accept
    stale = {}

    def stale_events_then_accept():
        core.bus.publish({"type": "settings", "t": 0.0,
                          "settings": Settings().updated({"debounce_ms": 45}).to_dict()})
        stale.update(core.get_status(), type="status", stale=True)
        core.bus.publish(stale)
        accept()

    server._accept = stale_events_then_accept
    proxy = CoreProxy(server.path)
    statuses = proxy.subscribe(maxsize=10_000, types={"status"})
    try:
        proxy.connect(timeout_s=10)
        assert proxy.settings == core.settings
        # Events reach a reader in order: once a status newer than the stale one
        # is in, the stale one would have come before it.
        got = []
        assert wait_for(lambda: got.extend(statuses.drain()) or
                        any(s["health"]["frames"] > stale["health"]["frames"] for s in got))
        assert not any(s.get("stale") for s in got)
        assert proxy.settings == core.settings
    finally:
        proxy.close()


def test_a_stop_ends_the_wait_for_a_core_that_is_not_there_yet(tmp_path):
    # the web process told to stop while the core process still starts: it
    # stops at once instead of retrying for the whole connect timeout
    stop = threading.Event()
    proxy = CoreProxy(tmp_path / "no-core-yet.sock")
    threading.Timer(0.2, stop.set).start()
    with pytest.raises(CoreUnavailable, match="stopped while waiting"):
        proxy.connect(timeout_s=600, stop=stop)


def test_a_history_write_under_way_finishes_before_stop_returns(mock_core, tmp_path):
    # The core process closes the store right after the channel stops: a write a
    # phone started just before must be done by then, not closed under.
    store = Store(tmp_path / "history.db")
    server = ChannelServer(mock_core, tmp_path / "core.sock", store=store).start()
    proxy = CoreProxy(server.path).connect(timeout_s=10)
    web_store = HistoryReader(Store(tmp_path / "history.db", readonly=True), proxy)
    inside, returned, order = threading.Event(), threading.Event(), []
    real_add = store.add_athlete

    def slow_add(*args, **kwargs):
        inside.set()
        assert wait_for(server._stop.is_set)
        returned.wait(1.0)                 # on a stop that does not wait, it has returned by now
        result = real_add(*args, **kwargs)
        order.append("written")
        return result

    def add_from_a_phone():
        try:
            web_store.add_athlete("Ada")
        except CoreUnavailable:
            pass                           # the reply cannot come back: the channel is gone

    store.add_athlete = slow_add
    writer = threading.Thread(target=add_from_a_phone, daemon=True)
    writer.start()
    try:
        assert inside.wait(10)
        server.stop()
        order.append("stopped")
        returned.set()
        assert wait_for(lambda: len(order) == 2)
        assert order == ["written", "stopped"]
        assert "Ada" in [a["name"] for a in store.athletes()]
    finally:
        returned.set()
        proxy.close()
        store.close()
