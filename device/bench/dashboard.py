"""``dowel bench dashboard``: what live phones cost the polling loop.

This package never imports the web layer: the caller (the ``dowel`` command,
the composition root) hands in ``serve(core, threads)``, which builds the
dashboard for ``core`` and returns a bound server with ``port``, ``run()`` and
``close()``.  Wall-clock on purpose: the real interpreter shared by the web
threads and the polling thread is the thing measured.
"""
from __future__ import annotations

import json
import threading
import time
from typing import Callable

import numpy as np

from device.bench.tables import BenchResult, Row, pct, table

#: ``serve(core, threads) -> server`` (``server.port``, ``server.run()``, ``server.close()``).
ServeDashboard = Callable[[object, int], object]


def run_dashboard_bench(serve: ServeDashboard, seconds: float = 3.0,
                        phone_counts=(10, 50), progress=None) -> BenchResult:
    """:func:`bench_dashboard` for each number of phones; summary rows with targets."""
    texts, rows, data = [], [], {}
    for i, phones in enumerate(phone_counts):
        text, figures = bench_dashboard(serve, seconds=seconds, phones=phones)
        texts.append(text)
        data[phones] = figures
        cost = figures["cost_pct"]
        rows.append(Row(f"{phones} dashboard phones: cost to the core's frame rate",
                        f"{cost:.1f} %", "<= 5 %", cost <= COST_TARGET_PCT))
        if progress:
            progress(i + 1, len(phone_counts))
    low = min(f["updates_min"] for f in data.values())
    rows.append(Row("live updates per phone (min)", f"{low:.1f}/s", ">= 10/s", low >= 10))
    return BenchResult("dashboard", "\n\n".join(texts), rows, data)


COST_TARGET_PCT = 5.0


def bench_dashboard(serve: ServeDashboard, seconds: float = 4.0, phones: int = 10):
    """Core frame rate with no phone vs ``phones`` SSE clients, and what a phone
    receives.  The cost is a ratio of two rates taken in the same run."""
    import http.client

    from device.hw.mock.factory import build_mock_core

    core = build_mock_core(seed=3)
    server = serve(core, phones + 8)
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
    text = table(["what", "measured", "target"], rows,
                 title=f"Dashboard, {phones} phones (mock core at 860 SPS, waitress, SSE)")
    return text, {"base_hz": base, "loaded_hz": loaded, "cost_pct": cost,
                  "updates_min": min(per_phone), "latency_p50_ms": p50}


def _frame_rate(core, seconds: float) -> float:
    start_frames = core.get_status()["health"]["frames"]
    t0 = time.monotonic()
    time.sleep(seconds)
    frames = core.get_status()["health"]["frames"] - start_frames
    return frames / (time.monotonic() - t0)


