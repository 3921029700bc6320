"""The accuracy bench: scoring rules on hand-made documents, and a small run on
the simulator asserting the product's targets (the 50-session run is `dowel bench accuracy`)."""
from __future__ import annotations

import pytest

from device.bench.accuracy import (
    format_table,
    match_losses,
    run_accuracy_bench,
    score_session,
)


def rep(start, end, depth, losses=()):
    return {"start": start, "end": end, "depth_deg": depth, "down_s": 1.0, "up_s": 1.0,
            "losses": list(losses), "clean": not losses}


def loss(point, start, duration=0.3):
    return {"point": point, "start": start, "duration_s": duration}


def truth_doc():
    return {"sets": [{"start": 1.0, "removal_start": 20.0, "end": 20.3, "reps": [
        rep(3.0, 6.0, 50.0, [loss("head", 4.0)]),
        rep(7.0, 10.0, 60.0),
        rep(11.0, 14.0, 40.0, [loss("sacrum", 12.0)]),
    ]}]}


def test_a_perfect_document_scores_perfectly():
    truth = truth_doc()
    doc = {"sets": [dict(s) for s in truth["sets"]],
           "alerts": [{"point": "head", "on": 4.02, "off": 4.3},
                      {"point": "sacrum", "on": 12.03, "off": 12.3}]}
    sc = score_session(doc, truth)
    assert sc["rep_errors"] == [0]
    assert sc["matched_losses"] == sc["truth_losses"] == sc["got_losses"] == 2
    assert sc["latencies"] == pytest.approx([0.02, 0.03])
    assert sc["false_alerts"] == 0 and sc["missed_alerts"] == 0
    assert sc["depth_errors"] == [0.0, 0.0, 0.0]
    assert sc["failures"] == []


def test_wrong_point_late_start_extra_set_and_chirp_are_all_caught():
    truth = truth_doc()
    got = {"start": 1.0, "end": 20.2, "reps": [
        rep(3.0, 6.0, 53.0, [loss("upper_back", 4.0)]),      # wrong point
        rep(7.0, 10.0, 60.0),
        rep(11.0, 14.0, 40.0, [loss("sacrum", 12.2)]),      # 200 ms late
        rep(15.0, 17.0, 30.0),                               # an extra rep
    ]}
    extra = {"start": 30.0, "end": 35.0, "reps": [rep(31.0, 33.0, 40.0)]}
    doc = {"sets": [got, extra], "alerts": [{"point": "head", "on": 4.1, "off": 4.3},
                                            {"point": "sacrum", "on": 20.1, "off": 20.2}]}
    sc = score_session(doc, truth)
    assert sorted(sc["rep_errors"]) == [1, 1]
    assert sc["matched_losses"] == 0 and sc["got_losses"] == 2
    assert sc["latencies"] == pytest.approx([0.1])
    assert sc["missed_alerts"] == 1 and sc["false_alerts"] == 1
    assert any("late alert" in f for f in sc["failures"])
    assert any("false alert" in f for f in sc["failures"])
    assert max(sc["depth_errors"]) == pytest.approx(3.0)


def test_losses_match_by_point_and_start_once_each():
    truth = [loss("head", 1.0), loss("head", 1.1)]
    got = [loss("head", 1.02), loss("sacrum", 1.0), loss("head", 1.2)]
    assert sorted(match_losses(truth, got)) == [(0, 0), (1, 2)]


@pytest.fixture(scope="module")
def small_bench():
    return run_accuracy_bench(n_sessions=4, seed=100)


def test_small_bench_meets_the_accuracy_targets(small_bench):
    for rate, r in small_bench["rates"].items():
        assert r["sets"] > 0
        assert r["rep_exact_pct"] == 100.0, (rate, r["failures"])
        assert r["loss_recall_pct"] >= 98.0 or r["loss_truth"] == 0, (rate, r["failures"])
        assert r["loss_precision_pct"] >= 98.0 or r["loss_reported"] == 0, (rate, r["failures"])
        assert r["depth_err_median_deg"] <= 5.0
        if r["loss_truth"]:
            assert r["latency_median_ms"] <= 40.0
            assert r["latency_max_ms"] <= 80.0, (rate, r["failures"])
    assert small_bench["rate_disagreements"] == []


def test_table_lists_every_target(small_bench):
    text = format_table(small_bench)
    for label in ("rep count exact", "loss recall", "loss precision", "depth error median",
                  "alert latency max", "false alerts", "CPU per frame", "200 fps", "50 fps"):
        assert label in text
