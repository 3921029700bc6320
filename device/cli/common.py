"""What several ``dowel`` subcommands share: exit codes, the data directory and
settings, the core's input flags and the core they build, signal handling.

Nothing here imports ``web``; the commands that serve the dashboard do that
themselves (device/cli/run.py).
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
from device.cli.config import data_dir  # noqa: F401  (handed on: every command needs it)

EXIT_OK, EXIT_FAIL, EXIT_BAD_INPUT = 0, 1, 2


def lan_address() -> str:
    """The address a phone on the same network can reach (no packets are sent)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))   # UDP connect: picks a route, sends nothing
            return s.getsockname()[0]
    except OSError:
        return "127.0.0.1"


def load_settings(args, recover: bool = False):
    """The settings this command starts with: defaults, the config file, the page's
    stored changes, the environment and the flags (device/runtime/config_file.py
    says how they combine).  Returns the page's store, whose ``config`` holds the
    keys that are not dashboard settings (pins, address, host, port...).  A bad
    value anywhere exits 2 naming it, except with ``recover`` (the device itself):
    a settings.json that cannot be used is then set aside and the store's
    ``warnings`` say so (device/runtime/settings_store.py)."""
    from device.analysis.settings import SettingsError
    from device.cli.config import load_config, page_store

    store = page_store(args, load_config(args))
    args.effective_config = store.config    # pins, address, host, port for whoever builds things
    try:
        settings = store.load_or_recover() if recover else store.load()
        if getattr(args, "exercise", None) is not None:
            settings = settings.updated({"exercise": args.exercise})
    except SettingsError as exc:
        raise SystemExit(error(str(exc)))
    return store, settings


#: The signals that stop a command cleanly (Ctrl-C, systemd's stop).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def stop_on_signals() -> threading.Event:
    """An event set by Ctrl-C or SIGTERM (systemd stop), so the command can switch
    the buzzer off and flush the history before it exits.

    The supervisor starts its children with these signals blocked (one sent
    during their start-up waits instead of killing them); they are unblocked
    here, once the handlers are in place, and one already sent arrives now."""
    stop = threading.Event()
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda *_: stop.set())
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    return stop


def error(message: str) -> int:
    print(f"dowel: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def input_error(exc: Exception) -> int:
    """The exit status for a failure to build the core: 2 for a bad trace file,
    1 with advice for a machine without GPIO; anything else is a bug and raises."""
    from gpiozero.exc import BadPinFactory

    from device.sim.trace import TraceError

    if isinstance(exc, (TraceError, FileNotFoundError, IsADirectoryError, PermissionError)):
        return error(str(exc))
    if isinstance(exc, BadPinFactory):
        # Not a Pi (or lgpio/RPi.GPIO missing): say what to do instead of a traceback.
        error(f"no GPIO on this machine ({exc}); on a laptop run with --mock, "
              "on a Pi install the 'pi' extra: pip install -e '.[pi]'")
        return EXIT_FAIL
    raise exc


# -- the core --------------------------------------------------------------------
def _mock_source(args):
    """The signal source for mock mode: a trace (``--trace``) or a simulated athlete."""
    from device.sim.sources import SimulatedAthlete, TraceFileSource

    if getattr(args, "trace", None):
        # played from the file row by row: a trace of any length fits in memory
        return TraceFileSource(args.trace, loop=getattr(args, "loop", False)), \
            f"trace {os.path.basename(args.trace)}"
    return SimulatedAthlete(seed=args.seed, loop=True), f"simulated athlete (seed {args.seed})"


def build_core(args, settings, settings_store, max_frames=None):
    """The core on the emulated chip (``--mock``) or on the Pi's I2C bus and GPIO."""
    if args.mock or getattr(args, "trace", None):
        from device.hw.mock.factory import build_mock_core

        from device.hw.mock.faults import FaultSpecError, parse_spec

        source, name = _mock_source(args)
        try:
            faults = parse_spec(getattr(args, "inject", None), seed=args.seed)
        except FaultSpecError as exc:
            raise SystemExit(error(str(exc)))
        return build_mock_core(source, speed=args.speed, settings=settings,
                               settings_store=settings_store, rate_hz=args.rate,
                               max_frames=max_frames, source_name=name, faults=faults)
    if getattr(args, "inject", None):
        raise SystemExit(error("--inject only applies to mock mode (--mock)"))
    if args.speed != 1.0:
        raise SystemExit(error("--speed only applies to mock mode (--mock)"))
    return _build_pi_core(args, settings, settings_store, max_frames)


def _build_pi_core(args, settings, settings_store, max_frames):
    from device.hw import constants
    from device.hw.adc import DowelAdc, open_pi_bus
    from device.hw.ready import ReadyLine
    from device.hw.alerts import Alerts
    from device.runtime.core import DowelCore

    config = getattr(args, "effective_config", None)
    pin = (lambda name: config[f"pins.{name}"]) if config is not None else \
        (lambda name: getattr(constants, f"PIN_{name.upper()}"))
    address = config["adc.address"] if config is not None else constants.ADS_ADDRESS
    wired = config["adc.alert_rdy"] if config is not None else not args.no_rdy
    bus_holder: dict = {}
    # ALERT/RDY (open drain, active low) tells when a conversion is done without
    # polling over I2C; DowelAdc falls back to polling if the wire is not there.
    rdy = ReadyLine(pin("alert_rdy")) if wired else None

    def adc_factory(s):
        if "bus" not in bus_holder:
            bus_holder["bus"] = open_pi_bus()
        return DowelAdc(bus_holder["bus"], chip=s.chip, gain=s.gain, data_rate=s.data_rate,
                        address=address, ready=rdy.is_ready if rdy is not None else None,
                        ready_edges=rdy.edges if rdy is not None and constants.CONTINUOUS_READS
                        else None, tilt_every=constants.TILT_EVERY_FRAMES)

    alerts = Alerts(None, led_pin=pin("led"), buzzer_pin=pin("buzzer"), button_pin=pin("button"),
                    buzzer_enabled=settings.buzzer)
    return DowelCore(adc_factory, settings, alerts, settings_store=settings_store,
                     source_name="ADS1115 on I2C", rate_hz=args.rate, max_frames=max_frames)


# -- flags -----------------------------------------------------------------------
def positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def add_core_flags(p: argparse.ArgumentParser) -> None:
    """The flags that choose and tune the core's input (hardware or mock)."""
    g = p.add_argument_group("input")
    g.add_argument("--mock", action="store_true",
                   help="no hardware: the real ADC driver talks to an emulated ADS1115 fed by a "
                        "simulated athlete (or by --trace), LED and buzzer on mock pins")
    g.add_argument("--trace", metavar="FILE",
                   help="mock mode fed by a recorded trace (CSV: t,head,upper_back,sacrum,tilt) instead of the "
                        "simulated athlete; implies --mock")
    g.add_argument("--speed", type=positive, default=1.0, metavar="X",
                   help="mock mode only: run X times faster than real time (default 1)")
    g.add_argument("--loop", action="store_true", help="play --trace over and over")
    g.add_argument("--seed", type=int, default=0, help="simulated athlete's random seed")
    g.add_argument("--rate", type=positive, metavar="HZ",
                   help="read frames at this rate instead of as fast as the ADC allows")
    g.add_argument("--chip", choices=("ADS1115", "ADS1015"), help="ADC model (default from settings)")
    g.add_argument("--data-rate", type=int, metavar="SPS",
                   help="ADC samples per second, shared by the 4 channels (default 860)")
    from device.cli.config import add_config_flag

    add_config_flag(p)
    g.add_argument("--data-dir", metavar="DIR",
                   help="settings, device token and history live here (default: "
                        "$DOWEL_DATA_DIR, /var/lib/smart-dowel on the Pi, else ~/.local/share/smart-dowel)")
    g.add_argument("--no-buzzer", action="store_true", help="LED only, buzzer silent")
    g.add_argument("--inject", action="append", metavar="FAULT",
                   help="mock mode: inject a fault, repeatable: i2c-errors=RATE (EIO/NACK), "
                        "timeouts=RATE, gone=AT:SECONDS (ADC gone, then back), open=POINT (0 V), "
                        "short=POINT (3.3 V)")
    g.add_argument("--no-rdy", action="store_true",
                   help="the ADS1115's ALERT/RDY is not wired to GPIO23: poll the chip over I2C")
