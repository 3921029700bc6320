"""``dowel simulate``: a simulated session written as a trace with its ground truth."""
from __future__ import annotations

import json
from pathlib import Path

from device.cli.common import EXIT_OK


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("simulate", help="write a simulated session as a trace with its ground truth")
    p.add_argument("out", metavar="OUT.csv")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--noisy", action="store_true", help="more noise, dropouts and wobbles")
    p.add_argument("--rate-hz", type=float, default=200.0, help="frame rate (default 200)")
    p.add_argument("--truth", metavar="FILE", help="truth JSON path (default OUT.truth.json)")
    p.set_defaults(func=cmd_simulate)


def cmd_simulate(args) -> int:
    from device.sim.simulator import generate_session
    from device.sim.trace import write_trace

    session = generate_session(args.seed, noisy=args.noisy)
    frames = session.frames(rate_hz=args.rate_hz, seed=args.seed)
    write_trace(args.out, frames)
    truth_path = args.truth or str(Path(args.out).with_suffix("")) + ".truth.json"
    Path(truth_path).write_text(json.dumps(session.truth, indent=1) + "\n")
    sets = session.truth["sets"]
    print(f"Wrote {len(frames)} frames ({session.duration_s:.1f} s, {len(sets)} sets, "
          f"{sum(len(s['reps']) for s in sets)} reps) to {args.out}; truth in {truth_path}")
    return EXIT_OK
