"""``dowel bench cpu``: processing cost per frame, and replay speed against real time.

Wall-clock on purpose: the real CPU is the thing measured.  Each figure is a
percentile or a ratio taken within one run, so a loaded machine moves it less
than it would move an absolute rate.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import numpy as np

from device.bench.tables import BenchResult, Row, pct, table

#: The sample session the repository carries for tests (two sets of ten reps).
SAMPLE_TRACE = Path(__file__).resolve().parents[2] / "tests" / "data" / "sloppy-two-sets.csv"


def bench_cpu(trace: Optional[str] = None, repeats: int = 3) -> BenchResult:
    """Per-frame cost of Pipeline.feed (+ alerts) and of the core's whole frame
    path on a recorded or simulated session, and the replay speed."""
    from device.analysis.pipeline import Pipeline
    from device.analysis.settings import Settings
    from device.hw.alerts import Alerts
    from device.hw.mock.factory import mock_pin_factory

    frames, name = _bench_frames(trace)
    rows = []
    for label, step in (("pipeline.feed", 1), ("pipeline.feed, 50 fps", 4)):
        data = frames[::step]
        totals = []
        per_frame = []
        for _ in range(repeats):
            pipeline = Pipeline(Settings())
            alerts = Alerts(mock_pin_factory())
            clock = time.perf_counter
            times = np.empty(len(data))
            start = clock()
            for i, frame in enumerate(data):
                t0 = clock()
                pipeline.feed(frame)
                alerts.update(pipeline.alert_wanted)
                times[i] = clock() - t0
            totals.append(clock() - start)
            pipeline.finish(data[-1].t)
            alerts.close()
            per_frame.append(times)
        best = int(np.argmin(totals))
        us = per_frame[best] * 1e6
        duration = data[-1].t - data[0].t
        p50, p95, p99 = pct(us)
        rows.append([label, len(data), round(float(us.mean()), 2), round(p50, 2), round(p95, 2),
                     round(p99, 2), f"{duration / totals[best]:,.0f}x"])
    core = _core_row(frames)
    rows.append(core)
    speed = replay_speed(frames)
    rows.append(["dowel replay (whole trace)", len(frames), "", "", "", "", f"{speed:,.0f}x"])
    text = table(["what", "frames", "mean us", "p50 us", "p95 us", "p99 us", "vs real time"],
                 rows, title=f"CPU per frame on {name} (target: core <= 20 us per frame)")
    core_p50, core_p99 = core[3], core[5]
    summary = [
        Row("core CPU per frame p50 (whole frame path, status included)", f"{core_p50:.1f} us",
            "<= 20 us", core_p50 <= CORE_TARGET_US),
        Row("core CPU per frame p99", f"{core_p99:.1f} us", ""),
        Row("replay speed", f"{speed:,.0f}x real time", ">= 100x", speed >= REPLAY_TARGET_X),
    ]
    return BenchResult("cpu", text, summary, {"trace": name, "core_p50_us": core_p50,
                                               "core_p99_us": core_p99, "replay_x": speed})


#: Targets: the core's processing per frame on a developer machine, and replay.
CORE_TARGET_US = 20.0
REPLAY_TARGET_X = 100.0


def replay_speed(frames) -> float:
    """``dowel replay``'s pipeline over the whole trace, as a multiple of real time
    (the best of three runs, so a moment of load elsewhere does not decide it)."""
    from device.analysis.settings import Settings
    from device.sim.replay import replay_frames

    duration = frames[-1].t - frames[0].t
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        replay_frames(frames, Settings())
        best = min(best, time.perf_counter() - t0)
    return duration / best


def _core_row(frames) -> list:
    """Everything the polling loop does per frame except the ADC read: pipeline,
    alerts on mock pins, ring buffer, events and throttled status to a listener."""
    from device.analysis.settings import Settings
    from device.hw.alerts import Alerts
    from device.hw.mock.factory import mock_pin_factory
    from device.runtime.core import DowelCore

    core = DowelCore(lambda s: None, Settings(), Alerts(mock_pin_factory()))
    listener = core.subscribe(maxsize=100_000)
    clock = time.perf_counter
    times = np.empty(len(frames))
    start = clock()
    for i, frame in enumerate(frames):
        t0 = clock()
        core._process(frame)
        times[i] = clock() - t0
    total = clock() - start
    core.alerts.close()
    listener.close()
    us = times * 1e6
    p50, p95, p99 = pct(us)
    duration = frames[-1].t - frames[0].t
    return ["core per frame (all but the ADC)", len(frames), round(float(us.mean()), 2),
            round(p50, 2), round(p95, 2), round(p99, 2), f"{duration / total:,.0f}x"]


def _bench_frames(trace):
    if trace:
        from device.sim.trace import read_trace

        return read_trace(trace), Path(trace).name
    sample = SAMPLE_TRACE
    if sample.exists():
        from device.sim.trace import read_trace

        return read_trace(sample), sample.name
    from device.sim.simulator import generate_session

    session = generate_session(1)
    return session.frames(rate_hz=200), "simulated session (seed 1)"


