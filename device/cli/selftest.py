"""``dowel selftest``: check the wiring step by step, say what to fix; exit 0 only if all pass.

On a Pi it talks to the real bus and GPIO and asks the person at the terminal
to press each pad; ``--mock`` runs the same steps on the emulated chip with a
scripted user (``--inject`` puts a fault on it, as ``dowel run --mock`` does).
"""
from __future__ import annotations

import sys

from device.cli.common import EXIT_FAIL, EXIT_OK, error


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("selftest", help="bring-up: check the ADC, pads, tilt, ALERT/RDY, "
                                               "I2C clock, LED and buzzer",
                              description="Checks the wiring step by step and says what to fix. "
                                          "Exit status 0 only if every step passes.")
    p.add_argument("--mock", action="store_true",
                   help="the emulated chip and a scripted user instead of the hardware")
    p.add_argument("--inject", action="append", metavar="FAULT",
                   help="with --mock: a fault on the emulated chip (as for dowel run --mock)")
    p.add_argument("--chip", choices=("ADS1115", "ADS1015"),
                   help="ADC model (default: the config file's, else ADS1115)")
    p.add_argument("--address", type=lambda s: int(s, 0),
                   help="the ADC's I2C address (default: the config file's, else 0x48, ADDR to GND)")
    p.add_argument("--no-rdy", action="store_true", help="ALERT/RDY is not wired: skip that step")
    from device.cli.config import add_config_flag

    add_config_flag(p)          # on the Pi: the chip, address and pins the service uses
    p.set_defaults(func=cmd_selftest)


def _report(result) -> None:
    print(f"[{result.verdict}] {result.name}: {result.detail}", flush=True)
    if result.warning:
        print(f"       warning: {result.warning}", flush=True)


def _pi_rig(args):
    from gpiozero import LED, Buzzer, DigitalInputDevice

    from device.cli.config import load_config
    from device.hw.adc import open_pi_bus
    from device.hw.selftest import Rig, device_tree_i2c_hz, wall_clock

    config = load_config(args)          # flags > environment > config file > defaults
    now, sleep = wall_clock()
    rdy = DigitalInputDevice(config["pins.alert_rdy"], pull_up=True) if config["adc.alert_rdy"] else None
    return Rig(i2c=open_pi_bus(), led=LED(config["pins.led"]), buzzer=Buzzer(config["pins.buzzer"]),
               now=now, sleep=sleep, chip=config["adc.chip"], address=config["adc.address"],
               ready=(lambda: rdy.is_active) if rdy is not None else None,
               clock_from_device_tree=device_tree_i2c_hz())


def cmd_selftest(args) -> int:
    from device.hw.selftest import User, run_selftest

    if args.mock:
        from device.hw.mock.bringup import mock_rig
        from device.hw.mock.faults import FaultSpecError, parse_spec

        try:
            plan = parse_spec(args.inject)
        except FaultSpecError as exc:
            return error(str(exc))
        chip = args.chip or "ADS1115"
        rig, user = mock_rig(plan, chip=chip, ready_wired=not args.no_rdy)
        from device.hw import constants

        rig.address = constants.ADS_ADDRESS if args.address is None else args.address
        print(f"Self-test on the emulated {chip} ({plan.describe()}), scripted user.")
    else:
        if args.inject:
            return error("--inject only applies to --mock")
        try:
            rig = _pi_rig(args)
        except Exception as exc:        # no I2C or GPIO here: say so instead of a traceback
            print(f"dowel: error: cannot open the Pi's I2C bus and GPIO ({exc}); "
                  "on a laptop run dowel selftest --mock", file=sys.stderr)
            return EXIT_FAIL
        user = User()
        print("Self-test of the dowel's wiring. Follow the prompts.")
    results = run_selftest(rig, user, report=_report)
    failed = [r for r in results if not r.ok]
    if failed:
        print(f"{len(failed)} of {len(results)} steps failed: " + ", ".join(r.name for r in failed))
        return EXIT_FAIL
    print(f"All {len(results)} steps passed.")
    return EXIT_OK
