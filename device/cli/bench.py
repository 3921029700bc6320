"""``dowel bench``: the benchmarks, wired to the web layer here.

``device/bench`` never imports ``web``; this command (part of the composition
root) hands the MQTT bench a function that builds the coach's page.
"""
from __future__ import annotations


def serve_coach(broker_config):
    """The coach's page (web/coach.py) subscribed to ``broker_config``, on a free
    local port; ``close()`` also stops its MQTT subscriber."""
    from web.coach import Room, create_coach_app
    from web.server import make_server

    room = Room(broker_config).start()
    server = make_server(create_coach_app(room), host="127.0.0.1", port=0, threads=8)
    close = server.close

    def close_all(timeout: float = 10.0) -> None:
        close(timeout)
        room.stop()
    server.close = close_all
    return server


def cmd_bench(args) -> int:
    from device import bench

    return bench.main(args, serve_coach=serve_coach)


def add_parser(subparsers) -> None:
    from device import bench

    p = subparsers.add_parser("bench", help="measure accuracy, sampling rate, CPU and dashboard cost",
                              description="Benchmarks, printed as tables of ratios and percentiles.")
    bench.add_arguments(p)
    p.set_defaults(func=cmd_bench)
