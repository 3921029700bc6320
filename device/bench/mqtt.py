"""``dowel bench mqtt``: a room of dowels on one broker, one coach watching.

Twenty simulated dowels (each a mock core with its own clock and emulated chip,
on threads of this process, each with its MQTT publisher) publish to one local
Mosquitto started here on a free loopback port; the coach's server (handed in
by the caller: this package never imports the web layer) subscribes, and a
client reads the coach page's event stream like the page does.  Measured, in
wall-clock time on this machine:

* loss-to-tile latency: a dowel's ``contact_lost`` (its ``wall`` stamp, the
  moment the core detected the loss) to the coach's page in headless Chromium
  having turned the tile red (the next animation frame after the page's handler
  ran); without Playwright and Chromium, to a client reading the page's event
  stream instead (the table says which);
* messages per second through the broker (a subscriber to ``smart-dowel/#``);
* one dowel's publishing CPU (its publisher thread and paho's network thread)
  as a share of its frame budget (the wall time its frames take), beside the
  CPU of its polling loop.
"""
from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

from device.bench.tables import BenchResult, Row, pct, table

#: ``serve_coach(broker_config) -> server`` with ``port``, ``run()`` and ``close()``.
ServeCoach = Callable[[object], object]

MOSQUITTO = "/usr/sbin/mosquitto"
TARGETS = {"p50_ms": 100.0, "max_ms": 250.0, "publish_pct": 5.0}
#: Each dowel's frame rate: the Pi Zero's plain single-shot reads reach about 50
#: frames/s; twenty dowels at the ADC's full rate would be one CPU's worth of
#: emulated chips, not a measure of MQTT.
RATE_HZ = 50.0


class LocalBroker:
    """Mosquitto with its own config on a free loopback port, in a temporary directory."""

    def __init__(self):
        if not Path(MOSQUITTO).exists():
            raise RuntimeError(f"{MOSQUITTO} not found: the MQTT bench needs Debian's mosquitto "
                               "(apt-get install mosquitto)")
        self.dir = Path(tempfile.mkdtemp(prefix="dowel-bench-mqtt-"))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        conf = self.dir / "mosquitto.conf"
        # As root mosquitto would switch to its own user; keep it simple and local.
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                        + ("user root\n" if os.geteuid() == 0 else ""))
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.close()
                    raise RuntimeError("mosquitto did not start for the MQTT bench")
                time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def _athlete(i: int):
    """A looping set with a loss on two of its four reps; each dowel starts at its
    own offset so the losses of the room do not all come at once."""
    from device.sim.sources import ScriptedAthlete

    points = ("head", "upper_back", "sacrum")
    steps = [("idle", 0.3 + 0.37 * i), ("place", 0.3), ("upright", 1.0),
             ("rep", {"depth_deg": 45, "down_s": 1.0, "up_s": 1.0}),
             ("rep", {"depth_deg": 50, "down_s": 1.1, "up_s": 1.0, "loss": (points[i % 3], 0.4, 0.5)}),
             ("rep", {"depth_deg": 45, "down_s": 1.0, "up_s": 0.9}),
             ("rep", {"depth_deg": 48, "down_s": 1.0, "up_s": 1.0,
                      "loss": (points[(i + 1) % 3], 0.5, 0.4)}),
             ("upright", 0.8), ("remove", 0.3), ("idle", 0.5)]
    return ScriptedAthlete.from_steps(steps, loop=True)


def _thread_cpu_s(threads) -> float:
    total = 0.0
    for t in threads:
        try:
            total += time.clock_gettime(time.pthread_getcpuclockid(t.ident))
        except (OSError, TypeError, AttributeError):
            pass          # a thread that has ended
    return total


CHROMIUM = os.environ.get("DOWEL_CHROMIUM", "/usr/bin/chromium")
#: Wraps the page's "loss" handler: once it has run, the next animation frame (the
#: tile drawn red) records how long after the dowel's detection that was.
_PAGE_HOOK = """
window.__lossLatencyMs = [];
const add = EventSource.prototype.addEventListener;
EventSource.prototype.addEventListener = function (type, fn, opts) {
  if (type !== "loss") return add.call(this, type, fn, opts);
  return add.call(this, type, (msg) => {
    fn(msg);
    const wall = JSON.parse(msg.data).wall;
    requestAnimationFrame(() => { if (wall) window.__lossLatencyMs.push(Date.now() - wall * 1000); });
  }, opts);
};
"""


class _PageWatcher:
    """The coach's page in headless Chromium (Playwright), collecting loss latencies."""

    how = "coach page in Chromium, tile drawn"

    def __init__(self, port: int):
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        try:
            self._browser = self._pw.chromium.launch(
                executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
            self._page = self._browser.new_page(viewport={"width": 1920, "height": 1080})
            self._page.add_init_script(_PAGE_HOOK)
            self._page.goto(f"http://127.0.0.1:{port}/")
            self._page.wait_for_selector(".tile", timeout=60_000)
        except Exception:
            self._pw.stop()
            raise
        self.latencies_ms: list = []

    def collect(self) -> None:
        self.latencies_ms = list(self._page.evaluate("window.__lossLatencyMs"))

    def close(self) -> None:
        try:
            self._browser.close()
        finally:
            self._pw.stop()


def _watch(port: int):
    """Chromium when Playwright and Chromium are here, else the stream reader."""
    if Path(CHROMIUM).exists():
        try:
            return _PageWatcher(port)
        except ImportError:
            pass
        except Exception as exc:           # Playwright's errors: a browser that would not start
            print(f"  mqtt: Chromium did not show the coach's page ({type(exc).__name__}); "
                  "measuring at its event stream instead", file=sys.stderr)
    return _StreamReader(port)


class _StreamReader:
    """Reads the coach page's event stream; keeps each loss's delivery latency."""

    how = "coach page's event stream (no Chromium here)"

    def __init__(self, port: int):
        self.latencies_ms: list = []
        self.losses = 0
        self._conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self._conn.request("GET", "/api/stream", headers={"Accept": "text/event-stream"})
        self._resp = self._conn.getresponse()
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        kind = None
        try:
            while not self._stop:
                line = self._resp.readline()
                if not line:
                    return
                line = line.decode().rstrip("\n")
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind == "loss":
                    now = time.time()
                    data = json.loads(line[6:])
                    if data.get("wall"):
                        self.latencies_ms.append((now - data["wall"]) * 1000.0)
                    self.losses += 1
                elif not line:
                    kind = None
        except (OSError, ValueError):
            return

    def collect(self) -> None:
        pass

    def close(self) -> None:
        self._stop = True
        self._conn.close()


def _room_frames(room) -> int:
    return sum(core.get_status()["health"]["frames"] for core, _ in room)


def _rates_with_broker_hung(broker: "LocalBroker", room, seconds: float):
    """The room's frames per second with the broker up, then with it hung
    (SIGSTOP: connections stay open and nothing answers, the worst case)."""
    import signal

    f0, t0 = _room_frames(room), time.monotonic()
    time.sleep(seconds)
    f1, t1 = _room_frames(room), time.monotonic()
    broker.proc.send_signal(signal.SIGSTOP)
    try:
        time.sleep(seconds)
        f2, t2 = _room_frames(room), time.monotonic()
    finally:
        broker.proc.send_signal(signal.SIGCONT)
    return (f1 - f0) / (t1 - t0), (f2 - f1) / (t2 - t1)


def bench_mqtt(serve_coach: ServeCoach, dowels: int = 20, seconds: float = 30.0,
               progress=None) -> BenchResult:
    import paho.mqtt.client as mqtt

    from device.hw.mock.factory import build_mock_core
    from device.runtime.mqtt import MqttPublisher, parse_broker_url

    broker = LocalBroker()
    config = parse_broker_url(broker.url)
    server = serve_coach(config)
    threading.Thread(target=server.run, daemon=True).start()
    counter = {"n": 0}
    count_client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-counter")
    count_client.on_message = lambda c, u, m: counter.__setitem__("n", counter["n"] + 1)
    count_client.on_connect = lambda c, u, f, rc, p: c.subscribe("smart-dowel/#")
    count_client.connect("127.0.0.1", broker.port)
    count_client.loop_start()
    room = []
    reader = stream = None
    stream_ms: list = []
    try:
        for i in range(dowels):
            core = build_mock_core(_athlete(i), rate_hz=RATE_HZ, seed=i)
            pub = MqttPublisher(core, config, f"bench-{i:02d}", name=f"Lane {i + 1}",
                                dashboard_url=f"http://127.0.0.1:9/{i}/")
            pub.start()
            core.start()
            room.append((core, pub))
        deadline = time.monotonic() + 15
        while not all(p.connected for _, p in room) and time.monotonic() < deadline:
            time.sleep(0.05)
        reader = _watch(server.port)
        # The stream as well, so the table shows what the browser itself adds.
        stream = reader if isinstance(reader, _StreamReader) else _StreamReader(server.port)
        time.sleep(1.0)                 # discovery and the first statuses settle
        core0, pub0 = room[0]
        loop_threads = [core0._thread]
        pub_threads = [pub0._thread, pub0._client._thread]
        frames0 = core0.get_status()["health"]["frames"]
        cpu_loop0, cpu_pub0 = _thread_cpu_s(loop_threads), _thread_cpu_s(pub_threads)
        msgs0, t0 = counter["n"], time.monotonic()
        stream0 = len(stream.latencies_ms)
        step = seconds / 10
        for k in range(10):
            time.sleep(step)
            if progress:
                progress(k + 1, 10)
        elapsed = time.monotonic() - t0
        msgs = counter["n"] - msgs0
        frames = core0.get_status()["health"]["frames"] - frames0
        cpu_loop = _thread_cpu_s(loop_threads) - cpu_loop0
        cpu_pub = _thread_cpu_s(pub_threads) - cpu_pub0
        links = [p.link_state() for _, p in room]
        reader.collect()
        # the measured window only: losses held up while the broker is hung below are not latency
        stream_ms = stream.latencies_ms[stream0:]
        rate_up, rate_hung = _rates_with_broker_hung(broker, room, 2.0 if seconds < 10 else 5.0)
    finally:
        for watcher in {id(w): w for w in (reader, stream) if w is not None}.values():
            watcher.close()
        for core, pub in room:
            core.close()
        for core, pub in room:
            pub.stop(timeout=2.0)
        count_client.loop_stop()
        count_client.disconnect()
        server.close()
        broker.close()

    lat = reader.latencies_ms if reader else []
    s50, s_max = pct(stream_ms, (50, 100)) if stream_ms else [float("nan")] * 2
    p50, p95, p_max = (pct(lat, (50, 95, 100)) if lat else [float("nan")] * 3)
    publish_pct = 100.0 * cpu_pub / elapsed
    loop_pct = 100.0 * cpu_loop / elapsed
    figures = {
        "dowels": dowels, "seconds": round(elapsed, 1), "rate_hz_each": RATE_HZ,
        "losses_seen": len(lat), "latency_measured_at": reader.how if reader else None, "latency_p50_ms": round(p50, 1), "latency_p95_ms": round(p95, 1),
        "stream_latency_p50_ms": round(s50, 1), "stream_latency_max_ms": round(s_max, 1),
        "latency_max_ms": round(p_max, 1), "messages_per_s": round(msgs / elapsed, 1),
        "dowel0_frames_per_s": round(frames / elapsed, 1),
        "dowel0_publish_cpu_pct_of_frame_budget": round(publish_pct, 2),
        "dowel0_loop_cpu_pct": round(loop_pct, 2),
        "dropped_total": sum(l["dropped"] for l in links),
        "room_frames_per_s_broker_up": round(rate_up, 1),
        "room_frames_per_s_broker_hung": round(rate_hung, 1),
    }
    text = table(["what", "value"], [
        ["dowels (threads, each its own clock and emulated chip)", f"{dowels} at {RATE_HZ:g} frames/s"],
        ["measured for", f"{elapsed:.1f} s"],
        ["losses on the coach's page", f"{len(lat)} ({reader.how if reader else '-'})"],
        ["loss-to-tile latency p50 / p95 / max", f"{p50:.1f} / {p95:.1f} / {p_max:.1f} ms"],
        ["the same losses at the page's event stream p50 / max", f"{s50:.1f} / {s_max:.1f} ms"],
        ["messages/s through the broker", f"{msgs / elapsed:.0f}"],
        ["dowel 1: frames/s", f"{frames / elapsed:.1f}"],
        ["dowel 1: polling loop CPU", f"{loop_pct:.2f} % of a core"],
        ["dowel 1: publishing CPU (its thread + paho's)", f"{publish_pct:.2f} % of its frame budget"],
        ["events dropped, all dowels", figures["dropped_total"]],
        ["the room's frames/s, broker up / hung (SIGSTOP)", f"{rate_up:.0f} / {rate_hung:.0f}"],
    ], title=f"MQTT: {dowels} dowels, one Mosquitto, one coach page (wall clock)")
    rows = [
        Row(f"MQTT loss-to-tile latency p50 / max, {dowels} dowels",
            f"{p50:.0f} / {p_max:.0f} ms", f"<= {TARGETS['p50_ms']:g} / {TARGETS['max_ms']:g} ms",
            bool(lat) and p50 <= TARGETS["p50_ms"] and p_max <= TARGETS["max_ms"]),
        Row("MQTT messages/s at the broker", f"{msgs / elapsed:.0f}/s"),
        Row("MQTT publishing CPU, one dowel, share of its frame budget", f"{publish_pct:.2f} %",
            f"<= {TARGETS['publish_pct']:g} %", publish_pct <= TARGETS["publish_pct"]),
        Row("MQTT broker hung: the dowels' frame rate vs broker up", f"{100 * rate_hung / rate_up:.0f} %",
            ">= 95 %", rate_hung >= 0.95 * rate_up),
    ]
    return BenchResult("mqtt", text, rows, figures)
