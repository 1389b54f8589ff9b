"""MQTT with Home Assistant discovery: the station appears in HA by itself.

One **retained** config message per sensor (QoS 1) on
``homeassistant/sensor/<node_id>/<object_id>/config`` with ``name``,
``state_topic``, ``unit_of_measurement``, ``device_class`` (pm1, pm25, pm10,
temperature, humidity), ``state_class``, ``value_template``, ``unique_id``,
``expire_after`` (3 x the reading interval: a station that stops sending
becomes *unavailable* instead of showing its last values forever),
``json_attributes_topic`` (the state itself: CF=1 values, quality flags and
the reading time show as attributes) and ``device`` {identifiers, name (the
config's ``device.name``, else the station id), model, manufacturer,
sw_version}. Each reading is then a JSON state on ``<prefix>/<node_id>/state``,
QoS 1 (counted as delivered only after PUBACK), e.g.::

    {"time": "2026-01-05T00:05:00Z", "seq": 2, "pm1": 5, "pm25": 7, "pm10": 9,
     "pm1_cf1": 5, "pm25_cf1": 7, "pm10_cf1": 10, "temperature": 10.8,
     "humidity": 67.4, "flags": []}

Discovery is re-sent whenever the broker has lost the station's session: the
station connects with a persistent session (clean session off, fixed client
id) and the broker's CONNACK says whether it still has it. After a broker
restart without persistence (retained configs gone too) the answer is "no",
so the configs go out again on the next connection, within one reading
interval; after a restart with persistence nothing is re-sent.

Backfilled readings carry their original ``time`` in the JSON; Home
Assistant itself records states at arrival time. ``mqtts://`` URLs use
verified TLS (config ``ca``). User name and password are never logged.
"""

from airkit_fw import VERSION
from airkit_fw.flags import write_json as write_flags
from airkit_fw.uplinks import mqtt
from airkit_fw.uplinks.base import Uplink
from airkit_fw.uplinks.fmt import jstr, jnum
from airkit_fw.uplinks.net import parse_url, userinfo

SENSORS = (("pm1", "PM1.0", "\u00b5g/m\u00b3", "pm1"), ("pm25", "PM2.5", "\u00b5g/m\u00b3", "pm25"),
           ("pm10", "PM10", "\u00b5g/m\u00b3", "pm10"), ("temperature", "Temperature", "\u00b0C", "temperature"),
           ("humidity", "Humidity", "%", "humidity"))


def discovery(node_id, name, state_topic, expire_after=900):
    """[(topic, payload)] of the retained discovery configs."""
    out = []
    for obj, label, unit, dclass in SENSORS:
        out.append(("homeassistant/sensor/%s/%s/config" % (node_id, obj),
                    '{"name": %s, "state_topic": "%s", "unit_of_measurement": "%s", "device_class": "%s", '
                    '"state_class": "measurement", "value_template": "{{ value_json.%s }}", "unique_id": "%s_%s", '
                    '"expire_after": %d, "json_attributes_topic": "%s", '
                    '"device": {"identifiers": ["%s"], "name": %s, "model": "airkit PMS5003 + DHT22", '
                    '"manufacturer": "airkit", "sw_version": "%s"}}'
                    % (jstr(label), state_topic, unit, dclass, obj, node_id, obj, expire_after, state_topic,
                       node_id, jstr(name), VERSION)))
    return out


def state(rec, board):
    out = ['{"time": %s, "seq": %d, "pm1": %s, "pm25": %s, "pm10": %s, "pm1_cf1": %s, "pm25_cf1": %s, '
           '"pm10_cf1": %s, "temperature": %s, "humidity": %s, "flags": '
           % ('"%s"' % board.iso_utc(rec["time"]) if rec["time"] else "null", rec["seq"], jnum(rec["pm1_atm"]),
              jnum(rec["pm25_atm"]), jnum(rec["pm10_atm"]), jnum(rec["pm1_cf1"]), jnum(rec["pm25_cf1"]),
              jnum(rec["pm10_cf1"]), jnum(rec["temp_c"]), jnum(rec["rh"]))]
    write_flags(rec["flags_bits"], out.append)     # bits in the journal, names on the wire
    out.append("}")
    return "".join(out)


class MqttHA(Uplink):
    kind = "mqtt_ha"
    batch = 50

    def __init__(self, board, ucfg, station):
        super().__init__(board, ucfg, station)
        from airkit_fw.common import get
        scheme, self.host, self.port, _ = parse_url(ucfg.get("url"))    # keys and defaults: mqtt_ha_spec.py
        self.secure = scheme == "mqtts"
        self.username = ucfg.get("username")
        self._password = ucfg.get("password")
        cred = userinfo(ucfg.get("url"))
        if cred and not self.username:      # mqtt://user:pass@broker
            self.username, self._password = cred
        self.node_id = "".join(c if c.isalpha() or c.isdigit() or c in "_-" else "_" for c in station.station_id)
        self.device_name = get(station.cfg, "device.name") or station.station_id
        self.expire_after = 3 * (get(station.cfg, "interval_s") or 300)
        prefix = ucfg.get("prefix")
        self.state_topic = "%s/%s/state" % (prefix, self.node_id)
        self.discoveries = 0

    def _session(self, clean):
        return mqtt.Session(self.board, self.host, self.port, "airkit-" + self.node_id, self.username,
                            self._password, self.secure, self.cadata, clean=clean)

    def probe(self, ok, d):
        """CONNECT (credentials, TLS) and disconnect: nothing published."""
        d["host"] = self.host
        d["port"] = self.port
        self._session(True).close()
        d["status"] = "ok"
        return d

    def send(self, records, parts):
        b = self.board
        s = self._session(False)
        try:
            if not s.session_present:
                for topic, payload in discovery(self.node_id, self.device_name, self.state_topic,
                                                self.expire_after):
                    s.extend(10000)
                    s.publish(topic, payload, 1, True)
                self.discoveries += 1
            for r in records:
                s.extend(10000)
                self.trying((r,))
                s.publish(self.state_topic, state(r, b), 1)
                self.ack(r["seq"])
        finally:
            s.close()
