"""``dowel replay``: a trace through exactly the live pipeline, as fast as the CPU allows."""
from __future__ import annotations

import json
import sys

from device.cli.common import EXIT_OK, input_error, load_settings


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("replay", help="run a trace through the detection and analysis",
                              description="Run a trace through exactly the live pipeline (contact "
                                          "detection, alerts on mock gpiozero pins, rep and set analysis) "
                                          "as fast as the CPU allows, and report sets, reps, losses and alerts.")
    p.add_argument("trace", metavar="TRACE.csv")
    p.add_argument("--json", action="store_true",
                   help="print the replay as JSON (frames, duration_s, rate_hz, sets, alerts)")
    p.add_argument("--debounce-ms", type=float, help="override the debounce (default 20 ms)")
    p.add_argument("--min-depth-deg", type=float, help="override the minimum rep depth (default 25)")
    p.add_argument("--use-calibration", action="store_true",
                   help="use the stored calibration instead of learning from the session")
    p.add_argument("--data-dir", metavar="DIR", help="where settings are read from")
    from device.cli.config import add_config_flag

    add_config_flag(p)
    p.set_defaults(func=cmd_replay)


def cmd_replay(args) -> int:
    from device.sim.replay import format_report, replay_frames

    from device.sim.trace import TraceError, iter_trace

    _, settings = load_settings(args)
    if not args.use_calibration:
        # A replay learns from the session itself, like a device never calibrated.
        settings = settings.updated({"calibration": None})
    try:
        # row by row: a trace of any length replays in bounded memory; a bad row
        # stops it before anything is printed
        doc = replay_frames(iter_trace(args.trace), settings)
    except TraceError as exc:
        return input_error(exc)
    if args.json:
        json.dump(doc, sys.stdout, indent=1)
        print()
    else:
        print(format_report(doc))
    return EXIT_OK
