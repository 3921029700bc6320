"""No request can break the device: every bad input is a 4xx that changes nothing,
stream slots cannot be hoarded, the headers keep other sites out, and the
Werkzeug debugger is never served.  Each test here is one defect found by
probing the old code as a hostile or careless user on the local network would."""
from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import TEST_TOKEN, FakeCore

from device.analysis.settings import Settings, SettingsError
from device.history.store import Store
from web import create_app
from web.server import development_server, make_server

SAMPLE = Path(__file__).parent / "data" / "sloppy-two-sets.csv"
T0 = 1_790_000_000.0

GOOD_CALIBRATION = {
    "points": {p: {"rest_v": 2.4, "off_v": 1.08, "on_v": 1.44} for p in ("head", "upper_back", "sacrum")},
    "tilt_upright_v": 1.66, "taken_at": T0,
}


def calibration_with(point: str, key: str, value) -> dict:
    cal = json.loads(json.dumps(GOOD_CALIBRATION))
    cal["points"][point][key] = value
    return cal


@pytest.fixture
def mock_device(tmp_path):
    """A real core on the emulated chip with its settings file, and its app (paired client)."""
    from device.hw.mock.factory import build_mock_core
    from device.runtime.settings_store import SettingsStore

    settings_store = SettingsStore(tmp_path / "settings.json")
    core = build_mock_core(settings_store=settings_store)
    app = create_app(core, {"TESTING": True, "TOKEN": TEST_TOKEN})
    client = app.test_client()
    client.environ_base["HTTP_X_DOWEL_TOKEN"] = TEST_TOKEN
    yield core, settings_store.path, client
    core.alerts.close()


def put_settings(client, text: str):
    return client.put("/api/settings", data=text, content_type="application/json")


# -- 1 and 2: a calibration with strings or NaN -----------------------------------------------
@pytest.mark.parametrize("body, field", [
    (json.dumps({"calibration": calibration_with("head", "rest_v", "2.4")}), "calibration.points.head.rest_v"),
    (json.dumps({"calibration": calibration_with("sacrum", "off_v", "low")}), "calibration.points.sacrum.off_v"),
    (json.dumps({"calibration": calibration_with("upper_back", "on_v", None)}),
     "calibration.points.upper_back.on_v"),
    (json.dumps({"calibration": calibration_with("head", "off_v", float("nan"))}),
     "calibration.points.head.off_v"),
    (json.dumps({"calibration": calibration_with("head", "on_v", float("inf"))}),
     "calibration.points.head.on_v"),
    (json.dumps({"calibration": calibration_with("head", "rest_v", 1e300)}), "calibration.points.head.rest_v"),
    (json.dumps({"calibration": calibration_with("head", "off_v", 3.0)}), "calibration.points.head"),
    (json.dumps({"calibration": {**GOOD_CALIBRATION, "tilt_upright_v": "level"}}),
     "calibration.tilt_upright_v"),
    (json.dumps({"calibration": {**GOOD_CALIBRATION, "taken_at": float("nan")}}), "calibration.taken_at"),
    (json.dumps({"calibration": {"points": {"head": {}}, "tilt_upright_v": 1.6}}), "calibration.points.head"),
    (json.dumps({"calibration": []}), "calibration"),
    (json.dumps({"debounce_ms": 30, "calibration": calibration_with("head", "rest_v", "x")}),
     "calibration.points.head.rest_v"),
], ids=["string-rest", "word-off", "null-on", "nan-off", "inf-on", "huge-rest", "off-above-on",
        "string-tilt", "nan-time", "empty-point", "array", "with-another-change"])
def test_a_bad_calibration_is_a_400_and_nothing_is_stored_or_applied(mock_device, body, field):
    core, settings_file, client = mock_device
    before = core.settings
    r = put_settings(client, body)
    assert r.status_code == 400, r.get_data(as_text=True)
    assert r.get_json()["field"].startswith(field), r.get_json()
    assert core.settings == before and core.settings.calibration is None
    assert not settings_file.exists()            # nothing was written


def test_nan_thresholds_are_refused_by_the_settings_themselves():
    """Whatever the route (page, settings file, command line): no NaN threshold."""
    for value in (float("nan"), float("inf"), "2.0", None, True):
        with pytest.raises(SettingsError) as err:
            Settings().updated({"calibration": calibration_with("sacrum", "off_v", value)})
        assert err.value.field == "calibration.points.sacrum.off_v"


def test_a_good_calibration_through_the_api_is_stored_and_applied(mock_device):
    core, settings_file, client = mock_device
    r = client.put("/api/settings", json={"calibration": GOOD_CALIBRATION})
    assert r.status_code == 200, r.get_json()
    assert core.settings.calibration.points["head"].off_v == 1.08
    assert json.loads(settings_file.read_text())["calibration"]["points"]["head"]["on_v"] == 1.44


def test_after_a_refused_calibration_the_device_still_alerts_on_the_sample(mock_device):
    from device.sim.replay import replay_frames
    from device.sim.trace import read_trace

    core, _, client = mock_device
    for bad in ("2.4", float("nan")):
        r = put_settings(client, json.dumps({"calibration": calibration_with("head", "off_v", bad)}))
        assert r.status_code == 400
    doc = replay_frames(read_trace(SAMPLE), core.settings)
    assert len(doc["sets"]) == 2 and sum(len(s["reps"]) for s in doc["sets"]) == 20
    assert len(doc["alerts"]) >= 4


# -- 5: numbers and ids that do not fit, deep nesting, names ----------------------------------------
@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "h.db")
    set_id = s.start_set(s.current_athlete_id(), "standing_3point", T0)
    s.add_rep(set_id, {"start": T0 + 1, "end": T0 + 3, "depth_deg": 40.0, "down_s": 1.2, "up_s": 1.1,
                       "clean": True, "losses": []})
    s.end_set(set_id, T0 + 10)
    yield s
    s.close()


@pytest.fixture
def history_client(store):
    app = create_app(FakeCore(), {"TESTING": True, "TOKEN": TEST_TOKEN}, store=store)
    client = app.test_client()
    client.environ_base["HTTP_X_DOWEL_TOKEN"] = TEST_TOKEN
    return client


@pytest.mark.parametrize("digits", [20, 400, 5000])
@pytest.mark.parametrize("field", ["debounce_ms", "min_depth_deg", "data_rate", "sensitivity"])
def test_an_integer_too_large_in_a_numeric_setting_is_a_400(client, fake_core, digits, field):
    before = fake_core.settings
    r = put_settings(client, '{"%s": %s}' % (field, "9" * digits))
    assert r.status_code == 400
    assert r.get_json()["field"] == field
    assert fake_core.settings is before
    r = put_settings(client, '{"%s": -%s}' % (field, "9" * digits))
    assert r.status_code == 400


@pytest.mark.parametrize("body", ['{"reps": %s, "exercise": "standing_kettlebell"}',
                                  '{"reps": 10, "exercise": "standing_kettlebell", "weight_kg": %s}'])
@pytest.mark.parametrize("digits", [400, 5000])
def test_an_integer_too_large_in_a_manual_set_is_a_400(history_client, store, body, digits):
    before = store.list_sessions()[1]
    r = history_client.post("/api/manual-sets", data=body % ("9" * digits), content_type="application/json")
    assert r.status_code == 400 and r.get_json()["field"] in ("reps", "weight_kg")
    assert store.list_sessions()[1] == before


@pytest.mark.parametrize("value", ["9" * 20, "18446744073709551616", "9223372036854775808", "0",
                                   "9" * 400, "9" * 5000])
def test_ids_beyond_63_bits_in_a_route_are_a_400(history_client, value):
    for method, url in (("GET", "/api/sessions/{}"), ("GET", "/api/sets/{}"), ("DELETE", "/api/sessions/{}")):
        r = history_client.open(url.format(value), method=method)
        assert r.status_code == 400, (method, url, r.status_code)
        assert r.get_json()["field"] == "id"
    assert history_client.get("/api/sessions/9223372036854775807").status_code == 404   # largest id: none


@pytest.mark.parametrize("value", ["9" * 20, "18446744073709551616", "9" * 400, "9" * 5000, "0", "-3",
                                   '"1"', "1.5", "true", "null"])
def test_ids_beyond_63_bits_in_a_body_are_a_400(history_client, store, value):
    current = store.current_athlete_id()
    r = history_client.put("/api/athletes/current", data='{"id": %s}' % value, content_type="application/json")
    assert r.status_code == 400, value
    assert r.get_json()["field"] == "id"
    assert store.current_athlete_id() == current


@pytest.mark.parametrize("url", ["/api/sessions?limit=" + "9" * 400, "/api/reps?session=" + "9" * 5000,
                                 "/api/history?athlete=" + "9" * 30, "/api/sessions?offset=1e400"])
def test_huge_numbers_in_a_query_are_a_400(history_client, url):
    r = history_client.get(url)
    assert r.status_code == 400 and r.get_json()["field"]


@pytest.mark.parametrize("shape", ["[" * 30000 + "]" * 30000, '{"a":' * 6000 + "1" + "}" * 6000,
                                   '{"debounce_ms": ' + "[" * 20 + "]" * 20 + "}"])
def test_deeply_nested_json_is_a_400(client, fake_core, shape):
    before = fake_core.settings
    r = put_settings(client, shape)
    assert r.status_code == 400, r.status_code
    assert "nested" in r.get_json()["error"]
    assert fake_core.settings is before


def test_brackets_inside_strings_do_not_count_as_nesting(client):
    r = put_settings(client, json.dumps({"exercise": "[" * 200 + '\\"{' * 50}))
    assert r.status_code == 400 and r.get_json()["field"] == "exercise"   # refused as an exercise, not as JSON


def test_export_of_an_unknown_athlete_is_a_404_like_history(history_client):
    for url in ("/api/history?athlete=999", "/api/export?athlete=999", "/api/export?format=json&athlete=999"):
        r = history_client.get(url)
        assert r.status_code == 404, url
        assert r.get_json()["field"] == "athlete"


@pytest.mark.parametrize("name", ["Eve\x00", "\x1b[2J\x1b[31mred", "two\nlines", "tab\there", "bell\x07",
                                  "x" * 61, "", "   "])
def test_an_athlete_name_must_be_printable_and_short(history_client, store, name):
    before = store.athletes()
    r = history_client.post("/api/athletes", json={"name": name})
    assert r.status_code == 400, name
    assert r.get_json()["field"] == "name"
    assert store.athletes() == before


def test_a_printable_name_with_accents_is_fine(history_client):
    r = history_client.post("/api/athletes", json={"name": "Zoë Ångström-Núñez"})
    assert r.status_code == 201


# -- 8: stream slots cannot be hoarded -------------------------------------------------------------------
def test_one_address_holds_at_most_a_few_streams_and_the_503_says_why(fake_core):
    app = create_app(fake_core, {"TESTING": True, "STREAMS_PER_CLIENT": 4, "MAX_STREAMS": 28})
    hoarder = app.test_client()
    hoarder.environ_base["REMOTE_ADDR"] = "192.0.2.10"
    held = [hoarder.get("/api/stream", buffered=False) for _ in range(4)]
    assert [r.status_code for r in held] == [200] * 4
    refused = hoarder.get("/api/stream")
    assert refused.status_code == 503
    assert "this phone already has 4 live views open" in refused.get_json()["error"]
    # another phone still gets its live view
    phone = app.test_client()
    phone.environ_base["REMOTE_ADDR"] = "192.0.2.11"
    other = phone.get("/api/stream", buffered=False)
    assert other.status_code == 200
    other.close()
    held[0].close()
    again = hoarder.get("/api/stream", buffered=False)
    assert again.status_code == 200
    for r in held[1:] + [again]:
        r.close()
    assert fake_core.bus.subscriber_count == 0


def wait_for(cond, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def test_clients_that_do_not_read_are_dropped_and_free_their_slots(fake_core):
    """28 sockets that open the stream and never read held every slot; now the
    write timeout drops them and the next phone is served."""
    app = create_app(fake_core, {"STREAM_STATUS_HZ": 200.0, "STREAMS_PER_CLIENT": 64})
    server = make_server(app, host="127.0.0.1", port=0, threads=8, write_timeout_s=0.5)
    threading.Thread(target=server.run, daemon=True).start()
    streams = app.extensions["dowel_streams"]
    slots = app.config["MAX_STREAMS"]
    hoard = []
    stop = threading.Event()

    def publish():       # large snapshots, so unread bytes pile up quickly
        pad = "x" * 4000
        while not stop.is_set():
            fake_core.publish({**fake_core.status, "type": "status", "pad": pad})
            time.sleep(0.005)

    pump = threading.Thread(target=publish, daemon=True)
    try:
        for _ in range(slots):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(("127.0.0.1", server.port))
            s.sendall(b"GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            hoard.append(s)
        assert wait_for(lambda: streams.open == slots)
        pump.start()
        assert wait_for(lambda: streams.open == 0), f"{streams.open} hoarded streams still open"
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/api/stream", timeout=10) as phone:
            assert phone.status == 200
            assert b"event: status" in phone.read(8192) or b"retry:" in phone.read(1)
    finally:
        stop.set()
        for s in hoard:
            s.close()
        server.close()


# -- 9: headers, Host, debugger -----------------------------------------------------------------------------
@pytest.mark.parametrize("url", ["/", "/static/app.js", "/api/status", "/api/nope", "/favicon.ico"])
def test_every_answer_carries_the_security_headers(client, url):
    r = client.get(url)
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "no-referrer"


def test_the_page_has_no_inline_script_or_style_the_csp_would_block():
    html = (Path(__file__).parents[1] / "web" / "static" / "index.html").read_text()
    import re

    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert "style=" not in html and "<style" not in html and " on" + "click=" not in html


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "dowel.local.evil.example",
                                  "203.0.113.9", "203.0.113.9:8080", "[2001:db8::1]:8080", "localhost.evil"])
def test_a_host_that_is_not_the_device_is_421(client, fake_core, host):
    for method, url in (("GET", "/api/history"), ("GET", "/api/status"), ("GET", "/"),
                        ("PUT", "/api/settings")):
        r = client.open(url, method=method, headers={"Host": host}, json={"debounce_ms": 30})
        assert r.status_code == 421, (host, url)
        assert r.get_json()["field"] == "host"
    assert fake_core.settings.debounce_ms == 20.0


def test_the_devices_own_names_and_addresses_are_served(fake_core):
    app = create_app(fake_core, {"TESTING": True, "ALLOWED_HOSTS": ["dowel.gym.example"]})
    client = app.test_client()
    hostname = socket.gethostname()
    for host in ("localhost", "localhost:8080", "127.0.0.1:8080", "127.0.0.2", "[::1]:8080", hostname,
                 f"{hostname}.local:8080", "DOWEL.gym.example", "dowel.gym.example.:8080"):
        assert client.get("/api/status", headers={"Host": host}).status_code == 200, host


def test_an_address_the_device_gets_later_is_served(fake_core, monkeypatch):
    from web import security

    monkeypatch.setattr(security, "REFRESH_S", 0.0)
    addresses = {"198.51.100.7"}
    app = create_app(fake_core, {"TESTING": True})
    app.extensions["dowel_hosts"] = security.HostNames(addresses=lambda: set(addresses))
    client = app.test_client()
    assert client.get("/api/status", headers={"Host": "198.51.100.7:8080"}).status_code == 200
    assert client.get("/api/status", headers={"Host": "198.51.100.8:8080"}).status_code == 421
    addresses.add("198.51.100.8")                     # DHCP handed out a new address
    assert client.get("/api/status", headers={"Host": "198.51.100.8:8080"}).status_code == 200


def test_the_werkzeug_debugger_is_never_served(fake_core, monkeypatch):
    """FLASK_DEBUG=1 with --debug used to serve the interactive debugger on a 500."""
    monkeypatch.setenv("FLASK_DEBUG", "1")
    app = create_app(fake_core, {"DEBUG": True})
    assert app.debug is False

    @app.get("/api/boom")
    def boom():
        raise RuntimeError("secret internals")

    server = development_server(app, host="127.0.0.1", port=0)
    threading.Thread(target=server.run, daemon=True).start()
    try:
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}/api/boom", timeout=10)
        assert err.value.code == 500
        text = err.value.read().decode()
        assert json.loads(text)["error"] and "secret internals" not in text
        assert "Traceback" not in text and "debugger" not in text.lower()
        # the debugger's own resources are not there either: the page answers instead
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/?__debugger__=yes&cmd=resource&f=style.css",
                                    timeout=10) as page:
            assert "/static/app.js" in page.read().decode()
    finally:
        server.close()


def test_a_500_is_json_without_a_traceback(fake_core):
    app = create_app(fake_core, {"TOKEN": TEST_TOKEN})

    def broken():
        raise RuntimeError("disk on fire")

    fake_core.get_status = broken
    r = app.test_client().get("/api/status")
    assert r.status_code == 500
    assert "internal error" in r.get_json()["error"] and "disk on fire" not in r.get_data(as_text=True)

