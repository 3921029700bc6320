"""Sets: numbers per session, the set summary with its cue, sets with no reps discarded."""
from __future__ import annotations

import pytest

from device.analysis import vocabulary
from device.analysis.pipeline import Pipeline
from device.analysis.sets import set_summary
from device.analysis.settings import Settings
from tests.test_pipeline import synth_session


def run(frames, pipeline=None):
    pipeline = pipeline or Pipeline(Settings(exercise="kneeling_3point"))
    events = [e for f in frames for e in pipeline.feed(f)]
    return pipeline, events


def test_set_completed_carries_the_summary_and_the_cue_for_the_point_lost_most():
    reps = ((50, 1.2, 1.0, 0.0), (60, 1.2, 1.0, 0.0), (40, 1.0, 1.0, 0.0))
    losses = [(0, 0, 0.4, "sacrum", 0.3), (0, 2, 0.4, "sacrum", 0.3), (0, 2, 1.5, "head", 0.2)]
    _, events = run(synth_session(reps=reps, losses=losses)[0])
    done = [e for e in events if e["type"] == "set_completed"][0]
    s = done["summary"]
    assert done["set_number"] == 1 and done["discarded"] is False
    assert (s["reps"], s["clean_reps"]) == (3, 1) and s["clean_pct"] == pytest.approx(33.3)
    assert s["depth_max_deg"] == pytest.approx(60, abs=2)
    assert s["depth_mean_deg"] == pytest.approx(50, abs=2)
    downs = [r["down_s"] for r in done["set"]["reps"]]
    assert s["down_mean_s"] == pytest.approx(sum(downs) / 3, abs=0.006) and 0.8 < s["down_mean_s"] < 1.2
    assert s["losses_by_point"] == {"head": 1, "upper_back": 0, "sacrum": 2}
    assert s["cue"] == {"point": "sacrum", "text": vocabulary.cue("sacrum", "kneeling_3point")}
    reps_done = [e for e in events if e["type"] == "rep_completed"]
    assert [e["clean"] for e in reps_done] == [False, True, False]
    assert reps_done[0]["cue"]["point"] == "sacrum" and reps_done[1]["cue"] is None
    assert reps_done[-1]["summary"] == s


def test_a_clean_set_has_no_cue_and_the_summary_of_nothing_is_empty():
    assert set_summary([], "standing_3point")["cue"] is None
    assert set_summary([], "standing_3point")["clean_pct"] is None
    _, events = run(synth_session()[0])
    assert [e for e in events if e["type"] == "set_completed"][0]["summary"]["cue"] is None


def test_a_set_without_reps_is_discarded_and_its_number_goes_to_the_next_set():
    empty, _ = synth_session(reps=())
    full, _ = synth_session()
    end = empty[-1].t
    frames = empty + [f._replace(t=f.t + end + 0.01) for f in full]
    pipeline, events = run(frames)
    started = [e["set_number"] for e in events if e["type"] == "set_started"]
    done = [(e["set_number"], e["discarded"]) for e in events if e["type"] == "set_completed"]
    assert started == [1, 1]
    assert done == [(1, True), (1, False)]
    assert pipeline.status()["last_set"]["number"] == 1


def test_numbers_continue_the_session():
    pipeline = Pipeline(Settings())
    pipeline.continue_session(4)                # four sets today already (one by hand)
    frames, _ = synth_session(sets=2)
    _, events = run(frames, pipeline)
    assert [e["set_number"] for e in events if e["type"] == "set_completed"] == [5, 6]
    assert {e["set_number"] for e in events if e["type"] == "rep_completed"} == {5, 6}
    pipeline.continue_session(7)                # a set logged by hand since
    assert pipeline.status()["set"]["number"] == 6
    frames2, _ = synth_session()
    _, events = run([f._replace(t=f.t + frames[-1].t + 0.01) for f in frames2], pipeline)
    assert [e["set_number"] for e in events if e["type"] == "set_started"] == [8]


def test_pitch_is_null_outside_a_set():
    frames, truth = synth_session()
    pipeline = Pipeline(Settings())
    seen = []
    for f in frames:
        pipeline.feed(f)
        s = pipeline.status()
        seen.append((s["in_set"], s["pitch_deg"] is None))
    assert all(none for in_set, none in seen if not in_set)
    assert not any(none for in_set, none in seen if in_set)
