"""Real loopback servers for the uplink tests: the collector, Mosquitto (or amqtt),
an InfluxDB line-protocol receiver."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from airkit.collect.server import Collector
from airkit.collect.store import Store

TOKEN = "test-token-4f9a2c"
MAC = "24:0a:c4:12:34:56"
NODE = "esp32-563412c40a24"
SC_STATION = "sc-yard"                   # the public station id the node's pushes are filed under
SC_KEY = {"X-Airkit-Token": TOKEN}       # the node's secret, as the firmware sends it


def start_collector(tmp: Path, device="station-1"):
    store = Store(tmp / "collect.sqlite")
    store.add_device(device, "json", TOKEN)
    store.add_device(NODE, "sc", TOKEN, station=SC_STATION)
    return Collector(store, "127.0.0.1", 0).start()


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Broker:
    """Mosquitto on a free loopback port; amqtt when mosquitto is not installed."""

    def __init__(self, tmp: Path, port=None):
        self.tmp = tmp
        self.port = port or free_port()
        exe = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
        if exe:
            conf = tmp / "mosquitto.conf"
            conf.write_text("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n" % self.port)
            self.proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.kind = "mosquitto"
        else:
            import sys
            conf = tmp / "amqtt.yaml"
            conf.write_text("listeners:\n  default:\n    type: tcp\n    bind: 127.0.0.1:%d\n"
                            "plugins:\n  amqtt.plugins.authentication.AnonymousAuthPlugin:\n"
                            "    allow_anonymous: true\n" % self.port)
            amqtt = Path(sys.executable).parent / "amqtt"
            self.proc = subprocess.Popen([str(amqtt), "-c", str(conf)], stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
            self.kind = "amqtt"
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("the MQTT broker (%s) did not start" % self.kind)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def restart(self):
        """Stop and start again on the same port, without persistence: retained messages
        and sessions are gone, as after a real broker restart without persistence."""
        self.stop()
        deadline = time.time() + 10
        while True:
            try:
                self.__init__(self.tmp, self.port)
                return
            except RuntimeError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)


class _Loopback(ThreadingHTTPServer):
    """An HTTP server on a free loopback port, served from a daemon thread."""

    daemon_threads = True

    def _start(self, handler):
        super().__init__(("127.0.0.1", 0), handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self):
        return self.server_address[1]

    def stop(self):
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass


class InfluxReceiver(_Loopback):
    """Accepts InfluxDB 1.x ``/write`` requests and keeps the parsed lines (204 like InfluxDB)."""

    def __init__(self):
        self.lines: list[str] = []
        self.queries: list[str] = []
        outer = self

        class H(_Handler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(n).decode()
                if not self.path.startswith("/write"):
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                outer.queries.append(self.path)
                outer.lines.extend(ln for ln in body.split("\n") if ln)
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.send_header("Connection", "close")
                self.end_headers()

        self._start(H)


# --- Faithful stand-ins: they answer as the real servers do (upload-protocols reference,
# "How the real servers answer"): no de-duplication, real status codes, realistic latency.

import json as _json
import random as _random
from datetime import datetime as _dt, timedelta as _td, timezone as _tz

SC_VALUE_TYPES = {"P0", "P1", "P2", "P4", "temperature", "humidity", "pressure", "noise_LAeq"}


class _Server(_Loopback):
    allow_reuse_address = True

    def __init__(self, latency=(0.06, 0.175), seed=1):
        self.latency = latency
        self.rng = _random.Random(seed)
        self.lock = threading.Lock()
        outer = self

        class H(_Handler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
                with outer.lock:
                    lo, hi = outer.latency
                    delay = outer.rng.uniform(lo, hi) if hi else 0
                if delay:
                    time.sleep(delay)
                with outer.lock:
                    code, text, ctype = outer.handle_post(self.path, self.headers, body)
                data = text.encode()
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)
                self.close_connection = True

        self._start(H)


class SensorCommunityServer(_Server):
    """``feinstaub-api``'s push endpoint as it answers: node by ``X-Sensor``/``Sensor``/``Node``
    (exact match, else 403); a node with one sensor files every push under it, with several
    ``X-PIN`` must match one (else 400); unknown value type, null value, empty list or a
    malformed timestamp 400; the same value type twice 500 (an empty row left behind);
    ``timestamp`` stored as the reading time (no zone: UTC); every push a new row."""

    def __init__(self, nodes, latency=(0.06, 0.175), seed=1):
        self.nodes = nodes                 # node id -> list of sensor pins registered (None: any node)
        self.nodes_seen = set()
        self.rows = []                     # dicts: node, pin, timestamp, values
        self.answers = []                  # status codes, in order
        super().__init__(latency, seed)

    def handle_post(self, path, headers, body):
        code, text = self._answer(path, headers, body)
        self.answers.append(code)
        return code, text, "application/json"

    def _answer(self, path, headers, body):
        if not path.startswith("/v1/push-sensor-data"):
            return 404, '{"detail":"Not found."}'
        node = headers.get("X-Sensor") or headers.get("Sensor") or headers.get("Node")
        if self.nodes is None and node:            # any node, registered with a PMS (1) and a DHT22 (7)
            self.nodes_seen.add(node)
            pins = [1, 7]
        elif node not in (self.nodes or {}):
            return 403, '{"detail":"Node not found in database."}'
        else:
            pins = self.nodes[node]
        if len(pins) == 1:
            pin = pins[0]
        else:
            try:
                pin = int(headers.get("X-PIN") or headers.get("PIN") or 0)
            except ValueError:
                pin = 0
            if pin not in pins:
                return 400, '["sensor could not be selected."]'
        try:
            d = _json.loads(body)
        except ValueError:
            return 400, '{"detail":"JSON parse error"}'
        vals = d.get("sensordatavalues")
        if not vals:
            return 400, '{"sensordatavalues":["This field is required."]}'
        stamp = None
        if "timestamp" in d:
            try:
                stamp = _dt.fromisoformat(d["timestamp"].replace("Z", "+00:00"))
            except (ValueError, AttributeError, TypeError):
                return 400, '{"timestamp":["Datetime has wrong format."]}'
            if stamp.tzinfo is None:
                stamp = stamp.replace(tzinfo=_tz.utc)
        types = []
        for v in vals:
            if v.get("value_type") not in SC_VALUE_TYPES:
                return 400, '{"sensordatavalues":[{"value_type":["not a known value type"]}]}'
            if v.get("value") is None:
                return 400, '{"sensordatavalues":[{"value":["This field may not be null."]}]}'
            types.append(v["value_type"])
        if len(set(types)) != len(types):
            self.rows.append({"node": node, "pin": pin, "timestamp": stamp, "values": {}})
            return 500, "<h1>Server Error (500)</h1>"
        self.rows.append({"node": node, "pin": pin, "timestamp": stamp,
                          "values": {v["value_type"]: v["value"] for v in vals}})
        return 201, _json.dumps({"sensordatavalues": vals})

    def duplicates(self):
        seen = {}
        for r in self.rows:
            k = (r["node"], r["pin"], r["timestamp"], tuple(sorted(r["values"].items())))
            seen[k] = seen.get(k, 0) + 1
        return sum(n - 1 for n in seen.values())


class OpenSenseMapServer(_Server):
    """openSenseMap's ``POST /boxes/:boxId/data`` as it answers (its own CSV decoder and
    checks): wrong token 401, unknown box 404, a sensor id not in the box 400, decoder
    errors 422 (a sensor id that is not 24 hex characters: "Invalid sensor id", bad value, ``nan``, a time not ``YYYY-MM-DDTHH:MM:SSZ``, more than a minute in
    the future, more than 2,500 values), 201 otherwise; no de-duplication."""

    def __init__(self, box, sensors, token, latency=(0.03, 0.12), seed=2, now=None):
        self.box, self.sensor_ids, self.token = box, set(sensors), token
        self.now = now or (lambda: _dt.now(_tz.utc))
        self.values = []                   # (sensor id, value, createdAt text)
        self.answers = []
        super().__init__(latency, seed)

    def handle_post(self, path, headers, body):
        code, text = self._answer(path, headers, body.decode("utf-8", "replace"))
        self.answers.append(code)
        return code, text, "application/json"

    def _answer(self, path, headers, text):
        parts = path.split("?")[0].strip("/").split("/")
        if len(parts) != 3 or parts[0] != "boxes" or parts[2] != "data" or parts[1] != self.box:
            return 404, '{"code":"NotFound","message":"Box not found"}'
        if headers.get("Authorization") != self.token:
            return 401, '{"code":"Unauthorized","message":"Box access token not valid!"}'
        if not headers.get("Content-Type", "").startswith("text/csv"):
            return 415, '{"code":"UnsupportedMediaType","message":"Unsupported content-type"}'
        rows = [ln for ln in text.split("\n") if ln.strip()]
        if len(rows) > 2500:
            return 422, '{"code":"UnprocessableEntity","message":"Too many measurements. Please submit at most 2500 measurements at once."}'
        out = []
        for ln in rows:
            f = ln.strip().split(",")
            if len(f) < 2:
                return 422, '{"code":"UnprocessableEntity","message":"Cannot decode measurement"}'
            if len(f[0]) != 24 or any(c not in "0123456789abcdefABCDEF" for c in f[0]):
                return 422, '{"code":"UnprocessableEntity","message":"Invalid sensor id"}'
            try:
                v = float(f[1])
                if v != v:
                    raise ValueError
            except ValueError:
                return 422, '{"code":"UnprocessableEntity","message":"Measurement value is not a number"}'
            t = f[2] if len(f) > 2 else None
            if t is not None:
                try:
                    when = _dt.strptime(t, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=_tz.utc)
                except ValueError:
                    return 422, '{"code":"UnprocessableEntity","message":"Invalid time format"}'
                if when > self.now() + _td(minutes=1):
                    return 422, '{"code":"UnprocessableEntity","message":"Timestamp is more than one minute in the future"}'
            out.append((f[0], v, t))
        for sid, _, _ in out:
            if sid not in self.sensor_ids:
                return 400, '{"code":"BadRequest","message":"sensor %s is not in box %s"}' % (sid, self.box)
        self.values.extend(out)
        return 201, '"Measurements saved in box"'

    def duplicates(self):
        seen = {}
        for v in self.values:
            seen[v] = seen.get(v, 0) + 1
        return sum(n - 1 for n in seen.values())


class FaultProxy:
    """An HTTP proxy on loopback that answers a share of requests itself with 500, 502, 503
    or 429, or holds them without an answer ("timeout": the request never reaches the
    server, as when a connection dies on the way), and forwards the rest unchanged. The
    faulty answers never reach the server, so a resend is never a duplicate by the proxy's
    doing. ``slow`` (seconds) delays forwarded answers instead."""

    KINDS = ("500", "502", "503", "429", "timeout")

    def __init__(self, upstream_port, rate=0.1, seed=3, kinds=KINDS, slow=0.0, hold_s=30.0):
        self.upstream = upstream_port
        self.rate, self.kinds, self.slow, self.hold_s = rate, kinds, slow, hold_s
        self.rng = _random.Random(seed)
        self.faults = {}
        self.forwarded = 0
        self._stop = threading.Event()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._stop.is_set():
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    @staticmethod
    def _read_request(c):
        c.settimeout(10)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = c.recv(4096)
            if not chunk:
                return None
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        n = 0
        for ln in head.split(b"\r\n")[1:]:
            k, _, v = ln.partition(b":")
            if k.strip().lower() == b"content-length":
                n = int(v.strip())
        while len(rest) < n:
            chunk = c.recv(4096)
            if not chunk:
                return None
            rest += chunk
        return head + b"\r\n\r\n" + rest

    def _serve(self, c):
        try:
            req = self._read_request(c)
            if req is None:
                return
            kind = None
            if self.rng.random() < self.rate:
                kind = self.rng.choice(self.kinds)
                self.faults[kind] = self.faults.get(kind, 0) + 1
            if kind == "timeout":
                c.settimeout(self.hold_s)
                try:
                    c.recv(1)           # until the station gives up and closes
                except OSError:
                    pass
                return
            if kind:
                status = {"500": "500 Internal Server Error", "502": "502 Bad Gateway",
                          "503": "503 Service Unavailable", "429": "429 Too Many Requests"}[kind]
                body = b"<html><body>%s</body></html>" % status.encode()
                c.sendall(b"HTTP/1.1 %s\r\nContent-Type: text/html\r\nContent-Length: %d\r\n"
                          b"Connection: close\r\n\r\n%s" % (status.encode(), len(body), body))
                return
            up = socket.create_connection(("127.0.0.1", self.upstream), 10)
            try:
                up.sendall(req)
                resp = b""
                while True:
                    chunk = up.recv(65536)
                    if not chunk:
                        break
                    resp += chunk
            finally:
                up.close()
            self.forwarded += 1
            if self.slow:
                time.sleep(self.slow)
            c.sendall(resp)
        except OSError:
            pass
        finally:
            c.close()

    def stop(self):
        self._stop.set()
        self.sock.close()


class InfluxServer:
    """A real InfluxDB 1.x (Debian's ``influxd``) in a temp dir on free loopback ports, with
    authentication on, an admin user and one database."""

    USER = "airkit-admin"
    PASSWORD = "influx-pass-7c1e"

    def __init__(self, tmp: Path, db="airkit"):
        import urllib.parse
        import urllib.request
        self._up, self._ur = urllib.parse, urllib.request
        exe = shutil.which("influxd") or "/usr/bin/influxd"
        if not Path(exe).exists():
            import pytest
            pytest.skip("influxd (Debian package influxdb) is not installed: run 'make setup' as root")
        self.port = free_port()
        rpc = free_port()
        d = tmp / "influx"
        conf = tmp / "influxdb.conf"
        conf.write_text(
            'reporting-enabled = false\nbind-address = "127.0.0.1:%d"\n'
            '[meta]\n  dir = "%s/meta"\n'
            '[data]\n  dir = "%s/data"\n  wal-dir = "%s/wal"\n  query-log-enabled = false\n'
            '[monitor]\n  store-enabled = false\n'
            '[http]\n  bind-address = "127.0.0.1:%d"\n  auth-enabled = true\n  log-enabled = false\n'
            '[continuous_queries]\n  enabled = false\n' % (rpc, d, d, d, self.port))
        self.proc = subprocess.Popen([exe, "-config", str(conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while True:
            try:
                self._ur.urlopen("http://127.0.0.1:%d/ping" % self.port, timeout=1).read()
                break
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError("influxd did not start")
                time.sleep(0.1)
        try:
            # with auth on and no user yet, the first admin may be created without credentials
            self.query("CREATE USER \"%s\" WITH PASSWORD '%s' WITH ALL PRIVILEGES" % (self.USER, self.PASSWORD),
                       auth=False)
            self.query('CREATE DATABASE "%s"' % db)
        except Exception:
            self.stop()
            raise
        self.db = db

    def query(self, q, db=None, auth=True):
        params = {"q": q}
        if db:
            params["db"] = db
        req = self._ur.Request("http://127.0.0.1:%d/query" % self.port,
                               data=self._up.urlencode(params).encode(), method="POST")
        if auth:
            import base64
            req.add_header("Authorization", "Basic " + base64.b64encode(
                ("%s:%s" % (self.USER, self.PASSWORD)).encode()).decode())
        with self._ur.urlopen(req, timeout=10) as r:
            return _json.loads(r.read())

    def points(self, measurement="feinstaub"):
        res = self.query('SELECT * FROM "%s"' % measurement.replace('"', '\\"'), db=self.db)
        out = []
        for s in res["results"][0].get("series", []):
            for row in s["values"]:
                out.append(dict(zip(s["columns"], row)))
        return out

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
