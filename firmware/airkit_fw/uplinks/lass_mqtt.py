"""LASS / AirBox MQTT: one pipe-delimited line per reading.

Topic: config ``topic``, default **``LASS/Test/PM25``**, where LASS devices
publish and what LASS's own consumers subscribe to (a per-device subtopic
such as ``LASS/Test/PM25/<id>`` is LASS's alarm channel and is missed by
them); broker default ``gpssensor.ddns.net:1883`` (plain MQTT, no auth,
client id = device id). ``s_d0`` = PM2.5, ``s_d1`` = PM10 (atmospheric
values), ``s_t0`` = deg C, ``s_h0`` = %RH; ``s_d2`` (PM1.0) is sent too but
LASS defines it nowhere, so nothing relies on it. ``fmt_opt=1`` (fixed
location from the config). **date and time are UTC** (as LinkIt devices
write them on ``LASS/Test``). ``tick`` is the reading's ms tick count. QoS 0
by default (``"qos": 1`` for acknowledged delivery).

Position: both of LASS's parsers (its database importer and its
presentation parser) read ``gps_lat``/``gps_lon`` as NMEA degrees and
minutes, so the position is written as **degrees + minutes/100**
(25.0330 N = 25 deg 1.98' -> ``25.019800``), and ``FAKE_GPS=1`` is never
sent (with it the importer would take that value as decimal degrees). South
and west are written as 90 + latitude and 180 + longitude of the absolute
value (LASS turns values above 90 / 180 into negatives); negative numbers
would be misread. ``ver_app`` is airkit's version, never LASS's special
0.6.6 / 0.7.0.
"""

from airkit_fw import VERSION
from airkit_fw.uplinks import mqtt
from airkit_fw.uplinks.base import Uplink
from airkit_fw.uplinks.fmt import f2


def dm(deg, half):
    """A coordinate as LASS reads it: degrees + minutes/100; south/west (negative) as ``half`` + that."""
    a = -deg if deg < 0 else deg
    d = int(a)
    v = d + (a - d) * 60 / 100
    return v + half if deg < 0 else v


def payload(rec, device_id, board, lat, lon, alt):
    iso = board.iso_utc(rec["time"])          # YYYY-MM-DDTHH:MM:SSZ, UTC
    parts = ["|ver_format=3|fmt_opt=1|app=PM25|ver_app=%s|device_id=%s|tick=%d|date=%s|time=%s|device=ESP32"
             % (VERSION, device_id, rec["ticks"], iso[:10], iso[11:19])]
    if rec.get("pm25_atm") is not None:
        parts.append("|s_d0=%s|s_d1=%s|s_d2=%s" % (f2(rec["pm25_atm"]), f2(rec["pm10_atm"]), f2(rec["pm1_atm"])))
    if rec.get("temp_c") is not None:
        parts.append("|s_t0=" + f2(rec["temp_c"]))
    if rec.get("rh") is not None:
        parts.append("|s_h0=" + f2(rec["rh"]))
    parts.append("|gps_lat=%.6f|gps_lon=%.6f|gps_fix=1|gps_num=0|gps_alt=%d|" % (dm(lat, 90), dm(lon, 180),
                                                                               int(alt)))
    return "".join(parts)


class LassMqtt(Uplink):
    kind = "lass_mqtt"
    batch = 50

    def __init__(self, board, ucfg, station):
        super().__init__(board, ucfg, station)
        from airkit_fw.common import get
        self.host = ucfg.get("host")          # keys and defaults: lass_mqtt_spec.py
        self.port = ucfg.get("port")
        self.device_id = ucfg.get("device_id") or station.station_id
        self.topic = ucfg.get("topic")
        self.qos = ucfg.get("qos")
        self.lat = get(station.cfg, "location.lat") or 0.0
        self.lon = get(station.cfg, "location.lon") or 0.0
        self.alt = get(station.cfg, "location.alt") or 0

    def probe(self, ok, d):
        """CONNECT and disconnect: the broker took the station, nothing published."""
        d["host"] = self.host
        d["port"] = self.port
        mqtt.Session(self.board, self.host, self.port, self.device_id).close()
        d["status"] = "ok"
        return d

    def send(self, records, parts):
        s = mqtt.Session(self.board, self.host, self.port, self.device_id)
        try:
            for r in records:
                if r["time"] is not None:
                    s.extend(10000)
                    self.trying((r,))
                    s.publish(self.topic, payload(r, self.device_id, self.board, self.lat, self.lon, self.alt),
                              self.qos)
                else:
                    self.skipped += 1
                self.ack(r["seq"], 0, r["time"] is not None)
        finally:
            s.close()
