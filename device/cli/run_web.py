"""The web process of ``dowel run`` (``--role web``): the dashboard under waitress.

It serves the listening socket the supervisor bound (``--listen-fd``), talks to
the core process through :class:`device.runtime.core_proxy.CoreProxy` (the same
core contract the app is typed against) and reads the history straight from
SQLite; history writes go to the core process, the database's only writer.  It
runs at a lower scheduling priority than the core (:data:`WEB_NICENESS`) and
off the CPU the core prefers (:mod:`device.runtime.cpus`).
"""
from __future__ import annotations

import os
import socket
import sys
import threading
from pathlib import Path

from device.cli.common import EXIT_FAIL, EXIT_OK, data_dir, error, stop_on_signals
from device.runtime.cpus import keep_off_the_core_cpu

#: Added to the web process's niceness: a flood of dashboard requests gets the
#: CPU only after the polling loop (the core process keeps the service's priority).
WEB_NICENESS = 10


def run_web(args) -> int:
    from device.runtime.core_proxy import CoreProxy, CoreUnavailable

    try:
        os.nice(WEB_NICENESS)
    except OSError:
        pass
    keep_off_the_core_cpu()
    stop = stop_on_signals()
    proxy = CoreProxy(args.channel)
    try:
        proxy.connect(stop=stop)
    except CoreUnavailable as exc:
        if stop.is_set():
            return EXIT_OK          # told to stop while the core was still starting
        print(f"dowel: web: {exc}", file=sys.stderr, flush=True)
        return EXIT_FAIL
    store = _history(args, proxy)
    if isinstance(store, int):
        return store
    app = _app(args, proxy, store)
    from web.server import development_server, make_server

    listening = socket.socket(fileno=args.listen_fd)
    server = development_server(app, sock=listening) if args.debug else make_server(app, sock=listening)
    thread = threading.Thread(target=server.run, name="dashboard", daemon=True)
    thread.start()
    try:
        proxy.web_ready(server.port)
    except CoreUnavailable:
        pass                        # it has just gone; the page says so
    try:
        # Serve until told to stop; after the core process dies the page keeps
        # saying the device is down until the supervisor ends this process.
        stop.wait()
    finally:
        server.close()
        proxy.close()
    return EXIT_OK


def _history(args, proxy):
    """The history store the app reads (None with --no-history), or an exit status."""
    if args.no_history:
        return None
    from device.history.store import Store, StoreError
    from device.runtime.core_proxy import HistoryReader

    db_path = Path(args.db) if args.db else data_dir(args) / "history.db"
    try:
        # The core process has created and migrated the file before it accepted us.
        return HistoryReader(Store(db_path, readonly=True), proxy)
    except StoreError as exc:
        return error(str(exc))


def _app(args, proxy, store):
    from device.runtime.token import TokenError, load_or_create_token
    from web import create_app

    directory = data_dir(args)
    try:
        token = load_or_create_token(directory)
    except TokenError:
        token = None            # watch only: every change is refused (the core's status says why)
    return create_app(proxy, {"TOKEN": token, "DATA_DIR": str(directory),
                              "ALLOWED_HOSTS": list(args.allow_host)}, store=store)
