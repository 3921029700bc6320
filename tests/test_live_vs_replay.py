"""Live and replay give the same answer: the emulated chip fed by a simulated athlete,
recorded as it runs; then the recorded trace replayed through `replay_frames`.

The live run is the whole stack (polling thread, Adafruit driver, emulated chip
charging a Pi's bus costs) on virtual time, so it runs as fast as the CPU allows
and a loaded machine cannot thin its frames out."""
import pytest

from device.hw.mock.factory import build_mock_core
from device.runtime.clock import VirtualClock
from device.sim import simulator
from device.sim.replay import replay_frames
from device.sim.sources import SimulatedAthlete
from device.sim.trace import read_trace, write_trace


@pytest.mark.slow
def test_live_run_and_replay_of_its_recording_give_the_same_reps(tmp_path):

    session = simulator.generate_session(7)
    source = SimulatedAthlete(session, loop=False)
    core = build_mock_core(source, clock=VirtualClock())
    recorded = []
    core.tap_frames(recorded.append)
    live = core.subscribe(maxsize=100_000, types=["rep_completed", "set_completed", "alert"])
    core.start()
    try:
        assert core.wait(timeout=session.duration_s + 60)
    finally:
        core.close()
        core.pin_factory.reset()
    events = live.drain()
    live_sets = [e["set"] for e in events if e["type"] == "set_completed"]
    live_alerts = [e for e in events if e["type"] == "alert" and e["on"]]

    # The recording, written and read back as a trace file, replayed.
    path = tmp_path / "live.csv"
    write_trace(path, recorded)
    doc = replay_frames(read_trace(path))

    assert len(recorded) > 1000
    assert [len(s["reps"]) for s in doc["sets"]] == [len(s["reps"]) for s in live_sets]
    truth_reps = [len(s["reps"]) for s in session.truth["sets"]]
    assert [len(s["reps"]) for s in live_sets] == truth_reps
    for live_set, replay_set in zip(live_sets, doc["sets"]):
        for a, b in zip(live_set["reps"], replay_set["reps"]):
            # the file rounds volts to 0.1 mV, so allow a hair of difference
            assert b["start"] == pytest.approx(a["start"], abs=0.02)
            assert b["depth_deg"] == pytest.approx(a["depth_deg"], abs=0.5)
            assert [l["point"] for l in b["losses"]] == [l["point"] for l in a["losses"]]
    assert len(doc["alerts"]) == len(live_alerts)
