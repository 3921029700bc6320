"""``dowel token``: print the device token (the page needs it for every change)."""
from __future__ import annotations

from device.cli.common import EXIT_OK, data_dir, error


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("token", help="print the device token (needed to delete history)")
    p.add_argument("--data-dir", metavar="DIR")
    p.set_defaults(func=cmd_token)


def cmd_token(args) -> int:
    from device.runtime.token import TokenError, load_or_create_token

    try:
        print(load_or_create_token(data_dir(args)))
    except TokenError as exc:
        return error(str(exc))
    return EXIT_OK
