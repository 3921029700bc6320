"""``dowel calibrate``: record the resting hold and set each point's threshold."""
from __future__ import annotations

import sys

from device.cli.common import (EXIT_FAIL, EXIT_OK, add_core_flags, build_core, error, input_error,
                               load_settings)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("calibrate", help="record the resting hold and set each point's threshold",
                              description="Records a few seconds of the athlete's resting hold and sets "
                                          "each point's contact threshold (with hysteresis) and the "
                                          "upright tilt; saved in DATA_DIR/settings.json.")
    add_core_flags(p)
    p.add_argument("--seconds", type=float, default=3.0, help="length of the hold (default 3)")
    p.add_argument("--lead-in", "--settle", dest="lead_in", type=float, default=3.0,
                   help="countdown before recording: time to get both hands on the dowel (default 3)")
    p.set_defaults(func=cmd_calibrate)


def cmd_calibrate(args) -> int:
    from device.analysis.calibration import CalibrationError

    if args.lead_in < 0:
        return error("--lead-in: must be 0 seconds or more")
    settings_store, settings = load_settings(args)
    try:
        core = build_core(args, settings, settings_store)
    except Exception as exc:
        return input_error(exc)
    print(f"Stand (or kneel) tall with the dowel on your head, upper back and sacrum.\n"
          f"In {args.lead_in:g} s, hold still for {args.seconds:g} seconds...", flush=True)
    core.start()
    watch = core.subscribe(types={"calibration"})
    try:
        calibration = core.calibrate(args.seconds, lead_in_s=args.lead_in)
    except CalibrationError as exc:
        _say_retries(watch)
        print(f"Calibration failed: {exc}", file=sys.stderr)
        return EXIT_FAIL
    finally:
        core.stop()
        core.alerts.close()
    _say_retries(watch)
    print("Calibrated:")
    for point, c in calibration.points.items():
        print(f"  {point:<11} resting {c.rest_v:.3f} V   lost below {c.off_v:.3f} V   "
              f"back above {c.on_v:.3f} V")
    print(f"  upright tilt {calibration.tilt_upright_v:.3f} V")
    print(f"Saved to {settings_store.path}")
    return EXIT_OK


def _say_retries(watch) -> None:
    """Tell the athlete about a first hold that had to be done again."""
    for event in watch.drain():
        if event.get("phase") == "retry":
            print(f"First try: {event['message']}; tried once more.", flush=True)
    watch.close()
