"""The coach's view of every dowel in the room, read live from the MQTT broker.

``dowel coach --mqtt URL`` serves this small Flask app (waitress).  A
:class:`Room` subscribes to ``smart-dowel/+/status``, ``.../availability`` and
``.../event/#`` on the server side and keeps only each dowel's newest state
(no history: the dowel's own dashboard has that, and each tile links to it).
The page (static/coach.html) gets a ``room`` snapshot when it connects and then
Server-Sent Events:

* ``dowel``  — one dowel's state changed (status, online/offline, last set);
* ``loss``   — ``{id, point, wall}``: a point just lost contact (the tile flashes
  at once, without waiting for the next status);
* ``restored`` — ``{id, point}``.

Topic and payload shapes are in docs/mqtt.md.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from typing import Optional

from flask import Flask, Response, current_app, jsonify, request, send_from_directory

from device.runtime.events import EventBus
from device.runtime.mqtt import BrokerConfig, make_client

from .api import StreamCounter
from .stream import format_event, sse_stream

log = logging.getLogger(__name__)

#: The fields of a dowel's status the page draws (the rest stays on the broker).
TILE_FIELDS = ("name", "athlete", "exercise", "exercise_title", "points", "in_set", "phase",
               "set_number", "rep", "rep_target", "alert", "lost_points", "problem", "fault",
               "last_set_clean_pct", "sets_today", "last_depth_deg", "dashboard_url", "wall")


class Room:
    """Every dowel seen on the broker: ``{device id: tile state}``, updated from
    paho's thread, fanned out to the pages through an :class:`EventBus`."""

    def __init__(self, config: BrokerConfig, *, client_id: Optional[str] = None, client=None):
        import secrets

        self.config = config
        self.bus = EventBus()
        self._lock = threading.Lock()
        self._dowels: dict = {}
        self._connected = False
        self.last_error: Optional[str] = None
        self.messages = 0
        # A coach may run twice (two screens); each needs its own client id.
        self._client = client or make_client(config, client_id or f"smart-dowel-coach-{secrets.token_hex(3)}")
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        base = config.base_topic
        self._topics = [(f"{base}/+/status", 0), (f"{base}/+/availability", 1), (f"{base}/+/event/#", 1)]

    def start(self) -> "Room":
        self._client.connect_async(self.config.host, self.config.port, keepalive=self.config.keepalive_s)
        self._client.loop_start()
        return self

    def stop(self) -> None:
        try:
            self._client.disconnect()
        finally:
            self._client.loop_stop()

    @property
    def connected(self) -> bool:
        return self._connected

    def snapshot(self) -> dict:
        """``{"broker": {...}, "dowels": [tile, ...]}`` sorted by name."""
        with self._lock:
            dowels = [dict(d) for d in self._dowels.values()]
        dowels.sort(key=lambda d: (str(d.get("name") or d["id"]).lower(), d["id"]))
        return {"broker": self.broker_state(), "dowels": dowels}

    def broker_state(self) -> dict:
        return {"url": self.config.display_url, "connected": self._connected,
                "last_error": self.last_error}

    # -- paho's thread ------------------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.last_error = f"broker refused the connection: {reason_code}"
            self._broadcast({"type": "broker", **self.broker_state()})
            return
        self._connected = True
        self.last_error = None
        client.subscribe(self._topics)
        self._broadcast({"type": "broker", **self.broker_state()})

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected = False
        if reason_code.is_failure:
            self.last_error = f"connection lost: {reason_code}"
        self._broadcast({"type": "broker", **self.broker_state()})

    def _on_message(self, client, userdata, msg) -> None:
        parts = msg.topic.split("/")
        if len(parts) < 3 or parts[0] != self.config.base_topic:
            return
        device_id, kind = parts[1], parts[2]
        self.messages += 1
        try:
            text = msg.payload.decode()
            payload = json.loads(text) if kind != "availability" else text
        except (UnicodeDecodeError, ValueError):
            log.debug("ignoring a payload that is not JSON on %s", msg.topic)
            return
        if kind == "status" and isinstance(payload, dict):
            fields = {k: payload.get(k) for k in TILE_FIELDS}
            with self._lock:
                contact_wall = self._tile(device_id).get("contact_wall", 0.0)
            if (payload.get("wall") or 0.0) < contact_wall:
                # A snapshot from before the last loss/restore event would undo it on screen.
                fields.pop("lost_points")
                fields.pop("alert")
            # Availability is the truth about online (the Last Will): a retained
            # status may arrive after a retained "offline" and must not undo it.
            with self._lock:
                known = "availability" in self._tile(device_id)
            self._update(device_id, fields, online=None if known else True)
        elif kind == "availability":
            with self._lock:
                self._tile(device_id)["availability"] = payload
            if payload == "offline":
                # Gone: what it last said (alert on, a point lost) is no longer true.
                self._update(device_id, {"alert": False, "lost_points": []}, online=False)
            elif payload == "online":
                self._update(device_id, {}, online=True)
        elif kind == "event" and len(parts) == 4 and isinstance(payload, dict):
            self._event(device_id, parts[3], payload)

    def _event(self, device_id: str, kind: str, payload: dict) -> None:
        if kind == "contact_lost":
            with self._lock:
                tile = self._tile(device_id)
                lost = sorted(set(tile.get("lost_points") or []) | {payload.get("point")})
                tile.update(lost_points=lost, alert=True, contact_wall=payload.get("wall") or 0.0)
            self._broadcast({"type": "loss", "id": device_id, "point": payload.get("point"),
                             "wall": payload.get("wall")})
        elif kind == "contact_restored":
            with self._lock:
                tile = self._tile(device_id)
                lost = [p for p in tile.get("lost_points") or [] if p != payload.get("point")]
                tile.update(lost_points=lost, alert=bool(lost), contact_wall=payload.get("wall") or 0.0)
            self._broadcast({"type": "restored", "id": device_id, "point": payload.get("point")})
        elif kind == "set_completed" and not payload.get("discarded"):
            summary = payload.get("summary") or {}
            self._update(device_id, {"last_set_clean_pct": summary.get("clean_pct")})

    def _tile(self, device_id: str) -> dict:
        tile = self._dowels.get(device_id)
        if tile is None:
            tile = self._dowels[device_id] = {"id": device_id, "online": False, "name": device_id}
        return tile

    def _update(self, device_id: str, fields: dict, online: Optional[bool] = None) -> None:
        with self._lock:
            tile = self._tile(device_id)
            tile.update(fields)
            if online is not None:
                tile["online"] = online
            tile["seen"] = time.time()
            copy = dict(tile)
        self._broadcast({"type": "dowel", "dowel": copy})

    def _broadcast(self, event: dict) -> None:
        self.bus.publish(event)


DEFAULTS = {"STREAM_HEARTBEAT_S": 10.0, "STREAM_RETRY_MS": 2000, "STREAM_QUEUE": 2048,
            "MAX_STREAMS": 16}


def create_coach_app(room: Room, config: Optional[dict] = None) -> Flask:
    """The coach's page and its stream, serving ``room``."""
    app = Flask(__name__, static_folder="static", static_url_path="/static")
    app.config.update(DEFAULTS)
    app.config.update(config or {})
    app.config["ROOM"] = room
    app.extensions["dowel_streams"] = StreamCounter()
    from . import errors, security

    # The room shows athletes' names and sets: the same Host rule and headers as
    # the dashboard, so a page on another site cannot read it from the coach's laptop.
    errors.install(app)
    security.install(app)

    @app.get("/")
    def index():
        response = send_from_directory(app.static_folder, "coach.html", max_age=0)
        response.headers["Cache-Control"] = "no-cache"
        return response

    @app.get("/favicon.ico")
    def favicon():
        return send_from_directory(app.static_folder, "icon.svg", mimetype="image/svg+xml")

    @app.get("/api/room")
    def room_json():
        return jsonify(room.snapshot())

    @app.get("/api/stream")
    def stream():
        cfg = current_app.config
        counter: StreamCounter = current_app.extensions["dowel_streams"]
        sub = room.bus.subscribe(maxsize=int(cfg["STREAM_QUEUE"]))
        if not counter.acquire(sub, int(cfg["MAX_STREAMS"])):
            sub.close()
            return jsonify({"error": "too many coach screens are open; close one"}), 503
        closed = threading.Event()

        def cleanup() -> None:
            if not closed.is_set():
                closed.set()
                sub.close()
                counter.release(sub)

        snapshot = room.snapshot()
        disconnected = request.environ.get("waitress.client_disconnected")

        def body():
            try:
                events = sse_stream(sub, None, heartbeat_s=float(cfg["STREAM_HEARTBEAT_S"]),
                                    retry_ms=int(cfg["STREAM_RETRY_MS"]), disconnected=disconnected)
                yield next(events)                       # the retry line
                yield format_event("room", snapshot)     # everything the page needs to draw
                yield from events
            finally:
                cleanup()

        response = Response(body(), mimetype="text/event-stream")
        response.call_on_close(cleanup)
        response.headers["Cache-Control"] = "no-cache, no-transform"
        response.headers["X-Accel-Buffering"] = "no"
        return response

    return app
