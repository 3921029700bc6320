"""The ``dowel`` console command.

Subcommands: run, record, replay, calibrate, simulate, bench, history, export, token.
Run ``dowel SUBCOMMAND --help`` for each one's flags.

Exit status: 0 success, 1 runtime failure, 2 bad input (a bad trace file, a bad
flag, a database that is not ours).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Optional

from device import __version__

EXIT_OK, EXIT_FAIL, EXIT_BAD_INPUT = 0, 1, 2


# -- shared helpers -------------------------------------------------------------
def _data_dir(args) -> Path:
    from device.runtime.settings_store import default_data_dir

    return Path(args.data_dir) if getattr(args, "data_dir", None) else default_data_dir()


def _settings_store(args):
    from device.runtime.settings_store import SettingsStore

    return SettingsStore(_data_dir(args) / "settings.json")


def _load_settings(args):
    """Settings from the data directory with command-line overrides applied."""
    from device.analysis.settings import SettingsError

    store = _settings_store(args)
    settings = store.load()
    overrides = {}
    for flag, field in (("chip", "chip"), ("data_rate", "data_rate"),
                        ("debounce_ms", "debounce_ms"), ("min_depth_deg", "min_depth_deg"),
                        ("exercise", "exercise")):
        value = getattr(args, flag, None)
        if value is not None:
            overrides[field] = value
    if getattr(args, "no_buzzer", False):
        overrides["buzzer"] = False
    if overrides:
        try:
            settings = settings.updated(overrides)
        except SettingsError as exc:
            raise SystemExit(_error(f"--{exc.field.replace('_', '-')}: {exc.message}"))
    return store, settings


def _stop_on_signals() -> threading.Event:
    """An event set by Ctrl-C or SIGTERM (systemd stop), so the command can switch
    the buzzer off and flush the history before it exits."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def _error(message: str) -> int:
    print(f"dowel: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _read_trace(path: str):
    from device.sim.trace import read_trace

    return read_trace(path)


def _mock_source(args):
    """The signal source for mock mode: a trace (``--trace``) or a simulated athlete."""
    from device.sim.sources import SimulatedAthlete, TraceSource

    if getattr(args, "trace", None):
        return TraceSource(_read_trace(args.trace), loop=getattr(args, "loop", False)), \
            f"trace {os.path.basename(args.trace)}"
    return SimulatedAthlete(seed=args.seed, loop=True), f"simulated athlete (seed {args.seed})"


def _build_core(args, settings, settings_store, max_frames=None):
    """The core on the emulated chip (``--mock``) or on the Pi's I2C bus and GPIO."""
    if args.mock or getattr(args, "trace", None):
        from device.hw.mock.factory import build_mock_core

        source, name = _mock_source(args)
        return build_mock_core(source, speed=args.speed, settings=settings,
                               settings_store=settings_store, rate_hz=args.rate,
                               max_frames=max_frames, source_name=name)
    from device.hw import constants
    from device.hw.adc import DowelAdc, open_pi_bus
    from device.hw.alerts import Alerts
    from device.runtime.core import DowelCore

    if args.speed != 1.0:
        raise SystemExit(_error("--speed only applies to mock mode (--mock)"))
    from gpiozero import DigitalInputDevice

    bus_holder: dict = {}
    # ALERT/RDY (open drain, active low) tells when a conversion is done without
    # polling over I2C; DowelAdc falls back to polling if the wire is not there.
    rdy = None if args.no_rdy else DigitalInputDevice(constants.PIN_ALERT_RDY, pull_up=True)

    def adc_factory(s):
        if "bus" not in bus_holder:
            bus_holder["bus"] = open_pi_bus()
        return DowelAdc(bus_holder["bus"], chip=s.chip, gain=s.gain, data_rate=s.data_rate,
                        ready=(lambda: rdy.is_active) if rdy is not None else None)

    alerts = Alerts(None, buzzer_enabled=settings.buzzer, button_pin=constants.PIN_BUTTON)
    return DowelCore(adc_factory, settings, alerts, settings_store=settings_store,
                     source_name="ADS1115 on I2C", rate_hz=args.rate, max_frames=max_frames)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _add_core_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("input")
    g.add_argument("--mock", action="store_true",
                   help="no hardware: the real ADC driver talks to an emulated ADS1115 fed by a "
                        "simulated athlete (or by --trace), LED and buzzer on mock pins")
    g.add_argument("--trace", metavar="FILE",
                   help="mock mode fed by a recorded trace (SPEC trace CSV) instead of the "
                        "simulated athlete; implies --mock")
    g.add_argument("--speed", type=_positive, default=1.0, metavar="X",
                   help="mock mode only: run X times faster than real time (default 1)")
    g.add_argument("--loop", action="store_true", help="play --trace over and over")
    g.add_argument("--seed", type=int, default=0, help="simulated athlete's random seed")
    g.add_argument("--rate", type=_positive, metavar="HZ",
                   help="read frames at this rate instead of as fast as the ADC allows")
    g.add_argument("--chip", choices=("ADS1115", "ADS1015"), help="ADC model (default from settings)")
    g.add_argument("--data-rate", type=int, metavar="SPS",
                   help="ADC samples per second, shared by the 4 channels (default 860)")
    g.add_argument("--data-dir", metavar="DIR",
                   help="settings, device token and history live here (default: "
                        "$DOWEL_DATA_DIR, /var/lib/smart-dowel on the Pi, else ~/.local/share/smart-dowel)")
    g.add_argument("--no-buzzer", action="store_true", help="LED only, buzzer silent")
    g.add_argument("--no-rdy", action="store_true",
                   help="the ADS1115's ALERT/RDY is not wired to GPIO23: poll the chip over I2C")


# -- run ----------------------------------------------------------------------------
def _status_line(status: dict) -> str:
    points = status.get("points", {})
    marks = []
    for name, label in (("head", "head"), ("upper_back", "upper"), ("sacrum", "sacrum")):
        p = points.get(name, {})
        mark = "LOST" if p.get("lost") else ("on" if p.get("contact") else "--")
        marks.append(f"{label} {mark:<4}")
    h = status.get("health", {})
    alert = "ALERT" if status.get("alert") else "     "
    fault = f"  FAULT: {h['fault']}" if h.get("fault") else ""
    phase = status.get("phase", "idle")
    return (f"{' | '.join(marks)} | pitch {status.get('pitch_deg', 0.0):5.1f} deg | "
            f"set {status.get('set_index', 0)} rep {status.get('rep_count', 0):2d} {phase:<7} | "
            f"{alert} | {h.get('frame_rate_hz', 0):5.1f} fps{fault}")


def _event_line(event: dict) -> Optional[str]:
    kind = event.get("type")
    t = event.get("t", 0.0)
    if kind == "set_started":
        return f"[{t:8.2f}s] set {event.get('set_index')} started ({event.get('exercise', '')})"
    if kind == "set_completed":
        reps = event.get("set", {}).get("reps", [])
        clean = sum(1 for r in reps if r.get("clean"))
        return f"[{t:8.2f}s] set {event.get('set_index')} done: {len(reps)} reps, {clean} clean"
    if kind == "rep_completed":
        rep = event.get("rep", {})
        losses = ", ".join(l["point"] for l in rep.get("losses", [])) or "clean"
        return (f"[{t:8.2f}s] rep {event.get('rep_index')}: depth {rep.get('depth_deg', 0):.0f} deg, "
                f"down {rep.get('down_s', 0):.1f}s up {rep.get('up_s', 0):.1f}s, {losses}")
    if kind == "contact_lost":
        return f"[{t:8.2f}s] {event['point']} LOST"
    if kind == "contact_restored":
        return f"[{t:8.2f}s] {event['point']} back after {event.get('duration_s', 0):.2f}s"
    if kind == "fault":
        return f"[{t:8.2f}s] FAULT: {event['message']}" if event.get("active") else \
            f"[{t:8.2f}s] ADC answering again"
    return None


def cmd_run(args) -> int:
    settings_store, settings = _load_settings(args)
    data_dir = _data_dir(args)
    try:
        core = _build_core(args, settings, settings_store)
    except Exception as exc:  # a bad trace file, or no GPIO on this machine
        return _input_error(exc)

    store = writer = server = None
    db_path = Path(args.db) if args.db else data_dir / "history.db"
    if not args.no_history:
        from device.history.store import Store, StoreError
        from device.runtime.writer import HistoryWriter

        try:
            store = Store(db_path)
        except StoreError as exc:
            return _error(str(exc))
        writer = HistoryWriter(core, store)

    stop = _stop_on_signals()

    # Bind the dashboard's port first: a port in use is a clear error before
    # anything has started.
    url = token = None
    if not args.no_web:
        from device.runtime.token import load_or_create_token
        from web import create_app
        from web.server import make_server

        token = load_or_create_token(data_dir)
        app = create_app(core, {"TOKEN": token, "DATA_DIR": str(data_dir)}, store=store)
        if args.debug:
            port = args.port
        else:
            try:
                server = make_server(app, host=args.host, port=args.port)
            except OSError as exc:
                core.alerts.close()
                return _error(f"cannot serve the dashboard on {args.host}:{args.port} ({exc.strerror or exc}); "
                              "pick another port with --port, or --no-web")
            port = server.port
    if writer is not None:
        writer.start()
    core.start()
    if not args.no_web:
        if args.debug:
            threading.Thread(target=app.run, kwargs={"host": args.host, "port": args.port,
                             "threaded": True, "use_reloader": False}, daemon=True).start()
        else:
            threading.Thread(target=server.run, name="waitress", daemon=True).start()
        shown = _lan_address() if args.host in ("0.0.0.0", "::") else args.host
        url = f"http://{shown}:{port}/"
        print(f"Dashboard: {url}", flush=True)
        if args.host in ("0.0.0.0", "::"):
            print(f"Open that address on a phone on the same network "
                  f"(on this computer: http://localhost:{port}/).", flush=True)
        print(f"Device token (to delete history from the page): {token}", flush=True)
    print(f"Reading from: {core.source_name}.  Ctrl-C stops.", flush=True)
    sys.stdout.flush()

    sub = core.subscribe(maxsize=1024)
    tty = sys.stdout.isatty() and not args.quiet
    last_line = 0.0
    try:
        while not stop.is_set() and not core.finished.is_set():
            event = sub.get(timeout=0.2)
            if event is None:
                continue
            if event.get("type") == "status":
                if tty and time.monotonic() - last_line > 0.1:
                    print("\r" + _status_line(event) + "\x1b[K", end="", flush=True)
                    last_line = time.monotonic()
                elif not tty and not args.quiet and time.monotonic() - last_line > 2.0:
                    print(_status_line(event), flush=True)
                    last_line = time.monotonic()
                continue
            line = _event_line(event)
            if line and not args.quiet:
                print(("\r\x1b[K" if tty else "") + line, flush=True)
    finally:
        sub.close()
        core.stop()
        if writer is not None:
            writer.stop()
        if server is not None:
            server.close()
        core.alerts.close()
        if tty:
            print()
    print("Stopped.", flush=True)
    return EXIT_OK


def _lan_address() -> str:
    """The address a phone on the same network can reach (no packets are sent)."""
    import socket

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))   # UDP connect: picks a route, sends nothing
            return s.getsockname()[0]
    except OSError:
        return "127.0.0.1"


def _input_error(exc: Exception) -> int:
    from gpiozero.exc import BadPinFactory

    from device.sim.trace import TraceError

    if isinstance(exc, (TraceError, FileNotFoundError, IsADirectoryError, PermissionError)):
        return _error(str(exc))
    if isinstance(exc, BadPinFactory):
        # Not a Pi (or lgpio/RPi.GPIO missing): say what to do instead of a traceback.
        _error(f"no GPIO on this machine ({exc}); on a laptop run with --mock, "
               "on a Pi install the 'pi' extra: pip install -e '.[pi]'")
        return EXIT_FAIL
    raise exc


# -- record -------------------------------------------------------------------------
def cmd_record(args) -> int:
    from device.sim.trace import TraceWriter

    _, settings = _load_settings(args)
    try:
        core = _build_core(args, settings, None)
    except Exception as exc:
        return _input_error(exc)
    stop = _stop_on_signals()
    frames = 0
    # The polling thread only queues frames; the file is written on this thread,
    # so a slow disk never slows the loop.
    import queue

    q: "queue.Queue" = queue.Queue()
    core.tap_frames(q.put_nowait)
    core.start()
    t_end = None if args.seconds is None else args.seconds
    with TraceWriter(args.out) as writer:
        try:
            while not stop.is_set():
                try:
                    frame = q.get(timeout=0.2)
                except queue.Empty:
                    if core.finished.is_set():
                        break
                    continue
                writer.write(frame)
                frames += 1
                if t_end is not None and frame.t >= t_end:
                    break
        finally:
            core.stop()
            core.alerts.close()
    print(f"Recorded {frames} frames to {args.out}", file=sys.stderr)
    return EXIT_OK


# -- replay -------------------------------------------------------------------------
def cmd_replay(args) -> int:
    from device.sim.replay import format_report, replay_frames

    try:
        frames = _read_trace(args.trace)
    except Exception as exc:
        return _input_error(exc)
    _, settings = _load_settings(args)
    if not args.use_calibration:
        # A replay learns from the session itself, like a device never calibrated.
        settings = settings.updated({"calibration": None})
    doc = replay_frames(frames, settings)
    if args.json:
        json.dump(doc, sys.stdout, indent=1)
        print()
    else:
        print(format_report(doc))
    return EXIT_OK


# -- calibrate ------------------------------------------------------------------------
def cmd_calibrate(args) -> int:
    from device.analysis.calibration import CalibrationError

    settings_store, settings = _load_settings(args)
    try:
        core = _build_core(args, settings, settings_store)
    except Exception as exc:
        return _input_error(exc)
    print(f"Stand (or kneel) tall with the dowel on your head, upper back and sacrum.\n"
          f"Hold still for {args.seconds:g} seconds...", flush=True)
    core.start()
    try:
        time.sleep(args.settle / max(args.speed, 1e-9))
        calibration = core.calibrate(args.seconds)
    except CalibrationError as exc:
        print(f"Calibration failed: {exc}", file=sys.stderr)
        return EXIT_FAIL
    finally:
        core.stop()
        core.alerts.close()
    print("Calibrated:")
    for point, c in calibration.points.items():
        print(f"  {point:<11} resting {c.rest_v:.3f} V   lost below {c.off_v:.3f} V   "
              f"back above {c.on_v:.3f} V")
    print(f"  upright tilt {calibration.tilt_upright_v:.3f} V")
    print(f"Saved to {settings_store.path}")
    return EXIT_OK


# -- simulate -------------------------------------------------------------------------
def cmd_simulate(args) -> int:
    from device.sim.simulator import generate_session
    from device.sim.trace import write_trace

    session = generate_session(args.seed, noisy=args.noisy)
    frames = session.frames(rate_hz=args.rate_hz, seed=args.seed)
    write_trace(args.out, frames)
    truth_path = args.truth or str(Path(args.out).with_suffix("")) + ".truth.json"
    Path(truth_path).write_text(json.dumps(session.truth, indent=1) + "\n")
    sets = session.truth["sets"]
    print(f"Wrote {len(frames)} frames ({session.duration_s:.1f} s, {len(sets)} sets, "
          f"{sum(len(s['reps']) for s in sets)} reps) to {args.out}; truth in {truth_path}")
    return EXIT_OK


# -- token ----------------------------------------------------------------------------
def cmd_token(args) -> int:
    from device.runtime.token import load_or_create_token

    print(load_or_create_token(_data_dir(args)))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dowel",
        description="Smart dowel: teaches the hip hinge. Reads three contact points and a tilt "
                    "sensor, alerts the moment a point loses contact, counts reps and sets, "
                    "keeps the history and serves a live phone dashboard.")
    parser.add_argument("--version", action="version", version=f"dowel {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("run", help="run the device: polling core, alerts, history, dashboard",
                       description="Run the device. On a Pi it reads the ADS1115 and drives GPIO; "
                                   "with --mock it runs on a laptop with a simulated athlete.")
    _add_core_flags(p)
    w = p.add_argument_group("dashboard and history")
    w.add_argument("--host", default="0.0.0.0", help="address to serve the dashboard on (default 0.0.0.0)")
    w.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 = any free port)")
    w.add_argument("--no-web", action="store_true", help="no dashboard, terminal only")
    w.add_argument("--db", metavar="PATH", help="history database (default DATA_DIR/history.db)")
    w.add_argument("--no-history", action="store_true", help="do not store reps")
    w.add_argument("--debug", action="store_true", help="Flask's development server instead of waitress")
    w.add_argument("--quiet", action="store_true", help="no live status line or event lines")
    from device.analysis.settings import EXERCISES

    w.add_argument("--exercise", choices=EXERCISES, help="exercise to tag the next sets with")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("record", help="record frames to a trace CSV",
                       description="Write frames from the active source (the ADC, or --mock) to "
                                   "a trace file in the SPEC format until Ctrl-C or --seconds.")
    p.add_argument("out", metavar="OUT.csv")
    p.add_argument("--seconds", type=float, help="stop after this many seconds of trace time")
    _add_core_flags(p)
    p.set_defaults(func=cmd_record)

    p = sub.add_parser("replay", help="run a trace through the detection and analysis",
                       description="Run a trace through exactly the live pipeline (contact "
                                   "detection, alerts on mock gpiozero pins, rep and set analysis) "
                                   "as fast as the CPU allows, and report sets, reps, losses and alerts.")
    p.add_argument("trace", metavar="TRACE.csv")
    p.add_argument("--json", action="store_true", help="print the SPEC JSON document")
    p.add_argument("--debounce-ms", type=float, help="override the debounce (default 20 ms)")
    p.add_argument("--min-depth-deg", type=float, help="override the minimum rep depth (default 25)")
    p.add_argument("--use-calibration", action="store_true",
                   help="use the stored calibration instead of learning from the session")
    p.add_argument("--data-dir", metavar="DIR", help="where settings are read from")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("calibrate", help="record the resting hold and set each point's threshold",
                       description="Records a few seconds of the athlete's resting hold and sets "
                                   "each point's contact threshold (with hysteresis) and the "
                                   "upright tilt; saved in DATA_DIR/settings.json.")
    _add_core_flags(p)
    p.add_argument("--seconds", type=float, default=3.0, help="length of the hold (default 3)")
    p.add_argument("--settle", type=float, default=0.5,
                   help="seconds to wait before recording (default 0.5)")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("simulate", help="write a simulated session as a trace with its ground truth")
    p.add_argument("out", metavar="OUT.csv")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--noisy", action="store_true", help="more noise, dropouts and wobbles")
    p.add_argument("--rate-hz", type=float, default=200.0, help="frame rate (default 200)")
    p.add_argument("--truth", metavar="FILE", help="truth JSON path (default OUT.truth.json)")
    p.set_defaults(func=cmd_simulate)

    from device.cli import bench as bench_command

    bench_command.add_parser(sub)

    try:
        from device.cli.history import add_subcommands
    except ImportError:
        pass
    else:
        add_subcommands(sub)

    from device.cli import config; config.add_parser(sub)  # noqa: E702

    p = sub.add_parser("token", help="print the device token (needed to delete history)")
    p.add_argument("--data-dir", metavar="DIR")
    p.set_defaults(func=cmd_token)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.verbose:
        # gpiozero warns once per pin library it tries; the outcome is what matters.
        import warnings

        from gpiozero.exc import PinFactoryFallback

        warnings.filterwarnings("ignore", category=PinFactoryFallback)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return args.func(args) or EXIT_OK
    except BrokenPipeError:
        return EXIT_OK
    except KeyboardInterrupt:
        return EXIT_FAIL


if __name__ == "__main__":
    sys.exit(main())
