"""Every endpoint driven with arbitrary JSON (Hypothesis): never a 5xx, and a 4xx
changes nothing that is stored or applied."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from conftest import TEST_TOKEN, FakeCore
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device.history import export
from device.history.store import Store
from web import create_app

# Thousands of generated requests: a long run, so `slow` (the full suite runs it).
pytestmark = pytest.mark.slow

T0 = 1_790_000_000.0

#: Field names the endpoints know, so generated objects often reach the validators
#: instead of stopping at "unknown field".
KEYS = ["debounce_ms", "min_depth_deg", "sensitivity", "buzzer", "chip", "data_rate", "gain", "exercise",
        "calibration", "points", "head", "upper_back", "sacrum", "rest_v", "off_v", "on_v",
        "tilt_upright_v", "taken_at", "duration_s", "name", "current", "id", "reps", "weight_kg"]

scalars = (st.none() | st.booleans()
           | st.integers(min_value=-(10 ** 30), max_value=10 ** 30)
           | st.integers(min_value=-3, max_value=60)
           | st.floats(allow_nan=True, allow_infinity=True)
           | st.sampled_from(["standing_kettlebell", "kneeling_kettlebell", "standing_3point", "ADS1015",
                              "on", "off", "1e400", "NaN", "20", "", "\x00", "\x1b[2J"])
           | st.text(max_size=40))
keys = st.sampled_from(KEYS) | st.text(max_size=12)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=25)
#: Bodies: mostly objects with the known fields, sometimes anything at all, and
#: now and then a number far too long or nested far too deep.
bodies = (st.dictionaries(keys, documents, max_size=6).map(lambda d: json.dumps(d, allow_nan=True))
          | documents.map(lambda d: json.dumps(d, allow_nan=True))
          | st.integers(min_value=300, max_value=6000).map(lambda n: '{"reps": %s}' % ("9" * n))
          | st.integers(min_value=17, max_value=20000).map(lambda n: "[" * n + "]" * n)
          | st.text(max_size=60))

ids = (st.integers(min_value=-5, max_value=12) | st.integers(min_value=2 ** 62, max_value=2 ** 70)
       ).map(str) | st.text(alphabet="0123456789", min_size=19, max_size=400)

ENDPOINTS = [
    ("PUT", "/api/settings"),
    ("POST", "/api/calibrate"),
    ("POST", "/api/athletes"),
    ("PUT", "/api/athletes/current"),
    ("POST", "/api/manual-sets"),
    ("DELETE", "/api/sessions/{id}"),
    ("GET", "/api/sessions/{id}"),
    ("GET", "/api/sets/{id}"),
    ("GET", "/api/status"),
    ("GET", "/api/settings"),
    ("GET", "/api/options"),
    ("GET", "/api/history"),
    ("GET", "/api/sessions"),
    ("GET", "/api/sessions/current"),
    ("GET", "/api/reps"),
    ("GET", "/api/athletes"),
    ("GET", "/api/export"),
    ("GET", "/api/pairing.svg"),
]
query_values = st.text(max_size=30) | ids | st.sampled_from(["csv", "json", "1", "0", "-1", "1.5"])
queries = st.dictionaries(st.sampled_from(["limit", "offset", "athlete", "session", "format"]),
                          query_values, max_size=3)


class Device:
    """One app over a fake core and a real store, shared by the examples."""

    def __init__(self):
        self.dir = tempfile.TemporaryDirectory()
        self.core = FakeCore()
        self.store = Store(Path(self.dir.name) / "h.db")
        for day in range(3):
            set_id = self.store.start_set(self.store.current_athlete_id(), "standing_3point", T0 + day * 86400)
            for i in range(3):
                self.store.add_rep(set_id, {"start": T0 + day * 86400 + i * 4, "end": T0 + day * 86400 + i * 4 + 3,
                                            "depth_deg": 40.0, "down_s": 1.2, "up_s": 1.1, "clean": i != 1,
                                            "losses": [] if i != 1 else [{"point": "sacrum", "start": T0 + 1,
                                                                          "duration_s": 0.3}]})
            self.store.end_set(set_id, T0 + day * 86400 + 30)
        app = create_app(self.core, {"TESTING": True, "TOKEN": TEST_TOKEN, "CALIBRATE_S": 1.0},
                         store=self.store)
        self.client = app.test_client()
        self.client.environ_base["HTTP_X_DOWEL_TOKEN"] = TEST_TOKEN

    def snapshot(self) -> str:
        return json.dumps([self.core.settings.to_dict(), len(self.core.calibrate_calls),
                           export.records(self.store), self.store.athletes(), self.store.current_athlete_id(),
                           self.store.list_sessions(limit=100)], sort_keys=True, default=str)

    def close(self):
        self.store.close()
        self.dir.cleanup()


@pytest.fixture(scope="module")
def device():
    d = Device()
    yield d
    d.close()


@pytest.mark.parametrize("method, url", ENDPOINTS, ids=[f"{m} {u}" for m, u in ENDPOINTS])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(body=bodies, the_id=ids, query=queries, content_type=st.sampled_from(
    ["application/json", "application/json", "application/json; charset=utf-8", "text/plain", None]))
def test_arbitrary_json_never_a_5xx_and_a_4xx_changes_nothing(device, method, url, body, the_id, query,
                                                              content_type):
    before = device.snapshot()
    r = device.client.open(url.format(id=the_id), method=method, query_string=query,
                           data=body.encode("utf-8", "surrogatepass"), content_type=content_type)
    assert r.status_code < 500, (r.status_code, r.get_data(as_text=True)[:300])
    if method == "GET" and url != "/api/export" and url != "/api/pairing.svg" or r.status_code >= 400:
        assert r.mimetype == "application/json" or r.status_code < 400
        if r.mimetype == "application/json":
            json.loads(r.get_data(as_text=True), parse_constant=lambda c: pytest.fail(f"bare {c} in JSON"))
    if r.status_code >= 400:
        assert r.get_json()["error"], r.get_data(as_text=True)
        assert device.snapshot() == before, (method, url, body[:200], r.get_json())
