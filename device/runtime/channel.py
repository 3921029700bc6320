"""The channel between the core process and the web process: a Unix domain
socket in the runtime directory, carrying length-prefixed JSON messages.

Each message is a 4-byte big-endian length and that many bytes of UTF-8 JSON
(an object with ``type``).  What travels:

* core -> web: ``hello`` (the settings, on connect), every event the core
  publishes (``status`` snapshots at most 20 per second, ``rep_completed``,
  ``contact_lost``, ...) and ``reply`` to each command;
* web -> core: commands ``{"type": "command", "id": n, "op": ..., "args": {...}}``
  (see :data:`ChannelServer.OPS`); the reply carries ``ok`` and either
  ``result`` or ``error`` ``{"kind", "message", "field"}``.

The core never waits for a reader: sockets are non-blocking and every client has
a bounded buffer.  A client that falls behind first loses status snapshots
(consecutive ones are merged, then all queued ones dropped, the newest always
following the events before it); when even its events exceed the bound it is
disconnected, so one stuck reader cannot grow the core's memory.

Only the service user may connect: the socket is 0600 in a 0700 directory, and
the peer's credentials (``SO_PEERCRED``) are checked on every connection.
"""
from __future__ import annotations

import collections
import json
import logging
import os
import queue
import selectors
import socket
import stat
import struct
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_for_futures
from pathlib import Path
from typing import Callable, Optional

log = logging.getLogger(__name__)

HEADER = struct.Struct(">I")
#: Largest message accepted either way (a status snapshot is ~1 kB).
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
#: Bytes of events queued for one client before it is disconnected.
CLIENT_BUFFER_BYTES = 2 * 1024 * 1024
#: How often the channel thread looks for new events when no socket is ready.
TICK_S = 0.01
#: At stop, how long commands already running (a history write, a settings save)
#: may take to finish before the store is closed under them.  A calibration's
#: hold is not waited for to its end: the device is stopping.
COMMAND_GRACE_S = 2.0
#: Name of the socket file inside the runtime directory.
SOCKET_NAME = "core.sock"
#: systemd's RuntimeDirectory= for the unit (/run/smart-dowel).
PI_RUNTIME_DIR = Path("/run/smart-dowel")


class ChannelError(Exception):
    """The other side sent something that is not a channel message."""


# -- framing ---------------------------------------------------------------------
def _plain(obj):
    # numpy scalars from the analysis, tuples and sets
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"{type(obj).__name__} cannot travel on the channel")


def encode(message: dict) -> bytes:
    """One message: its length, then its JSON (NaN travels as NaN: both ends are Python)."""
    body = json.dumps(message, separators=(",", ":"), default=_plain).encode()
    if len(body) > MAX_MESSAGE_BYTES:
        raise ChannelError(f"message of {len(body)} bytes is over the {MAX_MESSAGE_BYTES} limit")
    return HEADER.pack(len(body)) + body


class Decoder:
    """Turns a byte stream back into messages, however the bytes were split."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list:
        self._buf += data
        messages = []
        while len(self._buf) >= HEADER.size:
            (n,) = HEADER.unpack_from(self._buf)
            if n > MAX_MESSAGE_BYTES:
                raise ChannelError(f"message of {n} bytes announced, over the {MAX_MESSAGE_BYTES} limit")
            if len(self._buf) < HEADER.size + n:
                break
            body = bytes(self._buf[HEADER.size:HEADER.size + n])
            del self._buf[:HEADER.size + n]
            try:
                message = json.loads(body)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ChannelError(f"not JSON: {exc}") from None
            if not isinstance(message, dict):
                raise ChannelError("a message must be a JSON object")
            messages.append(message)
        return messages


# -- where the socket lives --------------------------------------------------------
def runtime_dir(mock: bool, env=None) -> Path:
    """A fresh private directory (0700) for this run's socket.

    ``$DOWEL_RUNTIME_DIR`` wins; on the Pi it is systemd's ``$RUNTIME_DIRECTORY``
    (/run/smart-dowel, made 0700 for the service user); in mock mode, or without
    systemd, a new directory under ``$XDG_RUNTIME_DIR`` or the temp directory, so
    two mock runs on one laptop never share a socket.
    """
    env = os.environ if env is None else env
    chosen = env.get("DOWEL_RUNTIME_DIR") or (None if mock else env.get("RUNTIME_DIRECTORY"))
    if chosen:
        path = Path(chosen.split(":")[0])
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path, 0o700)
        return path
    base = env.get("XDG_RUNTIME_DIR")
    if not base or not os.path.isdir(base):
        base = None
    return Path(tempfile.mkdtemp(prefix="smart-dowel-", dir=base))


def peer_uid(sock: socket.socket) -> int:
    """The user id of the process at the other end (from the kernel, not the peer)."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid


# -- errors that travel ------------------------------------------------------------
def error_doc(exc: BaseException) -> dict:
    field = getattr(exc, "field", None)
    message = getattr(exc, "message", None) if field is not None else None
    if message is None:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    return {"kind": type(exc).__name__, "message": str(message), "field": field}


# -- the core's end -------------------------------------------------------------------
class _Client:
    """One connected reader: its socket, what it sent so far, what waits to go out."""

    def __init__(self, sock: socket.socket, number: int):
        self.sock = sock
        self.name = f"client {number}"
        self.decoder = Decoder()
        self.out: collections.deque = collections.deque()    # (is_status, bytes)
        self.out_bytes = 0
        self.current: Optional[memoryview] = None             # partly sent message
        self.closed = False
        self.status_dropped = 0
        self.mask = selectors.EVENT_READ        # what the selector watches for

    def queue(self, data: bytes, is_status: bool, limit: int) -> bool:
        """Queue a message; False when events alone would exceed ``limit``."""
        if is_status and self.out and self.out[-1][0]:
            # A newer snapshot replaces one that has not started going out.
            _, old = self.out.pop()
            self.out_bytes -= len(old)
            self.status_dropped += 1
        self.out.append((is_status, data))
        self.out_bytes += len(data)
        if self.out_bytes <= limit:
            return True
        kept = collections.deque(item for item in self.out if not item[0] or item is self.out[-1])
        self.status_dropped += len(self.out) - len(kept)
        self.out = kept
        self.out_bytes = sum(len(d) for _, d in kept)
        return self.out_bytes <= limit

    def flush(self) -> bool:
        """Send what the socket takes now; False if the peer has gone."""
        while True:
            if self.current is None:
                if not self.out:
                    return True
                _, data = self.out.popleft()
                self.out_bytes -= len(data)
                self.current = memoryview(data)
            try:
                sent = self.sock.send(self.current)
            except (BlockingIOError, InterruptedError):
                return True
            except OSError:
                return False
            self.current = self.current[sent:] if sent < len(self.current) else None

    @property
    def wants_write(self) -> bool:
        return self.current is not None or bool(self.out)


class ChannelServer:
    """Serves ``core`` (a :class:`device.runtime.contract.Core`) on the socket at
    ``path``: streams its events and answers commands.

    ``store`` (a :class:`device.history.store.Store`) receives the history writes the
    web asks for, so the core's process stays the database's only writer.
    ``on_web_ready(port)`` is called when the web process says it serves.
    """

    #: The day's plan, kept by the core (device/runtime/coaching.py).
    PLAN_CALLS = ("plan_status", "plan_stage", "plan_skip", "plan_order", "plan_set_done")
    #: Store methods the web may call through the channel: its only writes.
    STORE_WRITES = ("add_athlete", "set_current_athlete", "add_manual_set", "delete_session")

    def __init__(self, core, path, *, store=None, allowed_uid: Optional[int] = None,
                 on_web_ready: Optional[Callable[[int], None]] = None,
                 buffer_bytes: int = CLIENT_BUFFER_BYTES):
        self.core = core
        self.path = Path(path)
        self.store = store
        self.allowed_uid = os.getuid() if allowed_uid is None else allowed_uid
        self.on_web_ready = on_web_ready
        self.buffer_bytes = buffer_bytes
        self.refused = 0              # connections from another user
        self.dropped_clients = 0      # readers that fell too far behind
        self._clients: dict = {}
        self._numbers = iter(range(1, 1 << 62))
        self._replies: "queue.SimpleQueue" = queue.SimpleQueue()
        # Commands run here, never on the channel thread: a calibration blocks
        # for seconds and the stream must keep flowing meanwhile.
        self._workers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="channel-command")
        self._running: set = set()           # futures of the commands under way
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._listener: Optional[socket.socket] = None
        self._sub = None

    # -- lifecycle ----------------------------------------------------------
    def start(self) -> "ChannelServer":
        if self.path.exists() and stat.S_ISSOCK(self.path.stat().st_mode):
            self.path.unlink()               # left over by a core that was killed
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)          # the file is born 0600: no window for others
        try:
            listener.bind(str(self.path))
        finally:
            os.umask(old_umask)
        os.chmod(self.path, 0o600)
        listener.listen(8)
        listener.setblocking(False)
        self._listener = listener
        self._sub = self.core.subscribe(maxsize=8192)
        self._thread = threading.Thread(target=self._run, name="core-channel", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self._workers.shutdown(wait=False, cancel_futures=True)
        # The caller closes the store next: let a write under way finish first.
        wait_for_futures(list(self._running), timeout=COMMAND_GRACE_S)
        if self._sub is not None:
            self._sub.close()
        for client in list(self._clients.values()):
            self._close(client)
        if self._listener is not None:
            self._listener.close()
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass

    @property
    def client_count(self) -> int:
        return len(self._clients)

    # -- the channel thread ---------------------------------------------------
    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._listener, selectors.EVENT_READ, None)
        self._selector = selector
        try:
            while not self._stop.is_set():
                for key, mask in selector.select(timeout=TICK_S):
                    if key.data is None:
                        self._accept()
                    elif mask & selectors.EVENT_READ:
                        self._read(key.data)
                self._forward_events()
                self._forward_replies()
                for client in list(self._clients.values()):
                    self._flush(client)
        except Exception:
            log.exception("core channel stopped")
        finally:
            selector.close()

    def _accept(self) -> None:
        try:
            sock, _ = self._listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        uid = peer_uid(sock)
        if uid != self.allowed_uid:
            self.refused += 1
            log.warning("channel: refused a connection from uid %d (only uid %d may connect)",
                        uid, self.allowed_uid)
            sock.close()
            return
        sock.setblocking(False)
        # What the core published before this reader came goes to the others first:
        # it is older than the hello and the snapshot below, and sent after them it
        # would undo them (a stale settings event, a stale status).
        self._forward_events()
        client = _Client(sock, next(self._numbers))
        self._clients[sock.fileno()] = client
        self._selector.register(sock, selectors.EVENT_READ, client)
        hello = {"type": "hello", "settings": self.core.settings.to_dict()}
        status = self.core.get_status()
        status["type"] = "status"
        self._queue(client, encode(hello), False)
        self._queue(client, encode(status), True)

    def _read(self, client: _Client) -> None:
        try:
            data = client.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._close(client)
            return
        try:
            messages = client.decoder.feed(data)
        except ChannelError as exc:
            log.warning("channel: %s sent garbage (%s); disconnected", client.name, exc)
            self._close(client)
            return
        for message in messages:
            if message.get("type") == "command":
                future = self._workers.submit(self._command, client, message)
                self._running.add(future)
                future.add_done_callback(self._running.discard)

    def _forward_events(self) -> None:
        events = self._sub.drain()
        if not events or not self._clients:
            return
        for event in events:
            data = encode(event)
            is_status = event.get("type") == "status"
            for client in list(self._clients.values()):
                self._queue(client, data, is_status)

    def _forward_replies(self) -> None:
        replies = []
        while True:
            try:
                replies.append(self._replies.get_nowait())
            except queue.Empty:
                break
        if not replies:
            return
        # What a command published (its settings event, a fresh status) goes out
        # before its reply, so the caller sees the change once the call returns.
        self._forward_events()
        for client, reply in replies:
            if not client.closed:
                self._queue(client, encode(reply), False)

    def _queue(self, client: _Client, data: bytes, is_status: bool) -> None:
        if client.closed:
            return
        if client.queue(data, is_status, self.buffer_bytes):
            return
        # Over the bound: hand the kernel what it takes now before judging the reader.
        if client.flush() and client.out_bytes <= self.buffer_bytes:
            return
        if not client.closed:
            self.dropped_clients += 1
            log.warning("channel: %s stopped reading (over %d bytes of events queued); "
                        "disconnected", client.name, self.buffer_bytes)
            self._close(client)

    def _flush(self, client: _Client) -> None:
        if client.closed:
            return
        if not client.flush():
            self._close(client)
            return
        mask = selectors.EVENT_READ | (selectors.EVENT_WRITE if client.wants_write else 0)
        if mask != client.mask:
            client.mask = mask
            self._selector.modify(client.sock, mask, client)

    def _close(self, client: _Client) -> None:
        if client.closed:
            return
        client.closed = True
        self._clients.pop(client.sock.fileno(), None)
        try:
            self._selector.unregister(client.sock)
        except (KeyError, ValueError, AttributeError):
            pass
        client.sock.close()

    # -- commands (on a worker thread) -------------------------------------------
    def _command(self, client: _Client, message: dict) -> None:
        reply = {"type": "reply", "id": message.get("id")}
        try:
            handler = self.OPS[message.get("op")]
        except KeyError:
            reply.update(ok=False, error={"kind": "ChannelError", "field": "op",
                                          "message": f"unknown command {message.get('op')!r}"})
        else:
            try:
                reply.update(ok=True, result=handler(self, **(message.get("args") or {})))
            except Exception as exc:     # every failure goes back to the caller
                reply.update(ok=False, error=error_doc(exc))
        self._replies.put((client, reply))

    def _op_get_status(self) -> dict:
        return self.core.get_status()

    def _op_update_settings(self, changes) -> dict:
        return self.core.update_settings(changes).to_dict()

    def _op_set_exercise(self, name) -> dict:
        return self.core.set_exercise(name).to_dict()

    def _op_calibrate(self, duration_s, lead_in_s=0.0) -> dict:
        return self.core.calibrate(duration_s, lead_in_s=lead_in_s).to_dict()

    def _op_plan(self, method, args) -> dict:
        if method not in self.PLAN_CALLS:
            raise ChannelError(f"plan.{method} cannot be called through the channel")
        return getattr(self.core, method)(*args)

    def _op_store(self, method, args) -> object:
        if self.store is None:
            raise LookupError("no history is kept (--no-history)")
        if method not in self.STORE_WRITES:
            raise ChannelError(f"store.{method} cannot be called through the channel")
        return getattr(self.store, method)(*args)

    def _op_web_ready(self, port) -> None:
        if self.on_web_ready is not None:
            self.on_web_ready(int(port))

    OPS = {"get_status": _op_get_status, "update_settings": _op_update_settings,
           "set_exercise": _op_set_exercise, "calibrate": _op_calibrate,
           "plan": _op_plan, "store": _op_store, "web_ready": _op_web_ready}
