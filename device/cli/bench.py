"""``dowel bench``: the benchmarks, wired to the web layer here.

``device/bench`` never imports ``web``; this command (part of the composition
root) hands the dashboard bench a function that builds the real dashboard.
"""
from __future__ import annotations


def serve_dashboard(core, threads: int):
    """The real dashboard (Flask app on waitress) for ``core`` on a free local port."""
    from web import create_app
    from web.server import make_server

    return make_server(create_app(core, {"TOKEN": "bench"}), host="127.0.0.1", port=0,
                       threads=threads)


def cmd_bench(args) -> int:
    from device import bench

    return bench.main(args, serve_dashboard=serve_dashboard)


def add_parser(subparsers) -> None:
    from device import bench

    p = subparsers.add_parser("bench", help="measure accuracy, sampling rate, CPU and dashboard cost",
                              description="Benchmarks, printed as tables of ratios and percentiles.")
    bench.add_arguments(p)
    p.set_defaults(func=cmd_bench)
