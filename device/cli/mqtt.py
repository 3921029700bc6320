"""``dowel run --mqtt URL``: the flags and the wiring of the MQTT publisher.

The publisher lives beside the core (it follows the core's event bus); with no
broker configured nothing here runs and the dowel behaves as without MQTT.
"""
from __future__ import annotations

import argparse
import sys
from typing import Optional

def add_flags(parser: argparse.ArgumentParser) -> None:
    """The ``--mqtt*`` flags of ``dowel run``."""
    g = parser.add_argument_group("MQTT (off unless a broker is given)")
    g.add_argument("--mqtt", metavar="URL",
                   help="publish status, events and Home Assistant discovery to this broker: "
                        "mqtt://[user[:password]@]host[:port] or mqtts://... for TLS "
                        "(default: $DOWEL_MQTT_BROKER or the config file's [mqtt] broker, else off)")
    g.add_argument("--mqtt-ca", metavar="FILE",
                   help="CA certificate that signed the broker's TLS certificate (mqtts:// only)")
    g.add_argument("--mqtt-name", metavar="NAME",
                   help="the dowel's name in Home Assistant and on the coach's screen "
                        "(default 'Smart dowel <device id>')")
    g.add_argument("--mqtt-device-id", metavar="ID",
                   help="topic id of this dowel (default: made once, kept in DATA_DIR/device_id)")
    g.add_argument("--no-discovery", action="store_true",
                   help="do not publish Home Assistant discovery messages")


def broker_from_args(args):
    """The :class:`BrokerConfig` the flags ask for, or None when MQTT is off.
    Raises SystemExit(2) with a message naming the flag for a bad URL."""
    from device.runtime.mqtt import MqttConfigError, parse_broker_url

    from device.cli.config import load_config

    # The flag, else DOWEL_MQTT_BROKER, else the config file's [mqtt] broker.
    url = getattr(args, "mqtt", None) or load_config(args)["mqtt.broker"]
    if not url:
        if getattr(args, "mqtt_ca", None):
            raise SystemExit(_error("--mqtt-ca: needs a broker (--mqtt mqtts://...)"))
        return None
    try:
        return parse_broker_url(url, ca_file=getattr(args, "mqtt_ca", None))
    except MqttConfigError as exc:
        raise SystemExit(_error(f"--mqtt: {exc}"))


def start_publisher(args, core, data_dir, *, dashboard_url: Optional[str] = None, store=None):
    """Start the publisher for ``core`` when a broker is configured; None otherwise."""
    config = broker_from_args(args)
    if config is None:
        return None
    from device.runtime.mqtt import MqttConfigError, MqttPublisher, load_or_create_device_id

    device_id = args.mqtt_device_id or load_or_create_device_id(data_dir)
    try:
        publisher = MqttPublisher(core, config, device_id, name=args.mqtt_name,
                                  dashboard_url=dashboard_url, athlete=_athlete_lookup(store),
                                  sets_today=_sets_today_lookup(store),
                                  discovery=not args.no_discovery)
    except MqttConfigError as exc:
        raise SystemExit(_error(f"--mqtt-device-id: {exc}"))
    publisher.start()
    print(f"MQTT: publishing to {config.display_url} as {config.base_topic}/{device_id}/", flush=True)
    return publisher


def _athlete_lookup(store):
    if store is None:
        return None

    def athlete() -> Optional[str]:
        found = store.get_athlete(store.current_athlete_id())
        return found.get("name") if found else None
    return athlete


def _sets_today_lookup(store):
    if store is None:
        return None

    def sets_today() -> int:
        session = store.current_session()
        return sum(1 for st in (session or {}).get("sets", []) if not st.get("manual"))
    return sets_today


def _error(message: str) -> int:
    print(f"dowel: error: {message}", file=sys.stderr)
    return 2
