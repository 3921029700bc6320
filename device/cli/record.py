"""``dowel record``: frames from the active source (the ADC, or --mock) to a trace CSV."""
from __future__ import annotations

import queue
import sys

from device.cli.common import (EXIT_FAIL, EXIT_OK, add_core_flags, build_core, error, input_error,
                               load_settings, stop_on_signals)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("record", help="record frames to a trace CSV",
                              description="Write frames from the active source (the ADC, or --mock) to "
                                          "a trace file (CSV: t,head,upper_back,sacrum,tilt) until "
                                          "Ctrl-C or --seconds.")
    p.add_argument("out", metavar="OUT.csv")
    p.add_argument("--seconds", type=float, help="stop after this many seconds of trace time")
    add_core_flags(p)
    p.set_defaults(func=cmd_record)


def cmd_record(args) -> int:
    from device.sim.trace import TraceWriter

    _, settings = load_settings(args)
    try:
        core = build_core(args, settings, None)
    except Exception as exc:
        return input_error(exc)
    stop = stop_on_signals()
    frames = 0
    # The polling thread only queues frames; the file is written on this thread,
    # so a slow disk never slows the loop.
    q: "queue.Queue" = queue.Queue()
    core.tap_frames(q.put_nowait)
    core.start()
    with TraceWriter(args.out) as writer:
        try:
            while not stop.is_set():
                try:
                    frame = q.get(timeout=0.2)
                except queue.Empty:
                    # The loop queues its last frames before it says it has finished:
                    # finished and still nothing queued is the end, not finished alone.
                    if core.finished.is_set() and q.empty():
                        break
                    continue
                writer.write(frame)
                frames += 1
                if args.seconds is not None and frame.t >= args.seconds:
                    break
        finally:
            core.stop()
            core.alerts.close()
    print(f"Recorded {frames} frames to {args.out}", file=sys.stderr)
    if getattr(core, "crashed", False):
        print("dowel: the polling loop stopped after internal errors (see the log)",
              file=sys.stderr)
        return EXIT_FAIL
    bad_row = getattr(core.source, "error", None)   # a trace played row by row hit a bad one
    if bad_row is not None:
        return error(str(bad_row))
    return EXIT_OK
