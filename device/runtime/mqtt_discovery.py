"""Home Assistant MQTT discovery: one HA device per dowel, its sensors read from the status.

Home Assistant listens on ``homeassistant/<component>/<node_id>/<object_id>/config``
(retained JSON) and creates an entity per message; entities that share
``device.identifiers`` are grouped into one device.  Every entity here reads the
dowel's retained ``status`` topic through a ``value_template`` and goes
unavailable with the dowel's ``availability`` topic (the Last Will says
``offline``).  The keys used are the documented ones of the MQTT binary sensor
and sensor integrations; tests/test_mqtt_discovery.py checks them.
"""
from __future__ import annotations

from device import __version__
from device.hw import constants

__all__ = ["discovery_messages", "ENTITIES"]

_POINT_LABELS = {"head": "Head", "upper_back": "Upper back", "sacrum": "Sacrum"}

#: (component, object_id, name, value_template, extra keys)
ENTITIES = tuple(
    [("binary_sensor", f"{p}_contact", f"{_POINT_LABELS[p]} contact",
      f"{{{{ 'ON' if value_json.points.{p}.contact else 'OFF' }}}}", {"icon": "mdi:gesture-tap"})
     for p in constants.POINTS]
    + [
        ("sensor", "reps_in_set", "Reps in set", "{{ value_json.rep }}",
         {"state_class": "measurement", "icon": "mdi:counter"}),
        ("sensor", "sets_today", "Sets today", "{{ value_json.sets_today }}",
         {"state_class": "total_increasing", "icon": "mdi:format-list-numbered"}),
        ("sensor", "last_depth", "Last depth", "{{ value_json.last_depth_deg }}",
         {"unit_of_measurement": "°", "state_class": "measurement",
          "suggested_display_precision": 0, "icon": "mdi:angle-acute"}),
        ("sensor", "clean_pct", "Clean reps", "{{ value_json.last_set_clean_pct }}",
         {"unit_of_measurement": "%", "state_class": "measurement",
          "suggested_display_precision": 0, "icon": "mdi:check-decagram"}),
        ("binary_sensor", "problem", "Problem",
         "{{ 'ON' if value_json.problem else 'OFF' }}",
         {"device_class": "problem", "entity_category": "diagnostic"}),
    ])


def discovery_messages(publisher) -> list:
    """``[(topic, payload dict)]`` for every entity of the dowel ``publisher`` serves."""
    topics = publisher.topics
    device = {
        "identifiers": [f"smart-dowel-{publisher.device_id}"],
        "name": publisher.name,
        "model": "Smart dowel (hip hinge trainer)",
        "manufacturer": "smart-dowel project",
        "sw_version": __version__,
    }
    if publisher.dashboard_url:
        device["configuration_url"] = publisher.dashboard_url
    origin = {"name": "smart-dowel", "sw_version": __version__}
    out = []
    for component, object_id, name, template, extra in ENTITIES:
        payload = {
            "name": name,
            "unique_id": f"{publisher.device_id}_{object_id}",
            "state_topic": topics.status,
            "value_template": template,
            "availability_topic": topics.availability,
            "payload_available": "online",
            "payload_not_available": "offline",
            "device": device,
            "origin": origin,
            **extra,
        }
        out.append((topics.discovery(component, object_id), payload))
    return out
