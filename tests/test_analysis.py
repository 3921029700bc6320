"""Rep state machine on plain (t, pitch) samples, and reps through the whole pipeline."""
from __future__ import annotations

import math

import pytest
from test_pipeline import all_losses, run, synth_session

from device.analysis.reps import RepTracker
from device.analysis.settings import Settings


def hinge(t0, depth, down_s, up_s, pause_s=0.0, rate=200.0, settle_s=1.0, dip=0.0):
    """(t, pitch) samples of one smooth hinge starting at t0, then upright."""
    out = []
    total = down_s + pause_s + up_s + settle_s
    for i in range(int(total * rate)):
        t = i / rate
        if t < down_s:
            p = depth * (1 - math.cos(math.pi * t / down_s)) / 2
        elif t < down_s + pause_s:
            p = depth
        elif t < down_s + pause_s + up_s:
            u = (t - down_s - pause_s) / up_s
            p = depth * (1 + math.cos(math.pi * u)) / 2
        else:
            p = 0.0
        out.append((t0 + t, p))
    return out


def track(samples, min_depth=25.0):
    tr = RepTracker(min_depth)
    tr.reset(samples[0][0])
    reps, started = [], []
    for t, p in samples:
        c = tr.step(t, p)
        if c == "started":
            started.append(tr.start_t)
        elif c == "completed":
            reps.append(tr.last_rep)
    return reps, started, tr


def upright(t0, seconds, rate=200.0, p=0.0):
    return [(t0 + i / rate, p) for i in range(int(seconds * rate))]


def test_one_hinge_is_one_rep_with_depth_and_tempo():
    s = upright(0, 1.0) + hinge(1.0, 50, 1.2, 0.9)
    reps, started, _ = track(s)
    assert len(reps) == 1 and len(started) == 1
    r = reps[0]
    assert r["depth_deg"] == pytest.approx(50, abs=0.1)
    assert r["start"] == pytest.approx(1.0, abs=0.2)
    assert r["end"] == pytest.approx(1.0 + 2.1, abs=0.15)
    assert r["down_s"] == pytest.approx(1.2, abs=0.25)
    assert r["up_s"] == pytest.approx(0.9, abs=0.25)


def test_pause_at_the_bottom_counts_in_neither_phase():
    s = upright(0, 1.0) + hinge(1.0, 60, 1.0, 1.0, pause_s=1.5)
    reps, _, _ = track(s)
    assert len(reps) == 1
    assert reps[0]["down_s"] == pytest.approx(1.0, abs=0.25)
    assert reps[0]["up_s"] == pytest.approx(1.0, abs=0.25)
    assert reps[0]["end"] - reps[0]["start"] == pytest.approx(3.5, abs=0.3)


@pytest.mark.parametrize("amp", [3.0, 6.0, 15.0, 24.0])
def test_wobbles_and_shallow_dips_are_not_reps(amp):
    s = upright(0, 1.0) + hinge(1.0, amp, 0.5, 0.5) + hinge(3.0, amp, 0.8, 0.8)
    reps, started, tr = track(s)
    assert reps == [] and started == []
    assert tr.phase == "upright"


def test_ten_reps_back_to_back_with_and_without_pauses():
    s = upright(0, 1.0)
    t = 1.0
    for i in range(10):
        down, up, pause = 0.8 + 0.17 * i, 2.5 - 0.17 * i, 0.6 * (i % 2)
        s += hinge(t, 35 + 4.5 * i, down, up, pause, settle_s=0.4)
        t = s[-1][0] + 0.005
    reps, _, _ = track(s)
    assert len(reps) == 10
    assert [round(r["depth_deg"]) for r in reps] == [round(35 + 4.5 * i) for i in range(10)]


def test_a_second_descent_before_settling_ends_the_rep_and_starts_another():
    s = upright(0, 1.0) + hinge(1.0, 50, 1.0, 1.0, settle_s=0.05) + hinge(3.05, 45, 1.0, 1.0)
    reps, started, _ = track(s)
    assert len(reps) == 2 and len(started) == 2


def test_coming_only_part_way_up_between_reps_still_counts_each_rep():
    # 60 degree hinges, the athlete only comes back to 14 degrees in between
    s = upright(0, 1.0)
    t = 1.0
    for i in range(3):
        s += [(t + u / 200, 14 + 46 * (1 - math.cos(math.pi * u / 200)) / 2) for u in range(200)]
        s += [(t + 1 + u / 200, 14 + 46 * (1 + math.cos(math.pi * u / 200)) / 2) for u in range(200)]
        t += 2.0
    s += [(t + u / 200, 14 * (1 - u / 100) if u < 100 else 0.0) for u in range(300)]
    reps, _, _ = track(s)
    assert len(reps) == 3


def test_minimum_depth_is_configurable():
    s = upright(0, 1.0) + hinge(1.0, 30, 1.0, 1.0)
    assert len(track(s, 25.0)[0]) == 1
    assert len(track(s, 35.0)[0]) == 0


def test_partial_rep_is_not_completed():
    s = upright(0, 1.0) + hinge(1.0, 50, 1.0, 1.0)
    s = s[: int(1.5 * 200) + 200]               # stream stops at the bottom
    reps, started, tr = track(s)
    assert reps == [] and len(started) == 1 and tr.in_rep()


def test_athlete_settling_a_few_degrees_off_upright_still_ends_reps():
    s = upright(0, 1.0) + hinge(1.0, 50, 1.0, 1.0)
    # comes back to 6 degrees instead of 0
    s = [(t, p + 6.0 if t > 2.5 and p < 6 else p) for t, p in s]
    s += [(s[-1][0] + 0.005 * (i + 1), 6.0) for i in range(200)]
    reps, _, _ = track(s)
    assert len(reps) == 1


# -- through the pipeline --------------------------------------------------------------------
@pytest.mark.parametrize("rate", [50.0, 200.0])
def test_rep_counts_depths_and_losses_through_the_pipeline(rate):
    reps = ((40, 0.8, 0.8, 0.0), (75, 2.5, 2.5, 1.0), (55, 1.5, 1.0, 0.0), (35, 1.0, 2.0, 0.5))
    losses = [(0, 1, 2.0, "head", 1.0)]   # spans the bottom of the deep rep
    frames, truth = synth_session(reps=reps, losses=losses, rate_hz=rate, offset_deg=-4.0,
                                  wobbles=[(0, 0, 5.0), (0, 2, 8.0)], seed=3)
    pipeline, events, alerts = run(frames)
    got = pipeline.result()["sets"][0]["reps"]
    want = truth["sets"][0]["reps"]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert abs(g["depth_deg"] - w["depth_deg"]) < 3.0
        assert abs(g["start"] - w["start"]) < 0.3
        assert abs(g["end"] - w["end"]) < 0.3
    assert [l["point"] for l in got[1]["losses"]] == ["head"]
    assert got[1]["clean"] is False and got[0]["clean"] is True
    assert len(alerts) == 2


def test_set_ended_mid_rep_does_not_count_the_partial_rep():
    frames, truth = synth_session(reps=((50, 1.2, 1.2, 0.0),) * 4, end_mid_rep=True)
    pipeline, events, _ = run(frames)
    assert len(pipeline.result()["sets"][0]["reps"]) == 3
    assert sum(e["type"] == "rep_completed" for e in events) == 3


def test_dowel_taken_off_at_the_bottom_of_a_rep_does_not_count_it():
    frames, _ = synth_session(reps=((50, 1.2, 1.2, 0.0),) * 2)
    # take it off at the bottom of the second rep: zero all contact from there
    cut = [f for f in frames if 7.8 < f.t][0].t      # rep 2: 6.6 s + 1.2 s down
    import device.analysis.frames as fr
    frames = [f if f.t < cut else fr.Frame(f.t, 0.0, 0.0, 0.0, f.tilt) for f in frames]
    pipeline, events, alerts = run(frames)
    sets = pipeline.result()["sets"]
    assert len(sets) == 1 and len(sets[0]["reps"]) == 1
    assert all_losses(pipeline.result()) == []


def test_single_frame_dropouts_change_nothing():
    kwargs = dict(reps=((50, 1.0, 1.0, 0.0),) * 3, losses=[(0, 1, 0.9, "upper_back", 0.4)])
    clean, _ = synth_session(**kwargs)
    dropped, _ = synth_session(dropouts=[(4.0, "head"), (5.5, "all"), (7.0, "sacrum"),
                                         (9.1, "upper_back"), (10.3, "all")], **kwargs)
    a = run(clean)[0].result()
    b = run(dropped)[0].result()
    assert len(a["sets"][0]["reps"]) == len(b["sets"][0]["reps"]) == 3
    assert [l["point"] for l in all_losses(b)] == ["upper_back"]


def test_sensitivity_changes_thresholds_but_not_the_answer_for_a_clear_loss():
    frames, _ = synth_session(losses=[(0, 1, 1.0, "sacrum", 0.3)])
    for sens in (0.0, 0.5, 1.0):
        pipeline, _, _ = run(frames, Settings(sensitivity=sens))
        assert [l["point"] for l in all_losses(pipeline.result())] == ["sacrum"]


@pytest.mark.parametrize("hold_s", [0.4, 0.8, 2.5])
def test_upright_learned_even_when_the_first_hinge_comes_early(hold_s):
    frames, truth = synth_session(reps=((60, 1.0, 1.0, 0.0),) * 3, hold_s=hold_s, offset_deg=5.0,
                                  idle_lean_deg=85.0)
    pipeline, _, _ = run(frames)
    got = pipeline.result()["sets"][0]["reps"]
    assert len(got) == 3
    for g in got:
        assert abs(g["depth_deg"] - 60.0) < 3.0
