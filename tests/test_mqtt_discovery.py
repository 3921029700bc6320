"""Home Assistant discovery payloads against Home Assistant's documented schema.

The key lists below are the configuration variables documented for MQTT
discovery and for the MQTT binary sensor and sensor integrations
(home-assistant.io/integrations/mqtt/#mqtt-discovery,
/integrations/binary_sensor.mqtt/, /integrations/sensor.mqtt/, and the
``device`` and ``origin`` maps documented there).  Every payload must use only
documented keys, carry the required ones, and its value_template, rendered the
way Home Assistant renders it (Jinja with ``value_json``), must give a state
the entity understands.
"""
from __future__ import annotations

import json
import re

import jinja2
import pytest

from device.runtime.mqtt import BrokerConfig, Topics, status_payload
from device.runtime.mqtt_discovery import discovery_messages
from tests.conftest import status_snapshot

# -- the documented schema ------------------------------------------------------------------
AVAILABILITY_KEYS = {"availability", "availability_mode", "availability_template",
                     "availability_topic", "payload_available", "payload_not_available"}
COMMON_KEYS = AVAILABILITY_KEYS | {
    "device", "device_class", "enabled_by_default", "encoding", "entity_category",
    "entity_picture", "expire_after", "force_update", "icon", "json_attributes_template",
    "json_attributes_topic", "name", "object_id", "default_entity_id", "origin", "qos",
    "state_topic", "unique_id", "value_template"}
ALLOWED = {
    "binary_sensor": COMMON_KEYS | {"off_delay", "payload_off", "payload_on"},
    "sensor": COMMON_KEYS | {"last_reset_value_template", "options", "state_class",
                             "suggested_display_precision", "unit_of_measurement"},
}
REQUIRED = {"binary_sensor": {"state_topic"}, "sensor": {"state_topic"}}
DEVICE_KEYS = {"configuration_url", "connections", "hw_version", "identifiers", "manufacturer",
               "model", "model_id", "name", "serial_number", "suggested_area", "sw_version",
               "via_device"}
ORIGIN_KEYS = {"name", "sw_version", "support_url"}
BINARY_SENSOR_CLASSES = {
    "battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door",
    "garage_door", "gas", "heat", "light", "lock", "moisture", "motion", "moving", "occupancy",
    "opening", "plug", "power", "presence", "problem", "running", "safety", "smoke", "sound",
    "tamper", "update", "vibration", "window"}
STATE_CLASSES = {"measurement", "measurement_angle", "total", "total_increasing"}
ENTITY_CATEGORIES = {"config", "diagnostic"}
#: <discovery_prefix>/<component>/[<node_id>/]<object_id>/config, ids of [a-zA-Z0-9_-]
TOPIC = re.compile(r"^homeassistant/(binary_sensor|sensor)/([a-zA-Z0-9_-]+/)?[a-zA-Z0-9_-]+/config$")


class FakePublisher:
    def __init__(self, device_id="dowel-a1b2c3", url="http://192.0.2.10:8080/"):
        self.device_id = device_id
        self.name = "Lane 1"
        self.dashboard_url = url
        self.topics = Topics(BrokerConfig(host="broker"), device_id)


def render(template: str, payload: dict) -> str:
    # Home Assistant renders value_template with the payload parsed as value_json.
    return jinja2.Environment().from_string(template).render(
        value_json=json.loads(json.dumps(payload)), value=json.dumps(payload)).strip()


@pytest.fixture
def messages():
    return discovery_messages(FakePublisher())


def test_every_entity_the_issue_asks_for_is_there(messages):
    by_topic = {t.split("/")[1] + "/" + t.split("/")[3]: p for t, p in messages}
    assert set(by_topic) == {
        "binary_sensor/head_contact", "binary_sensor/upper_back_contact",
        "binary_sensor/sacrum_contact", "binary_sensor/problem",
        "sensor/reps_in_set", "sensor/sets_today", "sensor/last_depth", "sensor/clean_pct"}
    assert by_topic["binary_sensor/problem"]["device_class"] == "problem"
    assert by_topic["sensor/last_depth"]["unit_of_measurement"] == "°"
    assert by_topic["sensor/clean_pct"]["unit_of_measurement"] == "%"


def test_payloads_use_only_documented_keys_and_carry_the_required_ones(messages):
    unique_ids = set()
    for topic, payload in messages:
        assert TOPIC.match(topic), topic
        component = topic.split("/")[1]
        keys = set(payload)
        assert keys <= ALLOWED[component], (topic, keys - ALLOWED[component])
        assert REQUIRED[component] <= keys, topic
        # what this project promises on top: availability, a unique id, a template
        assert {"availability_topic", "unique_id", "value_template", "device"} <= keys
        assert payload["availability_topic"] == "smart-dowel/dowel-a1b2c3/availability"
        assert payload["state_topic"] == "smart-dowel/dowel-a1b2c3/status"
        assert payload["payload_available"] == "online" and payload["payload_not_available"] == "offline"
        assert payload["unique_id"] not in unique_ids
        unique_ids.add(payload["unique_id"])
        for key in ("name", "unique_id", "state_topic", "value_template", "availability_topic"):
            assert isinstance(payload[key], str) and payload[key], key
        if "device_class" in payload and component == "binary_sensor":
            assert payload["device_class"] in BINARY_SENSOR_CLASSES
        if "state_class" in payload:
            assert payload["state_class"] in STATE_CLASSES
        if "entity_category" in payload:
            assert payload["entity_category"] in ENTITY_CATEGORIES
        if "suggested_display_precision" in payload:
            assert isinstance(payload["suggested_display_precision"], int)
        device = payload["device"]
        assert set(device) <= DEVICE_KEYS, set(device) - DEVICE_KEYS
        assert isinstance(device["identifiers"], list) and device["identifiers"]
        assert {"name", "model", "manufacturer", "sw_version"} <= set(device)
        assert device["configuration_url"].startswith(("http://", "https://"))
        assert set(payload["origin"]) <= ORIGIN_KEYS and payload["origin"]["name"]
    # one HA device for the dowel: every entity names the same identifiers
    assert len({json.dumps(p["device"], sort_keys=True) for _, p in messages}) == 1


def test_templates_render_to_states_home_assistant_understands(messages):
    lost_sacrum = status_snapshot(lost=("sacrum",), rep_count=4)
    lost_sacrum["health"]["fault"] = "ADC not answering"
    extra = {"sets_today": 2, "last_depth_deg": 41.3, "last_set_clean_pct": 80.0}
    payload = status_payload(lost_sacrum, "dowel-a1b2c3", name="Lane 1", extra=extra)
    states = {t.split("/")[3]: render(p["value_template"], payload) for t, p in messages}
    assert states == {"head_contact": "ON", "upper_back_contact": "ON", "sacrum_contact": "OFF",
                      "problem": "ON", "reps_in_set": "4", "sets_today": "2",
                      "last_depth": "41.3", "clean_pct": "80.0"}
    fresh = status_payload(status_snapshot(), "dowel-a1b2c3", name="Lane 1", extra={})
    states = {t.split("/")[3]: render(p["value_template"], fresh) for t, p in messages}
    assert states["problem"] == "OFF" and states["sacrum_contact"] == "ON"
    # no rep yet: the MQTT sensor reads the payload "None" as unknown (its PAYLOAD_NONE)
    assert states["last_depth"] == "None" and states["clean_pct"] == "None"


def test_no_dashboard_no_configuration_url():
    messages = discovery_messages(FakePublisher(url=None))
    assert all("configuration_url" not in p["device"] for _, p in messages)
