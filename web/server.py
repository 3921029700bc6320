"""Serving the dashboard with waitress (pure Python, runs on a Pi Zero).

Each open live stream (SSE) holds one worker thread for as long as the phone
watches, so the pool is sized for a room full of phones plus the ordinary API
requests, and the app refuses streams beyond what the pool can hold (503)
rather than starving the settings and history endpoints.

Flushing: waitress 3 sends every write as soon as it is made (its
``send_bytes`` adjustment is 1 and deprecated); a status message is a few
hundred bytes, so nothing sits in a buffer waiting for more.
tests/test_web_stream.py checks that with a real socket.
"""
from __future__ import annotations

import socket
import threading
import time

import waitress
from waitress.channel import ClientDisconnected, HTTPChannel

#: Worker threads kept free of streams for the JSON API (settings, calibrate, history).
THREADS_FOR_API = 4
#: A client that has taken none of what is waiting for it for this long is not
#: reading (a phone gone without closing, or one holding a stream slot on
#: purpose): it is dropped and its thread freed.
WRITE_TIMEOUT_S = 15.0
#: The kernel's send buffer per connection.  Linux grows it to megabytes by
#: itself, which at a status stream's ~10 KB/s would hide a client that does
#: not read for minutes; this much still fills a Wi-Fi link.
SEND_BUFFER_BYTES = 64 * 1024


class DashboardChannel(HTTPChannel):
    """Waitress's connection, with a write timeout: waitress only times out idle
    connections, never one in the middle of a response (a live stream is one
    response that lasts as long as the phone watches)."""

    write_timeout_s = WRITE_TIMEOUT_S

    def __init__(self, *args, **kwargs):
        self.last_sent = time.monotonic()
        super().__init__(*args, **kwargs)

    def _flush_some(self, *args, **kwargs):
        sent = super()._flush_some(*args, **kwargs)
        if sent:
            self.last_sent = time.monotonic()
        return sent

    def write_soon(self, data):
        if self.total_outbufs_len and time.monotonic() - self.last_sent > self.write_timeout_s:
            # What is waiting can never be sent: close the socket (on the loop
            # thread, which owns it) and end the response, freeing this thread.
            try:
                self.server.trigger.pull_trigger(self.handle_close)
            except OSError:
                pass                    # the server is closing: it closes every socket itself
            raise ClientDisconnected(f"nothing read for {self.write_timeout_s:g} s")
        return super().write_soon(data)


class DashboardServer:
    """A waitress server bound at construction; ``run()`` serves until ``close()``."""

    def __init__(self, app, host: str = "0.0.0.0", port: int = 8080, threads: int = 32,
                 write_timeout_s: float = WRITE_TIMEOUT_S, sock=None):
        if threads < THREADS_FOR_API + 1:
            raise ValueError(f"threads must be at least {THREADS_FOR_API + 1}")
        self.app = app
        self._map: dict = {}
        config = getattr(app, "config", None)
        if config is not None:
            config["MAX_STREAMS"] = min(int(config.get("MAX_STREAMS", threads)),
                                        threads - THREADS_FOR_API)
        # ``sock``: a listening socket bound by someone else (the supervisor of
        # ``dowel run`` binds the port once and hands it to each web process).
        where = {"sockets": [sock]} if sock is not None else {"host": host, "port": port}
        self._server = waitress.create_server(
            app, map=self._map, threads=threads, **where,
            ident="smart-dowel",
            # Phones come and go on Wi-Fi; the heartbeat keeps live streams active,
            # and a dead idle connection is reaped after this many seconds.
            channel_timeout=60,
            # Keep reading a connection while its request runs, so a phone that
            # leaves is noticed at once (waitress.client_disconnected) instead of
            # at the second failed write to a dead socket.
            channel_request_lookahead=4,
            connection_limit=max(100, threads * 4),
            clear_untrusted_proxy_headers=True,
        )
        # Applied to every accepted connection (not a create_server keyword).
        self._server.adj.socket_options = list(self._server.adj.socket_options) + [
            (socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)]
        channel = type("Channel", (DashboardChannel,), {"write_timeout_s": float(write_timeout_s)})
        self._server.channel_class = channel
        self.host = self._server.effective_host
        self.port = int(self._server.effective_port)
        self._running = threading.Event()
        self._stopped = threading.Event()
        self._closed = False

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}/"

    def run(self) -> None:
        """Serve until :meth:`close` (blocks; run it on a thread of its own)."""
        if self._closed:
            return
        self._running.set()
        try:
            self._server.run()
        finally:
            self._server.task_dispatcher.shutdown(timeout=5)
            self._stopped.set()

    def close(self, timeout: float = 10.0) -> None:
        """Stop serving: end the live streams, close every connection, stop the workers."""
        if self._closed:
            return
        self._closed = True
        streams = getattr(self.app, "extensions", {}).get("dowel_streams")
        if streams is not None:
            streams.close_all()
        if not self._running.is_set():
            self._close_sockets()
            self._server.task_dispatcher.shutdown(timeout=timeout)
            return
        # Sockets belong to the server's loop thread: close them there.
        try:
            self._server.trigger.pull_trigger(self._close_sockets)
        except OSError:
            # The loop was already awake (streams ending above pull the trigger
            # too) and ran the thunk, closing the trigger, before our own pull.
            pass
        self._stopped.wait(timeout)

    def _close_sockets(self) -> None:
        for obj in list(self._map.values()):
            if obj is not self._server and obj is not self._server.trigger:
                try:
                    obj.close()
                except OSError:
                    pass
        self._server.close()            # the listening socket and the trigger


def make_server(app, host: str = "0.0.0.0", port: int = 8080, threads: int = 32,
                write_timeout_s: float = WRITE_TIMEOUT_S, sock=None) -> DashboardServer:
    """A bound :class:`DashboardServer` (``port=0`` picks a free port: read ``.port``),
    or one serving the already listening ``sock``."""
    return DashboardServer(app, host=host, port=port, threads=threads, write_timeout_s=write_timeout_s,
                           sock=sock)


class DevelopmentServer:
    """Werkzeug's development server (``dowel run --debug``), with the same
    ``port``/``run()``/``close()`` as :class:`DashboardServer`.

    Never with Werkzeug's interactive debugger, whatever ``FLASK_DEBUG`` says:
    it is a Python shell for anyone who can make a request fail.  Built with
    ``werkzeug.serving.make_server`` (not ``app.run``), which wraps nothing
    around the app.
    """

    def __init__(self, app, host: str = "127.0.0.1", port: int = 8080, sock=None):
        from werkzeug.serving import make_server as werkzeug_server

        app.debug = False
        self.app = app
        if sock is not None:            # already listening (the supervisor's socket)
            host, port = sock.getsockname()[:2]
        self._server = werkzeug_server(host, port, app, threaded=True,
                                       fd=sock.fileno() if sock is not None else None)
        self.host = host
        self.port = int(self._server.server_port)

    def run(self) -> None:
        # shutdown() waits for the loop's next look at its flag: 0.1 s, not
        # werkzeug's 0.5 s, so stopping (and each test's server) is quick
        self._server.serve_forever(poll_interval=0.1)

    def close(self, timeout: float = 10.0) -> None:
        streams = self.app.extensions.get("dowel_streams")
        if streams is not None:
            streams.close_all()
        self._server.shutdown()
        self._server.server_close()


def development_server(app, host: str = "127.0.0.1", port: int = 8080, sock=None) -> DevelopmentServer:
    return DevelopmentServer(app, host=host, port=port, sock=sock)
