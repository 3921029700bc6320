"""The ``dowel`` command as a user runs it: real subprocesses."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from device.analysis.frames import Frame
from device.hw.constants import fsr_volts
from device.sim.trace import read_trace, write_trace

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests" / "data" / "sloppy-two-sets.csv"
TRUTH = SAMPLE.with_suffix(".truth.json")


def dowel(*args, timeout=120, data_dir=None):
    env = dict(os.environ)
    if data_dir is not None:
        env["DOWEL_DATA_DIR"] = str(data_dir)
    return subprocess.run([sys.executable, "-m", "device.cli", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, env=env)


@pytest.mark.slow
@pytest.mark.parametrize("command", ["", "run", "record", "replay", "calibrate", "simulate",
                                     "bench", "history", "export", "token"])
def test_every_subcommand_explains_itself(command):
    result = dowel(*(command.split() + ["--help"]))
    assert result.returncode == 0, result.stderr
    assert "usage: dowel" in result.stdout


@pytest.mark.slow
def test_replay_json_alerts_match_the_sample_truth():
    result = dowel("replay", SAMPLE, "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert {"frames", "duration_s", "rate_hz", "sets", "alerts"} <= set(doc)
    truth = json.loads(TRUTH.read_text())
    losses = [l for s in truth["sets"] for r in s["reps"] for l in r["losses"]]
    assert len(doc["alerts"]) == len(losses)
    latencies = []
    for loss, alert in zip(sorted(losses, key=lambda l: l["start"]),
                           sorted(doc["alerts"], key=lambda a: a["on"])):
        assert alert["point"] == loss["point"]
        latency = alert["on"] - loss["start"]
        assert 0 <= latency <= 0.080
        latencies.append(latency)
    latencies.sort()
    assert latencies[len(latencies) // 2] <= 0.040
    assert [len(s["reps"]) for s in doc["sets"]] == [len(s["reps"]) for s in truth["sets"]]


@pytest.mark.slow
def test_replay_table_is_readable():
    result = dowel("replay", SAMPLE)
    assert result.returncode == 0, result.stderr
    assert "Set 1" in result.stdout and "Set 2" in result.stdout and "sacrum" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("text, where", [
    ("t,head,upper_back,sacrum\n0,1,1,1\n", ":1: field 'tilt'"),
    ("t,head,upper_back,sacrum,tilt\n0,1,1,1,1\n1,1,x,1,1\n", ":3: field 'upper_back'"),
    ("t,head,upper_back,sacrum,tilt\n1,1,1,1,1\n0.5,1,1,1,1\n", ":3: field 't'"),
    ("0,1,1,1,1\n", ":1: missing header"),
])
def test_bad_trace_exits_2_naming_file_line_and_field(tmp_path, text, where):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    for args in (("replay", path), ("run", "--mock", "--no-web", "--no-history", "--trace", path)):
        result = dowel(*args, data_dir=tmp_path)
        assert result.returncode == 2
        assert f"{path}{where}" in result.stderr


@pytest.mark.slow
def test_run_mock_plays_a_trace_to_its_end_and_stores_the_reps(tmp_path):
    db = tmp_path / "history.db"
    # 4x: the emulated chip's frames at 4x real time leave a loaded machine room;
    # at 8x a stall of 0.1 s skipped most of a second of the trace
    result = dowel("run", "--mock", "--trace", SAMPLE, "--speed", "4", "--no-web", "--db", db,
                   timeout=240, data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Reading from: trace sloppy-two-sets.csv" in out
    assert out.count("set 1 started") == 1 and "set 2 done: 10 reps" in out
    assert "sacrum LOST" in out and "head LOST" in out
    import sqlite3

    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM reps").fetchone()[0] == 20


@pytest.mark.slow
def test_record_writes_a_valid_trace(tmp_path):
    out = tmp_path / "rec.csv"
    result = dowel("record", out, "--mock", "--trace", SAMPLE, "--speed", "10", "--seconds", "4",
                   data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    frames = read_trace(out)
    # A whole, ordered recording; how many frames a loaded machine manages per
    # second is the sampling bench's business, not a test's.
    assert frames[-1].t >= 4.0 and len(frames) > 20
    assert all(a.t < b.t for a, b in zip(frames, frames[1:]))
    # what was recorded is what the trace said at those times (sample and hold)
    assert all(abs(f.tilt - 1.65) < 0.5 for f in frames)


@pytest.mark.slow
def test_calibrate_stores_thresholds(tmp_path):
    hold = [Frame(i / 200, fsr_volts(3.0), fsr_volts(5.0), fsr_volts(2.0), 1.68) for i in range(1600)]
    trace = tmp_path / "hold.csv"
    write_trace(trace, hold)
    result = dowel("calibrate", "--trace", trace, "--speed", "4", "--seconds", "2",
                   "--data-dir", tmp_path, data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    settings = json.loads((tmp_path / "settings.json").read_text())
    head = settings["calibration"]["points"]["head"]
    assert head["rest_v"] == pytest.approx(fsr_volts(3.0), abs=0.01)
    assert settings["calibration"]["tilt_upright_v"] == pytest.approx(1.68, abs=0.01)


@pytest.mark.slow
def test_calibrate_without_contact_fails_with_advice(tmp_path):
    idle = [Frame(i / 200, 0.0, 0.0, 0.0, 1.9) for i in range(1600)]
    trace = tmp_path / "idle.csv"
    write_trace(trace, idle)
    result = dowel("calibrate", "--trace", trace, "--speed", "4", "--seconds", "1",
                   "--data-dir", tmp_path, data_dir=tmp_path)
    assert result.returncode == 1
    assert "no contact" in result.stderr
    assert not (tmp_path / "settings.json").exists()


@pytest.mark.slow
def test_run_without_mock_off_a_pi_says_to_use_mock(tmp_path):
    result = dowel("run", "--no-web", "--no-history", data_dir=tmp_path)
    assert result.returncode == 1
    assert "--mock" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("flags", [("--speed", "-1"), ("--speed", "fast"), ("--rate", "0"),
                                   ("--exercise", "deadlift"), ("--data-rate", "900")])
def test_bad_flags_exit_2_with_a_message(tmp_path, flags):
    result = dowel("run", "--mock", "--no-web", "--no-history", *flags, data_dir=tmp_path)
    assert result.returncode == 2
    assert flags[0] in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_port_in_use_is_a_clear_error(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = dowel("run", "--mock", "--host", "127.0.0.1", "--port", port, "--no-history",
                       data_dir=tmp_path)
    assert result.returncode == 2
    assert "--port" in result.stderr and "Traceback" not in result.stderr


def test_the_last_lines_of_a_trace_are_shown_though_the_core_finished_first(capsys):
    # The trace runs out while the terminal's thread is behind: the last rep and the
    # set's end are in its queue when the core says it has finished.  They used to be
    # dropped (the loop looked at "finished" before at what was still queued).
    import argparse
    import threading

    from device.cli.run import Device, _show_until_stopped
    from device.runtime.events import EventBus

    bus = EventBus()

    class FinishesFirst:
        finished = threading.Event()

        def subscribe(self, maxsize):
            sub = bus.subscribe(maxsize=maxsize)
            # the core gets ahead of the terminal: its last events, then the end
            bus.publish({"type": "rep_completed", "t": 99.4, "rep_index": 10,
                         "rep": {"depth_deg": 50.0, "down_s": 1.2, "up_s": 1.1, "losses": []}})
            bus.publish({"type": "set_completed", "t": 104.0, "set_number": 2,
                         "set": {"reps": [{"clean": True}] * 10}})
            self.finished.set()
            return sub

    _show_until_stopped(argparse.Namespace(quiet=False), Device(core=FinishesFirst(), data_dir=Path(".")),
                        threading.Event())
    out = capsys.readouterr().out
    assert "rep 10: depth 50 deg" in out and "set 2 done: 10 reps, 10 clean" in out


def test_record_keeps_the_frames_that_came_with_the_end_of_the_trace(tmp_path, monkeypatch):
    # The recording thread found its queue empty, then the polling thread queued the
    # trace's last frame and said it had finished, and only then was "finished"
    # looked at: the last frame was left in the queue, missing from the file.
    import argparse
    import threading

    from device.cli import record

    class LastFrameWithTheEnd:
        source = None
        crashed = False

        def __init__(self):
            self.tap = None
            self.alerts = argparse.Namespace(close=lambda: None)
            core = self

            class Finished:
                def is_set(self):
                    if core.tap is not None:        # the last frame, then the end
                        core.tap(Frame(0.03, 0.5, 0.6, 0.7, 1.65))
                        core.tap = None
                    return True
            self.finished = Finished()

        def tap_frames(self, callback):
            self.tap = callback

        def start(self):
            for i in range(3):
                self.tap(Frame(i / 100, 0.5, 0.6, 0.7, 1.65))

        def stop(self):
            pass

    monkeypatch.setattr(record, "load_settings", lambda args: (None, None))
    monkeypatch.setattr(record, "build_core", lambda *a: LastFrameWithTheEnd())
    monkeypatch.setattr(record, "stop_on_signals", threading.Event)   # the test's own handlers stay
    out = tmp_path / "rec.csv"
    assert record.cmd_record(argparse.Namespace(out=str(out), seconds=None)) == 0
    assert [f.t for f in read_trace(out)] == [0.0, 0.01, 0.02, 0.03]
