"""The ``dowel`` argument parser.

Every subcommand is a module of device/cli/ with ``add_parser(subparsers)``
(which sets ``func`` to the command function, returning the exit status).
To add one, write device/cli/<name>.py and add its module to ``COMMANDS``:
that list is the single registration point, in the order ``dowel --help`` shows.
"""
from __future__ import annotations

import argparse

from device import __version__
from device.cli import (bench, calibrate, coach, config, history, record, replay, run, selftest,
                        simulate, token)

COMMANDS = (
    run,
    record,
    replay,
    calibrate,
    simulate,
    bench,
    selftest,
    history,     # history and export
    config,
    coach,
    token,
)

DESCRIPTION = ("Smart dowel: teaches the hip hinge. Reads three contact points and a tilt "
               "sensor, alerts the moment a point loses contact, counts reps and sets, "
               "keeps the history and serves a live phone dashboard.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dowel", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"dowel {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser
