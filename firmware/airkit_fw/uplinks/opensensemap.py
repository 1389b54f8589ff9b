"""openSenseMap native bulk upload (CSV), for fast backfill with timestamps.

``POST <url>/boxes/<box_id>/data`` with ``Content-Type: text/csv`` and the box
access token in ``Authorization``; one line per value::

    <sensorId>,<value>,<createdAt UTC ISO 8601>

at most 2,500 values per request (the API's limit). Sensor ids come from the
uplink config ``sensors``: ``{"pm25": id, "pm10": id, "pm1": id,
"temperature": id, "humidity": id}`` (any subset). PM values are the
atmospheric ones by default (``"pm": "cf1"`` to change), as for
Sensor.Community, so maps agree.

What the API's answers mean (its own decoder and validation): 201 stored;
401 wrong access token and 404 unknown box (configuration: readings kept,
retried after 30 min); **400 a sensor id that is not in the box** (a
configuration mistake, not a bad reading: readings kept, the status names
the id); 422 "Invalid sensor id" (an id that is not 24 hex characters: also a
configuration mistake, readings kept; ``airkit config validate`` catches it
first); **422 any other value the decoder refuses** (e.g. a time more than a minute
in the future): the batch is halved until the offending reading is alone,
and only that one is skipped. The API does not de-duplicate, so a batch is
acknowledged only as a whole, after the 201.
"""

try:
    from micropython import const
except ImportError:
    def const(v):
        return v

from airkit_fw.uplinks.base import Uplink, CONFIG, REJECTED, RETRY, OK, short

MAX_VALUES = const(2500)
_FIELDS = (("pm25", "pm25_", "%.1f"), ("pm10", "pm10_", "%.1f"), ("pm1", "pm1_", "%.1f"),
           ("temperature", "temp_c", "%.2f"), ("humidity", "rh", "%.2f"))


def csv_lines(rec, sensors, board, which="atm", write=None):
    """The CSV lines of one reading (a list), or written one by one to ``write``."""
    t = board.iso_utc(rec["time"])
    out = None if write else []
    for key, field, fmt in _FIELDS:
        sid = sensors.get(key)
        v = rec.get(field + which if field[-1] == "_" else field)
        if sid and v is not None:
            if write:
                write(sid)
                write(",")
                write(fmt % v)
                write(",")
                write(t)
                write("\n")
            else:
                out.append("%s,%s,%s" % (sid, fmt % v, t))
    return out


class OpenSenseMap(Uplink):
    kind = "opensensemap"

    def __init__(self, board, ucfg, station):
        super().__init__(board, ucfg, station)
        base = ucfg.get("url").rstrip("/")   # declared with its default in opensensemap_spec.py
        self.box = ucfg.get("box_id")
        self.url = "%s/boxes/%s/data" % (base, self.box)
        self.sensors = ucfg.get("sensors") or {}
        self._token = ucfg.get("access_token")
        self.which = ucfg.get("pm")
        n = len([k for k in self.sensors if self.sensors[k]]) or 1
        self.batch = self.max_batch = MAX_VALUES // n
        hdrs = [("Content-Type", "text/csv")]
        if self._token:
            hdrs.append(("Authorization", self._token))
        self._hdrs = hdrs

    def probe_request(self):
        return self.url, self._hdrs, ""        # an empty upload: box and token are checked first

    def classify(self, status, body=b""):
        why = short(body)
        if 200 <= status < 300:
            return OK, "stored (HTTP %d)" % status
        if status == 400:
            bad = [k for k in self.sensors if self.sensors[k] and self.sensors[k] in why]
            which = ("sensor id %s ('%s')" % (self.sensors[bad[0]], bad[0])) if bad else "a sensor id in 'sensors'"
            return CONFIG, ("HTTP 400 %s: %s is not in box %s: copy the sensor ids from the box's page on "
                            "opensensemap.org into the uplink's 'sensors'" % (why, which, self.box))
        if status == 401:
            return CONFIG, "HTTP 401: the box refused the access token: copy it from the box's settings"
        if status == 404:
            return CONFIG, "HTTP 404 %s: box %s not found: check 'box_id' and 'url'" % (why, self.box)
        if status == 422 and "invalid sensor id" in why.lower():
            # the API's decoder refuses an id that is not 24 hex characters: a config typo, not a
            # bad reading (skipping would throw every reading away while the status says ok)
            from airkit_fw.uplinks.opensensemap_spec import hex_id
            bad = [k for k in self.sensors if self.sensors[k] and not hex_id(self.sensors[k])]
            which = ("sensor id for '%s'" % bad[0]) if bad else "a sensor id in 'sensors'"
            return CONFIG, ("HTTP 422 %s: %s is not an openSenseMap id (24 hex characters): copy the ids from "
                            "the box's page on opensensemap.org into the uplink's 'sensors'" % (why, which))
        if status == 422:
            return REJECTED, "HTTP 422 %s: the server refused a value" % why
        return RETRY, "HTTP %d %s: server busy or failing, retrying later" % (status, why)

    def send(self, records, parts):
        recs = [r for r in records if r["time"] is not None]
        if recs:
            b = self.board
            sensors = self.sensors
            which = self.which

            def body(w):
                for r in recs:
                    csv_lines(r, sensors, b, which, w)

            status, retry, resp = self.post(records, self.url, self._hdrs, body)
            self.check(status, retry, resp)
        self.skipped += len(records) - len(recs)
        self.ack(records[-1]["seq"])
