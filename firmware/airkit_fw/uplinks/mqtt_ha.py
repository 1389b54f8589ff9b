"""MQTT with Home Assistant discovery: the station appears in HA by itself.

On the first session of each boot, one **retained** config message per
sensor is published (QoS 1) on
``<discovery_prefix>/sensor/<node_id>/<object_id>/config`` with ``name``,
``state_topic``, ``unit_of_measurement``, ``device_class`` (pm1, pm25, pm10,
temperature, humidity), ``state_class``, ``value_template``, ``unique_id``
and ``device`` {identifiers, name, model, manufacturer, sw_version}. Each
reading is then a JSON state on ``<prefix>/<node_id>/state``, QoS 1 (counted
as delivered only after PUBACK), e.g.::

    {"time": "2026-01-05T00:05:00Z", "seq": 2, "pm1": 5, "pm25": 7, "pm10": 9,
     "pm25_cf1": 7, "temperature": 10.8, "humidity": 67.4, "flags": []}

Backfilled readings carry their original ``time`` in the JSON; Home
Assistant itself records states at arrival time. ``mqtts://`` URLs use
verified TLS (config ``ca``). User name and password are never logged.
"""

from airkit_fw import VERSION
from airkit_fw.uplinks import mqtt
from airkit_fw.uplinks.fmt import jstr, jnum
from airkit_fw.uplinks.net import parse_url

SENSORS = (("pm1", "PM1.0", "\u00b5g/m\u00b3", "pm1"), ("pm25", "PM2.5", "\u00b5g/m\u00b3", "pm25"),
           ("pm10", "PM10", "\u00b5g/m\u00b3", "pm10"), ("temperature", "Temperature", "\u00b0C", "temperature"),
           ("humidity", "Humidity", "%", "humidity"))


def discovery(node_id, name, state_topic):
    """[(topic, payload)] of the retained discovery configs."""
    out = []
    for obj, label, unit, dclass in SENSORS:
        out.append(("homeassistant/sensor/%s/%s/config" % (node_id, obj),
                    '{"name": %s, "state_topic": "%s", "unit_of_measurement": "%s", "device_class": "%s", '
                    '"state_class": "measurement", "value_template": "{{ value_json.%s }}", "unique_id": "%s_%s", '
                    '"device": {"identifiers": ["%s"], "name": %s, "model": "airkit PMS5003 + DHT22", '
                    '"manufacturer": "airkit", "sw_version": "%s"}}'
                    % (jstr(label), state_topic, unit, dclass, obj, node_id, obj, node_id, jstr(name), VERSION)))
    return out


def state(rec, board):
    return ('{"time": %s, "seq": %d, "pm1": %s, "pm25": %s, "pm10": %s, "pm25_cf1": %s, "temperature": %s, '
            '"humidity": %s, "flags": [%s]}'
            % ('"%s"' % board.iso_utc(rec["time"]) if rec["time"] else "null", rec["seq"], jnum(rec["pm1_atm"]),
               jnum(rec["pm25_atm"]), jnum(rec["pm10_atm"]), jnum(rec["pm25_cf1"]), jnum(rec["temp_c"]),
               jnum(rec["rh"]), ", ".join('"%s"' % f for f in rec["flags"])))


class MqttHA:
    kind = "mqtt_ha"
    batch = 50

    def __init__(self, board, ucfg, station):
        from airkit_fw import config
        self.board = board
        scheme, self.host, self.port, _ = parse_url(ucfg.get("url") or "mqtt://127.0.0.1:1883")
        self.secure = scheme == "mqtts"
        self.cadata = ucfg.get("ca")
        self.username = ucfg.get("username")
        self._password = ucfg.get("password")
        self.node_id = "".join(c if c.isalpha() or c.isdigit() or c in "_-" else "_" for c in station.station_id)
        self.name = config.get(station.cfg, "device.name") or station.station_id
        prefix = ucfg.get("prefix") or "airkit"
        self.state_topic = "%s/%s/state" % (prefix, self.node_id)
        self.discovered = False

    def send(self, records):
        b = self.board
        s = mqtt.Session(b, self.host, self.port, "airkit-" + self.node_id, self.username, self._password,
                         self.secure, self.cadata)
        try:
            if not self.discovered:
                for topic, payload in discovery(self.node_id, self.name, self.state_topic):
                    s.extend(10000)
                    s.publish(topic, payload, 1, True)
                self.discovered = True
            for r in records:
                s.extend(10000)
                s.publish(self.state_topic, state(r, b), 1)
                self.done += 1
        finally:
            s.close()
        return self.done
