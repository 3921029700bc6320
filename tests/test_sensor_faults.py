"""Sensor faults from scripted traces: a pad shorted to the supply, a pad that
reads nothing while the athlete keeps hinging.  Shown, not beeped for ever."""
from __future__ import annotations

from device.analysis.frames import Frame
from device.analysis.pipeline import Pipeline
from device.analysis.sensors import SILENT_REPS
from device.analysis.settings import Settings
from device.hw import constants
from tests.test_pipeline import synth_session

SIX_REPS = ((50, 1.2, 1.2, 0.0),) * 6


def run(frames):
    pipeline = Pipeline(Settings())
    events, alert_at = [], []
    for f in frames:
        for e in pipeline.feed(f):
            events.append(e)
        alert_at.append((f.t, pipeline.alert_wanted, pipeline.status()["sensor_faults"]))
    return pipeline, events, alert_at


def of(events, kind):
    return [e for e in events if e["type"] == kind]


def test_a_pad_silent_for_several_reps_is_a_sensor_fault_and_the_alarm_stops():
    # the sacrum goes 0.3 s into the second rep and never comes back
    frames, truth = synth_session(reps=SIX_REPS, losses=[(0, 1, 0.3, "sacrum", 60.0)])
    pipeline, events, timeline = run(frames)
    lost = of(events, "contact_lost")
    assert [e["point"] for e in lost] == ["sacrum"]
    faults = of(events, "sensor_fault")
    assert len(faults) == 1 and faults[0]["active"] is True
    assert faults[0]["point"] == "sacrum" and faults[0]["kind"] == "silent"
    assert "sacrum pad" in faults[0]["message"] and "check" in faults[0]["message"]
    # raised once SILENT_REPS reps were completed with the pad lost, not before
    reps_before = [e for e in of(events, "rep_completed") if e["t"] <= faults[0]["t"]]
    assert len(reps_before) == 1 + SILENT_REPS
    # the alarm was on from the loss until the fault, and off after it
    t_lost, t_fault = lost[0]["t"], faults[0]["t"]
    assert all(on for t, on, _ in timeline if t_lost <= t < t_fault)
    assert not any(on for t, on, _ in timeline if t >= t_fault)
    # the status shows it; the set still ends on the other two points, all reps counted
    assert pipeline.status()["sensor_faults"][0]["point"] == "sacrum"
    done = of(events, "set_completed")
    assert len(done) == 1 and len(done[0]["set"]["reps"]) == 6


def test_a_short_loss_in_every_rep_is_no_sensor_fault():
    losses = [(0, i, 0.3, "head", 0.4) for i in range(6)]
    _, events, _ = run(synth_session(reps=SIX_REPS, losses=losses)[0])
    assert len(of(events, "contact_lost")) == 6
    assert of(events, "sensor_fault") == []


def shorted(frames, point, after_s):
    i = constants.POINTS.index(point) + 1
    return [Frame(*(f[:i] + (constants.SUPPLY_V,) + f[i + 1:])) if f.t >= after_s else f
            for f in frames]


def test_a_pad_shorted_to_the_supply_is_a_sensor_fault_and_sets_go_on_without_it():
    frames, truth = synth_session(reps=((50, 1.2, 1.2, 0.0),) * 3, sets=2)
    first = truth["sets"][0]
    frames = shorted(frames, "upper_back", first["reps"][0]["start"])
    pipeline, events, _ = run(frames)
    faults = of(events, "sensor_fault")
    assert len(faults) == 1 and faults[0]["kind"] == "shorted"
    assert faults[0]["point"] == "upper_back" and "shorted" in faults[0]["message"]
    assert faults[0]["t"] >= first["reps"][0]["start"] + 1.0
    # both sets still start and end (the shorted pad never lets go), reps all counted
    done = of(events, "set_completed")
    assert [len(e["set"]["reps"]) for e in done] == [3, 3]
    assert of(events, "contact_lost") == []
    assert [f["point"] for f in pipeline.status()["sensor_faults"]] == ["upper_back"]


def test_a_shorted_pad_that_reads_normally_again_is_cleared():
    frames, truth = synth_session(reps=((50, 1.2, 1.2, 0.0),) * 3)
    rep = truth["sets"][0]["reps"]
    frames = [Frame(f.t, constants.SUPPLY_V, *f[2:]) if rep[0]["start"] <= f.t < rep[1]["end"]
              else f for f in frames]
    pipeline, events, _ = run(frames)
    faults = of(events, "sensor_fault")
    assert [(e["point"], e["active"]) for e in faults] == [("head", True), ("head", False)]
    assert pipeline.status()["sensor_faults"] == []


def test_a_dead_pad_does_not_keep_the_sets_from_starting():
    # the sacrum pad reads nothing from the start: after a while on the back the
    # fault is shown and the sets start and end on the other two points
    frames, truth = synth_session(reps=SIX_REPS, hold_s=6.0)
    frames = [f._replace(sacrum=0.004) for f in frames]
    pipeline, events, timeline = run(frames)
    faults = of(events, "sensor_fault")
    assert [(e["point"], e["kind"]) for e in faults] == [("sacrum", "silent")]
    assert "5 s" in faults[0]["message"]
    done = of(events, "set_completed")
    assert len(done) == 1 and len(done[0]["set"]["reps"]) == 6
    assert not any(on for _, on, _ in timeline)


def test_a_pad_shorted_by_the_emulated_chip_shows_in_the_core_status():
    from device.hw.mock.factory import build_mock_core
    from device.hw.mock.faults import FaultPlan
    from device.runtime.clock import VirtualClock
    from device.sim.sources import ScriptedAthlete

    rep = ("rep", {"depth_deg": 50, "down_s": 1.0, "up_s": 1.0})
    athlete = ScriptedAthlete.from_steps([("idle", 0.5), ("place", 0.3), ("upright", 1.5), rep,
                                          ("upright", 1.0), rep, ("upright", 1.0),
                                          ("remove", 0.3), ("idle", 1.0)], loop=False)
    core = build_mock_core(athlete, clock=VirtualClock(), faults=FaultPlan(stuck={0: 3.3}))
    try:
        with core.subscribe(types={"sensor_fault", "set_completed", "alert"}) as sub:
            core.start()
            assert core.wait(60)
            events = sub.drain()
        status = core.get_status()
    finally:
        core.close()
        core.pin_factory.reset()
    assert [(e["point"], e["kind"]) for e in events if e["type"] == "sensor_fault"] == [("head", "shorted")]
    assert [f["point"] for f in status["sensor_faults"]] == ["head"]
    done = [e for e in events if e["type"] == "set_completed"]
    assert len(done) == 1 and len(done[0]["set"]["reps"]) == 2
    assert not [e for e in events if e["type"] == "alert" and e["on"]]
