"""The ``dowel`` console command.

Subcommands: run, record, replay, calibrate, simulate, bench, history, export, config, token
(one module each in device/cli/, registered in device/cli/parser.py).
Run ``dowel SUBCOMMAND --help`` for each one's flags.

Exit status: 0 success, 1 runtime failure, 2 bad input (a bad trace file, a bad
flag, a database that is not ours).
"""
from __future__ import annotations

import logging
import sys

from device.cli.common import EXIT_BAD_INPUT, EXIT_FAIL, EXIT_OK


def main(argv=None) -> int:
    from device.cli.parser import build_parser

    parser = build_parser()
    args = parser.parse_args(argv)
    # ``dowel run`` starts its two processes with the same command line.
    args.argv = list(sys.argv[1:] if argv is None else argv)
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
