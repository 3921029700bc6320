"""Who may do what: watching is open, every change and the export need the device token."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from conftest import TEST_TOKEN, FakeCore
from flask import Blueprint

from device.history import export
from device.history.store import Store
from web import create_app

T0 = 1_790_000_000.0


@pytest.fixture(scope="module")
def one_set_db(tmp_path_factory):
    """A closed history file with one set of one rep, made once for the module."""
    path = tmp_path_factory.mktemp("history") / "h.db"
    with Store(path) as s:
        set_id = s.start_set(s.current_athlete_id(), "standing_3point", T0)
        s.add_rep(set_id, {"start": T0 + 1, "end": T0 + 3, "depth_deg": 40.0, "down_s": 1.2, "up_s": 1.1,
                           "clean": True, "losses": []})
        s.end_set(set_id, T0 + 10)
    return path


@pytest.fixture
def store(tmp_path, one_set_db):
    # each test its own copy of the file: a byte copy instead of four commits
    shutil.copyfile(one_set_db, tmp_path / "h.db")
    s = Store(tmp_path / "h.db")
    yield s
    s.close()


@pytest.fixture
def core():
    return FakeCore()


@pytest.fixture
def app(core, store):
    return create_app(core, {"TESTING": True, "TOKEN": TEST_TOKEN, "CALIBRATE_S": 1.0}, store=store)


def state(core, store) -> tuple:
    """Everything a change could touch."""
    return (json.dumps(core.settings.to_dict(), sort_keys=True), len(core.calibrate_calls),
            json.dumps(export.records(store), sort_keys=True), json.dumps(store.athletes(), sort_keys=True),
            store.current_athlete_id())


def session_id(store) -> int:
    return store.list_sessions()[0][0]["id"]


#: Every request that changes something or hands out personal data.
GUARDED = [
    ("PUT", "/api/settings", {"debounce_ms": 35}),
    ("PUT", "/api/settings", {"exercise": "kneeling_3point"}),
    ("POST", "/api/calibrate", None),
    ("POST", "/api/calibrate", {"duration_s": 1}),
    ("POST", "/api/athletes", {"name": "Maya", "current": True}),
    ("PUT", "/api/athletes/current", {"id": 1}),
    ("POST", "/api/manual-sets", {"exercise": "standing_kettlebell", "reps": 10}),
    ("DELETE", "/api/sessions/{session}", None),
    ("GET", "/api/export?format=csv", None),
    ("GET", "/api/export?format=json", None),
    ("GET", "/api/pairing.svg", None),
]


def send(client, method, url, body, store, headers=None):
    url = url.format(session=session_id(store))
    kwargs = {"headers": headers or {}}
    if body is not None:
        kwargs.update(data=json.dumps(body), content_type="application/json")
    return client.open(url, method=method, **kwargs)


@pytest.mark.parametrize("method, url, body", GUARDED, ids=[f"{m} {u} {b}" for m, u, b in GUARDED])
@pytest.mark.parametrize("token", [None, "", "wrong-token-0123456789ab", TEST_TOKEN[:-1],
                                   TEST_TOKEN + "x", TEST_TOKEN.upper()],
                         ids=["missing", "empty", "wrong", "short", "long", "case"])
def test_every_change_and_export_is_refused_without_the_token(app, core, store, method, url, body, token):
    before = state(core, store)
    headers = {} if token is None else {"X-Dowel-Token": token}
    r = send(app.test_client(), method, url, body, store, headers)
    assert r.status_code == 401, r.get_data(as_text=True)
    err = r.get_json()
    assert err["field"] == "token" and ("paired" in err["error"] or "wrong" in err["error"])
    assert state(core, store) == before


@pytest.mark.parametrize("method, url, body", GUARDED, ids=[f"{m} {u} {b}" for m, u, b in GUARDED])
def test_the_same_requests_work_with_the_token(app, core, store, method, url, body):
    r = send(app.test_client(), method, url, body, store, {"X-Dowel-Token": TEST_TOKEN})
    assert r.status_code in (200, 201), r.get_data(as_text=True)


def test_a_token_in_a_form_field_or_the_query_is_not_the_token(app, core, store):
    client = app.test_client()
    before = state(core, store)
    assert client.delete(f"/api/sessions/{session_id(store)}", data={"token": TEST_TOKEN}).status_code == 401
    assert client.put(f"/api/settings?token={TEST_TOKEN}", json={"debounce_ms": 30}).status_code == 401
    assert client.get(f"/api/export?token={TEST_TOKEN}").status_code == 401
    assert state(core, store) == before


def test_watching_needs_no_token(app, store):
    client = app.test_client()
    for url in ("/", "/static/app.js", "/api/status", "/api/settings", "/api/options", "/api/history",
                "/api/sessions", "/api/sessions/current", f"/api/sessions/{session_id(store)}",
                "/api/reps", "/api/athletes"):
        assert client.get(url).status_code == 200, url
    stream = client.get("/api/stream", buffered=False)
    assert stream.status_code == 200
    stream.close()


def test_an_app_without_a_token_refuses_every_change(core, store):
    client = create_app(core, {"TESTING": True}, store=store).test_client()
    before = state(core, store)
    for headers in ({}, {"X-Dowel-Token": ""}, {"X-Dowel-Token": "None"}):
        assert client.put("/api/settings", json={"debounce_ms": 30}, headers=headers).status_code == 401
    assert state(core, store) == before


def test_a_text_plain_post_is_refused_with_415(app, core, store):
    """A form on another site can send text/plain without a preflight: never accepted."""
    client = app.test_client()
    client.environ_base["HTTP_X_DOWEL_TOKEN"] = TEST_TOKEN
    before = state(core, store)
    for method, url, body in GUARDED:
        if method == "GET":
            continue
        r = client.open(url.format(session=session_id(store)), method=method,
                        data=json.dumps(body or {}), content_type="text/plain")
        assert r.status_code == 415, (method, url)
        assert "application/json" in r.get_json()["error"]
    r = client.post("/api/athletes", data="name=Eve", content_type="application/x-www-form-urlencoded")
    assert r.status_code == 415
    r = client.post("/api/athletes", data=b"name=Eve&current=true",
                    content_type="multipart/form-data; boundary=x")
    assert r.status_code == 415
    assert state(core, store) == before


def test_no_cors_headers_so_another_site_cannot_read_or_send(app):
    client = app.test_client()
    evil = {"Origin": "http://evil.example"}
    r = client.get("/api/history", headers=evil)
    assert "Access-Control-Allow-Origin" not in r.headers
    preflight = client.options("/api/settings", headers={**evil, "Access-Control-Request-Method": "PUT",
                                                         "Access-Control-Request-Headers": "x-dowel-token"})
    assert not [h for h in preflight.headers.keys() if h.lower().startswith("access-control-")]


def test_request_bodies_are_size_capped(app, core):
    client = app.test_client()
    client.environ_base["HTTP_X_DOWEL_TOKEN"] = TEST_TOKEN
    big = json.dumps({"debounce_ms": 30, "pad": "x" * (70 * 1024)})
    r = client.put("/api/settings", data=big, content_type="application/json")
    assert r.status_code == 413 and r.get_json()["error"]
    assert core.settings.debounce_ms == 20.0


def test_the_token_is_compared_in_constant_time(app, monkeypatch):
    import secrets

    calls = []
    real = secrets.compare_digest
    monkeypatch.setattr(secrets, "compare_digest", lambda a, b: calls.append((a, b)) or real(a, b))
    r = app.test_client().put("/api/settings", json={"debounce_ms": 30}, headers={"X-Dowel-Token": "nope"})
    assert r.status_code == 401
    assert calls == [(TEST_TOKEN.encode(), b"nope")]


def test_a_blueprint_added_later_gets_the_rule_for_free(core, store):
    """The coach's plan and view blueprints register after create_app: one rule covers them."""
    app = create_app(core, {"TESTING": True, "TOKEN": TEST_TOKEN}, store=store)
    extra = Blueprint("extra", __name__)
    changed = []

    @extra.post("/api/plan")
    def plan_change():
        changed.append(1)
        return {"ok": True}

    app.register_blueprint(extra)
    client = app.test_client()
    assert client.post("/api/plan", json={}).status_code == 401
    assert client.post("/api/plan", json={}, headers={"X-Dowel-Token": "bad"}).status_code == 401
    assert changed == []
    assert client.post("/api/plan", json={}, headers={"X-Dowel-Token": TEST_TOKEN}).status_code == 200
    assert changed == [1]


# -- pairing --------------------------------------------------------------------------------
def test_the_pairing_qr_code_opens_the_page_with_the_token(app):
    client = app.test_client()
    r = client.get("/api/pairing.svg", headers={"X-Dowel-Token": TEST_TOKEN, "Host": "127.0.0.1:8080"})
    assert r.status_code == 200 and r.mimetype == "image/svg+xml"
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["X-Pairing-Url"] == f"http://127.0.0.1:8080/#token={TEST_TOKEN}"
    svg = r.get_data(as_text=True)
    assert svg.startswith("<svg") and "<path" in svg


@pytest.mark.slow
def test_dowel_token_prints_the_token_link_and_a_qr_code(tmp_path):
    from device.runtime.token import load_or_create_token

    token = load_or_create_token(tmp_path)
    result = subprocess.run([sys.executable, "-m", "device.cli", "token", "--qr", "--host", "dowel.local",
                             "--data-dir", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == token
    assert lines[1] == f"Pair a phone: http://dowel.local:8080/#token={token}"
    qr = lines[2:]
    assert len(qr) > 10 and all("█" in line or "▀" in line or "▄" in line for line in qr)
    plain = subprocess.run([sys.executable, "-m", "device.cli", "token", "--data-dir", str(tmp_path)],
                           capture_output=True, text=True, timeout=60)
    assert plain.stdout.strip() == token


@pytest.mark.slow
def test_a_token_path_that_is_a_directory_is_a_clear_error(tmp_path):
    (tmp_path / "token").mkdir()
    result = subprocess.run([sys.executable, "-m", "device.cli", "token", "--data-dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "is a directory" in result.stderr and "Traceback" not in result.stderr


def test_pairing_url_brackets_an_ipv6_address():
    from device.runtime.token import pairing_url

    assert pairing_url("192.168.1.5", 8080, "abc") == "http://192.168.1.5:8080/#token=abc"
    assert pairing_url("fe80::1", 8080, "abc") == "http://[fe80::1]:8080/#token=abc"


@pytest.mark.slow
def test_dowel_run_prints_the_token_and_the_pairing_link(tmp_path):
    import os

    from device.runtime.token import load_or_create_token

    token = load_or_create_token(tmp_path / "data")
    proc = subprocess.Popen([sys.executable, "-m", "device.cli", "run", "--mock", "--host", "127.0.0.1",
                             "--port", "0", "--no-history", "--quiet", "--data-dir", str(tmp_path / "data")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("Pair a phone:") or len(lines) > 40:
                break
    finally:
        proc.terminate()
        proc.wait(20)
    dashboard = next(x for x in lines if x.startswith("Dashboard: ")).split(" ", 1)[1]
    assert f"Device token (every change from the page needs it): {token}" in lines
    pair = next(x for x in lines if x.startswith("Pair a phone:"))
    assert f"{dashboard}#token={token}" in pair
