"""Sensor.Community (luftdaten.info) push API, as airrohr speaks it.

One POST per sensor per reading: the PMS5003 with ``X-PIN: 1`` (value types
P0 = PM1.0, P1 = PM10, P2 = PM2.5 — P1 is *not* PM1) and the DHT22 with
``X-PIN: 7`` (``temperature``, ``humidity``); values are strings with two
decimals; ``X-Sensor: esp32-<chipid>``.

Which PM values: the **atmospheric** ones (``pm*_atm``), as airrohr sends
them, so an airkit station's numbers line up with the thousands of airrohr
stations on the map. CF=1 values (what the EPA/PurpleAir corrections use)
stay in the journal and go to the airkit JSON uplink; set ``"pm": "cf1"`` in
the uplink config to send CF=1 here instead. Every PM push says which it
carries in the header ``X-Airkit-PM: atm|cf1`` (``PM_HEADER``): the server
ignores it, an airkit collector stores P0/P1/P2 under ``pm*_atm`` or
``pm*_cf1`` accordingly (``pm_columns``), so calibration reads CF=1 only
where CF=1 was sent.

A node registered with only one sensor: the server files every push under
it, whatever its ``X-PIN``, so the DHT22 push (pin 7) lands on the PMS sensor
(answered 201). Register both sensors (PMS5003 and DHT22) for the node;
``airkit doctor`` reminds of it.

The two pushes are independent pieces: each is acknowledged (and its
progress saved) on its own, so a push the server stored is never sent again
when the other one fails, and a 400 on one never drops the other. What the
server's answers mean (as its ``feinstaub-api`` code gives them): 2xx
stored; 403 "Node not found" (the chip id is not registered: register
``esp32-<chipid>`` on devices.sensor.community; readings kept); 400 (this
push refused: skipped and counted); 5xx and 429 retried later.

Backfill: every push carries ``"timestamp"`` (UTC ISO 8601). The open
server stores it as the reading time (no limit on age); production is the
same code, but that it honours it for old readings is not verified, so
backfill there is best effort.
Readings with no known time are not pushed (the server would file them at
arrival time); they are counted as skipped.

Secret (optional key ``token``): an ``airkit collect`` server refuses a push
without the station's secret, which travels in the header ``X-Airkit-Token``.
Set ``token`` only for an uplink pointed at an airkit collector: the header is
not sent without it, so the real Sensor.Community server never sees it.

Chip id rule (airrohr, ESP32): ``ESP.getEfuseMac()`` packs the 6 MAC bytes
little-endian into an integer (first MAC byte lowest); the id is the hex of
its upper 16 bits followed by the hex of its lower 32 bits, lower-case and
**without zero padding** (Arduino ``String(x, HEX)``). Example:
24:0a:c4:12:34:56 -> ``563412c40a24``; 30:ae:a4:07:0d:64 -> ``640d7a4ae30``.
"""

from airkit_fw import VERSION
from airkit_fw.uplinks.base import Uplink, CONFIG, REJECTED, RETRY, OK, short
from airkit_fw.uplinks.fmt import f2, chip_id  # noqa: F401  (chip_id: the host tools import it here)

SOFTWARE = "airkit-" + VERSION
_PM = 1          # piece bits: the PM push (X-PIN 1), the DHT22 push (X-PIN 7)
_DHT = 2


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


# Which PMS values P0/P1/P2 carry, said on every PM push (Sensor.Community ignores the
# header; an airkit collector files the values under these names). No header: airrohr's
# atmospheric values. The one definition both sides use.
PM_HEADER = "X-Airkit-PM"
PM_KINDS = ("atm", "cf1")


def pm_columns(which):
    """{value type: reading field} of a PM push that carries ``which`` ("atm" or "cf1")."""
    return {"P0": "pm1_" + which, "P1": "pm10_" + which, "P2": "pm25_" + which}


def headers(mac, pin, which="atm", token=None):
    cid = chip_id(mac)
    mid = mac_id(mac)
    h = (("Content-Type", "application/json"), ("X-Sensor", "esp32-" + cid),
         ("X-MAC-ID", "esp32-" + mid), ("X-PIN", str(pin)),
         ("User-Agent", "%s/%s/%s" % (SOFTWARE, cid, mid)))
    if pin == 1:
        h = h + ((PM_HEADER, which),)
    return h + (("X-Airkit-Token", token),) if token else h


class SensorCommunity(Uplink):
    kind = "sensor_community"
    batch = 20
    all_parts = _PM | _DHT
    streamed = True

    def __init__(self, board, ucfg, station):
        super().__init__(board, ucfg, station)
        self.url = ucfg.get("url")          # declared with its default in sensor_community_spec.py
        from airkit_fw.common import mask_url
        self.url_shown = mask_url(self.url)
        self.which = ucfg.get("pm")
        self.mac = board.mac()
        self.node = "esp32-" + chip_id(self.mac)
        self.token = ucfg.get("token")
        self._hdr = (headers(self.mac, 1, self.which, self.token), headers(self.mac, 7, token=self.token))

    def probe_request(self):
        # an empty push: the server checks the node before the values
        return (self.url, self._hdr[0], '{"software_version": "%s", "sensordatavalues": []}' % SOFTWARE)

    def probe(self, ok, d):
        d["node"] = self.node
        return Uplink.probe(self, ok, d)

    def classify(self, status, body=b""):
        why = short(body)
        if 200 <= status < 300:
            return OK, "stored (HTTP %d)" % status
        if status == 403:
            return CONFIG, ("HTTP 403 %s: node %s is not registered: register it (chip id %s) on "
                            "devices.sensor.community" % (why, self.node, self.node[6:]))
        if status == 400:
            return REJECTED, "HTTP 400 %s: the server refused this push" % why
        if status == 404:
            return CONFIG, "HTTP 404: no push API at %s: check the uplink's url" % self.url_shown
        return RETRY, "HTTP %d %s: server busy or failing, retrying later" % (status, why)

    def send(self, records, parts):
        """Push each reading's pieces in order, acknowledging each stored piece."""
        b = self.board
        for rec in records:
            seq = rec["seq"]
            if rec["time"] is None:
                # the server would file it at arrival time: not pushed, counted as skipped
                self.skipped += 1
                self.ack(seq, 0, False)
                parts = 0
                continue
            for bit in (_PM, _DHT):
                if parts & bit:
                    continue
                body = pm_body(rec, b, self.which) if bit == _PM else dht_body(rec, b)
                if body is not None:
                    status, retry, resp = self.post((rec,), self.url, self._hdr[bit - 1], body, bit)
                    self.check(status, retry, resp)
                parts |= bit
                self.ack(seq, parts)
            parts = 0
