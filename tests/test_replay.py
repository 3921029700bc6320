"""Replay: the sample session against its truth, at 200 and 50 frames/s, and the report."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory
from test_pipeline import synth_session

from device.analysis.frames import Frame
from device.hw import constants
from device.sim.replay import format_report, replay_frames

SAMPLES = Path(__file__).parent / "data"
SAMPLE = SAMPLES / "sloppy-two-sets.csv"
TRUTH = SAMPLES / "sloppy-two-sets.truth.json"



def load(path):
    with open(path, newline="") as f:
        rows = csv.reader(f)
        header = next(rows)
        cols = [header.index(c) for c in ("t",) + constants.CHANNELS]
        return [Frame(*(float(r[c]) for c in cols)) for r in rows if r]


@pytest.fixture(scope="module")
def sample():
    return load(SAMPLE), json.loads(TRUTH.read_text())


@pytest.fixture(scope="module")
def doc200(sample):
    return replay_frames(sample[0])


@pytest.fixture(scope="module")
def doc50(sample):
    return replay_frames(sample[0][::4])


def truth_losses(truth):
    return [l for s in truth["sets"] for r in s["reps"] for l in r["losses"]]


def doc_losses(doc):
    return [l for s in doc["sets"] for r in s["reps"] for l in r["losses"]]


@pytest.mark.parametrize("which", ["doc200", "doc50"])
def test_sample_sets_reps_and_losses_match_the_truth(which, sample, request):
    doc = request.getfixturevalue(which)
    truth = sample[1]
    assert len(doc["sets"]) == len(truth["sets"])
    for got, want in zip(doc["sets"], truth["sets"]):
        assert abs(got["start"] - want["start"]) < 0.2
        assert abs(got["end"] - want["end"]) < 0.2
        assert len(got["reps"]) == len(want["reps"])
        for g, w in zip(got["reps"], want["reps"]):
            assert abs(g["depth_deg"] - w["depth_deg"]) < 5.0
            assert [l["point"] for l in g["losses"]] == [l["point"] for l in w["losses"]]
            for gl, wl in zip(g["losses"], w["losses"]):
                assert abs(gl["start"] - wl["start"]) < 0.15
                assert abs(gl["duration_s"] - wl["duration_s"]) < 0.1
            assert g["clean"] == (not w["losses"])
    assert len(doc_losses(doc)) == len(truth_losses(truth))


@pytest.mark.parametrize("which", ["doc200", "doc50"])
def test_sample_alerts_one_per_loss_within_80_ms(which, sample, request):
    doc = request.getfixturevalue(which)
    losses = truth_losses(sample[1])
    assert len(doc["alerts"]) == len(losses)            # none at placing or removal
    for alert, loss in zip(doc["alerts"], losses):
        assert alert["point"] == loss["point"]
        assert 0.0 <= alert["on"] - loss["start"] <= 0.08
        assert alert["off"] > alert["on"]


def test_sample_same_answers_at_50_and_200_fps(doc200, doc50):
    def shape(doc):
        return [[(len(r["losses"]), r["clean"]) for r in s["reps"]] for s in doc["sets"]]
    assert shape(doc50) == shape(doc200)
    for s50, s200 in zip(doc50["sets"], doc200["sets"]):
        for a, b in zip(s50["reps"], s200["reps"]):
            assert abs(a["depth_deg"] - b["depth_deg"]) < 3.0
            for la, lb in zip(a["losses"], b["losses"]):
                assert la["point"] == lb["point"] and abs(la["start"] - lb["start"]) < 0.03


def test_document_shape_and_rounding(doc200, sample):
    frames = sample[0]
    assert set(doc200) == {"frames", "duration_s", "rate_hz", "sets", "alerts"}
    assert doc200["frames"] == len(frames)
    assert doc200["duration_s"] == pytest.approx(frames[-1].t - frames[0].t, abs=0.001)
    assert doc200["rate_hz"] == pytest.approx(200, abs=2)
    rep = doc200["sets"][0]["reps"][0]
    assert set(rep) == {"start", "end", "depth_deg", "down_s", "up_s", "losses", "clean"}
    assert rep["depth_deg"] == round(rep["depth_deg"], 1)
    assert rep["start"] == round(rep["start"], 3)
    assert set(doc200["alerts"][0]) == {"point", "on", "off"}
    json.dumps(doc200)


def test_alerts_drive_gpiozero_pins_on_the_given_factory():
    frames, truth = synth_session(losses=[(0, 0, 1.0, "head", 0.4), (0, 2, 0.5, "sacrum", 0.3)])
    factory = MockFactory()
    try:
        doc = replay_frames(frames, pin_factory=factory)
        led = factory.pin(constants.PIN_LED)
        buzzer = factory.pin(constants.PIN_BUZZER)
        on_off = [s.state for s in led.states]
        assert on_off == [False, True, False, True, False]
        assert [s.state for s in buzzer.states] == on_off
        assert [a["point"] for a in doc["alerts"]] == ["head", "sacrum"]
    finally:
        factory.reset()


def test_alert_still_on_at_the_end_is_closed_at_the_last_frame():
    frames, _ = synth_session(losses=[(0, 2, 0.5, "sacrum", 5.0)], end_mid_rep=False)
    # cut the stream while the sacrum is still lost
    lost_at = [a for a in replay_frames(frames)["alerts"]][0]["on"]
    cut = [f for f in frames if f.t < lost_at + 0.5]
    doc = replay_frames(cut)
    assert doc["alerts"][-1]["off"] == round(cut[-1].t, 3)
    assert len(doc["sets"]) == 1


def test_format_report_is_a_readable_table(doc200):
    text = format_report(doc200)
    assert "Set 1" in text and "Set 2" in text
    assert "head at 20.4" in text
    assert text.count("clean") >= 15


def test_empty_trace_gives_an_empty_document():
    doc = replay_frames([])
    assert doc == {"frames": 0, "duration_s": 0.0, "rate_hz": 0.0, "sets": [], "alerts": []}
    assert "0 frames" in format_report(doc)
