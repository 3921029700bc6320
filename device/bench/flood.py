"""``dowel bench flood``: the dashboard flooded while the core runs in its own process.

``dowel run`` (mock mode, a trace full of losses, played in real time) runs as
it does on the Pi: a core process and a web process.  The bench watches the core
through its channel (:class:`device.runtime.core_proxy.CoreProxy`, as the web
does, so its own view is not slowed by the flood) and measures twice in the
same run: with the dashboard quiet, and while a bounded flood hits it from
loopback (a fixed number of ``/api/status`` and ``/api/history`` requests from a
fixed number of threads, plus open live streams, sent by a process of its own at
the lowest priority, as phones on the network would be).  It reports the core's frame
rate and alert latency (the truth's "contact gone" to the core's alert) under
the flood as ratios and differences to the quiet run.  Wall clock on purpose:
the real CPU shared by the two processes is what is measured.

Targets: frame rate >= 0.95 of the quiet run, alert latency p99 within 2 ms of it.
"""
from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from device.bench.tables import BenchResult, Row, pct, table

TARGET_RATE_RATIO = 0.95
TARGET_P99_EXTRA_MS = 2.0
#: An alert matches a truth loss starting this long before it (seconds).
MATCH_WINDOW_S = (-0.150, 0.500)
POINTS = ("head", "upper_back", "sacrum")


def loss_trace(directory: Path, reps: int = 24):
    """A trace (CSV) of one long set whose every rep loses a point; returns
    (path, loss starts in trace seconds, the trace's span when looped)."""
    from device.sim.sources import ScriptedAthlete
    from device.sim.trace import write_trace

    steps = [("idle", 0.5), ("place", 0.4), ("upright", 1.0)]
    for i in range(reps):
        steps.append(("rep", {"depth_deg": 45, "down_s": 0.7, "up_s": 0.7,
                              "loss": (POINTS[i % 3], 0.35, 0.25)}))
    steps += [("upright", 0.5), ("remove", 0.4), ("idle", 0.5)]
    athlete = ScriptedAthlete.from_steps(steps, loop=False)
    period = 1.0 / 200.0
    n = int(athlete.duration_s / period)
    from device.analysis.frames import Frame

    frames = [Frame(round(i * period, 5), *athlete.voltages(i * period)) for i in range(n)]
    path = directory / "losses.csv"
    write_trace(str(path), frames)
    starts = sorted(l["start"] for s in athlete.truth["sets"] for r in s["reps"] for l in r["losses"])
    return path, starts, frames[-1].t + period


class Watch:
    """The core's alerts and frame counts, read through the channel."""

    def __init__(self, socket_path: Path):
        from device.runtime.core_proxy import CoreProxy

        self.proxy = CoreProxy(socket_path).connect(timeout_s=30)
        self.sub = self.proxy.subscribe(maxsize=100_000, types={"alert"})

    def frames(self):
        """(frames read so far, wall time of the newest frame)."""
        h = self.proxy.get_status()
        return h["health"]["frames"], h["wall"]

    def frame_rate(self, seconds: float) -> float:
        """The core's frames per second over the next ``seconds`` (its own clock)."""
        frames0, wall0 = self.frames()
        time.sleep(seconds)
        frames1, wall1 = self.frames()
        return (frames1 - frames0) / (wall1 - wall0) if wall1 > wall0 else float("nan")

    def alerts_on(self) -> list:
        return [e["t"] for e in self.sub.drain() if e.get("on")]

    def close(self):
        self.sub.close()
        self.proxy.close()


def latencies_ms(alert_ts, starts, span):
    """Each alert matched to the truth loss it answers (the trace loops every ``span`` s)."""
    out = []
    for t in alert_ts:
        phase = t % span
        best = min(starts, key=lambda s: abs(phase - s - 0.05))
        gap = phase - best
        if MATCH_WINDOW_S[0] <= gap <= MATCH_WINDOW_S[1]:
            out.append(gap * 1000.0)
    return out


class _Flood:
    """A bounded flood: ``requests`` per path spread over ``threads``, and ``streams``
    live streams held open and read until the flood ends."""

    def __init__(self, port: int, requests: int, threads: int, streams: int):
        self.port = port
        self.paths = ("/api/status", "/api/history")
        self.per_thread = max(1, requests * len(self.paths) // threads)
        self.threads = threads
        self.streams = streams
        self.done = threading.Event()
        self.served = 0
        self.failed = 0
        self._lock = threading.Lock()

    def run(self) -> float:
        """Flood; the seconds it took."""
        readers = [threading.Thread(target=self._stream, args=(k,), daemon=True)
                   for k in range(self.streams)]
        for r in readers:
            r.start()
        workers = [threading.Thread(target=self._requests, args=(i,), daemon=True)
                   for i in range(self.threads)]
        t0 = time.monotonic()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        took = time.monotonic() - t0
        self.done.set()
        for r in readers:
            r.join(5)
        return took

    def _requests(self, i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        served = failed = 0
        for n in range(self.per_thread):
            try:
                conn.request("GET", self.paths[(i + n) % len(self.paths)])
                response = conn.getresponse()
                response.read()
                served += response.status == 200
                failed += response.status != 200
            except (OSError, http.client.HTTPException):
                failed += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.close()
        with self._lock:
            self.served += served
            self.failed += failed

    def _stream(self, k: int) -> None:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10,
                                              source_address=(phone_address(k), 0))
            conn.request("GET", "/api/stream")
            response = conn.getresponse()
            while not self.done.is_set():
                if not response.fp.read1(65536):
                    break
            conn.close()
        except (OSError, http.client.HTTPException):
            pass


def phone_address(k: int) -> str:
    """The loopback address phone ``k`` connects from: each phone has an address
    of its own, as on the Wi-Fi (the dashboard limits live streams per address)."""
    return f"127.0.{1 + k // 250}.{2 + k % 250}"


def start_device(workdir: Path, source: list):
    """``dowel run`` with ``source`` (``["--mock"]``, ``["--trace", path, "--loop"]``)
    as on the Pi: core and web processes; returns (process, dashboard port)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", DOWEL_DATA_DIR=str(workdir),
               DOWEL_RUNTIME_DIR=str(workdir / "run"))
    env.pop("NOTIFY_SOCKET", None)
    proc = subprocess.Popen([sys.executable, "-m", "device.cli", "run", *map(str, source),
                             "--host", "127.0.0.1", "--port", "0", "--data-dir", str(workdir),
                             "--quiet"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, start_new_session=True)
    for line in proc.stdout:
        m = re.search(r"Dashboard: http://127\.0\.0\.1:(\d+)/", line)
        if m:
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
            return proc, int(m.group(1))
    raise RuntimeError("dowel run did not start (no dashboard line)")


def stop_device(proc) -> None:
    """SIGTERM, as systemd stops it; SIGKILL for the whole group if it hangs."""
    if proc is None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


#: Niceness of the process that sends the flood: on the Pi the requests come from
#: phones on the network, not from a process on the device competing with the core.
LOAD_NICENESS = 19


def _flood_elsewhere(flood: _Flood) -> float:
    """Run ``flood`` from a child process at :data:`LOAD_NICENESS`; the seconds it took."""
    out = subprocess.run([sys.executable, "-m", "device.bench.flood", str(flood.port), str(flood.per_thread),
                          str(flood.threads), str(flood.streams)],
                         capture_output=True, text=True, check=True, timeout=3600).stdout.split()
    flood.served, flood.failed = int(out[0]), int(out[1])
    return float(out[2])


def _measure(watch: Watch, seconds: float = None, load: _Flood = None):
    """Frame rate and alert times over a quiet ``seconds`` or over ``load``'s flood."""
    watch.alerts_on()                                   # forget what came before
    frames0, wall0 = watch.frames()
    took = _flood_elsewhere(load) if load is not None else (time.sleep(seconds) or seconds)
    frames1, wall1 = watch.frames()
    rate = (frames1 - frames0) / (wall1 - wall0) if wall1 > wall0 else float("nan")
    return rate, watch.alerts_on(), took


def run_flood_bench(seconds: float = 30.0, requests: int = 3000, threads: int = 20,
                    streams: int = 50, progress=None) -> BenchResult:
    workdir = Path(tempfile.mkdtemp(prefix="dowel-flood-"))
    proc = watch = None
    try:
        trace, starts, span = loss_trace(workdir)
        proc, port = start_device(workdir, ["--trace", trace, "--loop"])
        watch = Watch(workdir / "run" / "core.sock")
        time.sleep(2.0)                                 # past start-up
        flood = _Flood(port, requests, threads, streams)
        loaded_rate, loaded_alerts, took = _measure(watch, load=flood)
        if progress:
            progress(1, 2)
        # The quiet run lasts as long as the flood did (at least ``seconds``), so
        # both see about the same number of losses.
        quiet_rate, quiet_alerts, _ = _measure(watch, seconds=max(seconds, took))
        if progress:
            progress(2, 2)
    finally:
        if watch is not None:
            watch.close()
        stop_device(proc)
        shutil.rmtree(workdir, ignore_errors=True)
    return _result(quiet_rate, latencies_ms(quiet_alerts, starts, span),
                   loaded_rate, latencies_ms(loaded_alerts, starts, span), flood, took)


def _result(quiet_rate, quiet_ms, loaded_rate, loaded_ms, flood: _Flood, took: float) -> BenchResult:
    q50, q99 = pct(quiet_ms, (50, 99))
    l50, l99 = pct(loaded_ms, (50, 99))
    ratio = loaded_rate / quiet_rate if quiet_rate else float("nan")
    extra = l99 - q99
    text = table(
        ["dashboard", "core frames/s", "alerts", "latency p50 ms", "p99 ms", "max ms"],
        [["quiet", round(quiet_rate, 1), len(quiet_ms), round(q50, 1), round(q99, 1),
          round(max(quiet_ms, default=float("nan")), 1)],
         [f"flooded ({flood.served} requests in {took:.1f} s, {flood.streams} streams)",
          round(loaded_rate, 1), len(loaded_ms), round(l50, 1), round(l99, 1),
          round(max(loaded_ms, default=float("nan")), 1)]],
        title=f"Dashboard flood: core and web in two processes, {flood.threads} threads of "
              f"/api/status and /api/history ({flood.failed} failed), "
              f"{flood.served / took if took else 0:.0f} req/s")
    rows = [Row("flooded dashboard: core frame rate vs quiet", f"{ratio:.3f}",
                f">= {TARGET_RATE_RATIO:g}", ratio >= TARGET_RATE_RATIO),
            Row("flooded dashboard: alert latency p99 vs quiet",
                f"{l99:.1f} vs {q99:.1f} ms ({extra:+.1f})", f"<= +{TARGET_P99_EXTRA_MS:g} ms",
                extra <= TARGET_P99_EXTRA_MS)]
    data = {"quiet": {"frames_per_s": quiet_rate, "alerts": len(quiet_ms), "p50_ms": q50, "p99_ms": q99},
            "flooded": {"frames_per_s": loaded_rate, "alerts": len(loaded_ms), "p50_ms": l50,
                        "p99_ms": l99, "requests": flood.served, "failed": flood.failed,
                        "seconds": took, "streams": flood.streams},
            "rate_ratio": ratio, "p99_extra_ms": extra}
    return BenchResult("flood", text, rows, data)


if __name__ == "__main__":
    # The flood's own process (see _flood_elsewhere): PORT PER_THREAD THREADS STREAMS.
    os.nice(LOAD_NICENESS)
    from device.runtime.cpus import keep_off_the_core_cpu

    keep_off_the_core_cpu()             # the requests come from phones, not from the device
    port, per_thread, threads, streams = map(int, sys.argv[1:5])
    load = _Flood(port, 0, threads, streams)
    load.per_thread = per_thread
    took = load.run()
    print(load.served, load.failed, took)
