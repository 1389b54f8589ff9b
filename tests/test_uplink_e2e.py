"""MQTT (Home Assistant discovery, LASS) and InfluxDB uplinks end to end: the
firmware on the virtual board publishing to a real Mosquitto (amqtt when
missing) and posting to a real line-protocol receiver on loopback; one uplink
pointed at a dead port must not hold back the others."""

import json
import threading
import time

import paho.mqtt.client as mqtt_client

from airkit.collect.mqttsub import Subscriber
from airkit.collect.store import Store
from test_reliability import run_board
from uplink_helpers import Broker, InfluxReceiver, free_port


def test_mqtt_ha_lass_influx_and_a_dead_uplink(tmp_path):
    broker = Broker(tmp_path)
    influx = InfluxReceiver()
    got = []
    sub = mqtt_client.Client(mqtt_client.CallbackAPIVersion.VERSION2, client_id="t-sub")
    ready = threading.Event()
    sub.on_connect = lambda c, u, f, rc, p=None: (c.subscribe("#", qos=1), ready.set())
    sub.on_message = lambda c, u, m: got.append((m.topic, m.payload, m.retain))
    sub.connect("127.0.0.1", broker.port)
    sub.loop_start()
    store = Store(tmp_path / "c.sqlite")
    coll_sub = Subscriber(store, "mqtt://127.0.0.1:%d/LASS/#" % broker.port, auth="open").start()  # lab broker
    try:
        assert ready.wait(5)
        cfg = {"device": {"id": "ak-yard", "name": "Yard"}, "wifi": {"ssid": "lab", "password": "lab-wifi-pass"},
               "location": {"lat": 25.0, "lon": 121.5},
               "uplinks": [
                   {"type": "mqtt_ha", "url": "mqtt://127.0.0.1:%d" % broker.port},
                   {"type": "lass_mqtt", "host": "127.0.0.1", "port": broker.port, "qos": 1},
                   {"type": "influx", "url": "http://127.0.0.1:%d/write?db=airkit" % influx.port},
                   {"type": "airkit_json", "url": "http://127.0.0.1:%d/api/v1/batch" % free_port(),
                    "token": "x-token-123"}]}
        board, readings, status, lines = run_board(tmp_path, cfg, 4, {"wifi": {"down": [[1, 2.5]]}})
        assert len(readings) == 48
        time.sleep(1.0)
        states = [json.loads(p) for t, p, r in got if t == "airkit/ak-yard/state"]
        assert sorted(s["time"] for s in states) == sorted(r["time"] for r in readings)
        by_time = {r["time"]: r for r in readings}
        for s in states:
            r = by_time[s["time"]]
            assert (s["pm25"], s["pm10"], s["pm25_cf1"]) == (r["pm25_atm"], r["pm10_atm"], r["pm25_cf1"])
        disc = {t: (json.loads(p), r) for t, p, r in got if t.startswith("homeassistant/")}
        assert set(disc) == {"homeassistant/sensor/ak-yard/%s/config" % o
                             for o in ("pm1", "pm25", "pm10", "temperature", "humidity")}
        # retained: a subscriber arriving later (Home Assistant after a restart) still gets every config
        late = []
        c2 = mqtt_client.Client(mqtt_client.CallbackAPIVersion.VERSION2, client_id="t-late")
        c2.on_connect = lambda c, u, f, rc, p=None: c.subscribe("homeassistant/#", qos=1)
        c2.on_message = lambda c, u, m: late.append((m.topic, m.retain))
        c2.connect("127.0.0.1", broker.port)
        c2.loop_start()
        t_end = time.time() + 5
        while len(late) < 5 and time.time() < t_end:
            time.sleep(0.05)
        c2.loop_stop()
        c2.disconnect()
        assert sorted(late) == sorted((t, True) for t in disc)
        assert disc["homeassistant/sensor/ak-yard/pm25/config"][0]["device_class"] == "pm25"
        lass = [p.decode() for t, p, r in got if t == "LASS/Test/PM25"]    # where LASS itself reads
        assert len(lass) == 48 and all(x.startswith("|ver_format=3|fmt_opt=1|app=PM25|") for x in lass)
        assert store.count("ak-yard") == 48          # the collector's MQTT subscription parsed every LASS line
        assert len(influx.lines) == 48 and all(q.endswith("precision=s") for q in influx.queries)
        stamps = sorted(int(ln.rsplit(" ", 1)[1]) for ln in influx.lines)
        assert stamps[1] - stamps[0] == 300
        # the dead uplink kept everything and backed off, without blocking the others
        assert status["pending"]["airkit_json"] == 48
        assert status["state"]["airkit_json"] == "refused"
        assert board.restarts["watchdog"] == 0
    finally:
        coll_sub.stop()
        sub.loop_stop()
        sub.disconnect()
        influx.stop()
        broker.stop()
