"""LASS / AirBox MQTT: one pipe-delimited line per reading.

Topic: config ``topic`` (default ``LASS/Test/PM25/<device_id>``); broker
default ``gpssensor.ddns.net:1883`` (plain MQTT, no auth, client id = device
id). ``s_d0`` = PM2.5, ``s_d1`` = PM10, ``s_d2`` = PM1.0 (atmospheric values),
``s_t0`` = deg C, ``s_h0`` = %RH; ``fmt_opt=1`` (fixed location from the
config). **date and time are UTC** (as LinkIt devices write them; note that
the LASS importer reads AirBox date/time as Asia/Taipei). ``tick`` is the
reading's ms tick count. QoS 0 by default (``"qos": 1`` for acknowledged).
"""

from airkit_fw import VERSION
from airkit_fw.uplinks import mqtt
from airkit_fw.uplinks.fmt import f2


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
    parts.append("|gps_lat=%.6f|gps_lon=%.6f|gps_fix=1|gps_num=0|gps_alt=%d|" % (lat, lon, int(alt)))
    return "".join(parts)


class LassMqtt:
    kind = "lass_mqtt"
    batch = 50

    def __init__(self, board, ucfg, station):
        from airkit_fw import config
        self.board = board
        self.host = ucfg.get("host") or "gpssensor.ddns.net"
        self.port = ucfg.get("port") or 1883
        self.device_id = ucfg.get("device_id") or station.station_id
        self.topic = ucfg.get("topic") or ("LASS/Test/PM25/" + self.device_id)
        self.qos = ucfg.get("qos", 0)
        self.lat = config.get(station.cfg, "location.lat") or 0.0
        self.lon = config.get(station.cfg, "location.lon") or 0.0
        self.alt = config.get(station.cfg, "location.alt") or 0

    def send(self, records):
        s = mqtt.Session(self.board, self.host, self.port, self.device_id)
        try:
            for r in records:
                if r["time"] is not None:
                    s.extend(10000)
                    s.publish(self.topic, payload(r, self.device_id, self.board, self.lat, self.lon, self.alt),
                              self.qos)
                self.done += 1
        finally:
            s.close()
        return self.done
