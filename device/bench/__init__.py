"""``dowel bench``: performance and accuracy, measured as ratios and percentiles.

Never timed assertions in tests: the numbers are printed as tables, to be read
against the SPEC's targets.

* ``accuracy``  - simulated sessions with ground truth (device/bench_accuracy.py)
* ``sampling``  - frames/s the real driver reaches on the emulated chip vs the ceiling
* ``cpu``       - processing cost per frame of the pipeline, replay speed vs real time
* ``dashboard`` - live updates/s a phone gets and what 10 phones cost the core
* ``history``   - rep_completed to committed on disk
"""
from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

KINDS = ("accuracy", "sampling", "cpu", "dashboard", "history")


def table(headers: Sequence[str], rows: Iterable[Sequence], title: str = "") -> str:
    """A plain-text table with right-aligned numbers."""
    rows = [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    out = [title] if title else []
    out += [line, "  ".join("-" * w for w in widths)]
    for r in rows:
        out.append("  ".join(v.rjust(w) if _numeric(v) else v.ljust(w) for v, w in zip(r, widths)))
    return "\n".join(out)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 0.01 and v != 0 else f"{v:,.2f}".rstrip("0").rstrip(".")
    return str(v)


def _numeric(s: str) -> bool:
    return s.replace(",", "").replace(".", "").replace("-", "").replace("%", "").rstrip("x").isdigit()


def pct(values, qs=(50, 95, 99)) -> list:
    arr = np.asarray(list(values), dtype=float)
    if arr.size == 0:
        return [float("nan")] * len(qs)
    return [float(np.percentile(arr, q)) for q in qs]


# -- cpu ---------------------------------------------------------------------------
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
    sample = Path(__file__).resolve().parents[1] / "tests" / "data" / "sloppy-two-sets.csv"
    if sample.exists():
        from device.sim.trace import read_trace

        return read_trace(sample), sample.name
    from device.sim.simulator import generate_session

    session = generate_session(1)
    return session.frames(rate_hz=200), "simulated session (seed 1)"


# -- dashboard ---------------------------------------------------------------------
def bench_dashboard(seconds: float = 4.0, phones: int = 10) -> str:
    """Core frame rate with no phone vs ``phones`` SSE clients, and what a phone receives."""
    import http.client

    from device.hw.mock.factory import build_mock_core
    from web import create_app
    from web.server import make_server

    core = build_mock_core(seed=3)
    app = create_app(core, {"TOKEN": "bench"})
    server = make_server(app, host="127.0.0.1", port=0, threads=phones + 8)
    threading.Thread(target=server.run, daemon=True).start()
    core.start()
    try:
        time.sleep(1.0)
        base = _frame_rate(core, seconds)
        stop = threading.Event()
        counts = [0] * phones
        latencies: list = []

        def phone(i: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            conn.request("GET", "/api/stream")
            resp = conn.getresponse()
            buf = b""
            while not stop.is_set():
                chunk = resp.fp.read1(65536) if hasattr(resp.fp, "read1") else resp.read(1024)
                if not chunk:
                    break
                buf += chunk
                while b"\n\n" in buf:
                    msg, buf = buf.split(b"\n\n", 1)
                    if b"event: status" in msg or (b"event:" not in msg and b"data:" in msg):
                        counts[i] += 1
                        for line in msg.split(b"\n"):
                            if line.startswith(b"data:"):
                                try:
                                    wall = json.loads(line[5:]).get("wall")
                                except ValueError:
                                    wall = None
                                if wall:
                                    latencies.append(time.time() - wall)
            conn.close()

        threads = [threading.Thread(target=phone, args=(i,), daemon=True) for i in range(phones)]
        for th in threads:
            th.start()
        time.sleep(1.0)
        counts[:] = [0] * phones
        latencies.clear()
        loaded = _frame_rate(core, seconds)
        per_phone = [c / seconds for c in counts]
        stop.set()
    finally:
        core.stop()
        server.close()
        core.alerts.close()
    cost = (base - loaded) / base * 100 if base else float("nan")
    lat_ms = [x * 1000 for x in latencies]
    p50, p95, p99 = pct(lat_ms)
    rows = [
        ["core frames/s, no phone", round(base, 1), ""],
        [f"core frames/s, {phones} phones", round(loaded, 1), ""],
        ["cost of the phones", f"{cost:.1f}%", "<= 5%"],
        ["updates/s per phone (min)", round(min(per_phone), 1), ">= 10"],
        ["updates/s per phone (median)", round(float(np.median(per_phone)), 1), ">= 10"],
        ["frame-to-socket latency p50 ms", round(p50, 1), ""],
        ["frame-to-socket latency p95 ms", round(p95, 1), ""],
    ]
    return table(["what", "measured", "target"], rows, title="Dashboard (mock core at 860 SPS, waitress, SSE)")


def _frame_rate(core, seconds: float) -> float:
    start_frames = core.get_status()["health"]["frames"]
    t0 = time.monotonic()
    time.sleep(seconds)
    frames = core.get_status()["health"]["frames"] - start_frames
    return frames / (time.monotonic() - t0)


# -- history ----------------------------------------------------------------------
def bench_history(reps: int = 200) -> str:
    """Time from a rep_completed event to the rep being readable from another connection."""
    import sqlite3

    from device.history.store import Store
    from device.runtime.events import EventBus
    from device.runtime.writer import HistoryWriter

    class _Core:                         # just enough of DowelCore for the writer
        def __init__(self):
            self.bus = EventBus()
            self.problem = None

        def subscribe(self, maxsize=256, types=None):
            return self.bus.subscribe(maxsize=maxsize, types=types)

        def report_history_problem(self, message):
            self.problem = message

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        core = _Core()
        store = Store(db)
        writer = HistoryWriter(core, store)
        writer.start()
        reader = sqlite3.connect(db)
        wall = time.time()
        core.bus.publish({"type": "set_started", "t": 0.0, "wall": wall, "set_index": 1,
                          "start": 0.0, "exercise": "standing_3point"})
        delays = []
        for i in range(reps):
            t = 2.0 + i * 3.0
            rep = {"start": t, "end": t + 2.5, "depth_deg": 45.0, "down_s": 1.2, "up_s": 1.1,
                   "losses": [], "clean": True}
            sent = time.perf_counter()
            core.bus.publish({"type": "rep_completed", "t": t + 2.5, "wall": wall + t + 2.5,
                              "set_index": 1, "rep_index": i + 1, "rep": rep})
            while True:
                n = reader.execute("SELECT COUNT(*) FROM reps").fetchone()[0]
                if n >= i + 1:
                    break
                time.sleep(0.0005)
            delays.append((time.perf_counter() - sent) * 1000)
        writer.stop()
        reader.close()
    p50, p95, p99 = pct(delays)
    rows = [["reps written", reps, ""], ["p50 ms", round(p50, 2), ""], ["p95 ms", round(p95, 2), ""],
            ["p99 ms", round(p99, 2), ""], ["max ms", round(max(delays), 2), "<= 100"]]
    return table(["rep_completed -> on disk", "measured", "target"], rows,
                 title="History (SQLite WAL, separate reader connection)")


# -- entry point ----------------------------------------------------------------------
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", nargs="*", choices=KINDS + ("all",), default=["all"],
                   help="which benchmarks to run (default all)")
    p.add_argument("--sessions", type=int, default=50, help="accuracy: simulated sessions (default 50)")
    p.add_argument("--seed", type=int, default=0, help="accuracy: first seed")
    p.add_argument("--seconds", type=float, default=3.0,
                   help="sampling and dashboard: seconds per measurement (default 3)")
    p.add_argument("--trace", metavar="FILE", help="cpu: trace to replay (default: the sample)")
    p.add_argument("--phones", type=int, default=10, help="dashboard: SSE clients (default 10)")


def main(args) -> int:
    kinds = KINDS if "all" in args.kind else args.kind
    for kind in kinds:
        if kind == "accuracy":
            from device.bench.accuracy import format_table, run_accuracy_bench

            print(format_table(run_accuracy_bench(n_sessions=args.sessions, seed=args.seed)))
        elif kind == "sampling":
            from device.bench.sampling import format_table, run_sampling_bench

            print(format_table(run_sampling_bench(seconds=args.seconds)))
        elif kind == "cpu":
            print(bench_cpu(args.trace))
        elif kind == "dashboard":
            print(bench_dashboard(seconds=args.seconds, phones=args.phones))
        elif kind == "history":
            print(bench_history())
        print(flush=True)
    return 0
