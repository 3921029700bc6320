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

import threading

import waitress

#: Worker threads kept free of streams for the JSON API (settings, calibrate, history).
THREADS_FOR_API = 4


class DashboardServer:
    """A waitress server bound at construction; ``run()`` serves until ``close()``."""

    def __init__(self, app, host: str = "0.0.0.0", port: int = 8080, threads: int = 32):
        if threads < THREADS_FOR_API + 1:
            raise ValueError(f"threads must be at least {THREADS_FOR_API + 1}")
        self.app = app
        self._map: dict = {}
        config = getattr(app, "config", None)
        if config is not None:
            config["MAX_STREAMS"] = min(int(config.get("MAX_STREAMS", threads)),
                                        threads - THREADS_FOR_API)
        self._server = waitress.create_server(
            app, map=self._map, host=host, port=port, threads=threads,
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


def make_server(app, host: str = "0.0.0.0", port: int = 8080, threads: int = 32) -> DashboardServer:
    """A bound :class:`DashboardServer` (``port=0`` picks a free port: read ``.port``)."""
    return DashboardServer(app, host=host, port=port, threads=threads)
