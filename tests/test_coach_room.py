"""The coach's Room without a broker: messages in, tiles and page events out."""
import json

from device.runtime.mqtt import parse_broker_url
from web.coach import Room, create_coach_app


class Msg:
    def __init__(self, topic, payload, retain=False):
        self.topic, self.payload, self.retain = topic, payload.encode(), retain


class NoClient:
    """Room's paho client is never connected here; messages are handed in."""
    on_connect = on_disconnect = on_message = None


def status(wall, lost=(), rep=3, name="Lane 1"):
    return json.dumps({"device": "d1", "name": name, "wall": wall, "in_set": True, "rep": rep,
                       "rep_target": 10, "alert": bool(lost), "lost_points": list(lost),
                       "points": {p: {"contact": p not in lost, "lost": p in lost}
                                  for p in ("head", "upper_back", "sacrum")},
                       "dashboard_url": "http://10.0.0.5:8080/"})


def room_with_listener():
    room = Room(parse_broker_url("mqtt://broker"), client=NoClient())
    return room, room.bus.subscribe(maxsize=100)


def test_status_loss_restore_and_offline_make_the_tile():
    room, sub = room_with_listener()
    room._on_message(None, None, Msg("smart-dowel/d1/status", status(100.0)))
    room._on_message(None, None, Msg("smart-dowel/d1/event/contact_lost",
                                     json.dumps({"point": "sacrum", "wall": 101.0})))
    # a snapshot taken before the loss arrives late: the tile stays red
    room._on_message(None, None, Msg("smart-dowel/d1/status", status(100.5)))
    tile = room.snapshot()["dowels"][0]
    assert tile["lost_points"] == ["sacrum"] and tile["alert"] and tile["rep"] == 3
    assert tile["dashboard_url"] == "http://10.0.0.5:8080/" and tile["online"]
    room._on_message(None, None, Msg("smart-dowel/d1/event/contact_restored",
                                     json.dumps({"point": "sacrum", "wall": 101.6})))
    assert room.snapshot()["dowels"][0]["lost_points"] == []
    room._on_message(None, None, Msg("smart-dowel/d1/event/set_completed",
                                     json.dumps({"discarded": False, "summary": {"clean_pct": 70.0}})))
    room._on_message(None, None, Msg("smart-dowel/d1/availability", "offline"))
    tile = room.snapshot()["dowels"][0]
    assert not tile["online"] and tile["last_set_clean_pct"] == 70.0
    kinds = [e["type"] for e in sub.drain()]
    assert kinds == ["dowel", "loss", "dowel", "restored", "dowel", "dowel"]


def test_rubbish_on_the_topics_is_ignored():
    room, sub = room_with_listener()
    for topic, payload in [("smart-dowel/d1/status", "not json"), ("other/d1/status", status(1.0)),
                           ("smart-dowel/d1/event/contact_lost", "[1, 2]"), ("smart-dowel", "x")]:
        room._on_message(None, None, Msg(topic, payload))
    assert room.snapshot()["dowels"] == [] and sub.drain() == []


def test_the_page_and_the_snapshot_are_served():
    room, _ = room_with_listener()
    room._on_message(None, None, Msg("smart-dowel/b/status", status(1.0, name="Lane 2")))
    room._on_message(None, None, Msg("smart-dowel/a/status", status(1.0, name="Lane 1")))
    client = create_coach_app(room).test_client()
    page = client.get("/")
    assert page.status_code == 200 and b"/static/coach.js" in page.data
    # every asset from this machine, no CDN
    assert b'src="http' not in page.data and b'href="http' not in page.data
    doc = client.get("/api/room").get_json()
    assert [d["name"] for d in doc["dowels"]] == ["Lane 1", "Lane 2"]
    assert doc["broker"]["url"] == "mqtt://broker:1883" and doc["broker"]["connected"] is False


def test_a_retained_status_after_offline_leaves_the_tile_offline():
    room, _ = room_with_listener()
    room._on_message(None, None, Msg("smart-dowel/d1/availability", "offline", retain=True))
    room._on_message(None, None, Msg("smart-dowel/d1/status", status(5.0), retain=True))
    assert room.snapshot()["dowels"][0]["online"] is False
    room._on_message(None, None, Msg("smart-dowel/d1/availability", "online"))
    assert room.snapshot()["dowels"][0]["online"] is True


def test_the_coach_page_has_the_dashboards_host_rule_and_headers():
    room, _ = room_with_listener()
    client = create_coach_app(room, {"ALLOWED_HOSTS": ["coach.gym.lan"]}).test_client()
    page = client.get("/", headers={"Host": "localhost:8090"})
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    assert client.get("/api/room", headers={"Host": "coach.gym.lan:8090"}).status_code == 200
    # a page on another site that rebound its name to this machine cannot read the room
    refused = client.get("/api/room", headers={"Host": "evil.example:8090"})
    assert refused.status_code == 421
    assert refused.get_json()["field"] == "host"
