"""``dowel bench``: performance and accuracy, measured as ratios and percentiles.

Never timed assertions in tests: the numbers are printed as tables, to be read
against the product's targets.  One module per benchmark:

* ``accuracy``  - simulated sessions with ground truth (accuracy.py)
* ``sampling``  - frames/s the real driver reaches on the emulated chip vs the ceiling (sampling.py)
* ``cpu``       - processing cost per frame, replay speed vs real time (cpu.py)
* ``dashboard`` - live updates/s a phone gets and what 10 phones cost the core (dashboard.py)
* ``history``   - rep_completed to committed on disk (history.py)

This package never imports the web layer; the dashboard bench gets its server
maker from the caller (``main(args, serve_dashboard=...)``).
"""
from __future__ import annotations

import argparse
from typing import Optional

from device.bench.dashboard import ServeDashboard
from device.bench.tables import pct, table

__all__ = ["KINDS", "add_arguments", "main", "pct", "table"]

KINDS = ("accuracy", "sampling", "cpu", "dashboard", "history")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", nargs="*", choices=KINDS + ("all",), default=["all"],
                   help="which benchmarks to run (default all)")
    p.add_argument("--sessions", type=int, default=50, help="accuracy: simulated sessions (default 50)")
    p.add_argument("--seed", type=int, default=0, help="accuracy: first seed")
    p.add_argument("--seconds", type=float, default=3.0,
                   help="sampling and dashboard: seconds per measurement (default 3)")
    p.add_argument("--trace", metavar="FILE", help="cpu: trace to replay (default: the sample)")
    p.add_argument("--phones", type=int, default=10, help="dashboard: SSE clients (default 10)")


def main(args, serve_dashboard: Optional[ServeDashboard] = None) -> int:
    """Run the benchmarks ``args.kind`` names.  ``serve_dashboard(core, threads)``
    builds the dashboard server for the dashboard bench (the caller owns the web
    layer); without it that bench is not run."""
    kinds = KINDS if "all" in args.kind else args.kind
    for kind in kinds:
        if kind == "accuracy":
            from device.bench.accuracy import format_table, run_accuracy_bench

            print(format_table(run_accuracy_bench(n_sessions=args.sessions, seed=args.seed)))
        elif kind == "sampling":
            from device.bench.sampling import format_table, run_sampling_bench

            print(format_table(run_sampling_bench(seconds=args.seconds)))
        elif kind == "cpu":
            from device.bench.cpu import bench_cpu

            print(bench_cpu(args.trace))
        elif kind == "dashboard":
            if serve_dashboard is None:
                raise ValueError("the dashboard bench needs serve_dashboard (the web layer)")
            from device.bench.dashboard import bench_dashboard

            print(bench_dashboard(serve_dashboard, seconds=args.seconds, phones=args.phones))
        elif kind == "history":
            from device.bench.history import bench_history

            print(bench_history())
        print(flush=True)
    return 0
