"""InfluxDB line protocol, as airrohr sends it, plus an explicit timestamp.

``POST <url>`` (e.g. ``http://host:8086/write?db=airkit``; ``precision=s`` is
added when the URL has none) with one line per reading::

    feinstaub,node=esp32-<chipid> PMS_P0=3.00,PMS_P1=8.00,PMS_P2=6.00,temperature=21.30,humidity=55.20 1767571500

airrohr sends no timestamp (the server's receive time is used); airkit
appends the reading's UTC time in seconds so backfilled readings land at
their real time. Field names and the atmospheric PM values follow airrohr.
Optional ``token`` is sent as ``Authorization: Token <token>`` (InfluxDB 2's
v1-compatible write endpoint); it is never logged.
"""

from airkit_fw.uplinks import http
from airkit_fw.uplinks.fmt import f2
from airkit_fw.uplinks.net import NetError
from airkit_fw.uplinks.sensor_community import chip_id


def line(rec, node, which="atm", measurement="feinstaub"):
    fields = []
    if rec.get("pm1_" + which) is not None:
        fields.append("PMS_P0=%s,PMS_P1=%s,PMS_P2=%s" % (f2(rec["pm1_" + which]), f2(rec["pm10_" + which]),
                                                         f2(rec["pm25_" + which])))
    if rec.get("temp_c") is not None:
        fields.append("temperature=" + f2(rec["temp_c"]))
    if rec.get("rh") is not None:
        fields.append("humidity=" + f2(rec["rh"]))
    if not fields:
        return None
    return "%s,node=%s %s %d" % (measurement, node, ",".join(fields), rec["time"])


class Influx:
    kind = "influx"
    batch = 100

    def __init__(self, board, ucfg, station):
        self.board = board
        url = ucfg.get("url") or "http://127.0.0.1:8086/write?db=airkit"
        if "precision=" not in url:
            url += ("&" if "?" in url else "?") + "precision=s"
        self.url = url
        self.measurement = ucfg.get("measurement") or "feinstaub"
        self.which = ucfg.get("pm", "atm")
        self._token = ucfg.get("token")
        self.cadata = ucfg.get("ca")
        self.node = "esp32-" + chip_id(board.mac())

    def send(self, records):
        lines = []
        for r in records:
            if r["time"] is None:
                continue
            ln = line(r, self.node, self.which, self.measurement)
            if ln:
                lines.append(ln)
        if lines:
            hdrs = [("Content-Type", "text/plain; charset=utf-8")]
            if self._token:
                hdrs.append(("Authorization", "Token " + self._token))
            status, retry, _ = http.request(self.board, "POST", self.url, hdrs, "\n".join(lines) + "\n",
                                            self.cadata)
            if status >= 300:
                raise NetError("http", "status %d" % status, retry, status)
        return len(records)
