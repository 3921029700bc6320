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

from device.bench.tables import pct, table

#: ``serve(core, threads) -> server`` (``server.port``, ``server.run()``, ``server.close()``).
ServeDashboard = Callable[[object, int], object]


def bench_dashboard(serve: ServeDashboard, seconds: float = 4.0, phones: int = 10) -> str:
    """Core frame rate with no phone vs ``phones`` SSE clients, and what a phone receives."""
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
    return table(["what", "measured", "target"], rows, title="Dashboard (mock core at 860 SPS, waitress, SSE)")


def _frame_rate(core, seconds: float) -> float:
    start_frames = core.get_status()["health"]["frames"]
    t0 = time.monotonic()
    time.sleep(seconds)
    frames = core.get_status()["health"]["frames"] - start_frames
    return frames / (time.monotonic() - t0)


