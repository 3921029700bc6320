"""Trends and progression, checked against values worked out by hand."""
import pytest

from device.history import trends
from device.history.store import Store

T0 = 1_790_000_000.0
DAY = 86400.0


def rep(depth, down, up, losses=()):
    return {"depth_deg": depth, "down_s": down, "up_s": up, "clean": not losses,
            "losses": [{"point": p, "start": 0.0, "duration_s": 0.3} for p in losses],
            "start": 0.0, "end": 3.0}


def a_set(exercise, reps, manual_reps=None):
    return {"exercise": exercise, "manual": manual_reps is not None,
            "manual_reps": manual_reps, "reps": reps}


def session(n, *sets):
    return {"id": n, "day": f"2026-10-{n:02d}", "started": T0 + n * DAY, "sets": list(sets)}


def std_set(n_reps, n_dirty, exercise="standing_3point"):
    return a_set(exercise, [rep(45, 1.5, 1.5, ["sacrum"] if i < n_dirty else [])
                            for i in range(n_reps)])


def test_rep_stats_by_hand():
    reps = [rep(40, 1.0, 2.0), rep(50, 2.0, 2.0, ["sacrum"]), rep(60, 3.0, 2.0, ["sacrum", "head"])]
    s = trends.rep_stats(reps)
    assert s["reps"] == 3 and s["clean_reps"] == 1 and s["clean_pct"] == 33.3
    assert s["depth_mean_deg"] == 50.0
    assert s["depth_std_deg"] == pytest.approx(8.16, abs=0.005)      # sqrt(200/3)
    assert s["down_mean_s"] == 2.0 and s["down_std_s"] == pytest.approx(0.82, abs=0.005)
    assert s["up_mean_s"] == 2.0 and s["up_std_s"] == 0.0
    assert s["losses_by_point"] == {"head": 1, "upper_back": 0, "sacrum": 2}
    assert s["most_lost_point"] == "sacrum"
    empty = trends.rep_stats([])
    assert empty["reps"] == 0 and empty["clean_pct"] is None and empty["depth_mean_deg"] is None
    assert empty["most_lost_point"] is None


def test_session_trends_per_exercise_and_manual_sets():
    s = session(1, a_set("kneeling_3point", [rep(30, 1, 1), rep(40, 1, 1, ["head"])]),
                a_set("standing_3point", [rep(50, 2, 1)]),
                a_set("standing_kettlebell", [], manual_reps=10),
                a_set("standing_kettlebell", [], manual_reps=8))
    t = trends.session_trends(s)
    assert t["overall"]["reps"] == 3 and t["overall"]["sets"] == 4
    assert t["overall"]["depth_mean_deg"] == 40.0
    kneel = t["exercises"]["kneeling_3point"]
    assert kneel["clean_pct"] == 50.0 and kneel["depth_std_deg"] == 5.0
    assert kneel["most_lost_point"] == "head"
    assert t["exercises"]["standing_kettlebell"]["manual_reps"] == 18
    assert t["exercises"]["standing_kettlebell"]["sets"] == 2
    assert t["comfortable"] is False


def test_history_losses_by_point_over_all_sessions():
    h = trends.history_trends([
        session(1, a_set("standing_3point", [rep(40, 1, 1, ["upper_back"]), rep(40, 1, 1, ["head"])])),
        session(2, a_set("standing_3point", [rep(40, 1, 1, ["upper_back", "sacrum"])]))])
    assert h["losses_by_point"] == {"head": 1, "upper_back": 2, "sacrum": 1}
    assert h["most_lost_point"] == "upper_back"
    assert [s["overall"]["clean_pct"] for s in h["sessions"]] == [0.0, 0.0]


def test_comfortable_session_rule():
    assert trends.session_comfortable(session(1, std_set(10, 1), std_set(10, 0)))       # 90 %, 100 %
    assert not trends.session_comfortable(session(1, std_set(10, 2), std_set(10, 0)))   # 80 % set
    assert not trends.session_comfortable(session(1, std_set(10, 0)))                   # one set
    assert not trends.session_comfortable(session(1, std_set(10, 0), std_set(9, 0)))    # 9 reps
    assert not trends.session_comfortable(session(1, std_set(10, 0, "kneeling_3point"),
                                                  std_set(10, 0, "kneeling_3point")))
    # a short extra set does not spoil a session of two good full sets
    assert trends.session_comfortable(session(1, std_set(12, 1), std_set(10, 0), std_set(3, 3)))


def test_progression_steps():
    good_all_four = lambda n: session(n, std_set(10, 0, "kneeling_3point"), std_set(10, 0), std_set(10, 1))
    good_standing = lambda n: session(n, std_set(10, 0), std_set(11, 1))
    sloppy = lambda n: session(n, std_set(10, 0, "kneeling_3point"), std_set(10, 3), std_set(10, 0))

    p = trends.progression([])
    assert p["stage"] == "all_four" and "No sessions" in p["reason"]

    p = trends.progression([sloppy(1)])
    assert p["stage"] == "all_four" and p["comfortable_streak"] == 0
    assert "70 %" in p["reason"] and p["focus"]["point"] == "sacrum"

    p = trends.progression([sloppy(1), good_all_four(2)])
    assert p["stage"] == "all_four" and p["comfortable_streak"] == 1 and "one more" in p["reason"]

    p = trends.progression([sloppy(1), good_all_four(2), good_all_four(3)])
    assert p["stage"] == "standing" and p["comfortable_streak"] == 2
    assert "standing versions" in p["suggestion"]

    # a kettlebell-only day in between does not break the streak
    kb_day = session(4, a_set("standing_kettlebell", [], manual_reps=10))
    p = trends.progression([good_all_four(2), kb_day, good_all_four(3)])
    assert p["stage"] == "standing"

    p = trends.progression([good_all_four(1), good_all_four(2), good_standing(3), good_standing(4)])
    assert p["stage"] == "standing" and p["standing_only_streak"] == 2

    p = trends.progression([good_all_four(1), good_all_four(2)] + [good_standing(n) for n in (3, 4, 5)])
    assert p["stage"] == "deadlift" and "deadlift" in p["suggestion"]

    # one sloppy session resets the streak
    p = trends.progression([good_standing(n) for n in (1, 2, 3)] + [sloppy(4)])
    assert p["stage"] == "all_four" and p["comfortable_streak"] == 0


def test_summary_from_a_real_store(tmp_path):
    with Store(tmp_path / "h.db") as store:
        a = store.current_athlete_id()
        for day in range(2):
            for _ in range(2):
                set_id = store.start_set(a, "standing_3point", T0 + day * DAY)
                for i in range(10):
                    r = rep(40 + i, 1.5, 1.5, ["head"] if i == 0 and day == 0 else [])
                    r["start"], r["end"] = T0 + day * DAY + i, T0 + day * DAY + i + 1
                    store.add_rep(set_id, r)
        store.add_manual_set(a, "standing_kettlebell", 10, 12, wall=T0 + DAY)
        s = trends.summary(store.all_sessions())
    assert s["sessions"] == 2 and s["sets"] == 5 and s["reps"] == 40 and s["manual_reps"] == 10
    assert s["clean_pct"] == 95.0
    assert s["trends"]["overall"]["depth_mean_deg"] == 44.5
    assert s["progression"]["stage"] == "standing"


def test_dowel_history_command(tmp_path, capsys):
    from device.cli import main

    path = tmp_path / "h.db"
    assert main(["history", "--db", str(path)]) == 0
    assert "No history yet" in capsys.readouterr().out
    assert not path.exists()                          # reading never creates a database
    with Store(path) as store:
        a = store.current_athlete_id()
        for day, dirty in ((0, 3), (1, 1)):
            for n in range(2):
                set_id = store.start_set(a, "standing_3point", T0 + day * DAY + n * 100)
                for i in range(10):
                    r = rep(40 + day, 1.5, 1.2, ["upper_back"] if i < dirty and n == 0 else [])
                    r["start"] = r["end"] = T0 + day * DAY + n * 100 + i
                    store.add_rep(set_id, r)
    assert main(["history", "--db", str(path)]) == 0
    out = capsys.readouterr().out
    assert "2 sessions, 4 sets, 40 dowel reps (90 % clean)" in out
    assert "85 %" in out and "95 %" in out                     # the two sessions' clean %
    assert "upper back 4" in out
    assert "Next:" in out and "Why:" in out and "One comfortable session" in out
    assert main(["history", "--db", str(path), "--json"]) == 0
    import json
    doc = json.loads(capsys.readouterr().out)
    assert doc["reps"] == 40 and doc["progression"]["comfortable_streak"] == 1
    bad = tmp_path / "bad.db"
    bad.write_text("not a database")
    assert main(["history", "--db", str(bad)]) == 2
    assert "not a dowel history database" in capsys.readouterr().err
