"""Home Assistant over a real Mosquitto: the device is named after ``device.name``,
entities expire when the station stops, and discovery comes back after a broker
restart without persistence within one reading interval (issue: uplinks proven
against the real servers)."""

import json
import time

import paho.mqtt.client as mqtt_client

from airkit.vboard import VirtualBoard
from uplink_helpers import MAC, Broker


def _retained(port, prefix="homeassistant/#", want=5, wait=5.0):
    got = {}
    c = mqtt_client.Client(mqtt_client.CallbackAPIVersion.VERSION2, client_id="t-late-%d" % time.time_ns())
    c.on_connect = lambda cl, u, f, rc, p=None: cl.subscribe(prefix, qos=1)
    c.on_message = lambda cl, u, m: got.__setitem__(m.topic, json.loads(m.payload)) if m.retain else None
    c.connect("127.0.0.1", port)
    c.loop_start()
    t_end = time.time() + wait
    while len(got) < want and time.time() < t_end:
        time.sleep(0.05)
    c.loop_stop()
    c.disconnect()
    return got


def test_discovery_named_expiring_and_back_after_broker_restart(tmp_path):
    broker = Broker(tmp_path)
    marks = {}
    lines = []

    def on_line(ln):
        lines.append(ln)
        if ln.startswith("reading "):
            n = marks["n"] = marks.get("n", 0) + 1
            if n == 6:
                # the broker restarts without persistence: retained configs and sessions are gone
                broker.restart()
            elif n == 8:
                marks["at_8"] = _retained(broker.port)

    cfg = {"device": {"id": "ak-yard", "name": "Yard"}, "interval_s": 300,
           "wifi": {"ssid": "lab", "password": "lab-wifi-pass"},
           "uplinks": [{"type": "mqtt_ha", "name": "ha", "url": "mqtt://127.0.0.1:%d" % broker.port}]}
    try:
        b = VirtualBoard(tmp_path / "b", config=cfg, hours=1, rtc_preset=False, mac=MAC, on_line=on_line,
                         scenario={"wifi": {"ssid": "lab", "password": "lab-wifi-pass"}})
        b.run()
        disc = marks["at_8"]              # the restart wiped them (no persistence): the station put them back
        assert len(disc) == 5
        pm25 = disc["homeassistant/sensor/ak-yard/pm25/config"]
        assert pm25["device"]["name"] == "Yard"                   # not the uplink's name
        assert pm25["expire_after"] == 900
        assert pm25["json_attributes_topic"] == pm25["state_topic"] == "airkit/ak-yard/state"
        status = [json.loads(ln[8:]) for ln in lines if ln.startswith("uplinks {")][-1]
        assert status["pending"]["ha"] == 0
    finally:
        broker.stop()
