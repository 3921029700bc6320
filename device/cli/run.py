"""``dowel run``: the composition root. It builds the core (hardware or mock),
the history store and its writer, and the dashboard, starts them in order and
stops them in reverse order on Ctrl-C or SIGTERM.  With a broker configured
(``--mqtt``) it also starts the MQTT publisher beside the core (device/cli/mqtt.py).

This module (with the rest of device/cli/) is the one place that imports ``web``.
"""
from __future__ import annotations

import socket
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from device.cli import mqtt as mqtt_cli
from device.cli.common import (EXIT_FAIL, EXIT_OK, add_core_flags, build_core, data_dir, error,
                               input_error, load_settings, stop_on_signals)

HELP = "run the device: polling core, alerts, history, dashboard"


def add_parser(subparsers) -> None:
    from device.analysis.settings import EXERCISES

    p = subparsers.add_parser("run", help=HELP,
                              description="Run the device. On a Pi it reads the ADS1115 and drives GPIO; "
                                          "with --mock it runs on a laptop with a simulated athlete.")
    add_core_flags(p)
    w = p.add_argument_group("dashboard and history")
    w.add_argument("--host", help="address to serve the dashboard on (default 0.0.0.0; config: dashboard.host)")
    w.add_argument("--port", type=int, help="port (default 8080; 0 = any free port; config: dashboard.port)")
    w.add_argument("--no-web", action="store_true", help="no dashboard, terminal only")
    w.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="a name the dashboard answers to besides this machine's own names and "
                        "addresses and localhost (repeatable; other Host headers get 421)")
    w.add_argument("--db", metavar="PATH", help="history database (default DATA_DIR/history.db)")
    w.add_argument("--no-history", action="store_true", help="do not store reps")
    w.add_argument("--debug", action="store_true",
                   help="Flask's development server instead of waitress (for development; "
                        "never the interactive debugger)")
    w.add_argument("--quiet", action="store_true", help="no live status line or event lines")
    w.add_argument("--exercise", choices=EXERCISES, help="exercise to tag the next sets with")
    mqtt_cli.add_flags(p)
    p.set_defaults(func=cmd_run)


@dataclass
class Device:
    """Everything ``dowel run`` started, so it can be stopped in reverse order."""

    core: Any
    data_dir: Path
    store: Any = None
    writer: Any = None
    app: Any = None
    server: Any = None           # waitress server, None with --debug or --no-web
    port: Optional[int] = None
    token: Optional[str] = None
    watchdog: Any = None         # systemd notifications (a no-op outside systemd)
    publisher: Any = None        # MQTT, None unless a broker is configured
    threads: list = field(default_factory=list)


def cmd_run(args) -> int:
    mqtt_cli.broker_from_args(args)        # a bad broker URL is exit 2 before anything starts
    settings_store, settings = load_settings(args, recover=True)
    config = settings_store.config
    args.host, args.port = config["dashboard.host"], config["dashboard.port"]
    try:
        core = build_core(args, settings, settings_store)
    except Exception as exc:  # a bad trace file, or no GPIO on this machine
        return input_error(exc)
    device = Device(core=core, data_dir=data_dir(args))
    failed = _open_history(args, device)
    if failed is None:
        failed = _bind_dashboard(args, device)
    if failed is not None:
        core.alerts.close()
        return failed
    stop = stop_on_signals()
    _start(args, device)
    try:
        _show_until_stopped(args, device, stop)
    finally:
        _stop(device)
    if getattr(core, "crashed", False):
        # exit non-zero so systemd restarts the device; never "Stopped." after a crash
        print("dowel: the polling loop stopped after internal errors (see the log above)",
              file=sys.stderr, flush=True)
        return EXIT_FAIL
    print("Stopped.", flush=True)
    return EXIT_OK


def _open_history(args, device: Device) -> Optional[int]:
    """Open the store and its writer (unless --no-history); an exit status on failure."""
    if args.no_history:
        return None
    from device.history.store import Store, StoreError
    from device.runtime.writer import HistoryWriter

    db_path = Path(args.db) if args.db else device.data_dir / "history.db"
    try:
        device.store = Store(db_path)
    except StoreError as exc:
        return error(str(exc))
    device.writer = HistoryWriter(device.core, device.store)
    from device.runtime.coaching import follow_history

    follow_history(device.core, device.store)   # the plan's stage; set numbers go on from today's
    return None


def _bind_dashboard(args, device: Device) -> Optional[int]:
    """Build the app and bind its port before anything starts, so a port in use is
    a clear error; an exit status on failure."""
    if args.no_web:
        return None
    from device.runtime.token import TokenError, load_or_create_token
    from web import create_app
    from web.server import development_server, make_server

    try:
        device.token = load_or_create_token(device.data_dir)
    except TokenError as exc:
        # the device still runs and can be watched; every change is refused (401)
        warning = f"{exc}; the dashboard can watch but not change anything"
        print(f"dowel: warning: {warning}", file=sys.stderr, flush=True)
        device.core.warnings.append(warning)
    device.app = create_app(device.core, {"TOKEN": device.token, "DATA_DIR": str(device.data_dir),
                                          "ALLOWED_HOSTS": list(args.allow_host)},
                            store=device.store)
    try:
        if args.debug:
            device.server = development_server(device.app, host=args.host, port=args.port)
        else:
            device.server = make_server(device.app, host=args.host, port=args.port)
    except OSError as exc:
        return error(f"cannot serve the dashboard on {args.host}:{args.port} ({exc.strerror or exc}); "
                     "pick another port with --port, or --no-web")
    device.port = device.server.port
    return None


def _start(args, device: Device) -> None:
    if device.writer is not None:
        device.writer.start()
    device.publisher = mqtt_cli.start_publisher(args, device.core, device.data_dir, store=device.store,
                                                dashboard_url=_dashboard_url(args, device))
    device.core.start()
    if device.app is not None:
        _serve(args, device)
        _print_dashboard(args, device)
    print(f"Reading from: {device.core.source_name}.  Ctrl-C stops.", flush=True)
    sys.stdout.flush()
    _notify_systemd(device)


def _notify_systemd(device: Device) -> None:
    """Under systemd (Type=notify): READY once the ADC answered or the fault state
    is up (the dashboard's port is bound already), STATUS lines, and watchdog pings
    only while the polling loop makes progress."""
    from device.runtime.notify import Notifier, Watchdog

    device.watchdog = Watchdog(Notifier(), device.core.get_status).start()


def _serve(args, device: Device) -> None:
    thread = threading.Thread(target=device.server.run, name="dashboard", daemon=True)
    thread.start()
    device.threads.append(thread)


def _dashboard_url(args, device: Device) -> Optional[str]:
    """The address a phone (or a coach's screen) opens, or None without a dashboard."""
    if device.app is None:
        return None
    shown = lan_address() if args.host in ("0.0.0.0", "::") else args.host
    return f"http://{shown}:{device.port}/"


def _print_dashboard(args, device: Device) -> None:
    everywhere = args.host in ("0.0.0.0", "::")
    shown = lan_address() if everywhere else args.host
    print(f"Dashboard: http://{shown}:{device.port}/", flush=True)
    if everywhere:
        print(f"Open that address on a phone on the same network "
              f"(on this computer: http://localhost:{device.port}/).", flush=True)
    if device.token:
        from device.runtime.token import pairing_url

        print(f"Device token (every change from the page needs it): {device.token}", flush=True)
        print(f"Pair a phone: {pairing_url(shown, device.port, device.token)} "
              "(or scan the QR code of `dowel token --qr`)", flush=True)


def _show_until_stopped(args, device: Device, stop: threading.Event) -> None:
    """Print the core's status and events on the terminal until a signal or the
    end of the trace."""
    from device.cli.status_line import Console

    console = Console(quiet=args.quiet)
    sub = device.core.subscribe(maxsize=1024)
    try:
        while not stop.is_set() and not device.core.finished.is_set():
            message = sub.get(timeout=0.2)
            if message is not None:
                console.show(message)
    finally:
        sub.close()
        console.close()


def _stop(device: Device) -> None:
    """Stop in reverse order of start: the loop first (no new events), then the
    writer (drains what the loop published), then the dashboard, then LED and buzzer,
    then the database.  systemd hears STOPPING first, so a slow stop is not a hang."""
    if device.watchdog is not None:
        device.watchdog.stop()
    device.core.stop()
    if device.publisher is not None:
        device.publisher.stop()          # sends what the loop published last, then "offline"
    if device.writer is not None:
        device.writer.stop()
    if device.server is not None:
        device.server.close()
    device.core.alerts.close()
    if device.store is not None:
        device.store.close()


def lan_address() -> str:
    """The address a phone on the same network can reach (no packets are sent)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))   # UDP connect: picks a route, sends nothing
            return s.getsockname()[0]
    except OSError:
        return "127.0.0.1"
