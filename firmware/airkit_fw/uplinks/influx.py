"""InfluxDB line protocol, as airrohr sends it, plus an explicit timestamp.

One line per reading::

    feinstaub,node=esp32-<chipid> PMS_P0=3.00,PMS_P1=8.00,PMS_P2=6.00,temperature=21.30,humidity=55.20 1767571500

airrohr sends no timestamp (the server's receive time is used); airkit
appends the reading's UTC time in seconds (``precision=s``) so backfilled
readings land at their real time. Field names and the atmospheric PM values
follow airrohr. Measurement and tag names are escaped (spaces, commas,
equals signs).

Where and how (uplink config):

- InfluxDB 1.x: ``url`` ``http://host:8086`` and ``db``; with authentication
  on, ``username`` and ``password`` (sent as HTTP Basic, never in the URL).
  ``POST /write?db=<db>&precision=s``. A URL that already has a path
  (``.../write?db=x``) is used as given.
- InfluxDB 2.x: ``url``, ``org``, ``bucket`` and ``token``:
  ``POST /api/v2/write?org=..&bucket=..&precision=s`` with
  ``Authorization: Token <token>``. (``token`` without ``bucket`` goes to
  2.x's 1.x-compatible ``/write``, which needs a DBRP mapping.)

What the answers mean: 204 stored; 401/403 credentials refused and 404
database (or bucket) not found: configuration, readings kept; **400 "partial
write"**: the good lines *were* stored, the others never will be (a field
type conflict, points beyond the retention policy): the batch is
acknowledged, the dropped lines are counted as rejected and the server's
reason is kept in the status line; any other 400 (nothing parsed): the
batch is halved until the refused reading is alone, then it is skipped.
"""

try:
    from micropython import const
except ImportError:
    def const(v):
        return v

from airkit_fw.uplinks.base import Uplink, CONFIG, REJECTED, RETRY, OK, short
from airkit_fw.uplinks.fmt import f2, chip_id

_PARTIAL = "partial write"


def escape(s, chars=", ="):
    """Line-protocol escaping of a measurement (``, ``) or tag key/value (``, =``)."""
    for c in chars:
        if c in s:
            s = s.replace(c, "\\" + c)
    return s


def _quote(s):
    out = []
    for c in s:
        out.append(c if c.isalpha() or c.isdigit() or c in "-_.~" else "".join("%%%02X" % b for b in c.encode()))
    return "".join(out)


def line(rec, node, which="atm", measurement="feinstaub", write=None):
    """One reading's line (None when it has no values); or written piece by piece to ``write``."""
    has_pm = rec.get("pm1_" + which) is not None
    t = rec.get("temp_c")
    h = rec.get("rh")
    if not has_pm and t is None and h is None:
        return None
    out = [] if write is None else None
    w = out.append if write is None else write
    w(escape(measurement, ", "))
    w(",node=")
    w(escape(node))
    sep = " "
    if has_pm:
        w(" PMS_P0=%s,PMS_P1=%s,PMS_P2=%s" % (f2(rec["pm1_" + which]), f2(rec["pm10_" + which]),
                                              f2(rec["pm25_" + which])))
        sep = ","
    if t is not None:
        w(sep + "temperature=" + f2(t))
        sep = ","
    if h is not None:
        w(sep + "humidity=" + f2(h))
    w(" %d" % rec["time"])
    if write is None:
        return "".join(out)
    write("\n")
    return None


def dropped(body):
    """How many points a 400 "partial write" answer says were dropped (None: not a partial write)."""
    if isinstance(body, (bytes, bytearray)):
        body = bytes(body).decode()
    if _PARTIAL not in body:
        return None
    i = body.rfind("dropped=")
    if i < 0:
        return 0
    j = i + 8
    while j < len(body) and body[j].isdigit():
        j += 1
    try:
        return int(body[i + 8:j])
    except ValueError:
        return 0


class Influx(Uplink):
    kind = "influx"
    batch = 100

    def __init__(self, board, ucfg, station):
        super().__init__(board, ucfg, station)
        url = ucfg.get("url").rstrip("/")     # keys and defaults: influx_spec.py
        i = url.find("://")
        has_path = url.find("/", i + 3) >= 0
        bucket = ucfg.get("bucket")
        if bucket:
            url = "%s/api/v2/write?org=%s&bucket=%s" % (url, _quote(ucfg.get("org") or ""), _quote(bucket))
        elif not has_path:
            url = "%s/write?db=%s" % (url, _quote(ucfg.get("db")))
        if "precision=" not in url:
            url += ("&" if "?" in url else "?") + "precision=s"
        self.url = url
        self.measurement = ucfg.get("measurement")
        self.which = ucfg.get("pm")
        self.node = "esp32-" + chip_id(board.mac())
        hdrs = [("Content-Type", "text/plain; charset=utf-8")]
        token = ucfg.get("token")
        user = ucfg.get("username")
        if token:
            hdrs.append(("Authorization", "Token " + token))
        elif user:
            import binascii
            cred = binascii.b2a_base64(("%s:%s" % (user, ucfg.get("password") or "")).encode()).strip()
            hdrs.append(("Authorization", "Basic " + cred.decode()))
        self._hdrs = hdrs

    def probe_request(self):
        return self.url, self._hdrs, ""        # an empty write: credentials and database are checked first

    def classify(self, status, body=b""):
        why = short(body)
        if 200 <= status < 300:
            return OK, "stored (HTTP %d)" % status
        if status == 400 and dropped(body) is not None:
            return OK, "HTTP 400 %s" % why
        if status in (401, 403):
            return CONFIG, ("HTTP %d %s: InfluxDB refused the credentials: set 'username' and 'password' "
                            "(1.x) or 'token' with 'org' and 'bucket' (2.x)" % (status, why))
        if status == 404:
            return CONFIG, "HTTP 404 %s: database or bucket not found: create it or fix 'db'/'bucket'" % why
        if status == 400:
            return REJECTED, "HTTP 400 %s" % why
        return RETRY, "HTTP %d %s: server busy or failing, retrying later" % (status, why)

    def send(self, records, parts):
        recs = [r for r in records if r["time"] is not None]
        lines = 0
        for r in recs:
            if r.get("pm1_" + self.which) is not None or r.get("temp_c") is not None or r.get("rh") is not None:
                lines += 1
        if lines:
            node = self.node
            which = self.which
            meas = self.measurement

            def body(w):
                for r in recs:
                    line(r, node, which, meas, w)

            status, retry, resp = self.post(records, self.url, self._hdrs, body)
            if status == 400:
                n = dropped(resp)
                if n is not None:
                    # the good lines were stored: acknowledge the batch, count what was dropped
                    n = n if n <= lines else lines
                    self.rejected += n
                    self.reason = short(resp)
                    if self.sink is not None:
                        rj = self.sink.journal.meta.setdefault("rejected", {})
                        rj[self.name] = rj.get(self.name, 0) + n
                        self.sink.log("uplink %s: %d of %d line(s) not stored: %s"
                                      % (self.name, n, lines, self.reason))
                    status = 204
            self.check(status, retry, resp)
        self.skipped += len(records) - len(recs)
        self.ack(records[-1]["seq"])
