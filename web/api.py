"""The JSON API under ``/api``: status, live stream, settings, calibration.

Errors are JSON ``{"error": message, "field": name-or-null}`` with a 4xx code
(:mod:`web.errors`); every change needs the device token (:mod:`web.auth`).
docs/api.md lists every endpoint with examples.
"""
from __future__ import annotations

import threading
import time

from flask import Blueprint, Response, current_app, request

from device.analysis.calibration import CalibrationError
from device.analysis import vocabulary
from device.analysis.settings import SettingsError
from device.hw import constants
from device.runtime.contract import Core

from .auth import needs_token
from .errors import ApiError, json_object, json_response
from .stream import sse_stream

bp = Blueprint("api", __name__, url_prefix="/api")

#: Allowed length of the calibration hold (seconds).
CALIBRATE_RANGE_S = (1.0, 10.0)
#: Allowed countdown before it (seconds).
LEAD_IN_RANGE_S = (0.0, 10.0)


class StreamCounter:
    """The open live streams; each holds a server thread while it lasts, so their
    number is capped, in all and per client address."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: dict = {}            # subscription -> client address

    @property
    def open(self) -> int:
        return len(self._subs)

    def admit(self, sub, limit: int, client: str = "", per_client: int = 0) -> None:
        """Count ``sub`` as open, or ApiError 503 saying which limit it hit:
        ``limit`` in all, ``per_client`` from the address ``client`` (0: no limit)."""
        with self._lock:
            if per_client and sum(1 for c in self._subs.values() if c == client) >= per_client:
                raise ApiError(503, f"this phone already has {per_client} live views open: "
                                    "close another dashboard tab")
            if len(self._subs) >= limit:
                raise ApiError(503, f"the device is serving its most live views ({limit}): "
                                    "close the dashboard on another phone")
            self._subs[sub] = client

    def acquire(self, sub, limit: int) -> bool:
        """Count ``sub`` as open unless ``limit`` are (False then)."""
        try:
            self.admit(sub, limit)
        except ApiError:
            return False
        return True

    def release(self, sub) -> None:
        with self._lock:
            self._subs.pop(sub, None)

    def close_all(self) -> None:
        """End every open stream (server shutdown): each generator sees its
        subscription closed and returns, freeing its thread."""
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            sub.close()


def _core() -> Core:
    return current_app.config["CORE"]


@bp.get("/status")
def status():
    """The core's status snapshot (docs/architecture.md)."""
    return json_response(_core().get_status())


@bp.get("/stream")
def stream():
    """Server-Sent Events: status (throttled) plus every other event as it happens."""
    cfg = current_app.config
    counter: StreamCounter = current_app.extensions["dowel_streams"]
    core = _core()
    sub = core.subscribe(maxsize=int(cfg["STREAM_QUEUE"]))
    try:
        counter.admit(sub, int(cfg["MAX_STREAMS"]), request.remote_addr or "",
                      int(cfg["STREAMS_PER_CLIENT"]))
    except ApiError:
        sub.close()
        raise
    closed = threading.Event()

    def cleanup() -> None:
        # Runs from the generator's finally and from the server's close() of the
        # response, whichever comes first (a phone can leave before the first byte).
        if not closed.is_set():
            closed.set()
            sub.close()
            counter.release(sub)

    try:
        initial = core.get_status()
    except Exception:
        cleanup()
        raise
    initial["type"] = "status"
    disconnected = request.environ.get("waitress.client_disconnected")

    def body():
        try:
            yield from sse_stream(sub, initial, status_hz=float(cfg["STREAM_STATUS_HZ"]),
                                  heartbeat_s=float(cfg["STREAM_HEARTBEAT_S"]),
                                  retry_ms=int(cfg["STREAM_RETRY_MS"]),
                                  disconnected=disconnected)
        finally:
            cleanup()

    response = Response(body(), mimetype="text/event-stream")
    response.call_on_close(cleanup)
    response.headers["Cache-Control"] = "no-cache, no-transform"
    response.headers["X-Accel-Buffering"] = "no"
    return response


@bp.get("/settings")
def get_settings():
    return json_response(_core().settings.to_dict())


@bp.put("/settings")
def put_settings():
    """Validate and apply a partial update as a whole; 400 names the bad field."""
    changes = json_object(name="settings")
    if not changes:
        raise ApiError(400, "no settings given", "settings")
    try:
        new = _core().update_settings(changes)
    except SettingsError as exc:
        raise ApiError(400, exc.message, exc.field) from None
    except OSError as exc:                  # the settings file could not be written
        raise ApiError(503, f"settings not saved: {exc}") from None
    return json_response(new.to_dict())


@bp.get("/options")
def options():
    """The one copy of the vocabulary for the page (points, exercises with their
    instructions and cues) and the choices the settings form offers (the server
    still validates everything)."""
    doc = vocabulary.options()
    doc.update({
        "data_rates": {"ADS1115": list(constants.ADS1115_RATES),
                       "ADS1015": list(constants.ADS1015_RATES)},
        "calibration": {"lead_in_s": float(current_app.config["CALIBRATE_LEAD_IN_S"]),
                        "hold_s": float(current_app.config["CALIBRATE_S"])},
    })
    return json_response(doc)


@bp.post("/calibrate")
def calibrate():
    """Wait the lead-in, record the resting hold, once more if it was bad (blocks
    that long); 409 with what to do when it cannot be used."""
    body = json_object(required=False, name="calibrate")
    duration_s = float(current_app.config["CALIBRATE_S"])
    lead_in_s = float(current_app.config["CALIBRATE_LEAD_IN_S"])
    if body is not None:
        unknown = set(body) - {"duration_s", "lead_in_s"}
        if unknown:
            raise ApiError(400, "unknown field", sorted(unknown)[0])
        for field, (lo, hi) in (("duration_s", CALIBRATE_RANGE_S), ("lead_in_s", LEAD_IN_RANGE_S)):
            if field in body:
                value = body[field]
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
                    raise ApiError(400, f"must be a number of seconds between {lo:g} and {hi:g}", field)
        duration_s = float(body.get("duration_s", duration_s))
        lead_in_s = float(body.get("lead_in_s", lead_in_s))
    calibrating = current_app.extensions["dowel_calibrating"]
    if not calibrating.acquire(blocking=False):
        raise ApiError(409, "a calibration is already running")
    try:
        started = time.monotonic()
        try:
            calibration = _core().calibrate(duration_s, lead_in_s=lead_in_s)
        except CalibrationError as exc:
            raise ApiError(409, str(exc)) from None
        except SettingsError as exc:
            raise ApiError(409, exc.message, exc.field) from None
    finally:
        calibrating.release()
    return json_response({"calibration": calibration.to_dict(),
                          "settings": _core().settings.to_dict(),
                          "took_s": round(time.monotonic() - started, 2)})


@bp.get("/pairing.svg")
@needs_token
def pairing_qr():
    """A QR code of the pairing link, drawn on the device (no network), so a
    paired phone can pair another: it needs the token, like the link it shows."""
    import io

    import segno

    # The name and port this phone reached the device by (the Host rule has
    # checked it is one of the device's own).
    url = f"http://{request.host}/#token={current_app.config['TOKEN']}"
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=6, border=2, xmldecl=False,
                                    title="Pair a phone with the smart dowel")
    return Response(out.getvalue(), mimetype="image/svg+xml",
                    headers={"Cache-Control": "no-store", "X-Pairing-Url": url})
