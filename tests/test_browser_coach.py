"""The coach's screen in headless Chromium: N simulated dowels publishing to a
real Mosquitto, the coach's server subscribed to it.  Every dowel gets a tile;
the one whose athlete loses the sacrum flashes, the others do not; a dowel that
goes away is greyed; a tile opens that dowel's dashboard; 30 tiles fit on one
screen.  Screenshots go to tests/output/."""
from __future__ import annotations

import json
import threading

import pytest

from device.hw.mock.factory import build_mock_core
from device.runtime.mqtt import MqttPublisher, parse_broker_url, with_overrides
from device.sim.sources import ScriptedAthlete
from tests.mqtt_support import Broker
from tests.test_browser_live import OUTPUT

pytestmark = [pytest.mark.browser, pytest.mark.slow]

N = 4
LOSER = "dowel-lane2"
CLEAN_SET = [("idle", 0.5), ("place", 0.3), ("upright", 1.0)] + \
    [("rep", {"depth_deg": 45, "down_s": 1.0, "up_s": 1.0})] * 4 + [("upright", 1.0), ("remove", 0.3)]
LOSING_SET = [("idle", 0.5), ("place", 0.3), ("upright", 1.0),
              ("rep", {"depth_deg": 45, "down_s": 1.0, "up_s": 1.0}),
              ("rep", {"depth_deg": 50, "down_s": 1.2, "up_s": 1.0, "loss": ("sacrum", 0.5, 0.8)}),
              ("rep", {"depth_deg": 45, "down_s": 1.0, "up_s": 1.0}),
              ("rep", {"depth_deg": 45, "down_s": 1.0, "up_s": 1.0}),
              ("upright", 1.0), ("remove", 0.3)]


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path / "broker").start()
    yield b
    b.stop()


@pytest.fixture
def coach(broker):
    from web.coach import Room, create_coach_app
    from web.server import make_server

    room = Room(parse_broker_url(broker.url)).start()
    server = make_server(create_coach_app(room), host="127.0.0.1", port=0, threads=8)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield server.url
    server.close()
    room.stop()


def start_dowels(broker):
    config = with_overrides(parse_broker_url(broker.url), reconnect_min_s=1, reconnect_max_s=2)
    dowels = []
    for i in range(1, N + 1):
        device_id = f"dowel-lane{i}"
        steps = LOSING_SET if device_id == LOSER else CLEAN_SET
        core = build_mock_core(ScriptedAthlete.from_steps(steps, loop=True), speed=1.0)
        pub = MqttPublisher(core, config, device_id, name=f"Lane {i}", discovery=False,
                            dashboard_url=f"http://127.0.0.1:9/lane{i}/").start()
        core.start()
        dowels.append((core, pub))
    return dowels


def test_coach_screen_follows_every_dowel_and_flashes_the_right_tile(broker, coach, chromium):
    dowels = start_dowels(broker)
    # bypass_csp: the page's CSP would refuse Playwright's own polling of
    # wait_for_function (it evaluates a string); the header is tested in test_coach_room
    page = chromium.new_page(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    try:
        # Count every tile that turns red, from the first frame the page draws.
        page.add_init_script("""
            window.alerted = new Set();
            window.flashes = [];      // what a tile said the moment it turned red
            new MutationObserver((ms) => ms.forEach((m) => {
              const t = m.target;
              if (t.dataset && t.dataset.alert === "on" && m.oldValue !== "on") {
                window.alerted.add(t.dataset.id);
                window.flashes.push({id: t.dataset.id, text: t.querySelector(".tile-alert").textContent,
                  sacrum: t.querySelector('.dot[data-point="sacrum"]').dataset.state});
              }
            })).observe(document, {subtree: true, attributes: true, attributeOldValue: true,
                                   attributeFilter: ["data-alert"]});
        """)
        page.goto(coach)
        page.wait_for_function(f"document.querySelectorAll('.tile').length === {N}", timeout=30_000)
        page.wait_for_selector(".tile[data-in-set='true']", timeout=30_000)
        # the loser's sacrum goes at ~4.7 s into its script; its tile flashes and says which point
        page.wait_for_selector(f".tile[data-id='{LOSER}'][data-alert='on']", timeout=30_000)
        first = page.evaluate("window.flashes[0]")
        assert first == {"id": LOSER, "text": "sacrum lost", "sacrum": "lost"}
        OUTPUT.mkdir(exist_ok=True)
        page.screenshot(path=str(OUTPUT / "coach-loss.png"))
        # reps and names are drawn, and the clean tiles never flashed
        page.wait_for_function("[...document.querySelectorAll('.tile-rep')].some(e => /Rep [1-9] of 10/.test(e.textContent))",
                               timeout=30_000)
        names = page.eval_on_selector_all(".tile-name", "els => els.map(e => e.textContent)")
        assert names == [f"Lane {i}" for i in range(1, N + 1)]
        assert page.evaluate("[...window.alerted]") == [LOSER]
        # the alert clears when the sacrum is back
        page.wait_for_selector(f".tile[data-id='{LOSER}'][data-alert='off']", timeout=30_000)

        # a tile opens that dowel's own dashboard
        assert page.get_attribute(".tile[data-id='dowel-lane3']", "href") == "http://127.0.0.1:9/lane3/"

        # one dowel stops: its tile greys out, the others stay live
        core, pub = dowels[0]
        core.close()
        pub.stop()
        page.wait_for_selector(".tile[data-id='dowel-lane1'][data-online='false']", timeout=30_000)
        assert page.get_attribute(".tile[data-id='dowel-lane2']", "data-online") == "true"
        page.screenshot(path=str(OUTPUT / "coach-offline.png"))
    finally:
        page.close()
        for core, pub in dowels:
            core.close()
            pub.stop()


def test_thirty_dowels_fit_on_one_screen(broker, coach, chromium):
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    for i in range(30):
        status = {"device": f"dowel-{i:02d}", "name": f"Lane {i + 1:02d}", "online": True,
                  "athlete": f"Athlete {i + 1}", "exercise": "standing_3point",
                  "exercise_title": "Standing 3-point touch hinge", "in_set": True, "set_number": 1,
                  "rep": i % 10, "rep_target": 10, "alert": False, "lost_points": [],
                  "points": {p: {"contact": True, "lost": False} for p in ("head", "upper_back", "sacrum")},
                  "problem": False, "fault": None, "last_set_clean_pct": 90.0, "wall": 0.0,
                  "dashboard_url": f"http://127.0.0.1:9/{i}/"}
        client.publish(f"smart-dowel/dowel-{i:02d}/status", json.dumps(status), qos=1, retain=True).wait_for_publish(5)
    client.loop_stop()
    client.disconnect()
    page = chromium.new_page(viewport={"width": 1920, "height": 1080}, bypass_csp=True)  # as above
    try:
        page.goto(coach)
        page.wait_for_function("document.querySelectorAll('.tile').length === 30", timeout=30_000)
        boxes = page.eval_on_selector_all(".tile", "els => els.map(e => e.getBoundingClientRect().toJSON())")
        for box in boxes:
            assert box["x"] >= 0 and box["y"] >= 0
            assert box["x"] + box["width"] <= 1920 and box["y"] + box["height"] <= 1080
            assert box["width"] >= 200 and box["height"] >= 140     # readable from across the room
        # nothing inside a tile is cut off: every line fits its tile
        clipped = page.evaluate("""[...document.querySelectorAll('.tile')].filter(t =>
            [...t.children].some(c => c.offsetHeight && c.scrollHeight > c.offsetHeight + 1)).length""")
        assert clipped == 0
        OUTPUT.mkdir(exist_ok=True)
        page.screenshot(path=str(OUTPUT / "coach-30.png"))
    finally:
        page.close()
