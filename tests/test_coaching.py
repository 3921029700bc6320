"""The plan and the chirps on the real mock stack: sets done with the dowel move
the plan on, the buzzer beeps for a set (and clicks for a rep when asked), the
status snapshot carries the plan; the /api/plan endpoints steer it."""
from __future__ import annotations

import pytest

from device.analysis.settings import Settings
from device.history.store import Store
from device.hw.mock.factory import build_mock_core
from device.runtime.clock import VirtualClock
from device.sim.sources import ScriptedAthlete
from web import create_app

TOKEN = "plan-token"
REP = ("rep", {"depth_deg": 50, "down_s": 1.0, "up_s": 1.0})


def two_sets(reps=2):
    one = [("place", 0.3), ("upright", 1.5)] + [REP, ("upright", 0.8)] * reps + [("remove", 0.3),
                                                                                 ("idle", 1.0)]
    return ScriptedAthlete.from_steps([("idle", 0.5)] + one * 2, loop=False)


@pytest.fixture
def run_core():
    """Runs a source through a core on a virtual clock (deterministic, as fast as
    the CPU allows) and notes every chirp the core asks of the buzzer."""
    cores = []

    def run(source, settings=None):
        # 250 SPS (about 70 frames/s instead of 260): what is checked here - sets,
        # reps, the plan, the chirps - does not depend on the frame rate
        settings = (settings or Settings()).updated({"data_rate": 250})
        core = build_mock_core(source, clock=VirtualClock(), settings=settings)
        cores.append(core)
        core.chirps = []
        for name in ("rep_done", "set_done"):
            play = getattr(core.alerts, name)
            setattr(core.alerts, name,
                    lambda play=play, name=name: core.chirps.append((name, play())) or True)
        sub = core.subscribe(maxsize=100000)
        core.follow_plan()
        core.start()
        assert core.wait(60)
        events = [e for e in sub.drain() if e["type"] != "status"]
        return core, events

    yield run
    for core in cores:
        core.close()
        core.pin_factory.reset()


def test_two_sets_with_the_dowel_move_the_plan_on_and_beep(run_core):
    core, events = run_core(two_sets())
    done = [e for e in events if e["type"] == "set_completed"]
    assert [(e["set_number"], e["exercise"], len(e["set"]["reps"])) for e in done] == [
        (1, "kneeling_3point", 2), (2, "kneeling_3point", 2)]
    plan = core.get_status()["plan"]
    assert plan["exercise"] == "kneeling_kettlebell" and plan["tracked"] is False
    assert [s["sets_done"] for s in plan["steps"]] == [2, 0, 0, 0]
    # the set-done beeps for each set, no rep clicks (off by default); what the
    # patterns sound like is tested on the pins in test_alerts.py
    assert [name for name, _ in core.chirps] == ["set_done", "set_done"]


def test_rep_clicks_when_turned_on(run_core):
    core, events = run_core(two_sets(reps=1), Settings(rep_chirp=True, exercise="standing_3point"))
    assert [name for name, _ in core.chirps] == ["rep_done", "set_done"] * 2
    assert all(played for _, played in core.chirps)


def test_picking_an_exercise_makes_its_step_the_current_one(run_core):
    core, events = run_core(two_sets(reps=1), Settings(exercise="standing_3point"))
    # follow_plan tagged the sets with the plan's first step
    assert {e["exercise"] for e in events if e["type"] == "set_completed"} == {"kneeling_3point"}
    assert core.get_status()["plan"]["exercise"] == "kneeling_kettlebell"
    core.set_exercise("standing_3point")
    plan = core.get_status()["plan"]
    assert plan["exercise"] == "standing_3point" and plan["set_index"] == 1
    assert [s["state"] for s in plan["steps"]] == ["done", "next", "current", "next"]


# -- the endpoints --------------------------------------------------------------------
@pytest.fixture
def web(tmp_path):
    store = Store(tmp_path / "h.db")
    core = build_mock_core(two_sets(), settings=Settings())
    app = create_app(core, {"TOKEN": TOKEN, "TESTING": True}, store=store)
    yield app.test_client(), core, store
    core.close()
    core.pin_factory.reset()
    store.close()


def post(client, path, body=None, token=TOKEN, **kw):
    headers = {"X-Dowel-Token": token} if token else {}
    return client.post(path, json=body if body is not None else {}, headers=headers, **kw)


def test_get_plan_follows_the_progression_rule(web):
    client, core, store = web
    body = client.get("/api/plan").get_json()
    assert body == core.get_status()["plan"]
    assert body["stage"] == "all_four" and body["exercise"] == "kneeling_3point"


def test_every_plan_change_needs_the_token_and_json(web):
    client, core, _ = web
    for path in ("/api/plan/skip", "/api/plan/order", "/api/plan/done"):
        assert post(client, path, token=None).status_code == 401
        assert post(client, path, token="wrong").status_code == 401
        resp = client.post(path, data="{}", content_type="text/plain",
                           headers={"X-Dowel-Token": TOKEN})
        assert resp.status_code == 415
    assert core.plan_status()["step_index"] == 0 and not core.plan_status()["steps"][0]["sets_done"]


def test_skip_order_and_done_by_hand(web):
    client, core, store = web
    resp = post(client, "/api/plan/done")
    assert resp.status_code == 409 and "counted by the dowel" in resp.get_json()["error"]
    assert post(client, "/api/plan/skip").get_json()["exercise"] == "kneeling_kettlebell"
    resp = post(client, "/api/plan/done", {"weight_kg": 12})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["set"]["manual_reps"] == 10 and body["set"]["exercise"] == "kneeling_kettlebell"
    assert body["plan"]["set_index"] == 2
    session = store.current_session()
    assert [s["exercise"] for s in session["sets"]] == ["kneeling_kettlebell"]
    assert core.get_status()["set"]["number"] is None       # no dowel set yet
    assert post(client, "/api/plan/done", {"reps": 8}).status_code == 201
    # both kettlebell sets done: on to the standing 3-point, which tags the next sets
    assert core.plan_status()["exercise"] == "standing_3point"
    assert core.settings.exercise == "standing_3point"
    order = ["standing_kettlebell", "standing_3point", "kneeling_3point", "kneeling_kettlebell"]
    body = post(client, "/api/plan/order", {"order": order}).get_json()
    assert [s["exercise"] for s in body["steps"]] == order and body["exercise"] == "standing_kettlebell"
    resp = post(client, "/api/plan/order", {"order": ["deadlift"]})
    assert resp.status_code == 400 and resp.get_json()["field"] == "order"
    assert post(client, "/api/plan/skip", {"x": 1}).status_code == 400


def test_a_set_logged_by_hand_elsewhere_counts_for_the_plan_and_the_set_numbers(web):
    client, core, store = web
    post(client, "/api/plan/skip")                     # on to the kneeling kettlebell
    resp = client.post("/api/manual-sets", json={"exercise": "kneeling_kettlebell", "reps": 10},
                       headers={"X-Dowel-Token": TOKEN})
    assert resp.status_code == 201, resp.get_json()
    plan = core.plan_status()
    assert plan["exercise"] == "kneeling_kettlebell" and plan["set_index"] == 2
    assert core.get_status()["set"]["number"] is None
    assert core.get_status()["set"]["next_number"] == 2  # the next dowel set comes after it
