"""What the collector accepts, as a public service must check it (no web framework here).

- JSON bodies: parsed with the standard library, nesting deeper than ``MAX_DEPTH``
  is 400 (never a ``RecursionError``), ``NaN``/``Infinity`` and numbers that
  overflow to infinity (``1e309``) are 400.
- Sensor.Community pushes: a known ``X-PIN`` (1 PM sensor, 3 BMP180, 7 DHT22/SHT3x,
  11 BME280) whose value types fit it; known value types only; values numeric and
  finite; at most one value per type.
- Reading times: ISO 8601; before ``EARLIEST`` or more than ``FUTURE_S`` (2 minutes) ahead
  of the collector's clock is 400 (a station with a broken clock, or a forged reading meant to
  stay "latest").
- Who may write (every path needs the station's secret): a Sensor.Community push carries it in
  ``X-Airkit-Token`` (``SECRET_HEADER``; a header the real Sensor.Community server ignores, sent
  by the firmware only when its uplink has a ``token``); an airkit JSON batch in ``Authorization:
  Bearer``. The secret is checked before anything else in the request is looked at, and an
  unknown node, a known node without a secret and a wrong secret get the same answer.
- Values outside the physical range of the sensors (``RANGES``) are not stored:
  the column stays empty and the reading carries the flag ``range:<column>=<value>``
  (the raw value kept in the flag, so nothing is silently lost).
"""

from __future__ import annotations

import hmac
import json
import math
import time

from airkit.collect.store import VALUE_COLUMNS, epoch_of, iso_of, token_hash
from airkit_fw.uplinks.sensor_community import PM_HEADER, PM_KINDS, pm_columns

SC_PATH = "/v1/push-sensor-data/"
SECRET_HEADER = "X-Airkit-Token"
NODE_REFUSED = "Node not found, or its X-Airkit-Token is missing or wrong"
TOKEN_REFUSED = "missing or wrong device token"
_NO_SECRET = token_hash("\0 no secret")         # compared against when there is none: the same work
BATCH_PATH = "/api/v1/batch"
SC_TYPES = {"P0": "pm1_atm", "P1": "pm10_atm", "P2": "pm25_atm", "temperature": "temp_c",
            "humidity": "rh"}        # P0/P1/P2: atm unless the push says cf1 (``X-Airkit-PM``)
SC_OTHER_TYPES = {"pressure", "pressure_at_sealevel"}          # known to Sensor.Community; not stored here
SC_PINS = {1: {"P0", "P1", "P2"}, 3: {"temperature", "pressure", "pressure_at_sealevel"},
           7: {"temperature", "humidity"}, 11: {"temperature", "humidity", "pressure", "pressure_at_sealevel"}}
MAX_DEPTH = 6
MAX_RECORDS = 5000
EARLIEST = epoch_of("2015-01-01T00:00:00Z")
FUTURE_S = 120
MAX_PENDING = 1 << 31
_MASS = (0.0, 1000.0)          # PMS5003: effective range 0-500, maximum 1000 ug/m3
_COUNT = (0.0, 65535.0)        # 16-bit counts per 0.1 L
RANGES = {"pm1_cf1": _MASS, "pm25_cf1": _MASS, "pm10_cf1": _MASS, "pm1_atm": _MASS, "pm25_atm": _MASS,
          "pm10_atm": _MASS, "n0_3": _COUNT, "n0_5": _COUNT, "n1_0": _COUNT, "n2_5": _COUNT, "n5_0": _COUNT,
          "n10": _COUNT, "rh": (0.0, 100.0), "temp_c": (-40.0, 85.0), "pm25_corrected": (-50.0, 1500.0)}


class FailedAuth:
    """Failed authentications per client address: after ``limit`` failures within ``window_s``
    seconds the client is answered 429 (with Retry-After) until the window has passed, whatever it
    sends, so a node id or token cannot be guessed at network speed. Memory is bounded (the
    oldest clients are forgotten first)."""

    def __init__(self, limit=30, window_s=60.0, max_clients=10000):
        import threading
        from collections import OrderedDict

        self.limit, self.window_s, self.max_clients = limit, window_s, max_clients
        self._fails = OrderedDict()          # client -> (window start, failures)
        self._lock = threading.Lock()

    def retry_after(self, client, now=None) -> int:
        """Seconds the client must wait (0: it may try)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            start, n = self._fails.get(client, (now, 0))
            if now - start >= self.window_s:
                self._fails.pop(client, None)
                return 0
            return max(1, int(start + self.window_s - now + 0.999)) if n >= self.limit else 0

    def failed(self, client, now=None):
        now = time.monotonic() if now is None else now
        with self._lock:
            start, n = self._fails.pop(client, (now, 0))
            if now - start >= self.window_s:
                start, n = now, 0
            self._fails[client] = (start, n + 1)
            while len(self._fails) > self.max_clients:
                self._fails.popitem(last=False)


class Reject(Exception):
    """A request the collector refuses: HTTP status and a one-line reason."""

    def __init__(self, status, detail):
        super().__init__(detail)
        self.status = status
        self.detail = detail



def flag_text(names: list) -> str:
    """The stored form of a reading's flags: the firmware's names in bit order (``airkit_fw.flags``,
    the one list both sides use), then any name this version does not know (a newer station's) as sent."""
    from airkit_fw import flags

    unknown: list = []
    b = flags.bits(names, unknown)
    return ";".join(flags.names(b) + [n for n in unknown if n])

def _refuse_constant(name):
    raise ValueError("%s is not a number JSON allows" % name)


def load_json(body: bytes):
    """Parse a request body; Reject(400) for anything that is not plain, finite, shallow JSON.
    (The standard parser turns deep nesting into RecursionError, caught here; the depth
    of what it returns is checked without recursion.)"""
    try:
        data = json.loads(body, parse_constant=_refuse_constant)
    except RecursionError:
        raise Reject(400, "JSON nested deeper than %d levels" % MAX_DEPTH)
    except ValueError:
        raise Reject(400, "body is not JSON")
    if _depth(data) > MAX_DEPTH:
        raise Reject(400, "JSON nested deeper than %d levels" % MAX_DEPTH)
    return data


def _depth(v, d=1):
    stack = [(v, d)]
    worst = 0
    while stack:
        v, d = stack.pop()
        worst = max(worst, d)
        if isinstance(v, dict):
            stack.extend((x, d + 1) for x in v.values())
        elif isinstance(v, list):
            stack.extend((x, d + 1) for x in v)
    return worst


def reading_epoch(value, what="time") -> int:
    if not isinstance(value, str) or len(value) > 40:
        raise Reject(400, "%s must be an ISO 8601 string" % what)
    try:
        ep = epoch_of(value)
    except (ValueError, OverflowError, OSError):
        raise Reject(400, "%s %r is not ISO 8601" % (what, value))
    if ep < EARLIEST or ep > time.time() + FUTURE_S:
        raise Reject(400, "%s %s is outside the plausible range (2015 to %d s after the collector's clock): "
                          "check the station's clock" % (what, value, FUTURE_S))
    return ep


def check_values(row: dict) -> None:
    """Out-of-range values leave the row (kept in a flag); non-finite ones are refused."""
    bad = []
    for c, (lo, hi) in RANGES.items():
        v = row.get(c)
        if v is None:
            continue
        try:
            v = row[c] = float(v)                    # an int beyond 64 bits would overflow the database
        except OverflowError:                        # an integer with hundreds of digits
            raise Reject(400, "%s is not a finite number" % c)
        if not math.isfinite(v):
            raise Reject(400, "%s is not a finite number" % c)
        if not lo <= v <= hi:
            bad.append("range:%s=%g" % (c, v))
            row[c] = None
    if bad:
        row["flags"] = ";".join(([row["flags"]] if row.get("flags") else []) + bad)


def _header(headers, *names):
    for n in names:
        v = headers.get(n)
        if v:
            return v
    return None


def secret_ok(given: str | None, want_hash: str | None) -> bool:
    """Constant-time check of a presented secret against a stored SHA-256 (the same work when
    there is no stored secret, so an answer's timing does not tell known ids from unknown)."""
    ok = hmac.compare_digest(token_hash(given or ""), want_hash or _NO_SECRET)
    return ok and bool(given) and bool(want_hash)


def auth_sc(store, headers):
    """The node of a Sensor.Community push, or Reject(403) (the same for every reason)."""
    node = _header(headers, "X-Sensor", "Sensor", "Node")
    known = store.device(node) if node and len(node) <= 64 else None
    want = store.secret_hash(node) if known is not None and known[1] == "sc" else None
    if not secret_ok(headers.get(SECRET_HEADER), want):
        raise Reject(403, NODE_REFUSED)
    return known


def parse_sc(store, headers, body: bytes, now=None) -> tuple[list[dict], dict]:
    """A Sensor.Community push -> ([row], the parsed body to echo back)."""
    known = auth_sc(store, headers)
    node = known[0]
    data = load_json(body)
    if not isinstance(data, dict) or not isinstance(data.get("sensordatavalues"), list) \
            or not data["sensordatavalues"]:
        raise Reject(400, "sensordatavalues: a non-empty list is required")
    pin = _header(headers, "X-PIN", "X-Pin", "PIN")
    allowed = None
    if pin is not None:
        try:
            allowed = SC_PINS[int(pin)]
        except (ValueError, KeyError):
            raise Reject(400, "X-PIN %s is not a known sensor pin (1 PM, 3 BMP180, 7 DHT22, 11 BME280)" % pin[:8])
    row = {"device": known[3] or node}        # filed under its station when one was given
    # which PMS values P0/P1/P2 are: an airkit station says so (atm or cf1); airrohr sends atm
    which = _header(headers, PM_HEADER)
    cols = pm_columns(which if which in PM_KINDS else "atm")
    seen = set()
    for item in data["sensordatavalues"]:
        if not isinstance(item, dict) or not isinstance(item.get("value_type"), str) or "value" not in item:
            raise Reject(400, "sensordatavalues: each item needs value_type and value")
        vt = item["value_type"]
        if vt not in SC_TYPES and vt not in SC_OTHER_TYPES:
            raise Reject(400, "value_type %r is not known" % vt[:32])
        if allowed is not None and vt not in allowed:
            raise Reject(400, "value_type %s does not belong to X-PIN %s" % (vt, pin))
        if vt in seen:
            raise Reject(400, "value_type %s appears twice" % vt)
        seen.add(vt)
        val = item["value"]
        if isinstance(val, bool) or not isinstance(val, (str, int, float)) or (isinstance(val, str) and len(val) > 32):
            raise Reject(400, "sensordatavalues: value %r is not a number" % (str(val)[:32],))
        try:
            v = float(val)
        except ValueError:
            raise Reject(400, "sensordatavalues: value %r is not a number" % (val,))
        if not math.isfinite(v):
            raise Reject(400, "sensordatavalues: value %r is not a finite number" % (val,))
        col = cols.get(vt) or SC_TYPES.get(vt)
        if col:
            row[col] = v
    ts = data.get("timestamp")
    if ts is not None:
        row["epoch"] = reading_epoch(ts, "timestamp")
    else:
        row["epoch"] = int(now if now is not None else time.time())
    row["time"] = iso_of(row["epoch"])
    check_values(row)
    return [row], data


def parse_batch(store, headers, body: bytes) -> tuple[list[dict], int, dict]:
    """An airkit JSON batch -> (rows, number of untimed records, station facts)."""
    data = load_json(body)
    if not isinstance(data, dict) or not isinstance(data.get("device"), str) or not isinstance(data.get("records"), list):
        raise Reject(400, "expected {\"device\": ..., \"records\": [...]}")
    dev = store.device(data["device"]) if len(data["device"]) <= 200 else None
    auth = _header(headers, "Authorization") or ""
    token = auth[7:] if auth.startswith("Bearer ") else ""
    # an unknown device and a wrong token get the same answer
    if not secret_ok(token, dev[2] if dev is not None and dev[1] == "json" else None):
        raise Reject(401, TOKEN_REFUSED)
    if len(data["records"]) > MAX_RECORDS:
        raise Reject(413, "more than %d records in one batch" % MAX_RECORDS)
    model = data.get("model")
    if model is not None and (not isinstance(model, str) or len(model) > 100):
        raise Reject(400, "model must be a string")
    fw = data.get("fw")
    pending = data.get("pending")
    if isinstance(pending, int) and not isinstance(pending, bool) and not 0 <= pending < MAX_PENDING:
        raise Reject(400, "pending must be a whole number from 0 to 2^31")
    meta = {"fw": fw[:40] if isinstance(fw, str) else None, "model": model,
            "pending": pending if isinstance(pending, int) and not isinstance(pending, bool) else None}
    rows = []
    untimed = 0
    for rec in data["records"]:
        if not isinstance(rec, dict):
            raise Reject(400, "records must be objects")
        t = rec.get("time")
        if t is None:
            untimed += 1
            continue
        ep = reading_epoch(t, "record time")
        seq = rec.get("seq")
        if seq is not None and (not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 1 << 53):
            raise Reject(400, "record seq must be a whole number from 0 to 2^53")
        row = {"device": data["device"], "epoch": ep, "time": iso_of(ep), "seq": seq}
        for c in VALUE_COLUMNS:
            v = rec.get(c)
            if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool)):
                raise Reject(400, "record field %s must be a number" % c)
            row[c] = v
        flags = rec.get("flags", [])
        if not isinstance(flags, list) or not all(isinstance(f, str) and len(f) <= 40 for f in flags):
            raise Reject(400, "record flags must be a list of names")
        row["flags"] = flag_text(flags)
        row["model"] = model
        check_values(row)
        rows.append(row)
    return rows, untimed, meta
