"""Signal sources: trace sample-and-hold, the looping simulated athlete, scripted athletes."""
from __future__ import annotations

import pytest

from device.analysis.frames import Frame
from device.hw import constants
from device.sim.simulator import generate_session
from device.sim.sources import ScriptedAthlete, SimulatedAthlete, TraceSource

POINTS = constants.POINTS

STEPS = [
    ("idle", 1.0),
    ("place", 0.3),
    ("upright", 2.0),
    ("rep", {"depth_deg": 50, "down_s": 1.0, "up_s": 1.0}),
    ("rep", {"depth_deg": 55, "down_s": 1.2, "up_s": 1.0, "loss": ("sacrum", 0.5, 0.6)}),
    ("upright", {"duration_s": 1.5, "wobble_deg": 6}),
    ("rep", {"depth_deg": 45, "down_s": 1.0, "up_s": 1.0, "pause_s": 0.5,
             "losses": [("head", 0.8, 0.5), ("upper_back", 1.0, 0.3)]}),
    ("dropout", {"point": "upper_back", "at_s": 0.4}),
    ("upright", 1.0),
    ("remove", 0.3),
    ("idle", 1.5),
]


def _frames(n=5, dt=0.005):
    return [Frame(i * dt, 1.0 + i, 2.0 + i, 3.0 + i, 1.65) for i in range(n)]


def test_trace_source_holds_the_frame_at_or_before_t():
    src = TraceSource(_frames())
    assert src.voltages(0.0) == (1.0, 2.0, 3.0, 1.65)
    assert src.voltages(0.0049) == (1.0, 2.0, 3.0, 1.65)
    assert src.voltages(0.005) == (2.0, 3.0, 4.0, 1.65)
    assert src.voltages(0.0175) == (4.0, 5.0, 6.0, 1.65)    # jumped two frames
    assert src.voltages(0.001) == (1.0, 2.0, 3.0, 1.65)     # time going back still works
    assert src.voltages(-1.0) == (1.0, 2.0, 3.0, 1.65)
    assert not src.finished
    assert src.voltages(0.021) == (5.0, 6.0, 7.0, 1.65)     # the last frame is held a period
    assert not src.finished
    assert src.voltages(0.03) == (5.0, 6.0, 7.0, 1.65)
    assert src.finished


def test_trace_source_loops():
    src = TraceSource(_frames(), loop=True)                # period 0.025 s
    for t in (0.0, 0.006, 0.012, 0.024):
        assert src.voltages(t + 0.025 * 3) == pytest.approx(TraceSource(_frames()).voltages(t))
    assert not src.finished


def test_trace_source_refuses_bad_frames():
    with pytest.raises(ValueError, match="at least one frame"):
        TraceSource([])
    with pytest.raises(ValueError, match="backwards"):
        TraceSource([Frame(1.0, 0, 0, 0, 1.65), Frame(0.5, 0, 0, 0, 1.65)])


def test_trace_source_replays_a_recording_exactly():
    frames = generate_session(2).frames(rate_hz=200, seed=2)
    src = TraceSource(frames)
    assert all(src.voltages(f.t) == tuple(f[1:]) for f in frames)


def test_simulated_athlete_loops_or_finishes():
    session = generate_session(5)
    looping = SimulatedAthlete(session, loop=True)
    once = SimulatedAthlete(session, loop=False)
    d = session.duration_s
    for t in (0.5, 7.25, d * 0.6):
        assert looping.voltages(t + d) == pytest.approx(session.voltages(t), abs=1e-9)
        assert looping.voltages(t + 2 * d) == pytest.approx(session.voltages(t), abs=1e-9)
    assert not looping.finished
    once.voltages(d * 0.5)
    assert not once.finished
    once.voltages(d + 0.01)
    assert once.finished
    assert SimulatedAthlete(seed=5).truth == session.truth


def test_scripted_athlete_truth_is_the_script():
    a = ScriptedAthlete.from_steps(STEPS, loop=False)
    (st,) = a.truth["sets"]
    assert st["start"] == 1.0 and st["removal_start"] == 12.5 and st["end"] == 12.8
    assert [r["start"] for r in st["reps"]] == [3.3, 5.3, 9.0]
    assert [r["depth_deg"] for r in st["reps"]] == pytest.approx([50, 55, 45])
    assert [r["losses"] for r in st["reps"]] == [
        [], [{"point": "sacrum", "start": 5.8, "duration_s": 0.6}],
        [{"point": "head", "start": 9.8, "duration_s": 0.5},
         {"point": "upper_back", "start": 10.0, "duration_s": 0.3}]]
    assert a.duration_s == pytest.approx(14.3)
    # the signal says the same: sacrum at ~0 V during its loss, held otherwise
    sacrum = POINTS.index("sacrum")
    assert a.voltages(6.1)[sacrum] < 0.05
    assert a.voltages(5.7)[sacrum] > 1.5 and a.voltages(6.5)[sacrum] > 1.5
    assert max(a.voltages(0.5)[:3]) < 0.03                       # idle: nothing touches
    assert a.voltages(4.3)[3] == pytest.approx(1.65 + 0.33 * __import__("math").sin(
        __import__("math").radians(52.0)), abs=0.02)             # bottom of rep 1 (+2 deg mount)


def test_scripted_dropout_is_one_frame():
    a = ScriptedAthlete.from_steps(STEPS, loop=False)
    ub = 1 + POINTS.index("upper_back")
    hits = 0
    for seed in range(8):
        frames = a.frames(rate_hz=200, jitter=0.2, seed=seed)
        low = [f.t for f in frames if 9.0 < f.t < 12.4 and f[ub] < 0.5]
        # the loss (10.0-10.3 s) plus at most the one dropout frame at 11.9 s
        dropout = [t for t in low if not 9.95 < t < 10.35]
        assert len(dropout) <= 1 and all(11.9 <= t < 11.903 for t in dropout)
        hits += len(dropout)
    assert hits >= 2        # a 3 ms glitch is seen by some 5 ms frame grids, not all


def test_scripted_athlete_through_the_replay_pipeline():
    """What the pipeline finds in a scripted trace is what the script did."""
    from device.sim.replay import replay_frames

    a = ScriptedAthlete.from_steps(STEPS, loop=False)
    for rate in (200, 50):
        doc = replay_frames(a.frames(rate_hz=rate, seed=1))
        (s,) = doc["sets"]
        assert len(s["reps"]) == 3
        got = [(l["point"], round(l["start"], 1)) for r in s["reps"] for l in r["losses"]]
        assert got == [("sacrum", 5.8), ("head", 9.8), ("upper_back", 10.0)]


@pytest.mark.parametrize("steps, message", [
    ([("idle", 1.0), ("rep", {"depth_deg": 40, "down_s": 1, "up_s": 1})], "step 2 \\(rep\\).*place it first"),
    ([("idle", 1.0), ("place", 0.3), ("remove", 0.3), ("jump", 1.0)], "step 4.*unknown step kind 'jump'"),
    ([("idle", 1.0), ("place", 0.3), ("rep", {"depth_deg": 40, "down_s": 1, "up_s": 1,
                                               "loss": ("sacrum", 1.5, 0.6)})], "step 3.*does not fit"),
    ([("idle", 1.0), ("place", 0.3), ("rep", {"depth_deg": 40, "down_s": 1})], "step 3.*up_s"),
    ([("idle", 1.0), ("place", 0.3), ("upright", 1.0)], "ends with the dowel on"),
    ([("idle",)], "step 1"),
])
def test_scripted_athlete_refuses_bad_steps(steps, message):
    with pytest.raises(ValueError, match=message):
        ScriptedAthlete.from_steps(steps)


def test_a_looping_generated_athlete_moves_on_to_a_new_session_each_pass():
    from device.sim.sources import SimulatedAthlete

    athlete = SimulatedAthlete(seed=5, loop=True)
    first = athlete.session
    first_duration = athlete.duration_s
    assert athlete._next_thread is None           # nothing made for a pass not yet half played
    athlete.voltages(first_duration * 0.6)        # past half: the next one is made meanwhile
    athlete._next_thread.join(10)
    athlete.voltages(first_duration + 0.5)
    assert athlete.session is not first and athlete.seed == 6
    assert athlete.voltages(first_duration + 0.5) == athlete.session.voltages(0.5)
    assert not athlete.finished


def test_a_given_session_is_repeated_as_it_is():
    from device.sim.simulator import generate_session
    from device.sim.sources import SimulatedAthlete

    session = generate_session(2)
    athlete = SimulatedAthlete(session, loop=True)
    assert athlete.voltages(session.duration_s + 1.25) == session.voltages(1.25)
    assert athlete.session is session
