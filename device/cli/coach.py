"""``dowel coach --mqtt URL``: one screen for every dowel in the room.

Serves the coach's page (web/coach.py, waitress) on this machine; the page's
server subscribes to the broker and pushes every dowel's live state to the page.
It keeps no history of its own: each tile opens that dowel's own dashboard.
"""
from __future__ import annotations

from device.cli.common import EXIT_OK, error, stop_on_signals

HELP = "serve the coach's screen: every dowel on an MQTT broker, live, in one grid"


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("coach", help=HELP,
                              description="Serve a page that shows every dowel publishing to the "
                                          "broker: athlete, exercise, the three points, rep x of 10, "
                                          "the last set's clean share; a loss flashes the tile, an "
                                          "offline dowel is greyed; a click opens its own dashboard.")
    p.add_argument("--mqtt", metavar="URL", required=True,
                   help="the broker the dowels publish to: mqtt://[user[:password]@]host[:port] "
                        "or mqtts://... (TLS)")
    p.add_argument("--mqtt-ca", metavar="FILE", help="CA certificate of the broker (mqtts:// only)")
    p.add_argument("--host", default="0.0.0.0", help="address to serve the page on (default 0.0.0.0)")
    p.add_argument("--port", type=int, default=8090, help="port (default 8090; 0 = any free port)")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="another name the page may be opened by (a DNS name for this machine; "
                        "its own names and addresses always work)")
    p.set_defaults(func=cmd_coach)


def cmd_coach(args) -> int:
    import threading

    from device.runtime.mqtt import MqttConfigError, parse_broker_url
    from web.coach import Room, create_coach_app
    from web.server import make_server

    try:
        config = parse_broker_url(args.mqtt, ca_file=args.mqtt_ca)
    except MqttConfigError as exc:
        return error(f"--mqtt: {exc}")
    room = Room(config)
    app = create_coach_app(room, {"ALLOWED_HOSTS": args.allow_host})
    try:
        server = make_server(app, host=args.host, port=args.port, threads=24)
    except OSError as exc:
        return error(f"cannot serve the coach's page on {args.host}:{args.port} "
                     f"({exc.strerror or exc}); pick another port with --port")
    stop = stop_on_signals()
    room.start()
    thread = threading.Thread(target=server.run, name="waitress", daemon=True)
    thread.start()
    from device.cli.common import lan_address

    shown = lan_address() if args.host in ("0.0.0.0", "::") else args.host
    print(f"Coach's screen: http://{shown}:{server.port}/  (broker {config.display_url})", flush=True)
    try:
        stop.wait()
    finally:
        server.close()
        room.stop()
        thread.join(5)
    print("Stopped.", flush=True)
    return EXIT_OK
