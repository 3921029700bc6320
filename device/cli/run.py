"""``dowel run``: the device as two processes, or one with ``--no-web``.

``dowel run`` is a supervisor (device/cli/supervisor.py) that starts

* the core process (``--role core``, :func:`run_core`, this module): ADC polling,
  detection, LED and buzzer, rep analysis, the history writer, systemd's READY and
  watchdog pings, and the channel the web talks to (device/runtime/channel.py);
* the web process (``--role web``, device/cli/run_web.py): Flask under waitress,
  reading the history straight from SQLite and everything else through the channel.

With ``--no-web`` there is no dashboard and :func:`run_core` runs in this process.
With a broker configured (``--mqtt``) the core process also starts the MQTT
publisher beside the core (device/cli/mqtt.py).
Only device/cli/run_web.py (and the rest of device/cli/) imports ``web``.
"""
from __future__ import annotations

import argparse
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from device.cli import mqtt as mqtt_cli
from device.cli.common import (EXIT_FAIL, EXIT_OK, add_core_flags, build_core, data_dir, error, lan_address,
                               input_error, load_settings, stop_on_signals)

HELP = "run the device: polling core, alerts, history, dashboard"


def add_parser(subparsers) -> None:
    from device.analysis.settings import EXERCISES

    p = subparsers.add_parser("run", help=HELP,
                              description="Run the device. On a Pi it reads the ADS1115 and drives GPIO; "
                                          "with --mock it runs on a laptop with a simulated athlete. "
                                          "The polling core and the dashboard run as two processes.")
    add_core_flags(p)
    w = p.add_argument_group("dashboard and history")
    w.add_argument("--host", help="address to serve the dashboard on (default 0.0.0.0; config: dashboard.host)")
    w.add_argument("--port", type=int, help="port (default 8080; 0 = any free port; config: dashboard.port)")
    w.add_argument("--no-web", action="store_true", help="no dashboard, terminal only (one process)")
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
    # How the supervisor starts its two children (not for people to type).
    p.add_argument("--role", choices=("core", "web"), help=argparse.SUPPRESS)
    p.add_argument("--channel", metavar="SOCKET", help=argparse.SUPPRESS)
    p.add_argument("--listen-fd", type=int, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_run)


def cmd_run(args) -> int:
    mqtt_cli.broker_from_args(args)        # a bad broker URL is exit 2 before anything starts
    if args.role == "web":
        from device.cli.run_web import run_web

        return run_web(args)
    if args.role == "core" or args.no_web:
        return run_core(args)
    from device.cli.supervisor import supervise

    return supervise(args)


@dataclass
class Device:
    """Everything ``dowel run`` started, so it can be stopped in reverse order."""

    core: Any
    data_dir: Path
    store: Any = None
    writer: Any = None
    watchdog: Any = None         # systemd notifications (a no-op outside systemd)
    publisher: Any = None        # MQTT, None unless a broker is configured
    channel: Any = None          # the web process's way in (ChannelServer), None with --no-web
    web_serving: threading.Event = field(default_factory=threading.Event)


def run_core(args) -> int:
    """The core process: polling, alerts, history, systemd pings, and the channel
    to the web process (``--channel``).  With ``--no-web`` the whole device."""
    settings_store, settings = load_settings(args, recover=True)
    config = settings_store.config
    # The supervisor passes the port it bound (--port), so the MQTT publisher can
    # tell a coach's screen where the dashboard is.
    args.host, args.port = config["dashboard.host"], config["dashboard.port"]
    try:
        core = build_core(args, settings, settings_store)
    except Exception as exc:  # a bad trace file, or no GPIO on this machine
        return input_error(exc)
    device = Device(core=core, data_dir=data_dir(args))
    failed = _open_history(args, device)
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
    bad_row = getattr(core.source, "error", None)   # a trace played row by row hit a bad one
    if bad_row is not None:
        return error(str(bad_row))
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
        # readonly=None: a good database we cannot write (a read-only directory)
        # is opened for reading; the device runs and says reps are not saved
        device.store = Store(db_path, readonly=None)
    except StoreError as exc:
        return error(str(exc))
    if device.store.readonly:
        message = f"history is read-only ({db_path} cannot be written): reps are not saved"
        print(f"dowel: warning: {message}", file=sys.stderr, flush=True)
        device.core.report_history_problem(message)
        return None
    device.writer = HistoryWriter(device.core, device.store)
    from device.runtime.coaching import follow_history

    follow_history(device.core, device.store)   # the plan's stage; set numbers go on from today's
    return None


def _start(args, device: Device) -> None:
    if device.writer is not None:
        device.writer.start()
    device.publisher = mqtt_cli.start_publisher(args, device.core, device.data_dir, store=device.store,
                                                dashboard_url=_dashboard_url(args))
    if args.channel:
        _check_token(device)
        from device.runtime.channel import ChannelServer

        device.channel = ChannelServer(device.core, args.channel, store=device.store,
                                       on_web_ready=lambda port: device.web_serving.set()).start()
    else:
        device.web_serving.set()        # --no-web: nothing else to wait for
    device.core.start()
    print(f"Reading from: {device.core.source_name}.  Ctrl-C stops.", flush=True)
    sys.stdout.flush()
    _notify_systemd(device)


def _notify_systemd(device: Device) -> None:
    """Under systemd (Type=notify): READY once the ADC answered or the fault state
    is up and the dashboard serves, STATUS lines, and watchdog pings only while the
    polling loop makes progress.  They come from this process, the one whose loop
    they vouch for (the unit says NotifyAccess=all)."""
    from device.runtime.notify import Notifier, Watchdog, loop_ready

    device.watchdog = Watchdog(Notifier(), device.core.get_status,
                               ready=lambda status: loop_ready(status) and device.web_serving.is_set()
                               ).start()


def _check_token(device: Device) -> None:
    """The web process serves with the device token; when it cannot be read the
    device still runs and can be watched, and the status says why nothing can be changed."""
    from device.runtime.token import TokenError, load_or_create_token

    try:
        load_or_create_token(device.data_dir)
    except TokenError as exc:
        device.core.warnings.append(f"{exc}; the dashboard can watch but not change anything")


def _dashboard_url(args) -> Optional[str]:
    """The address a phone (or a coach's screen) opens, or None without a dashboard."""
    if not args.channel:
        return None
    shown = lan_address() if args.host in ("0.0.0.0", "::") else args.host
    return f"http://{shown}:{args.port}/"


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
        # The core publishes its last events (the set the trace's end closed) before
        # it says it has finished: those still queued are shown, not dropped.
        for message in sub.drain():
            console.show(message)
    finally:
        sub.close()
        console.close()


def _stop(device: Device) -> None:
    """Stop in reverse order of start: the loop first (no new events), then the
    writer (drains what the loop published), then the channel, then LED and buzzer,
    then the database.  systemd hears STOPPING first, so a slow stop is not a hang."""
    if device.watchdog is not None:
        device.watchdog.stop()
    device.core.stop()
    if device.publisher is not None:
        device.publisher.stop()          # sends what the loop published last, then "offline"
    if device.writer is not None:
        device.writer.stop()
    if device.channel is not None:
        device.channel.stop()
    alerts = device.core.alerts
    print(f"LED {'on' if alerts.led.value else 'off'}, buzzer {'on' if alerts.buzzer.value else 'off'}.",
          flush=True)
    alerts.close()
    if device.store is not None:
        device.store.close()
