"""The web process's view of the core running in the core process.

:class:`CoreProxy` keeps :class:`device.runtime.contract.Core` over the channel
(:mod:`device.runtime.channel`): events and status snapshots arrive on a reader
thread and are republished on a local :class:`EventBus` (so every phone still has
its own bounded queue here, never in the core); ``get_status`` answers from the
newest snapshot; commands are sent and their replies awaited, with the core's
errors raised again as the same exception classes (a bad setting is still a
:class:`SettingsError` naming its field).

When the core process goes away the proxy says so: the status's ``health.fault``
becomes :data:`DEVICE_DOWN`, a ``fault`` event and a status go to every
listener, and commands raise :class:`CoreUnavailable`.

:class:`HistoryReader` is the web's history store: reads straight from SQLite
(WAL lets them run beside the writer), writes sent to the core's process.
"""
from __future__ import annotations

import copy
import itertools
import logging
import socket
import threading
import time
from typing import Optional

from device.analysis.calibration import Calibration, CalibrationError
from device.analysis.settings import Settings, SettingsError
from device.runtime.channel import ChannelError, Decoder, encode
from device.runtime.events import EventBus, Subscription

log = logging.getLogger(__name__)

#: ``health.fault`` while the core process is not there.
DEVICE_DOWN = "the device is down: its core process stopped (the service restarts it)"
#: Longest wait for an ordinary command's reply.
COMMAND_TIMEOUT_S = 10.0


class CoreUnavailable(RuntimeError):
    """The core process is not running (or stopped answering)."""


def _field_error(kind):
    def make(error):
        return kind(error.get("field") or "", error.get("message", ""))
    return make


def _error_classes() -> dict:
    from device.analysis.plan import PlanError
    from device.history.store import FieldError, StoreError

    return {"SettingsError": _field_error(SettingsError), "FieldError": _field_error(FieldError),
            "PlanError": _field_error(PlanError),
            "CalibrationError": lambda e: CalibrationError(e["message"]),
            "StoreError": lambda e: StoreError(e["message"]),
            "KeyError": lambda e: KeyError(e["message"]),
            "LookupError": lambda e: LookupError(e["message"]),
            "OSError": lambda e: OSError(e["message"]),
            "PermissionError": lambda e: PermissionError(e["message"])}


class _Pending:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.reply: Optional[dict] = None


class CoreProxy:
    """A :class:`device.runtime.contract.Core` whose loop runs in another process."""

    def __init__(self, path):
        self.path = str(path)
        self.bus = EventBus()
        self.down: Optional[str] = None
        self._sock: Optional[socket.socket] = None
        self._status: Optional[dict] = None
        self._settings: Optional[Settings] = None
        self._hello = threading.Event()
        self._send_lock = threading.Lock()
        self._pending: dict = {}
        self._pending_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._reader: Optional[threading.Thread] = None
        self._errors = _error_classes()

    # -- connecting --------------------------------------------------------------
    def connect(self, timeout_s: float = 30.0, stop: Optional[threading.Event] = None) -> "CoreProxy":
        """Connect (retrying while the core process starts) and wait for its hello.
        ``stop`` set (the service is stopping) ends the retries at once."""
        deadline = time.monotonic() + timeout_s
        stop = stop if stop is not None else threading.Event()
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(self.path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                sock.close()
                if stop.is_set():
                    raise CoreUnavailable("stopped while waiting for the core process") from None
                if time.monotonic() >= deadline:
                    raise CoreUnavailable(f"no core process at {self.path}") from None
                stop.wait(0.05)
        self._sock = sock
        self._reader = threading.Thread(target=self._read_loop, name="core-proxy", daemon=True)
        self._reader.start()
        if not self._hello.wait(max(0.1, deadline - time.monotonic())) or self._status is None:
            self.close()
            raise CoreUnavailable(f"the core process at {self.path} did not say hello "
                                  "(refused: another user's socket?)")
        return self

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._sock.close()

    # -- the reader thread -----------------------------------------------------------
    def _read_loop(self) -> None:
        decoder = Decoder()
        try:
            while True:
                data = self._sock.recv(65536)
                if not data:
                    break
                for message in decoder.feed(data):
                    try:
                        self._dispatch(message)
                    except Exception:          # one bad message must not deafen the web
                        log.exception("channel: cannot use a %r message", message.get("type"))
        except (OSError, ChannelError) as exc:
            log.info("channel closed: %s", exc)
        self._went_down()

    def _dispatch(self, message: dict) -> None:
        kind = message.get("type")
        if kind == "reply":
            with self._pending_lock:
                pending = self._pending.pop(message.get("id"), None)
            if pending is not None:
                pending.reply = message
                pending.done.set()
            return
        if kind == "hello":
            self._settings = Settings().updated(message["settings"])
            return
        if kind == "status":
            self._status = message
            self._hello.set()
        elif kind == "settings":
            self._settings = Settings().updated(message["settings"])
        self.bus.publish(message)

    def _went_down(self) -> None:
        self.down = DEVICE_DOWN
        self._hello.set()
        with self._pending_lock:
            pending, self._pending = list(self._pending.values()), {}
        for p in pending:
            p.done.set()
        if self._status is None:
            return
        t = self._status.get("t", 0.0)
        self.bus.publish({"type": "fault", "t": t, "wall": time.time(), "active": True,
                          "message": DEVICE_DOWN})
        status = self.get_status()
        status["type"] = "status"
        self.bus.publish(status)

    # -- commands ---------------------------------------------------------------------
    def _call(self, op: str, timeout_s: float = COMMAND_TIMEOUT_S, **args):
        if self.down is not None or self._sock is None:
            raise CoreUnavailable(self.down or "not connected to the core process")
        pending = _Pending()
        number = next(self._ids)
        with self._pending_lock:
            self._pending[number] = pending
        data = encode({"type": "command", "id": number, "op": op, "args": args})
        try:
            with self._send_lock:
                self._sock.sendall(data)
        except OSError:
            with self._pending_lock:
                self._pending.pop(number, None)
            raise CoreUnavailable(DEVICE_DOWN) from None
        if not pending.done.wait(timeout_s):
            with self._pending_lock:
                self._pending.pop(number, None)
            raise CoreUnavailable(f"the core process did not answer {op} within {timeout_s:g} s")
        reply = pending.reply
        if reply is None:
            raise CoreUnavailable(self.down or DEVICE_DOWN)
        if reply.get("ok"):
            return reply.get("result")
        error = reply.get("error") or {}
        make = self._errors.get(error.get("kind"))
        if make is None:
            raise RuntimeError(f"core process: {error.get('kind')}: {error.get('message')}")
        raise make(error)

    # -- the Core contract --------------------------------------------------------------
    def get_status(self) -> dict:
        if self._status is None:
            raise CoreUnavailable(self.down or "no status from the core process yet")
        status = copy.deepcopy(self._status)
        status.pop("type", None)
        if self._settings is not None:
            # The settings are never older than the last status: the settings event
            # comes before a command's reply, while the status that shows them may
            # still be on its way - read your own change at once.
            status["exercise"] = self._settings.exercise
            status["calibrated"] = self._settings.calibration is not None
        health = status.setdefault("health", {})
        # The core counts this proxy as one listener; the phones listen here.
        health["subscribers"] = max(0, int(health.get("subscribers", 1)) - 1) + self.bus.subscriber_count
        if self.down is not None:
            health["fault"] = self.down
            status["alert"] = False
        return status

    def subscribe(self, maxsize: int = 256, types=None) -> Subscription:
        return self.bus.subscribe(maxsize=maxsize, types=types)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            raise CoreUnavailable(self.down or "no settings from the core process yet")
        return self._settings

    # The settings a command makes are not taken from its reply: the core's settings
    # event, which the channel sends before the reply, has set them already, and a
    # reply picked up late by its request thread would undo a newer change (another
    # phone's) that arrived meanwhile.
    def update_settings(self, changes: dict) -> Settings:
        return Settings().updated(self._call("update_settings", changes=changes))

    def set_exercise(self, name: str) -> Settings:
        return Settings().updated(self._call("set_exercise", name=name))

    def calibrate(self, duration_s: float = 3.0, lead_in_s: float = 0.0) -> Calibration:
        # A bad hold is recorded once more: wait for two holds and the lead-in.
        result = self._call("calibrate", timeout_s=lead_in_s + 2 * duration_s + 20.0,
                            duration_s=duration_s, lead_in_s=lead_in_s)
        return Calibration.from_dict(result)     # its settings event came before the reply

    # -- the day's plan (kept by the core) ------------------------------------------------
    def plan_status(self) -> dict:
        return self._call("plan", method="plan_status", args=[])

    def plan_stage(self, stage) -> dict:
        return self._call("plan", method="plan_stage", args=[stage])

    def plan_skip(self) -> dict:
        return self._call("plan", method="plan_skip", args=[])

    def plan_order(self, order) -> dict:
        return self._call("plan", method="plan_order", args=[order])

    def plan_set_done(self, exercise: str, by_hand: bool = False) -> dict:
        return self._call("plan", method="plan_set_done", args=[exercise, by_hand])

    # -- beyond the contract: the web process's own needs -----------------------------------
    def web_ready(self, port: int) -> None:
        """Tell the core the dashboard serves (it says READY to systemd then)."""
        self._call("web_ready", port=port)

    def store_write(self, method: str, *args):
        return self._call("store", method=method, args=list(args))


class HistoryReader:
    """The web's history store: every read from the SQLite file directly (read-only),
    every write (:data:`device.runtime.channel.ChannelServer.STORE_WRITES`) done by the
    core's process, the database's only writer."""

    def __init__(self, reader, proxy: CoreProxy):
        from device.runtime.channel import ChannelServer

        self._reader = reader
        self._proxy = proxy
        self._writes = ChannelServer.STORE_WRITES

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._writes:
            return lambda *args: self._proxy.store_write(name, *args)
        return getattr(self._reader, name)
