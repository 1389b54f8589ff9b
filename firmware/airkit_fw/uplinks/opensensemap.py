"""openSenseMap native bulk upload (CSV), for fast backfill with timestamps.

``POST <url>/boxes/<box_id>/data`` with ``Content-Type: text/csv`` and the box
access token in ``Authorization``; one line per value::

    <sensorId>,<value>,<createdAt UTC ISO 8601>

at most 2,500 values per request (the API's limit). Sensor ids come from the
uplink config ``sensors``: ``{"pm25": id, "pm10": id, "pm1": id,
"temperature": id, "humidity": id}`` (any subset). PM values are the
atmospheric ones by default (``"pm": "cf1"`` to change), as for
Sensor.Community, so maps agree.
"""

from airkit_fw.uplinks import http
from airkit_fw.uplinks.net import NetError

MAX_VALUES = 2500
DEFAULT_URL = "https://api.opensensemap.org"


def csv_lines(rec, sensors, board, which="atm"):
    t = board.iso_utc(rec["time"])
    out = []
    for key, field, fmt in (("pm25", "pm25_" + which, "%.1f"), ("pm10", "pm10_" + which, "%.1f"),
                            ("pm1", "pm1_" + which, "%.1f"), ("temperature", "temp_c", "%.2f"),
                            ("humidity", "rh", "%.2f")):
        sid = sensors.get(key)
        v = rec.get(field)
        if sid and v is not None:
            out.append("%s,%s,%s" % (sid, fmt % v, t))
    return out


class OpenSenseMap:
    kind = "opensensemap"

    def __init__(self, board, ucfg, station):
        self.board = board
        base = (ucfg.get("url") or DEFAULT_URL).rstrip("/")
        self.url = "%s/boxes/%s/data" % (base, ucfg.get("box_id"))
        self.sensors = ucfg.get("sensors") or {}
        self._token = ucfg.get("access_token")
        self.which = ucfg.get("pm", "atm")
        self.cadata = ucfg.get("ca")
        n = len([k for k in self.sensors if self.sensors[k]]) or 1
        self.batch = MAX_VALUES // n

    def send(self, records):
        lines = []
        for r in records:
            if r["time"] is not None:
                lines.extend(csv_lines(r, self.sensors, self.board, self.which))
        if lines:
            hdrs = [("Content-Type", "text/csv")]
            if self._token:
                hdrs.append(("Authorization", self._token))
            status, retry, _ = http.request(self.board, "POST", self.url, hdrs, "\n".join(lines) + "\n",
                                            self.cadata)
            if status >= 300:
                raise NetError("http", "status %d" % status, retry, status)
        return len(records)
