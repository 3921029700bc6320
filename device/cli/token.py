"""``dowel token``: the device token, and the link (or QR code) that pairs a phone.

Every change made from the page needs the token; a phone that opens the
pairing link keeps it.  The QR code is drawn here, on the device: nothing
goes over the network.
"""
from __future__ import annotations

import sys

from device.cli.common import EXIT_OK, data_dir, error

DEFAULT_PORT = 8080


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "token", help="print the device token and the link that pairs a phone",
        description="Print the device token. A phone that opens the pairing link "
                    "(http://HOST:PORT/#token=...) keeps the token and may then change settings, "
                    "calibrate, log sets, manage athletes, delete and export history.")
    p.add_argument("--data-dir", metavar="DIR")
    p.add_argument("--qr", action="store_true",
                   help="also print the pairing link and a QR code of it for a phone's camera")
    p.add_argument("--host", help="name or address the phone opens (default: this machine's address)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"dashboard port (default {DEFAULT_PORT})")
    p.set_defaults(func=cmd_token)


def cmd_token(args) -> int:
    from device.runtime.token import TokenError, load_or_create_token, pairing_url

    try:
        token = load_or_create_token(data_dir(args))
    except TokenError as exc:
        return error(str(exc))
    print(token)
    if args.qr:
        from device.cli.common import lan_address

        url = pairing_url(args.host or lan_address(), args.port, token)
        print(f"Pair a phone: {url}")
        print_qr(url)
    return EXIT_OK


def print_qr(url: str, out=None) -> None:
    """A QR code of ``url`` in the terminal (two rows of modules per line)."""
    import segno

    segno.make(url, error="m").terminal(out=out or sys.stdout, compact=True, border=2)
