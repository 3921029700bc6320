"""``dowel bench cpu``: processing cost per frame, and replay speed against real time.

Wall-clock on purpose: the real CPU is the thing measured.  Each figure is a
percentile or a ratio taken within one run, so a loaded machine moves it less
than it would move an absolute rate.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from device.bench.tables import pct, table

#: The sample session the repository carries for tests (two sets of ten reps).
SAMPLE_TRACE = Path(__file__).resolve().parents[2] / "tests" / "data" / "sloppy-two-sets.csv"


def bench_cpu(trace: str | None = None, repeats: int = 3) -> str:
    """Per-frame cost of Pipeline.feed (+ alerts) on a recorded or simulated session."""
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
    rows.append(_core_row(frames))
    return table(["what", "frames", "mean us", "p50 us", "p95 us", "p99 us", "vs real time"],
                 rows, title=f"CPU per frame on {name} (target: <= 50 us per frame)")


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


