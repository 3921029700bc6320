"""``dowel calibrate``: record the resting hold and set each point's threshold."""
from __future__ import annotations

import sys
import time

from device.cli.common import EXIT_FAIL, EXIT_OK, add_core_flags, build_core, input_error, load_settings


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("calibrate", help="record the resting hold and set each point's threshold",
                              description="Records a few seconds of the athlete's resting hold and sets "
                                          "each point's contact threshold (with hysteresis) and the "
                                          "upright tilt; saved in DATA_DIR/settings.json.")
    add_core_flags(p)
    p.add_argument("--seconds", type=float, default=3.0, help="length of the hold (default 3)")
    p.add_argument("--settle", type=float, default=0.5,
                   help="seconds to wait before recording (default 0.5)")
    p.set_defaults(func=cmd_calibrate)


def cmd_calibrate(args) -> int:
    from device.analysis.calibration import CalibrationError

    settings_store, settings = load_settings(args)
    try:
        core = build_core(args, settings, settings_store)
    except Exception as exc:
        return input_error(exc)
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
