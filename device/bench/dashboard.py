"""``dowel bench dashboard``: what live phones cost the core, on the device as it runs.

``dowel run --mock`` runs as it does on the Pi: a core process (the simulated
athlete on the emulated chip, charged the Pi Zero 2 W's bus costs) and a web
process.  The phones are held by a process of their own at the lowest priority
(on the Pi they are elsewhere on the Wi-Fi), each from a loopback address of
its own (phones have their own addresses, and the dashboard limits live streams
per address), each holding the page's live stream the way the page does: a
refused stream is tried again 3 s later.  For each number of phones the core's
frame rate is taken quiet and then with the phones connected, back to back,
five times in turn in one run; the cost is the median of the five ratios (a
passing load on the machine spoils a turn, not the figure).  The phones also count the status
updates they receive and how old each one is (frame to phone).  Wall clock on
purpose: the real CPU shared by the processes is what is measured.

Targets: each number of phones costs the core <= 5 % of its frame rate; every
phone that holds a stream gets >= 10 updates/s.
"""
from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from device.bench.tables import BenchResult, Row, pct, table
from device.runtime.cpus import keep_off_the_core_cpu

COST_TARGET_PCT = 5.0
UPDATES_TARGET_HZ = 10.0
#: What the page waits before asking again for a stream the dashboard refused.
RETRY_S = 3.0
#: Niceness of the phones' process (they are not on the device).
PHONES_NICENESS = 19


def run_dashboard_bench(seconds: float = 3.0, phone_counts=(10, 50), repeats: int = 5,
                        progress=None) -> BenchResult:
    """The core's frame rate quiet and with each number of phones, ``repeats``
    times in turn; summary rows."""
    from device.bench.flood import Watch, start_device, stop_device

    workdir = Path(tempfile.mkdtemp(prefix="dowel-dashboard-"))
    proc = watch = None
    texts, rows, data = [], [], {}
    try:
        proc, port = start_device(workdir, ["--mock"])
        watch = Watch(workdir / "run" / "core.sock")
        time.sleep(2.0)                                 # past start-up
        watch.frame_rate(seconds)                       # and past the web process's own start
        for i, phones in enumerate(phone_counts):
            pairs, got = _with_phones(watch, port, phones, seconds, repeats)
            text, figures = _result(phones, pairs, got)
            texts.append(text)
            data[phones] = figures
            rows.append(Row(f"{phones} dashboard phones: cost to the core's frame rate",
                            f"{figures['cost_pct']:.1f} %", f"<= {COST_TARGET_PCT:g} %",
                            figures["cost_pct"] <= COST_TARGET_PCT))
            if progress:
                progress(i + 1, len(phone_counts))
    finally:
        if watch is not None:
            watch.close()
        stop_device(proc)
        shutil.rmtree(workdir, ignore_errors=True)
    low = min(f["updates_min"] for f in data.values())
    rows.append(Row("live updates per streaming phone (min)", f"{low:.1f}/s",
                    f">= {UPDATES_TARGET_HZ:g}/s", low >= UPDATES_TARGET_HZ))
    return BenchResult("dashboard", "\n\n".join(texts), rows, data)


def _with_phones(watch, port: int, phones: int, seconds: float, repeats: int):
    """(quiet, with phones) frame-rate pairs, taken in turn ``repeats`` times (so a
    passing load on the machine spoils one pair, not the figure); what the phones got."""
    child = subprocess.Popen([sys.executable, "-m", "device.bench.dashboard", str(port), str(phones)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def say(word: str, answer: str) -> None:
        child.stdin.write(word + "\n")
        child.stdin.flush()
        if child.stdout.readline().strip() != answer:
            raise RuntimeError(f"the phones' process did not answer {word!r}")

    pairs = []
    try:
        if child.stdout.readline().strip() != "hello":     # started: nothing left to import
            raise RuntimeError("the phones' process did not start")
        for _ in range(repeats):
            quiet = watch.frame_rate(seconds)
            say("on", "ready")
            pairs.append((quiet, watch.frame_rate(seconds)))
            say("off", "off")
        child.stdin.write("end\n")
        child.stdin.flush()
        got = json.loads(child.stdout.readline())
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    return pairs, got


def _result(phones: int, pairs: list, got: dict):
    costs = [(q - l) / q * 100 for q, l in pairs if q]
    cost = float(np.median(costs)) if costs else float("nan")
    quiet = float(np.median([q for q, _ in pairs]))
    loaded = float(np.median([l for _, l in pairs]))
    rates = got["updates_per_s"]
    p50, p95 = pct(got["age_ms"], (50, 95))
    low = min(rates) if rates else 0.0
    rows = [
        ["core frames/s, no phone (median)", round(quiet, 1), ""],
        [f"core frames/s, {phones} phones (median)", round(loaded, 1), ""],
        [f"cost of the phones (median of {len(pairs)} turns)", f"{cost:.1f} %",
         f"<= {COST_TARGET_PCT:g} %"],
        ["cost in each turn", " ".join(f"{c:.1f}" for c in costs), ""],
        ["phones holding a live stream", f"{len(rates)} of {phones}", ""],
        ["phones refused (the page tries again)", got["refused"], ""],
        ["updates/s per streaming phone (min)", round(low, 1), f">= {UPDATES_TARGET_HZ:g}"],
        ["updates/s per streaming phone (median)",
         round(float(np.median(rates)), 1) if rates else 0.0, ""],
        ["frame to phone p50 ms", round(p50, 1), ""],
        ["frame to phone p95 ms", round(p95, 1), ""],
    ]
    text = table(["what", "measured", "target"], rows,
                 title=f"Dashboard, {phones} phones (dowel run --mock: core and web processes, "
                       "Pi Zero 2 W bus costs, waitress, live streams)")
    return text, {"quiet_hz": quiet, "loaded_hz": loaded, "cost_pct": cost, "costs_pct": costs,
                  "streaming": len(rates), "refused": got["refused"], "updates_min": low,
                  "age_p50_ms": p50, "age_p95_ms": p95}


class _Phone:
    """One phone: the page's live stream, from its own address, counting status updates."""

    def __init__(self, port: int, k: int, stop: threading.Event):
        self.port, self.k, self.stop = port, k, stop
        self.updates = 0
        self.ages: list = []
        self.streaming = False
        self.refused = 0
        self.answered = threading.Event()     # first status update, or first refusal

    def run(self) -> None:
        from device.bench.flood import phone_address

        while not self.stop.is_set():
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10,
                                                  source_address=(phone_address(self.k), 0))
                conn.request("GET", "/api/stream")
                response = conn.getresponse()
                if response.status != 200:
                    response.read()
                    conn.close()
                    self.refused += 1
                    self.answered.set()
                    self.stop.wait(RETRY_S)
                    continue
                self._read(response)
                conn.close()
            except (OSError, http.client.HTTPException):
                self.stop.wait(RETRY_S)

    def _read(self, response) -> None:
        buf = b""
        while not self.stop.is_set():
            chunk = response.fp.read1(65536)
            if not chunk:
                return
            buf += chunk
            while b"\n\n" in buf:
                message, buf = buf.split(b"\n\n", 1)
                if b"event: status" in message:
                    self._status(message)

    def _status(self, message: bytes) -> None:
        for line in message.split(b"\n"):
            if line.startswith(b"data:"):
                try:
                    wall = json.loads(line[5:]).get("wall")
                except ValueError:
                    wall = None
                if wall:
                    self.ages.append((time.time() - wall) * 1000.0)
        self.updates += 1
        self.streaming = True
        self.answered.set()


def _phones_main(port: int, phones: int) -> None:
    """The phones' own process, told by lines on stdin: "on" connects them and
    says "ready" once each has its stream (or was refused); "off" counts what
    they got since, disconnects them and says "off"; "end" prints it all as JSON."""
    os.nice(PHONES_NICENESS)
    keep_off_the_core_cpu()                      # phones are not on the device
    rates: dict = {}            # phone -> updates/s in each turn it streamed
    ages: list = []
    refused = set()
    on = None
    print("hello", flush=True)
    for line in sys.stdin:
        word = line.strip()
        if word == "on":
            stop = threading.Event()
            on = [_Phone(port, k, stop) for k in range(phones)]
            threads = [threading.Thread(target=p.run, daemon=True) for p in on]
            for th in threads:
                th.start()
            for p in on:
                p.answered.wait(10)
            time.sleep(1.0)                         # every stream past its first update
            for p in on:
                p.updates, p.ages, p.refused = 0, [], 0
            t0 = time.monotonic()
            print("ready", flush=True)
        elif word == "off" and on is not None:
            took = time.monotonic() - t0
            for p in on:
                if p.streaming:
                    rates.setdefault(p.k, []).append(p.updates / took)
                    ages.extend(p.ages)
                elif p.refused:
                    refused.add(p.k)
            stop.set()
            for th in threads:
                th.join(15)
            on = None
            print("off", flush=True)
        elif word == "end":
            break
    print(json.dumps({"updates_per_s": [min(r) for r in rates.values()],
                      "refused": len(refused - set(rates)), "age_ms": ages}), flush=True)


if __name__ == "__main__":
    _phones_main(int(sys.argv[1]), int(sys.argv[2]))
