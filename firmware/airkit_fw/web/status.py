"""The local status page and ``/data.json``, beside the measuring loop.

Opt-in (``"web": {"status": true}``; the setup portal offers it), on port 80 of
the station's address while WiFi is up. ``web.password`` puts both behind
HTTP Basic authentication (any user name; plain HTTP on the local network).

``/data.json`` is airrohr's, byte for byte in shape (``webserver_data_json``
in airrohr-firmware.ino): ``{"software_version": "...", "age":"<s since the
reading>", "sensordatavalues":[{"value_type":"PMS_P0","value":"5.00"}, ...]}``
with the PMS names airrohr uses for a Plantower sensor (``PMS_P0`` PM1,
``PMS_P1`` PM10, ``PMS_P2`` PM2.5: the atmospheric values, as the
Sensor.Community uplink sends them), the DHT22 as ``temperature`` and
``humidity``, then ``samples`` (PMS frames used), ``interval`` (ms) and
``signal`` (dBm) as airrohr appends them (its ``min_micro``/``max_micro``
loop timings have no meaning here and are left out). Values are strings with
two decimals. Before the first reading: ``"age":"0"`` and an empty list.

The server waits for connections during the station's idle time between
readings (it is the last service polled), in waits of at most 5 s with the
watchdog fed between them; one connection at a time, bounded (``server.py``).
"""

import gc

from airkit_fw import VERSION
from airkit_fw.web.server import Server, pick_lang

_WAIT_MS = 5000
SOFTWARE = "airkit-" + VERSION


class StatusPage:
    software = SOFTWARE
    def __init__(self, board, station, wifi, password=""):
        self.board = board
        self.station = station
        self.wifi = wifi
        self._pw = password           # never shown
        self.server = Server(board, 80)
        self.last = None
        self.last_at = 0
        self.up_ms = 0
        self._at = board.ticks_ms()

    def on_reading(self, d):
        self.last = d                 # the reading's own dict: nothing copied
        self.last_at = self.board.ticks_ms()
        self._listen()

    def _listen(self):
        """Listen from now on, also while the next reading is taken: a browser's request
        then waits in the backlog until the station is idle, instead of being refused."""
        if self.server.sock is None and (self.wifi is None or self.wifi.isconnected()):
            try:
                self.server.open()
            except OSError:
                self.server.close()

    def _tick(self):
        b = self.board
        now = b.ticks_ms()
        self.up_ms += b.ticks_diff(now, self._at)     # summed per wait: no 2^30 wrap trouble
        self._at = now

    def poll(self, deadline):
        b = self.board
        srv = self.server
        while True:
            self._tick()
            left = b.ticks_diff(deadline, b.ticks_ms()) - 100
            if left <= 0:
                return
            if self.wifi is not None and not self.wifi.isconnected():
                srv.close()
                return
            b.feed()
            try:
                srv.serve_once(left if left < _WAIT_MS else _WAIT_MS, self.handle)
            except OSError:
                srv.close()           # e.g. the link went away: opened again next time
                return
            except MemoryError:
                srv.close()
                gc.collect()
                return

    # --- answers ---------------------------------------------------------------------------
    def handle(self, req, out):
        if self._pw and not self._authorised(req.auth):
            out.start("401 Unauthorized", "text/plain", 'WWW-Authenticate: Basic realm="airkit station"\r\n')
            out.w("password needed\n")
            return
        if req.path == "/data.json":
            return self.data_json(out)
        if req.path in ("/", "/index.html"):
            return self.page(out, pick_lang(req))
        out.start("404 Not Found", "text/plain")
        out.w("not found\n")

    def _authorised(self, auth):
        if not auth.startswith("Basic "):
            return False
        import binascii
        try:
            got = binascii.a2b_base64(auth[6:]).decode()
        except Exception:
            return False
        got = got.split(":", 1)[1] if ":" in got else ""
        pw = self._pw
        diff = len(got) ^ len(pw)
        for i in range(len(pw)):          # the same time whatever matches
            diff |= (ord(got[i]) if i < len(got) else 0) ^ ord(pw[i])
        return diff == 0

    def age_s(self):
        if self.last is None:
            return 0
        return (self.board.ticks_diff(self.board.ticks_ms(), self.last_at) + 500) // 1000

    def data_json(self, out):
        out.start("200 OK", "application/json")
        w = out.w
        w('{"software_version": "%s", "age":"%d", "sensordatavalues":[' % (SOFTWARE, self.age_s()))
        d = self.last
        first = True
        if d is not None:
            for vt, key in (("PMS_P0", "pm1_atm"), ("PMS_P1", "pm10_atm"), ("PMS_P2", "pm25_atm"),
                            ("temperature", "temp_c"), ("humidity", "rh")):
                v = d.get(key)
                if v is None:
                    continue
                w('%s{"value_type":"%s","value":"%.2f"}' % ("" if first else ",", vt, v))
                first = False
            w('%s{"value_type":"samples","value":"%d"}' % ("" if first else ",", d.get("frames") or 0))
            w(',{"value_type":"interval","value":"%d"}' % self.station.interval_ms)
            rssi = self._rssi()
            if rssi is not None:
                w(',{"value_type":"signal","value":"%d"}' % rssi)
        w("]}")

    def _rssi(self):
        try:
            return self.wifi.wlan.status("rssi")
        except Exception:
            return None

    def page(self, out, lang):
        """The HTML page: its code (``statushtml.py``) is loaded for the answer and forgotten
        again, so it takes no heap while the station measures."""
        from airkit_fw.common import forget
        try:
            from airkit_fw.web import statushtml
        except MemoryError:
            forget(("web.statushtml",))
            gc.collect()
            out.start("503 Service Unavailable", "text/plain")
            out.w("short of memory right now: try again in a minute\n")
            return
        try:
            statushtml.write(self, out, lang)
        finally:
            statushtml = None
            forget(("web.statushtml",))
            gc.collect()
