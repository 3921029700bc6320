"""The dashboard's JSON API through Flask's test client, against a FakeCore."""
from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
from conftest import status_snapshot

from device.analysis.settings import EXERCISES
from web import create_app

STATIC = Path(__file__).resolve().parents[1] / "web" / "static"


def put_json(client, url, body):
    return client.put(url, data=json.dumps(body), content_type="application/json")


# -- status -----------------------------------------------------------------------
def test_status_is_the_core_snapshot(client, fake_core):
    fake_core.status = status_snapshot(t=12.5, lost=("sacrum",), rep_count=4, pitch_deg=38.5)
    resp = client.get("/api/status")
    assert resp.status_code == 200
    assert resp.mimetype == "application/json"
    body = resp.get_json()
    assert body["rep_count"] == 4
    assert body["points"]["sacrum"]["lost"] is True
    assert body["points"]["head"]["contact"] is True
    assert body["lost_points"] == ["sacrum"]
    assert body["health"]["frame_rate_hz"] == 200.0


def test_status_with_nan_is_still_valid_json(client, fake_core):
    fake_core.status["pitch_deg"] = float("nan")
    fake_core.status["health"]["jitter_ms_p95"] = float("inf")
    resp = client.get("/api/status")
    text = resp.get_data(as_text=True)
    assert "NaN" not in text and "Infinity" not in text
    body = json.loads(text)
    assert body["pitch_deg"] is None and body["health"]["jitter_ms_p95"] is None


# -- settings -------------------------------------------------------------------------
def test_get_settings(client, fake_core):
    body = client.get("/api/settings").get_json()
    assert body == json.loads(json.dumps(fake_core.settings.to_dict()))
    assert body["debounce_ms"] == 20.0 and body["exercise"] == "standing_3point"


def test_put_settings_applies_and_returns_them(client, fake_core):
    resp = put_json(client, "/api/settings", {"debounce_ms": 35, "buzzer": False, "exercise": "kneeling_3point"})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["debounce_ms"] == 35.0
    assert fake_core.settings.debounce_ms == 35.0
    assert fake_core.settings.buzzer is False
    assert fake_core.settings.exercise == "kneeling_3point"


@pytest.mark.parametrize("body, field", [
    ({"debounce_ms": 0}, "debounce_ms"),
    ({"debounce_ms": "fast"}, "debounce_ms"),
    ({"sensitivity": 1.5}, "sensitivity"),
    ({"min_depth_deg": 200}, "min_depth_deg"),
    ({"data_rate": 100}, "data_rate"),
    ({"buzzer": "loud"}, "buzzer"),
    ({"exercise": "squat"}, "exercise"),
    ({"colour": "red"}, "colour"),
])
def test_put_settings_bad_value_names_the_field(client, fake_core, body, field):
    before = fake_core.settings
    resp = put_json(client, "/api/settings", body)
    assert resp.status_code == 400
    err = resp.get_json()
    assert err["field"] == field
    assert err["error"]
    assert fake_core.settings is before


def test_put_settings_nothing_partial_applied(client, fake_core):
    resp = put_json(client, "/api/settings", {"debounce_ms": 40, "sensitivity": 7})
    assert resp.status_code == 400
    assert resp.get_json()["field"] == "sensitivity"
    assert fake_core.settings.debounce_ms == 20.0


@pytest.mark.parametrize("data, content_type, status, needle", [
    ("{not json", "application/json", 400, "invalid JSON"),
    ('{"debounce_ms": 30}', "text/plain", 415, "Content-Type"),
    ("debounce_ms=30", "application/x-www-form-urlencoded", 415, "Content-Type"),
    ("", "application/json", 400, "expected a JSON body"),
    (b"\xff\xfe{", "application/json", 400, "UTF-8"),
])
def test_put_settings_bad_body(client, fake_core, data, content_type, status, needle):
    resp = client.put("/api/settings", data=data, content_type=content_type)
    assert resp.status_code == status
    assert needle in resp.get_json()["error"]
    assert fake_core.settings.debounce_ms == 20.0


@pytest.mark.parametrize("body", [[1, 2], "debounce", 3, {}])
def test_put_settings_not_an_object(client, body):
    resp = put_json(client, "/api/settings", body)
    assert resp.status_code == 400
    assert resp.get_json()["field"] == "settings"


def test_invalid_json_error_says_where(client):
    resp = client.put("/api/settings", data='{\n "debounce_ms": 30,\n}', content_type="application/json")
    assert resp.status_code == 400
    assert "line 3" in resp.get_json()["error"]


def test_options_lists_exercises_and_rates(client):
    body = client.get("/api/options").get_json()
    assert [e["id"] for e in body["exercises"]] == list(EXERCISES)
    assert 860 in body["data_rates"]["ADS1115"] and 3300 in body["data_rates"]["ADS1015"]


# -- calibration --------------------------------------------------------------------
def test_calibrate_stores_the_thresholds(client, fake_core):
    resp = client.post("/api/calibrate")
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert set(body["calibration"]["points"]) == {"head", "upper_back", "sacrum"}
    assert body["settings"]["calibration"] == body["calibration"]
    assert fake_core.settings.calibration is not None
    assert fake_core.calibrate_calls == [3.0]


def test_calibrate_without_contact_is_409_with_the_reason(client, fake_core):
    fake_core.holding = False
    resp = client.post("/api/calibrate", json={"duration_s": 2})
    assert resp.status_code == 409
    assert "no contact" in resp.get_json()["error"]
    assert fake_core.settings.calibration is None


@pytest.mark.parametrize("body, field", [
    ({"duration_s": 0.1}, "duration_s"),
    ({"duration_s": "long"}, "duration_s"),
    ({"duration_s": True}, "duration_s"),
    ({"seconds": 3}, "seconds"),
    ([3], "calibrate"),
])
def test_calibrate_bad_input(client, fake_core, body, field):
    resp = client.post("/api/calibrate", json=body)
    assert resp.status_code == 400
    assert resp.get_json()["field"] == field
    assert fake_core.calibrate_calls == []


# -- errors are JSON under /api -----------------------------------------------------------
def test_unknown_api_path_is_json_404(client):
    resp = client.get("/api/nope")
    assert resp.status_code == 404
    assert resp.mimetype == "application/json"
    assert resp.get_json()["error"]


def test_wrong_method_is_json_405(client):
    resp = client.delete("/api/settings")
    assert resp.status_code == 405
    assert resp.get_json()["error"]
    assert "PUT" in resp.headers["Allow"]


def test_pages_outside_api_keep_html_errors(client):
    resp = client.get("/nope")
    assert resp.status_code == 404
    assert resp.mimetype == "text/html"


def test_manual_sets_without_history_is_404_json(client):
    resp = client.post("/api/manual-sets", json={"exercise": "standing_kettlebell", "reps": 10})
    assert resp.status_code == 404
    assert resp.get_json()["error"]


def test_history_blueprint_registered_only_with_a_store(fake_core):
    without = {r.rule for r in create_app(fake_core).url_map.iter_rules()}
    assert "/api/sessions/current" not in without
    if importlib.util.find_spec("web.history") is None:
        # the history module has not landed: the app must still build with a store
        create_app(fake_core, store=object())
    else:
        with_store = {r.rule for r in create_app(fake_core, store=object()).url_map.iter_rules()}
        assert "/api/sessions/current" in with_store
        assert "/api/manual-sets" in with_store


# -- the page and its assets ---------------------------------------------------------
def test_page_is_served_with_all_its_parts(client):
    resp = client.get("/")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert '<section id="history-view"' in html
    # native ES modules: app.js imports the views (history.js among them)
    assert '<script type="module" src="/static/app.js"></script>' in html and 'href="/static/history.css"' in html
    assert 'from "./history.js"' in client.get("/static/app.js").get_data(as_text=True)
    assert 'name="viewport"' in html
    for element_id in ("live-view", "session-view", "program-view", "device-view",
                       "figure", "rep-count", "set-number", "loss-banner", "connection",
                       "settings-form", "calibrate-button", "health"):
        assert f'id="{element_id}"' in html, element_id


def _local_assets(html: str) -> list:
    return re.findall(r'(?:src|href)="(/static/[^"]+)"', html)


def _module_imports(js: str) -> list:
    """The modules a script imports, as /static/ paths."""
    return ["/static/" + name for name in re.findall(r'^import [^;]*?from "\./([\w.-]+\.js)";', js, re.M)]


def test_every_asset_is_served_locally_and_the_page_is_light(client):
    html = client.get("/").get_data(as_text=True)
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html), "no CDN: every asset from the device"
    total = len(html.encode())
    todo, seen = _local_assets(html), set()
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        seen.add(url)
        resp = client.get(url)
        assert resp.status_code == 200, url
        body = resp.get_data()
        if url.endswith(".js"):
            todo += _module_imports(body.decode())
        assert b"http://" not in body.replace(b"http://www.w3.org", b"") and b"https://" not in body, url
        total += len(body)
    assert "/static/history.js" in seen and "/static/labels.js" in seen
    assert total < 200_000, f"page weight {total} bytes"


def test_favicon(client):
    resp = client.get("/favicon.ico")
    assert resp.status_code == 200
    assert resp.mimetype == "image/svg+xml"


def test_a_bug_under_api_is_a_json_500(fake_core):
    def broken():
        raise RuntimeError("snapshot failed")

    fake_core.get_status = broken
    resp = create_app(fake_core).test_client().get("/api/status")
    assert resp.status_code == 500
    assert resp.mimetype == "application/json"
    assert "snapshot failed" not in resp.get_data(as_text=True)   # no internals to the phone


def test_an_oversized_body_is_refused(client, fake_core):
    resp = client.put("/api/settings", data="{" + " " * 100_000 + "}", content_type="application/json")
    assert resp.status_code == 413
    assert resp.get_json()["error"]
