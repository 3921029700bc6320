"""Publishing a dowel's live state to an MQTT broker (Mosquitto, Home Assistant, Node-RED).

Off unless a broker is configured (``dowel run --mqtt URL``).  Everything goes
under ``smart-dowel/<device id>/`` (docs/mqtt.md has every payload):

* ``status``            retained, JSON, at most :data:`STATUS_HZ` a second;
* ``event/<type>``      QoS 1, not retained: contact_lost, contact_restored,
                        rep_completed, set_started, set_completed, fault;
* ``availability``      retained ``online``; the broker publishes ``offline``
                        (the Last Will) when the dowel vanishes without saying goodbye;
* Home Assistant discovery under ``homeassistant/`` (device.runtime.mqtt_discovery).

The polling loop never waits on the network: :class:`MqttPublisher` listens on
the core's :class:`~device.runtime.events.EventBus` through two bounded
subscriptions (events, and a one-slot one for the newest status) and publishes
from a thread of its own; paho's network thread does the socket work.  When the
broker is away, QoS 1 events wait in paho's bounded queue and are sent on
reconnect; what does not fit is counted in ``dropped``.  The link state
(``MqttPublisher.link_state()``) is reported to the core, which shows it in the
status snapshot as ``health.mqtt`` for the dashboard's Device view.
"""
from __future__ import annotations

import logging
import secrets
import ssl
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Optional
from urllib.parse import parse_qs, unquote, urlsplit

from device.analysis import vocabulary
from device.analysis.jsonsafe import dumps as to_json
from device.hw import constants

log = logging.getLogger(__name__)

__all__ = ["BrokerConfig", "MqttConfigError", "MqttPublisher", "parse_broker_url",
           "load_or_create_device_id", "make_client", "Topics", "status_payload",
           "event_payload", "to_json", "EVENT_TYPES", "STATUS_HZ"]

#: Status messages per second at most: enough for a coach's screen, little for a Pi Zero.
STATUS_HZ = 4.0
#: The core's event types that go out on ``event/<type>``.
EVENT_TYPES = ("contact_lost", "contact_restored", "rep_completed", "set_started",
               "set_completed", "fault", "sensor_fault")
#: Reps in a set of the program (two sets of ten); a plan in the status overrides it.
DEFAULT_REP_TARGET = vocabulary.WARMUP_REPS
#: Seconds between link-state reports to the core (published, dropped counters).
LINK_REPORT_S = 1.0
BASE_TOPIC = "smart-dowel"
DISCOVERY_PREFIX = "homeassistant"
ONLINE, OFFLINE = "online", "offline"


class MqttConfigError(ValueError):
    """A broker URL or option that cannot work; the message names what is wrong."""


@dataclass(frozen=True)
class BrokerConfig:
    """Where and how to connect.  ``parse_broker_url`` builds one from ``mqtt[s]://...``."""

    host: str
    port: int = 1883
    tls: bool = False
    username: Optional[str] = None
    password: Optional[str] = None
    ca_file: Optional[str] = None
    keepalive_s: int = 15
    base_topic: str = BASE_TOPIC
    discovery_prefix: str = DISCOVERY_PREFIX
    #: paho's reconnect backoff: first retry after min, doubling up to max.
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 30.0

    @property
    def display_url(self) -> str:
        """The URL without the password (for logs and the Device view)."""
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"


def parse_broker_url(url: str, *, ca_file: Optional[str] = None,
                     keepalive_s: Optional[int] = None) -> BrokerConfig:
    """``mqtt://[user[:password]@]host[:port]`` or ``mqtts://...`` (TLS, port 8883);
    a bare ``host[:port]`` means ``mqtt://``.

    A ``?ca=FILE`` query or ``ca_file`` names the CA certificate that signed the
    broker's certificate (default: the system's trusted CAs).  User and password
    are percent-decoded, so a password may hold ``@`` or ``:`` as ``%40``/``%3A``.
    """
    if not url or any(c.isspace() for c in url):
        raise MqttConfigError(f"broker URL {url!r}: expected host[:port], mqtt://host[:port] or mqtts://host[:port]")
    if "://" not in url:
        url = "mqtt://" + url          # a bare host or host:port, as in the config file
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("mqtt", "mqtts"):
        raise MqttConfigError(f"broker URL {url!r}: the scheme must be mqtt:// or mqtts://, not {scheme}://")
    if not parts.hostname:
        raise MqttConfigError(f"broker URL {url!r}: no host name")
    try:
        port = parts.port
    except ValueError:
        raise MqttConfigError(f"broker URL {url!r}: the port must be a number from 1 to 65535") from None
    tls = scheme == "mqtts"
    query = parse_qs(parts.query)
    unknown = set(query) - {"ca"}
    if unknown:
        raise MqttConfigError(f"broker URL {url!r}: unknown option(s) {', '.join(sorted(unknown))} "
                              "(only ?ca=FILE is understood)")
    ca = ca_file or (query["ca"][-1] if "ca" in query else None)
    if ca is not None:
        if not tls:
            raise MqttConfigError(f"a CA file only applies to TLS: use mqtts:// (got {url!r})")
        if not Path(ca).is_file():
            raise MqttConfigError(f"CA file {ca}: no such file")
    if keepalive_s is not None and not 5 <= keepalive_s <= 3600:
        raise MqttConfigError(f"MQTT keepalive {keepalive_s}: must be 5 to 3600 seconds")
    return BrokerConfig(
        host=parts.hostname, port=port or (8883 if tls else 1883), tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        ca_file=ca, **({"keepalive_s": keepalive_s} if keepalive_s is not None else {}))


def load_or_create_device_id(data_dir) -> str:
    """The dowel's MQTT id, made once and kept in ``DATA_DIR/device_id``, so its
    topics, its client id and its Home Assistant device survive restarts."""
    path = Path(data_dir) / "device_id"
    try:
        text = path.read_text().strip()
        if text and _valid_id(text):
            return text
    except FileNotFoundError:
        pass
    device_id = "dowel-" + secrets.token_hex(3)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(device_id + "\n")
    tmp.replace(path)
    return device_id


def _valid_id(text: str) -> bool:
    # It becomes a topic level and a Home Assistant node id: [a-zA-Z0-9_-] only.
    return all(c.isascii() and (c.isalnum() or c in "-_") for c in text) and len(text) <= 64


class Topics:
    """Every topic of one dowel, spelled once."""

    def __init__(self, config: BrokerConfig, device_id: str):
        if not _valid_id(device_id):
            raise MqttConfigError(f"device id {device_id!r}: use letters, digits, '-' and '_' only")
        self.device_id = device_id
        self.root = f"{config.base_topic}/{device_id}"
        self.status = f"{self.root}/status"
        self.availability = f"{self.root}/availability"
        self.discovery_prefix = config.discovery_prefix

    def event(self, kind: str) -> str:
        return f"{self.root}/event/{kind}"

    def discovery(self, component: str, object_id: str) -> str:
        node = self.device_id.replace("-", "_")
        return f"{self.discovery_prefix}/{component}/{node}/{object_id}/config"






# -- payloads ---------------------------------------------------------------------------
def _set_number(d: dict) -> Optional[int]:
    st = d.get("set")
    if isinstance(st, dict) and "number" in st:
        return st["number"]
    return d.get("set_number", d.get("set_index"))


def _rep_fields(event: dict) -> dict:
    # The core's rep_completed carries the rep either flat (set_number, rep = its
    # number, depth_deg, ...) or nested (set_index, rep_index, rep = {...}); MQTT
    # listeners always get the flat shape.
    rep = event.get("rep")
    body, number = (rep, event.get("rep_index")) if isinstance(rep, dict) else (event, rep)
    out = {"set_number": _set_number(event), "rep": number}
    for key in ("start", "end", "depth_deg", "down_s", "up_s", "clean"):
        if key in body:
            out[key] = body[key]
    out["losses"] = [{"point": l["point"], "start": l.get("start"), "duration_s": l.get("duration_s")}
                     for l in body.get("losses", [])]
    return out


def set_summary(reps: list) -> dict:
    """The set summary (reps, clean %, depth, tempo, losses per point) from its reps."""
    n = len(reps)
    clean = sum(1 for r in reps if r.get("clean"))
    depths = [r["depth_deg"] for r in reps if r.get("depth_deg") is not None]
    downs = [r["down_s"] for r in reps if r.get("down_s") is not None]
    ups = [r["up_s"] for r in reps if r.get("up_s") is not None]
    losses = {p: 0 for p in constants.POINTS}
    for r in reps:
        for loss in r.get("losses", []):
            losses[loss["point"]] = losses.get(loss["point"], 0) + 1

    def mean(xs):
        return round(sum(xs) / len(xs), 2) if xs else None
    return {"reps": n, "clean_reps": clean, "clean_pct": round(100.0 * clean / n, 1) if n else None,
            "depth_max_deg": round(max(depths), 1) if depths else None,
            "depth_mean_deg": mean(depths), "down_mean_s": mean(downs), "up_mean_s": mean(ups),
            "losses_by_point": losses}


def event_payload(event: dict, device_id: str) -> dict:
    """What goes out on ``event/<type>`` for one core event (shapes in docs/mqtt.md)."""
    kind = event["type"]
    out: dict = {"type": kind, "device": device_id, "t": event.get("t"), "wall": event.get("wall")}
    if kind == "rep_completed":
        out.update(_rep_fields(event))
    elif kind == "set_started":
        out.update(set_number=_set_number(event), exercise=event.get("exercise"),
                   start=event.get("start"))
    elif kind == "set_completed":
        summary = event.get("summary")
        st = event.get("set") if isinstance(event.get("set"), dict) else {}
        if summary is None:
            summary = set_summary(st.get("reps", []))
        out.update(set_number=_set_number(event), exercise=event.get("exercise"),
                   start=st.get("start", event.get("start")), end=st.get("end", event.get("end")),
                   discarded=bool(event.get("discarded", summary.get("reps") == 0)),
                   summary=summary)
    elif kind in ("contact_lost", "contact_restored"):
        out.update(point=event["point"], start=event.get("start"))
        if kind == "contact_restored":
            out["duration_s"] = event.get("duration_s")
    elif kind == "fault":
        out.update(active=bool(event.get("active")), message=event.get("message"))
    elif kind == "sensor_fault":
        out.update(active=bool(event.get("active")), point=event.get("point"),
                   kind=event.get("kind"), message=event.get("message"))
    return out


def _athlete_name(value) -> Optional[str]:
    if isinstance(value, dict):
        return value.get("name")
    return value if isinstance(value, str) else None


def _exercise_title(exercise_id: Optional[str]) -> Optional[str]:
    try:
        return vocabulary.exercise(exercise_id).title if exercise_id else None
    except (KeyError, ValueError):
        return None


def status_payload(status: dict, device_id: str, *, name: str, extra: dict) -> dict:
    """The retained ``status`` message from a core status snapshot.  ``extra`` holds
    what the publisher keeps itself: sets_today, last_depth_deg, last_set_clean_pct,
    athlete, dashboard_url."""
    health = status.get("health", {})
    plan = status.get("plan") if isinstance(status.get("plan"), dict) else {}
    points = {p: {"contact": bool(v.get("contact")), "lost": bool(v.get("lost"))}
              for p, v in status.get("points", {}).items()}
    athlete = _athlete_name(status.get("athlete")) or extra.get("athlete")
    # A problem is the ADC not answering or a pad that reads nonsense.
    sensor_faults = status.get("sensor_faults") or []
    fault = health.get("fault") or (sensor_faults[0].get("message") if sensor_faults else None)
    last_set = status.get("last_set") if isinstance(status.get("last_set"), dict) else {}
    clean_pct = (last_set.get("summary") or {}).get("clean_pct", extra.get("last_set_clean_pct"))
    return {
        "device": device_id, "name": name, "online": True,
        "t": status.get("t"), "wall": status.get("wall"),
        "points": points,
        "pitch_deg": status.get("pitch_deg") if status.get("in_set") else None,
        "in_set": bool(status.get("in_set")), "phase": status.get("phase"),
        "set_number": _set_number(status), "rep": status.get("rep_count", 0),
        "rep_target": plan.get("rep_target") or DEFAULT_REP_TARGET,
        "alert": bool(status.get("alert")), "lost_points": list(status.get("lost_points", [])),
        "fault": fault, "problem": fault is not None,
        "athlete": athlete, "exercise": status.get("exercise"),
        "exercise_title": plan.get("title") or _exercise_title(status.get("exercise")),
        "sets_today": extra.get("sets_today", 0),
        "last_depth_deg": extra.get("last_depth_deg"),
        "last_set_clean_pct": clean_pct,
        "dashboard_url": extra.get("dashboard_url"),
        "frame_rate_hz": health.get("frame_rate_hz"),
    }


# -- the client ----------------------------------------------------------------------------
def make_client(config: BrokerConfig, client_id: str):
    """A paho 2.x client set up for ``config`` (auth, TLS, backoff); not connected."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv311, clean_session=True)
    if config.username is not None:
        client.username_pw_set(config.username, config.password)
    if config.tls:
        client.tls_set(ca_certs=config.ca_file, cert_reqs=ssl.CERT_REQUIRED,
                       tls_version=ssl.PROTOCOL_TLS_CLIENT)
    client.reconnect_delay_set(min_delay=max(1, int(config.reconnect_min_s)),
                               max_delay=max(1, int(config.reconnect_max_s)))
    return client


def _reason_text(reason_code) -> str:
    return str(getattr(reason_code, "getName", lambda: reason_code)())


class MqttPublisher:
    """Follows one core's events and status and publishes them (see the module doc).

    ``athlete()`` (optional) names the athlete training now; it is asked at start
    and at each set start, off the polling thread.  ``sets_today()`` (optional)
    counts the sets already stored today, so a restart does not start from 0.
    ``dashboard_url`` goes into the status and Home Assistant's
    ``configuration_url`` so a coach can open the dowel's own page.
    """

    def __init__(self, core, config: BrokerConfig, device_id: str, *, name: Optional[str] = None,
                 dashboard_url: Optional[str] = None,
                 athlete: Optional[Callable[[], Optional[str]]] = None,
                 sets_today: Optional[Callable[[], int]] = None,
                 queue_size: int = 1024, status_hz: float = STATUS_HZ, max_queued: int = 1000,
                 discovery: bool = True, client=None):
        self.core = core
        self.config = config
        self.topics = Topics(config, device_id)
        self.device_id = device_id
        self.name = name or f"Smart dowel {device_id}"
        self.dashboard_url = dashboard_url
        self._athlete_fn = athlete
        self._sets_today_fn = sets_today
        self._status_gap_s = 1.0 / status_hz
        self._discovery = discovery
        self._client = client or make_client(config, client_id=f"{BASE_TOPIC}-{device_id}")
        self._client.max_queued_messages_set(max_queued)
        self._client.will_set(self.topics.availability, OFFLINE, qos=1, retain=True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_connect_fail = self._on_connect_fail
        self._queue_size = queue_size
        self._events = None
        self._status = None
        self._thread: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self._lock = threading.Lock()     # link state, shared with paho's thread
        self._state = "connecting"
        self._last_error: Optional[str] = None
        self._connects = 0
        self._published = 0
        self._dropped_offline = 0
        self._last_status: Optional[dict] = None
        self._extra = {"sets_today": 0, "last_depth_deg": None, "last_set_clean_pct": None,
                       "athlete": None, "dashboard_url": dashboard_url}
        self._today = time.localtime().tm_yday

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> "MqttPublisher":
        """Subscribe to the core and connect in the background (a broker that is down
        now is retried with backoff; nothing here waits for it)."""
        if self._thread is not None:
            return self
        self._events = self.core.subscribe(maxsize=self._queue_size, types=EVENT_TYPES)
        # One slot: the newest snapshot replaces an unsent one, which is the throttle.
        self._status = self.core.subscribe(maxsize=1, types=["status"])
        self._extra["athlete"] = self._ask_athlete()
        self._extra["sets_today"] = self._ask(self._sets_today_fn, 0)
        self._client.connect_async(self.config.host, self.config.port, keepalive=self.config.keepalive_s)
        self._client.loop_start()
        self._thread = threading.Thread(target=self._run, name="dowel-mqtt", daemon=True)
        self._thread.start()
        self._report()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Send what is queued, say ``offline`` (retained) and disconnect; a clean
        stop is not a Last Will.  ``timeout`` bounds each of the two waits."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        for sub in (self._events, self._status):
            if sub is not None:
                sub.close()
        try:
            if self.connected:
                info = self._client.publish(self.topics.availability, OFFLINE, qos=1, retain=True)
                # Messages go out in order: once "offline" is acknowledged, so is
                # every event queued before it.
                info.wait_for_publish(timeout=timeout)
            self._client.disconnect()
        except (RuntimeError, ValueError, OSError) as exc:   # the broker went away meanwhile
            log.debug("MQTT goodbye not sent: %s", exc)
        self._client.loop_stop()
        with self._lock:
            self._state = "off"
        self._report()

    @property
    def connected(self) -> bool:
        return self._state == "connected"

    def link_state(self) -> dict:
        """``{state, broker, device_id, connects, published, dropped, last_error}``;
        state is connecting, connected, disconnected or off."""
        events = self._events
        with self._lock:
            return {"state": self._state, "broker": self.config.display_url,
                    "device_id": self.device_id, "connects": self._connects,
                    "published": self._published,
                    "dropped": (events.dropped if events is not None else 0) + self._dropped_offline,
                    "last_error": self._last_error}

    # -- paho's thread -------------------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            with self._lock:
                self._state = "disconnected"
                self._last_error = f"broker refused the connection: {_reason_text(reason_code)}"
            log.warning("MQTT %s: %s", self.config.display_url, self._last_error)
            self._report()
            return
        with self._lock:
            self._state = "connected"
            self._connects += 1
        log.info("MQTT connected to %s as %s", self.config.display_url, self.device_id)
        # Retained: a coach or Home Assistant that subscribes later sees these at once.
        self._send(self.topics.availability, ONLINE, qos=1, retain=True)
        if self._discovery:
            from device.runtime.mqtt_discovery import discovery_messages

            for topic, payload in discovery_messages(self):
                self._send(topic, to_json(payload), qos=1, retain=True)
        if self._last_status is not None:
            self._send(self.topics.status, to_json(self._last_status), qos=0, retain=True)
        self._report()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        with self._lock:
            was_connected = self._state == "connected"
            if self._state != "off":
                self._state = "disconnected"
            # After a refused CONNECT paho reports a disconnect too; the refusal is
            # the news, not "connection lost".
            if reason_code.is_failure and was_connected:
                self._last_error = f"connection lost: {_reason_text(reason_code)}"
        self._report()

    def _on_connect_fail(self, client, userdata) -> None:
        with self._lock:
            self._state = "disconnected"
            self._last_error = f"cannot reach {self.config.host}:{self.config.port}"
        self._report()

    # -- our thread ------------------------------------------------------------------------
    def _run(self) -> None:
        next_status = time.monotonic()
        next_report = next_status + LINK_REPORT_S
        while not self._stop.is_set():
            wait = max(0.0, min(0.25, next_status - time.monotonic()))
            event = self._events.get(timeout=wait)
            if event is not None:
                self._publish_event(event)
            now = time.monotonic()
            if now >= next_status:
                snapshots = self._status.drain()
                if snapshots:
                    self._publish_status(snapshots[-1])
                    next_status = now + self._status_gap_s
                else:
                    next_status = now + 0.05
            if now >= next_report:
                # Counters move all the time; the Device view gets them once a second.
                self._report()
                next_report = now + LINK_REPORT_S
        # What the core said last before it stopped is worth sending.
        for event in self._events.drain():
            self._publish_event(event)
        for snapshot in self._status.drain()[-1:]:
            self._publish_status(snapshot)

    def _publish_event(self, event: dict) -> None:
        payload = event_payload(event, self.device_id)
        self._track(payload)
        self._send(self.topics.event(event["type"]), to_json(payload), qos=1, retain=False)
        if event["type"] in ("set_completed", "rep_completed", "set_started") and self._last_status:
            # Sets today, last depth and clean % changed: the retained status says so now.
            self._last_status.update({k: self._extra[k] for k in
                                      ("sets_today", "last_depth_deg", "last_set_clean_pct", "athlete")})
            self._send(self.topics.status, to_json(self._last_status), qos=0, retain=True)

    def _track(self, payload: dict) -> None:
        kind = payload["type"]
        day = time.localtime().tm_yday
        if day != self._today:
            self._today, self._extra["sets_today"] = day, 0
        if kind == "rep_completed" and payload.get("depth_deg") is not None:
            self._extra["last_depth_deg"] = round(payload["depth_deg"], 1)
        elif kind == "set_completed" and not payload["discarded"]:
            self._extra["sets_today"] += 1
            self._extra["last_set_clean_pct"] = payload["summary"].get("clean_pct")
        elif kind == "set_started":
            self._extra["athlete"] = self._ask_athlete()

    def _publish_status(self, status: dict) -> None:
        self._last_status = status_payload(status, self.device_id, name=self.name, extra=self._extra)
        self._send(self.topics.status, to_json(self._last_status), qos=0, retain=True)

    def _send(self, topic: str, payload: str, *, qos: int, retain: bool) -> None:
        import paho.mqtt.client as mqtt

        try:
            info = self._client.publish(topic, payload, qos=qos, retain=retain)
        except (ValueError, RuntimeError) as exc:
            log.warning("MQTT publish to %s failed: %s", topic, exc)
            info = None
        ok = info is not None and (info.rc == mqtt.MQTT_ERR_SUCCESS or
                                   (qos > 0 and info.rc == mqtt.MQTT_ERR_NO_CONN))
        with self._lock:
            # QoS 1 while away waits in paho's queue (sent on reconnect); a status
            # while away is simply replaced by the next one, so it is no loss.
            if ok:
                self._published += 1
            elif qos > 0:
                self._dropped_offline += 1

    def _ask_athlete(self) -> Optional[str]:
        return self._ask(self._athlete_fn, None)

    @staticmethod
    def _ask(fn, default):
        if fn is None:
            return default
        try:
            return fn()
        except Exception as exc:       # a history problem must not stop publishing
            log.debug("history lookup failed: %s", exc)
            return default

    def _report(self) -> None:
        report = getattr(self.core, "report_link_state", None)
        if report is not None:
            report("mqtt", self.link_state())


def with_overrides(config: BrokerConfig, **changes) -> BrokerConfig:
    """A copy of ``config`` with some fields changed (tests shorten the backoff)."""
    return replace(config, **changes)
