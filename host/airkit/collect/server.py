"""The collector's HTTP endpoint (stdlib ``http.server``, threaded).

Why no web framework: the collector must install and run anywhere the
toolkit does (a school laptop, a Raspberry Pi) with nothing but CPython, and
the two APIs it serves are small and fixed; ``http.server`` plus explicit
checks (size limits, status codes) keeps every byte of behaviour visible
and testable.

Endpoints:

- ``POST /v1/push-sensor-data/`` — the Sensor.Community push API as the real
  server answers it: the node comes from ``X-Sensor`` (or ``Sensor``/``Node``)
  and must be registered (``airkit collect add-node``), else **403** "Node not
  found"; a body that is not a JSON object with a ``sensordatavalues`` list
  of ``{"value_type", "value"}`` (values numeric) is **400**; ``timestamp``
  (ISO 8601) is honoured, else the receive time is used. P0/P1/P2 are stored
  as PM1/PM10/PM2.5 atmospheric values (what Sensor.Community defines),
  ``temperature``/``humidity`` as temp_c/rh. Success: **201**.
- ``POST /api/v1/batch`` — the airkit JSON batch: ``Authorization: Bearer
  <token>`` checked against the device's stored token hash (401 wrong/missing,
  403 unknown device), 400 malformed, 200 ``{"accepted", "duplicates",
  "untimed"}``. Readings with no time are counted, not stored.
- ``GET /api/v1/stats`` — reading counts per device.

Every request body is limited (``max_body``, default 1 MiB): a larger
``Content-Length`` gets **413** without the body being read; a missing one
gets **411**. Readings are de-duplicated by (device, time).
"""

from __future__ import annotations

import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from airkit.collect.store import VALUE_COLUMNS, Store, now_iso, token_hash, utc_iso

SC_PATH = "/v1/push-sensor-data/"
BATCH_PATH = "/api/v1/batch"
SC_TYPES = {"P0": "pm1_atm", "P1": "pm10_atm", "P2": "pm25_atm", "temperature": "temp_c", "humidity": "rh"}
DEFAULT_MAX_BODY = 1 << 20


class Reject(Exception):
    def __init__(self, status, detail):
        super().__init__(detail)
        self.status = status
        self.detail = detail


def parse_sc(store: Store, headers, body: bytes) -> tuple[list[dict], dict]:
    node = headers.get("X-Sensor") or headers.get("Sensor") or headers.get("Node")
    known = store.device(node) if node else None
    if known is None:
        raise Reject(403, "Node not found")
    try:
        data = json.loads(body)
    except ValueError:
        raise Reject(400, "body is not JSON")
    if not isinstance(data, dict) or not isinstance(data.get("sensordatavalues"), list) \
            or not data["sensordatavalues"]:
        raise Reject(400, "sensordatavalues: a non-empty list is required")
    row = {"device": known[3] or node}        # filed under its station when one was given
    for item in data["sensordatavalues"]:
        if not isinstance(item, dict) or not isinstance(item.get("value_type"), str) or "value" not in item:
            raise Reject(400, "sensordatavalues: each item needs value_type and value")
        try:
            v = float(item["value"])
        except (TypeError, ValueError):
            raise Reject(400, "sensordatavalues: value %r is not a number" % (item["value"],))
        col = SC_TYPES.get(item["value_type"])
        if col:
            row[col] = v
    ts = data.get("timestamp")
    if ts is not None:
        if not isinstance(ts, str):
            raise Reject(400, "timestamp must be an ISO 8601 string")
        try:
            row["time"] = utc_iso(ts)
        except ValueError:
            raise Reject(400, "timestamp is not ISO 8601")
    else:
        row["time"] = now_iso()
    return [row], data


def parse_batch(store: Store, headers, body: bytes) -> tuple[list[dict], int]:
    try:
        data = json.loads(body)
    except ValueError:
        raise Reject(400, "body is not JSON")
    if not isinstance(data, dict) or not isinstance(data.get("device"), str) or not isinstance(data.get("records"), list):
        raise Reject(400, "expected {\"device\": ..., \"records\": [...]}")
    dev = store.device(data["device"])
    if dev is None or dev[1] != "json":
        raise Reject(403, "unknown device")
    auth = headers.get("Authorization") or ""
    token = auth[7:] if auth.startswith("Bearer ") else ""
    if not dev[2] or not token or not hmac.compare_digest(token_hash(token), dev[2]):
        raise Reject(401, "missing or wrong device token")
    model = data.get("model")
    if model is not None and not isinstance(model, str):
        raise Reject(400, "model must be a string")
    rows = []
    untimed = 0
    for rec in data["records"]:
        if not isinstance(rec, dict):
            raise Reject(400, "records must be objects")
        t = rec.get("time")
        if t is None:
            untimed += 1
            continue
        try:
            row = {"device": data["device"], "time": utc_iso(t), "seq": rec.get("seq")}
        except (ValueError, AttributeError):
            raise Reject(400, "record time %r is not ISO 8601" % (t,))
        for c in VALUE_COLUMNS:
            v = rec.get(c)
            if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool)):
                raise Reject(400, "record field %s must be a number" % c)
            row[c] = v
        flags = rec.get("flags", [])
        if not isinstance(flags, list):
            raise Reject(400, "record flags must be a list")
        row["flags"] = ";".join(str(f) for f in flags)
        row["model"] = model
        rows.append(row)
    return rows, untimed


class Handler(BaseHTTPRequestHandler):
    server_version = "airkit-collect"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):     # quiet; the collector reports counts instead
        if self.server.verbose:
            super().log_message(fmt, *args)

    def _send(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def _body(self):
        n = self.headers.get("Content-Length")
        if n is None:
            raise Reject(411, "Content-Length is required")
        try:
            n = int(n)
        except ValueError:
            raise Reject(400, "bad Content-Length")
        if n < 0:
            raise Reject(400, "bad Content-Length")
        if n > self.server.max_body:
            raise Reject(413, "request body over %d bytes" % self.server.max_body)
        return self.rfile.read(n)

    def do_POST(self):
        srv = self.server
        path = self.path.split("?", 1)[0]
        try:
            hook = srv.fault_hook
            if hook is not None and hook(self):
                return
            if path == SC_PATH or path == SC_PATH.rstrip("/"):
                body = self._body()
                rows, data = parse_sc(srv.store, self.headers, body)
                new, dup = srv.store.put(rows, "sensor_community")
                srv.count("sensor_community", new, dup)
                self._send(201, data)
            elif path == BATCH_PATH:
                body = self._body()
                rows, untimed = parse_batch(srv.store, self.headers, body)
                new, dup = srv.store.put(rows, "airkit_json")
                srv.count("airkit_json", new, dup)
                self._send(200, {"accepted": new, "duplicates": dup, "untimed": untimed})
            else:
                self._send(404, {"detail": "Not found."})
        except Reject as e:
            self._send(e.status, {"detail": e.detail})

    def do_GET(self):
        if self.path.split("?", 1)[0] == "/api/v1/stats":
            with self.server.store.lock:
                rows = self.server.store.db.execute(
                    "SELECT device, COUNT(*) FROM readings GROUP BY device").fetchall()
            self._send(200, {"devices": dict(rows), "requests": self.server.stats})
        else:
            self._send(200, {"service": "airkit collect", "push": SC_PATH, "batch": BATCH_PATH})


class Collector(ThreadingHTTPServer):
    """The collector server; ``start()`` runs it in a background thread."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, store: Store, host="127.0.0.1", port=8000, max_body=DEFAULT_MAX_BODY, verbose=False,
                 tls_cert=None, tls_key=None):
        super().__init__((host, port), Handler)
        if tls_cert:
            # https for stations that upload over the internet; the station verifies
            # this certificate against the CA pasted into its uplink's "ca".
            import ssl

            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls_cert, tls_key)
            self.socket = ctx.wrap_socket(self.socket, server_side=True)
        self.scheme = "https" if tls_cert else "http"
        self.store = store
        self.max_body = max_body
        self.verbose = verbose
        self.fault_hook = None          # tests: callable(handler) -> True when it answered itself
        self.stats = {}
        self._lock = threading.Lock()
        self._thread = None

    @property
    def port(self):
        return self.server_address[1]

    def count(self, api, new, dup):
        with self._lock:
            s = self.stats.setdefault(api, {"new": 0, "duplicates": 0})
            s["new"] += new
            s["duplicates"] += dup

    def start(self):
        self._thread = threading.Thread(target=self.serve_forever, name="airkit-collect", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self.shutdown()
        self.server_close()
