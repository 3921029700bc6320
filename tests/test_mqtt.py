"""The MQTT publisher against a real Mosquitto (started here on a free loopback port).

* a trace run live through the mock core: the event topics carry every rep and
  loss of the replay of the same frames, in order;
* a subscriber that comes late still finds the retained status, availability
  and discovery;
* the broker stopped mid-run: the polling loop goes on (frames, events to other
  listeners), the link state says disconnected, publishing resumes when it is back;
* TLS with a CA made here, and password auth.
"""
from __future__ import annotations

import time

import pytest

from device.analysis.pipeline import Pipeline
from device.analysis.settings import Settings
from device.hw.mock.factory import build_mock_core
from device.runtime.mqtt import MqttPublisher, parse_broker_url, with_overrides
from device.sim.replay import replay_frames
from device.sim.sources import TraceSource
from device.sim.trace import read_trace
from tests.mqtt_support import WAIT_S, Broker, Recorder

from pathlib import Path

pytestmark = pytest.mark.slow

SAMPLE = Path(__file__).parent / "data" / "sloppy-two-sets.csv"
DEVICE = "dowel-test01"
ROOT = f"smart-dowel/{DEVICE}"


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path / "broker").start()
    yield b
    b.stop()


def fast_config(url: str, **kw):
    # A one-second backoff floor keeps the reconnect test short.
    return with_overrides(parse_broker_url(url, **kw), reconnect_min_s=1, reconnect_max_s=2,
                          keepalive_s=5)


def wait_until(predicate, timeout=WAIT_S, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def pipeline_events(frames) -> list:
    """The events the pipeline emits for ``frames``, as the live core's did for them."""
    pipeline = Pipeline(Settings())
    events = []
    for frame in frames:
        events += pipeline.feed(frame)
    return events + pipeline.finish(frames[-1].t)


def test_replayed_trace_on_mqtt_matches_the_replay(broker):
    frames = read_trace(SAMPLE)
    core = build_mock_core(TraceSource(frames), speed=10.0)
    recorded = []
    core.tap_frames(recorded.append)
    rec = Recorder(broker, f"{ROOT}/#")
    publisher = MqttPublisher(core, fast_config(broker.url), DEVICE, discovery=False).start()
    wait_until(lambda: publisher.connected, what="the publisher to connect")
    core.start()
    try:
        assert core.wait(timeout=len(frames) / 200 / 10 + 60)
    finally:
        core.close()
        publisher.stop()
    doc = replay_frames(recorded)
    rec.wait_for(lambda m: m[0] == f"{ROOT}/availability" and m[1] == "offline")
    rec.close()

    reps = rec.topic(f"{ROOT}/event/rep_completed")
    replay_reps = [(i, j, r) for i, s in enumerate(doc["sets"], 1) for j, r in enumerate(s["reps"], 1)]
    # a loaded machine reads fewer frames; what matters is that both sides saw the same ones
    assert len(replay_reps) >= 10
    assert [(p["set_number"], p["rep"]) for p in reps] == [(i, j) for i, j, _ in replay_reps]
    # Each rep as the pipeline announces it for these frames.  The set's card may
    # differ from the announcement: a loss found only as the set ends (frames read
    # far apart, on a loaded machine) goes to the set's last rep, after its event.
    announced = pipeline_events(recorded)
    announced_reps = [e for e in announced if e["type"] == "rep_completed"]
    assert len(announced_reps) == len(reps)
    for p, r in zip(reps, announced_reps):
        assert p["device"] == DEVICE
        for key in ("start", "end", "depth_deg", "down_s", "up_s", "clean"):
            assert p[key] == r[key], key
        assert p["losses"] == [{"point": l["point"], "start": l["start"], "duration_s": l["duration_s"]}
                               for l in r["losses"]]

    # Every loss announced arrived as a contact_lost, every return as a
    # contact_restored, in order.
    assert any(s["losses"] for s in doc["sets"]), "the sample trace has losses"
    restored = [(p["point"], p["start"]) for p in rec.topic(f"{ROOT}/event/contact_restored")]
    lost = [(p["point"], p["start"]) for p in rec.topic(f"{ROOT}/event/contact_lost")]
    assert restored == [(e["point"], e["start"]) for e in announced if e["type"] == "contact_restored"]
    assert lost == [(e["point"], e["start"]) for e in announced if e["type"] == "contact_lost"]
    assert lost, "the sample trace's losses are announced"

    sets = rec.topic(f"{ROOT}/event/set_completed")
    assert [p["summary"]["reps"] for p in sets] == [len(s["reps"]) for s in doc["sets"]]
    assert [p["summary"]["clean_reps"] for p in sets] == \
        [sum(r["clean"] for r in s["reps"]) for s in doc["sets"]]
    assert [p["set_number"] for p in rec.topic(f"{ROOT}/event/set_started")] == \
        list(range(1, len(doc["sets"]) + 1))
    assert publisher.link_state()["dropped"] == 0
    # the retained status carried the last set's clean share and the day's set count
    last = rec.topic(f"{ROOT}/status")[-1]
    assert last["sets_today"] == len(doc["sets"])
    assert last["last_set_clean_pct"] == sets[-1]["summary"]["clean_pct"]
    assert last["last_depth_deg"] == round(replay_reps[-1][2]["depth_deg"], 1)


def test_late_subscriber_finds_retained_status_availability_and_discovery(broker):
    core = build_mock_core(speed=4.0)
    publisher = MqttPublisher(core, fast_config(broker.url), DEVICE, name="Lane 3",
                              dashboard_url="http://192.0.2.7:8080/").start()
    core.start()
    try:
        wait_until(lambda: publisher.link_state()["published"] > 12, what="a few statuses")
        late = Recorder(broker, "#")
        status = late.wait_for(lambda m: m[0] == f"{ROOT}/status")
        online = late.wait_for(lambda m: m[0] == f"{ROOT}/availability")
        config = late.wait_for(lambda m: m[0].startswith("homeassistant/binary_sensor/")
                               and m[0].endswith("/sacrum_contact/config"))
        late.close()
    finally:
        core.close()
        publisher.stop()
    assert status[2] and online[2] and config[2], "retained"
    assert online[1] == "online"
    import json

    body = json.loads(status[1])
    assert body["name"] == "Lane 3" and body["dashboard_url"] == "http://192.0.2.7:8080/"
    assert set(body["points"]) == {"head", "upper_back", "sacrum"}
    assert json.loads(config[1])["device"]["configuration_url"] == "http://192.0.2.7:8080/"
    # the link state reached the core's status (the dashboard's Device view reads it)
    assert core.get_status()["health"]["mqtt"]["state"] == "off"


def test_broker_down_mid_run_never_stops_the_loop_and_publishing_resumes(broker):
    core = build_mock_core(speed=6.0)           # a looping simulated athlete
    listener = core.subscribe(maxsize=100_000, types=["rep_completed", "contact_lost"])
    publisher = MqttPublisher(core, fast_config(broker.url), DEVICE, discovery=False).start()
    core.start()
    try:
        wait_until(lambda: publisher.connected, what="the first connection")
        rec = Recorder(broker, f"{ROOT}/event/#")
        rec.wait_for(lambda m: m[0].endswith("rep_completed"))
        rec.close()

        broker.stop()
        wait_until(lambda: core.get_status()["health"]["mqtt"]["state"] == "disconnected",
                   what="the core's status to show the link down")
        link = core.get_status()["health"]["mqtt"]
        assert link["last_error"]
        frames_at_stop = core.get_status()["health"]["frames"]
        reps_at_stop = sum(1 for e in listener.drain() if e["type"] == "rep_completed")
        # While the broker is away the loop keeps reading and analysing: reps keep
        # coming to the other listeners.
        reps_while_down = []
        wait_until(lambda: reps_while_down.extend(
            e for e in listener.drain() if e["type"] == "rep_completed") or len(reps_while_down) >= 2,
            timeout=60, what="reps while the broker is down")
        assert core.get_status()["health"]["frames"] > frames_at_stop
        assert reps_at_stop >= 1

        broker.start()
        rec = Recorder(broker, f"{ROOT}/#")
        wait_until(lambda: publisher.link_state()["connects"] >= 2, timeout=30, what="reconnect")
        # the reps made while the broker was away were queued and arrive now, and new ones follow
        down_numbers = {(e["set_index"] if "set_index" in e else e["set_number"],
                         e["rep_index"] if "rep_index" in e else e["rep"]) for e in reps_while_down}
        rec.wait_for(lambda m: m[0] == f"{ROOT}/availability" and m[1] == "online")
        wait_until(lambda: down_numbers <= {(p["set_number"], p["rep"]) for p in
                                            rec.topic(f"{ROOT}/event/rep_completed")},
                   timeout=30, what="the queued reps after reconnect")
        rec.wait_for(lambda m: m[0] == f"{ROOT}/status")
        rec.close()
        assert core.get_status()["health"]["mqtt"]["state"] == "connected"
    finally:
        listener.close()
        core.close()
        publisher.stop()


def test_tls_with_our_ca_and_password_auth(tmp_path):
    broker = Broker(tmp_path / "tls", tls=True, users={"coach": "s3cret:@!"}).start()
    try:
        ca = broker.certs["ca"]
        url = f"mqtts://coach:s3cret%3A%40%21@127.0.0.1:{broker.port}"
        core = build_mock_core(speed=4.0)
        publisher = MqttPublisher(core, fast_config(url, ca_file=ca), DEVICE, discovery=False).start()
        core.start()
        try:
            rec = Recorder(broker, f"{ROOT}/status", username="coach", password="s3cret:@!", ca_file=ca)
            rec.wait_for(lambda m: m[0] == f"{ROOT}/status")
            rec.close()
            assert publisher.link_state()["state"] == "connected"
        finally:
            core.close()
            publisher.stop()

        # A wrong password is refused, and the link state says why.
        core = build_mock_core(speed=4.0)
        bad = MqttPublisher(core, fast_config(f"mqtts://coach:wrong@127.0.0.1:{broker.port}", ca_file=ca),
                            DEVICE, discovery=False).start()
        try:
            wait_until(lambda: bad.link_state()["last_error"] is not None, what="a refusal")
            assert "refused" in bad.link_state()["last_error"]
            assert not bad.connected
        finally:
            bad.stop()
            core.close()

        # Without our CA the broker's certificate is not trusted: no connection.
        core = build_mock_core(speed=4.0)
        untrusting = MqttPublisher(core, fast_config(f"mqtts://coach:s3cret%3A%40%21@127.0.0.1:{broker.port}"),
                                   DEVICE, discovery=False).start()
        try:
            wait_until(lambda: untrusting.link_state()["last_error"] is not None, what="a TLS failure")
            assert not untrusting.connected
        finally:
            untrusting.stop()
            core.close()
    finally:
        broker.stop()


def test_last_will_says_offline_when_the_dowel_process_is_killed(broker, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    rec = Recorder(broker, f"{ROOT}/availability")
    cmd = [sys.executable, "-m", "device.cli", "run", "--mock", "--no-web", "--no-history", "--quiet",
           "--data-dir", str(tmp_path / "data"), "--mqtt", broker.url, "--mqtt-device-id", DEVICE]
    proc = subprocess.Popen(cmd, cwd=Path(__file__).resolve().parents[1], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        rec.wait_for(lambda m: m[1] == "online", timeout=60)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        offline = rec.wait_for(lambda m: m[1] == "offline")
    finally:
        if proc.poll() is None:
            proc.kill()
        rec.close()
    assert offline[0] == f"{ROOT}/availability"
    # the will is retained: a coach that starts now still sees the dowel offline
    late = Recorder(broker, f"{ROOT}/availability")
    assert late.wait_for(lambda m: True)[1:] == ("offline", True)
    late.close()


def test_bad_broker_urls_are_clear_errors(tmp_path):
    from device.runtime.mqtt import MqttConfigError

    for url, words in [("http://x", "mqtt:// or mqtts://"), ("mqtt://", "no host"),
                       ("mqtt://h:99999", "port"), ("mqtt://h?foo=1", "unknown option"),
                       (f"mqtt://h?ca={tmp_path}/ca.pem", "only applies to TLS"),
                       (f"mqtts://h?ca={tmp_path}/missing.pem", "no such file"), ("bro ker", "expected")]:
        with pytest.raises(MqttConfigError, match=words):
            parse_broker_url(url)
    c = parse_broker_url("mqtts://u%40x:p%3Aw@example.org")
    assert (c.host, c.port, c.tls, c.username, c.password) == ("example.org", 8883, True, "u@x", "p:w")
    assert c.display_url == "mqtts://u@x@example.org:8883"
    assert parse_broker_url("mqtt://10.0.0.2").port == 1883
    assert (parse_broker_url("broker.local:1884").host, parse_broker_url("broker.local:1884").port) == \
        ("broker.local", 1884)


def test_a_hung_broker_never_holds_the_loop_and_what_was_queued_arrives(broker):
    import signal

    core = build_mock_core(speed=6.0)
    listener = core.subscribe(maxsize=100_000, types=["rep_completed"])
    publisher = MqttPublisher(core, fast_config(broker.url), DEVICE, discovery=False).start()
    core.start()
    try:
        wait_until(lambda: publisher.connected, what="the first connection")
        rec = Recorder(broker, f"{ROOT}/event/rep_completed")
        listener.drain()
        # SIGSTOP: the connection stays open and nothing answers, so a write that
        # waited for the broker would wait for ever.
        broker.proc.send_signal(signal.SIGSTOP)
        try:
            made = []
            wait_until(lambda: made.extend(listener.drain()) or len(made) >= 2, timeout=60,
                       what="reps while the broker hangs")
        finally:
            broker.proc.send_signal(signal.SIGCONT)
        wanted = {(e["set_number"], e["rep"]) for e in made}
        wait_until(lambda: wanted <= {(p["set_number"], p["rep"]) for p in
                                      rec.topic(f"{ROOT}/event/rep_completed")},
                   timeout=30, what="the reps made while the broker hung")
        rec.close()
    finally:
        listener.close()
        core.close()
        publisher.stop()
