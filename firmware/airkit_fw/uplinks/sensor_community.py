"""Sensor.Community (luftdaten.info) push API, as airrohr speaks it.

One POST per sensor per reading: the PMS5003 with ``X-PIN: 1`` (value types
P0 = PM1.0, P1 = PM10, P2 = PM2.5 — P1 is *not* PM1) and the DHT22 with
``X-PIN: 7`` (``temperature``, ``humidity``); values are strings with two
decimals; ``X-Sensor: esp32-<chipid>``.

Which PM values: the **atmospheric** ones (``pm*_atm``), as airrohr sends
them, so an airkit station's numbers line up with the thousands of airrohr
stations on the map. CF=1 values (what the EPA/PurpleAir corrections use)
stay in the journal and go to the airkit JSON uplink; set ``"pm": "cf1"`` in
the uplink config to send CF=1 here instead.

Backfill: every push carries ``"timestamp"`` (UTC ISO 8601). The open
reference server accepts this field; whether the production server honours it
for old readings is not verified, so backfill there is best effort.
Readings with no known time are not pushed (the server would file them at
arrival time); they are counted as skipped.

Chip id rule (airrohr, ESP32): ``ESP.getEfuseMac()`` packs the 6 MAC bytes
little-endian into an integer (first MAC byte lowest); the id is the hex of
its upper 16 bits followed by the hex of its lower 32 bits, lower-case and
**without zero padding** (Arduino ``String(x, HEX)``). Example:
24:0a:c4:12:34:56 -> ``563412c40a24``; 30:ae:a4:07:0d:64 -> ``640d7a4ae30``.
"""

from airkit_fw import VERSION
from airkit_fw.uplinks import http
from airkit_fw.uplinks.fmt import f2
from airkit_fw.uplinks.net import NetError

DEFAULT_URL = "https://api.sensor.community/v1/push-sensor-data/"
SOFTWARE = "airkit-" + VERSION


def chip_id(mac):
    """airrohr's ESP32 chip id from the 6-byte efuse MAC."""
    upper = mac[5] << 8 | mac[4]
    lower = mac[3] << 24 | mac[2] << 16 | mac[1] << 8 | mac[0]
    return "%x%x" % (upper, lower)


def mac_id(mac):
    return "".join("%02x" % b for b in mac)


def pm_body(rec, board, which="atm"):
    if rec.get("pm1_" + which) is None:
        return None
    return ('{"software_version": "%s", "sensordatavalues": [{"value_type": "P0", "value": "%s"}, '
            '{"value_type": "P1", "value": "%s"}, {"value_type": "P2", "value": "%s"}], "timestamp": "%s"}'
            % (SOFTWARE, f2(rec["pm1_" + which]), f2(rec["pm10_" + which]), f2(rec["pm25_" + which]),
               board.iso_utc(rec["time"])))


def dht_body(rec, board):
    if rec.get("temp_c") is None or rec.get("rh") is None:
        return None
    return ('{"software_version": "%s", "sensordatavalues": [{"value_type": "temperature", "value": "%s"}, '
            '{"value_type": "humidity", "value": "%s"}], "timestamp": "%s"}'
            % (SOFTWARE, f2(rec["temp_c"]), f2(rec["rh"]), board.iso_utc(rec["time"])))


def headers(mac, pin):
    cid = chip_id(mac)
    mid = mac_id(mac)
    return (("Content-Type", "application/json"), ("X-Sensor", "esp32-" + cid),
            ("X-MAC-ID", "esp32-" + mid), ("X-PIN", str(pin)),
            ("User-Agent", "%s/%s/%s" % (SOFTWARE, cid, mid)))


class SensorCommunity:
    kind = "sensor_community"
    batch = 20

    def __init__(self, board, ucfg, station):
        self.board = board
        self.url = ucfg.get("url") or DEFAULT_URL
        self.which = ucfg.get("pm", "atm")
        self.cadata = ucfg.get("ca")
        self.mac = board.mac()
        self.node = "esp32-" + chip_id(self.mac)
        self.skipped = 0

    def send(self, records):
        """Push records in order; returns how many were fully delivered (raises on failure)."""
        b = self.board
        for rec in records:
            if rec["time"] is None:
                self.skipped += 1
                self.done += 1
                continue
            for pin, body in ((1, pm_body(rec, b, self.which)), (7, dht_body(rec, b))):
                if body is None:
                    continue
                status, retry, _ = http.request(b, "POST", self.url, headers(self.mac, pin), body, self.cadata)
                if status >= 300:
                    raise NetError("http", "status %d" % status, retry, status)
            self.done += 1
        return self.done
