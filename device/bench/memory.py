"""``dowel bench memory``: the core's memory after a simulated hour, and its growth.

The core's whole frame path (pipeline, alerts on mock pins, ring buffer, events
and status to a listener that drains them, as the dashboard does) runs over a
looping simulated session at accelerated time: frames are stamped with trace
time, so an hour goes by in tens of seconds.  Python's own allocation count
(``tracemalloc``) is sampled at the half and at the end; the target is flat
growth over the second half (a bounded ring and bounded queues, no list that
keeps every frame).
"""
from __future__ import annotations

import tracemalloc

from device.bench.tables import BenchResult, Row, table

#: "Flat": the second half of the hour may add at most this much.
GROWTH_TARGET_KIB = 256.0


def _one_pass(rate_hz: float = 200.0) -> list:
    from device.sim.simulator import generate_session

    return generate_session(7).frames(rate_hz=rate_hz, seed=7)


def _frames_for(seconds: float, one_pass: list, rate_hz: float = 200.0):
    """Frames of a looping simulated session, ``seconds`` of trace time."""
    from device.analysis.frames import Frame

    span = one_pass[-1].t + 1.0 / rate_hz
    offset = 0.0
    while True:
        for f in one_pass:
            t = f.t + offset
            if t >= seconds:
                return
            yield Frame(t, f.head, f.upper_back, f.sacrum, f.tilt)
        offset += span


def bench_memory(seconds: float = 3600.0) -> BenchResult:
    from device.analysis.settings import Settings
    from device.hw.alerts import Alerts
    from device.hw.mock.factory import mock_pin_factory
    from device.runtime.core import DowelCore

    core = DowelCore(lambda s: None, Settings(), Alerts(mock_pin_factory()))
    listener = core.subscribe(maxsize=256)
    half = seconds / 2
    one_pass = _one_pass()              # made before tracing: the input is not the core's memory
    tracemalloc.start()
    at_half = None
    frames = 0
    try:
        for frame in _frames_for(seconds, one_pass):
            core._process(frame)
            frames += 1
            if frames % 256 == 0:
                while listener.get(timeout=0) is not None:
                    pass
            if at_half is None and frame.t >= half:
                at_half = tracemalloc.get_traced_memory()[0]
        at_end = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
        listener.close()
        core.alerts.close()
    growth_kib = (at_end - (at_half or at_end)) / 1024
    minutes = seconds / 60
    rows = [["frames", frames, ""],
            [f"traced memory after {minutes:g} min (MiB)", round(at_end / 2**20, 2), ""],
            ["growth over the second half (KiB)", round(growth_kib, 1), f"<= {GROWTH_TARGET_KIB:g}"]]
    text = table(["what", "measured", "target"], rows,
                 title=f"Memory: core frame path over {minutes:g} simulated minutes at 200 frames/s")
    summary = [Row(f"memory after {minutes:g} simulated min / growth over the second half",
                   f"{at_end / 2**20:.1f} MiB / {growth_kib:+.0f} KiB",
                   f"flat (<= {GROWTH_TARGET_KIB:g} KiB)", growth_kib <= GROWTH_TARGET_KIB)]
    return BenchResult("memory", text, summary, {"frames": frames, "end_bytes": at_end,
                                                 "growth_kib": growth_kib})
