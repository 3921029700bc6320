"""The history endpoints through Flask's test client."""

import json

import pytest
from conftest import TEST_TOKEN

from device.history import export
from device.history.store import Store
from web import create_app

T0 = 1_790_000_000.0
DAY = 86400.0
TOKEN = TEST_TOKEN


class FakeCore:
    """The part of DowelCore the history endpoints read."""

    def __init__(self):
        self.history = "ok"

    def get_status(self):
        return {"health": {"history": self.history}}


def fill(store, days=3, reps=10):
    a = store.current_athlete_id()
    for day in range(days):
        for n in range(2):
            base = T0 + day * DAY + n * 100
            set_id = store.start_set(a, "standing_3point", base)
            for i in range(reps):
                losses = [{"point": "sacrum", "start": base + i * 4 + 1, "duration_s": 0.4}] if i == 0 else []
                store.add_rep(set_id, {"start": base + i * 4, "end": base + i * 4 + 3,
                                       "depth_deg": 40 + day, "down_s": 1.5, "up_s": 1.2,
                                       "clean": not losses, "losses": losses})
            store.end_set(set_id, base + 60)


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "h.db")
    yield s
    s.close()


@pytest.fixture
def core():
    return FakeCore()


@pytest.fixture
def app(store, core):
    # conftest's ``client`` (paired) and ``stranger`` are made from this app
    return create_app(core, {"TOKEN": TOKEN, "TESTING": True}, store=store)


def test_history_summary_trends_and_progression(client, store, core):
    fill(store)
    core.history = "history is not being saved: database or disk is full"
    doc = client.get("/api/history").get_json()
    assert doc["sessions"] == 3 and doc["reps"] == 60 and doc["clean_pct"] == 90.0
    assert [s["overall"]["depth_mean_deg"] for s in doc["trends"]["sessions"]] == [40.0, 41.0, 42.0]
    assert doc["trends"]["most_lost_point"] == "sacrum"
    # three comfortable standing-only sessions in a row: on to the deadlift
    assert doc["progression"]["stage"] == "deadlift" and doc["progression"]["reason"]
    assert doc["saving"].startswith("history is not being saved")


def test_sessions_paging_and_bad_values(client, store):
    fill(store, days=5, reps=2)
    first = client.get("/api/sessions?limit=2").get_json()
    assert first["total"] == 5 and len(first["sessions"]) == 2 and first["offset"] == 0
    last = client.get("/api/sessions?limit=2&offset=4").get_json()
    assert len(last["sessions"]) == 1
    assert last["sessions"][0]["day"] < first["sessions"][1]["day"]
    for query, field in (("limit=0", "limit"), ("limit=abc", "limit"), ("limit=501", "limit"),
                         ("offset=-1", "offset"), ("offset=1.5", "offset"), ("athlete=99", "athlete")):
        r = client.get(f"/api/sessions?{query}")
        assert r.status_code in (400, 404), query
        body = r.get_json()
        assert body["field"] == field and field in body["error"]


def test_session_set_and_reps(client, store):
    fill(store, days=1, reps=3)
    session_id = store.list_sessions()[0][0]["id"]
    doc = client.get(f"/api/sessions/{session_id}").get_json()
    assert len(doc["sets"]) == 2 and doc["sets"][0]["rep_count"] == 3
    assert doc["trends"]["overall"]["reps"] == 6
    set_id = doc["sets"][1]["id"]
    the_set = client.get(f"/api/sets/{set_id}").get_json()
    assert the_set["number"] == 2 and the_set["reps"][0]["losses"][0]["point"] == "sacrum"
    reps = client.get(f"/api/reps?session={session_id}&limit=4&offset=0").get_json()
    assert reps["total"] == 6 and len(reps["reps"]) == 4 and reps["reps"][0]["exercise"] == "standing_3point"
    assert client.get("/api/reps?session=x").get_json()["field"] == "session"
    for url in ("/api/sessions/999", "/api/sets/999", "/api/reps?session=999"):
        r = client.get(url)
        assert r.status_code == 404 and r.get_json()["error"]


def test_current_session(client, store):
    empty = client.get("/api/sessions/current").get_json()
    assert empty["id"] is None and empty["sets"] == [] and empty["athlete"] == "athlete"
    import time
    set_id = store.start_set(store.current_athlete_id(), "kneeling_3point", time.time())
    doc = client.get("/api/sessions/current").get_json()
    assert doc["sets"][0]["id"] == set_id and doc["sets"][0]["end"] is None
    assert doc["athlete"] == "athlete" and doc["day"] == empty["day"]


def test_delete_needs_the_token(stranger, store):
    fill(store, days=2, reps=2)
    session_id = store.list_sessions()[0][0]["id"]
    r = stranger.delete(f"/api/sessions/{session_id}")
    assert r.status_code == 401 and r.get_json()["field"] == "token"
    r = stranger.delete(f"/api/sessions/{session_id}", headers={"X-Dowel-Token": "wrong"})
    assert r.status_code == 401 and "wrong" in r.get_json()["error"]
    # the token goes in the header only: a form field (what a cross-site form could send) is not it
    r = stranger.delete(f"/api/sessions/{session_id}", data={"token": TOKEN})
    assert r.status_code == 401
    assert store.get_session(session_id) is not None
    r = stranger.delete(f"/api/sessions/{session_id}", headers={"X-Dowel-Token": TOKEN})
    assert r.status_code == 200 and r.get_json() == {"deleted": session_id}
    assert store.get_session(session_id) is None
    r = stranger.delete(f"/api/sessions/{session_id}", headers={"X-Dowel-Token": TOKEN})
    assert r.status_code == 404


def test_delete_refused_when_the_app_has_no_token(store, core):
    fill(store, days=1, reps=1)
    client = create_app(core, {"TESTING": True}, store=store).test_client()
    session_id = store.list_sessions()[0][0]["id"]
    assert client.delete(f"/api/sessions/{session_id}", headers={"X-Dowel-Token": ""}).status_code == 401
    assert store.get_session(session_id) is not None


def test_athletes(client, store):
    doc = client.get("/api/athletes").get_json()
    assert [a["name"] for a in doc["athletes"]] == ["athlete"] and doc["current"] == 1
    r = client.post("/api/athletes", json={"name": "Maya", "current": True})
    assert r.status_code == 201 and r.get_json()["current"] is True
    maya = r.get_json()["id"]
    assert client.get("/api/athletes").get_json()["current"] == maya
    for body, field in (({"name": "Maya"}, "name"), ({"name": ""}, "name"), ({"name": 3}, "name"),
                        ({"name": "X", "current": "yes"}, "current")):
        r = client.post("/api/athletes", json=body)
        assert r.status_code == 400 and r.get_json()["field"] == field
    assert client.post("/api/athletes", data="nope").get_json()["field"] == "body"
    assert client.put("/api/athletes/current", json={"id": 1}).status_code == 200
    assert client.put("/api/athletes/current", json={"id": 42}).status_code == 404


def test_manual_sets(client, store):
    r = client.post("/api/manual-sets", json={"exercise": "kneeling_kettlebell", "reps": 10, "weight_kg": 12})
    assert r.status_code == 201
    body = r.get_json()
    assert body["manual"] is True and body["rep_count"] == 10 and body["weight_kg"] == 12.0
    assert client.post("/api/manual-sets", json={"exercise": "standing_kettlebell", "reps": 8}).status_code == 201
    session = client.get("/api/sessions/current").get_json()
    assert session["manual_reps"] == 18
    for body, field in (({"exercise": "deadlift", "reps": 10}, "exercise"),
                        ({"exercise": "standing_kettlebell", "reps": 0}, "reps"),
                        ({"exercise": "standing_kettlebell", "reps": 51}, "reps"),
                        ({"exercise": "standing_kettlebell", "reps": "10"}, "reps"),
                        ({"exercise": "standing_kettlebell", "reps": True}, "reps"),
                        ({"exercise": "standing_kettlebell"}, "reps"),
                        ({"exercise": "standing_kettlebell", "reps": 5, "weight_kg": "heavy"}, "weight_kg"),
                        ({"exercise": "standing_kettlebell", "reps": 5, "colour": "red"}, "colour")):
        r = client.post("/api/manual-sets", json=body)
        assert r.status_code == 400, body
        assert r.get_json()["field"] == field


def test_export_download(client, store):
    fill(store, days=2, reps=3)
    r = client.get("/api/export?format=csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert "attachment" in r.headers["Content-Disposition"] and ".csv" in r.headers["Content-Disposition"]
    assert export.read_csv(r.get_data(as_text=True)) == export.records(store)
    r = client.get("/api/export?format=json")
    assert r.mimetype == "application/json"
    assert export.read_json(r.get_data(as_text=True)) == export.records(store)
    r = client.get("/api/export?format=xml")
    assert r.status_code == 400 and r.get_json()["field"] == "format"


def test_write_failure_is_a_503_and_keeps_what_is_stored(client, store):
    fill(store, days=1, reps=2)
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._pragma_all(f"PRAGMA max_page_count={pages + 1}")     # a full disk
    statuses = {client.post("/api/athletes", json={"name": f"athlete {i:04d} {'x' * 45}"}).status_code
                for i in range(200)}
    assert 503 in statuses
    store._pragma_all("PRAGMA max_page_count=1000000")
    assert store.list_reps(limit=1)[1] == 4


def test_device_token_file(tmp_path):
    import os
    import stat

    from device.runtime.token import load_or_create_token, token_matches

    data_dir = tmp_path / "data"
    token = load_or_create_token(data_dir)
    path = data_dir / "token"
    assert len(token) >= 24 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_token(data_dir) == token                 # kept, not re-made
    assert load_or_create_token(tmp_path / "other") != token       # random per device
    os.chmod(path, 0o644)
    assert load_or_create_token(data_dir) == token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600             # tightened again
    path.write_text("x\n")                                         # damaged: replaced
    fresh = load_or_create_token(data_dir)
    assert fresh != "x" and len(fresh) >= 24 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not [p for p in data_dir.iterdir() if p.name != "token"]   # no temp files left
    assert token_matches(fresh, fresh + "\n") and not token_matches(fresh, fresh[:-1])
    assert not token_matches(fresh, None) and not token_matches("", "")


class UnknownDepth:
    """The store as it reads back reps whose depth is unknown (``value``: None from a
    NULL column, or NaN from the analysis): every ``depth_deg`` it hands out is that."""

    def __init__(self, store, value):
        self._store, self._value = store, value

    def _blank(self, obj):
        if isinstance(obj, dict):
            return {k: (self._value if k == "depth_deg" else self._blank(v)) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return type(obj)(self._blank(v) for v in obj)
        return obj

    def __getattr__(self, name):
        attr = getattr(self._store, name)
        if not callable(attr):
            return attr
        return lambda *a, **kw: self._blank(attr(*a, **kw))


def _strict_json(text: str):
    def refuse(constant):
        raise ValueError(f"bare {constant} in JSON")
    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("unknown", [None, float("nan")], ids=["null", "nan"])
def test_every_history_endpoint_is_valid_json_when_a_depth_is_unknown(store, core, unknown):
    fill(store, days=2, reps=3)
    app = create_app(core, {"TOKEN": TOKEN, "TESTING": True}, store=UnknownDepth(store, unknown))
    client = app.test_client()
    session_id = store.list_sessions()[0][0]["id"]
    set_id = store.get_session(session_id)["sets"][0]["id"]
    urls = ["/api/history", "/api/sessions", "/api/sessions/current", f"/api/sessions/{session_id}",
            f"/api/sets/{set_id}", "/api/reps", f"/api/reps?session={session_id}", "/api/athletes",
            "/api/export?format=json"]
    for url in urls:
        r = client.get(url, headers={"X-Dowel-Token": TOKEN})
        assert r.status_code == 200, (url, r.get_data(as_text=True))
        doc = _strict_json(r.get_data(as_text=True))
        assert doc is not None, url
    doc = _strict_json(client.get("/api/history").get_data(as_text=True))
    assert doc["trends"]["sessions"][0]["overall"]["depth_mean_deg"] is None
