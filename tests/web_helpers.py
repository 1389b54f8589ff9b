"""A virtual board running in a thread, with its web server on a loopback port
(the station's port 80) and its DNS responder on another (its port 53)."""

from __future__ import annotations

import http.client
import socket
import threading
import time

from airkit.vboard import VirtualBoard

HOME = {"ssid": "home-wifi", "password": "correct horse 42",
        "neighbours": [["<script>alert('x')</script>", -80], ["Café \"Ñandú\" 咖啡", -67]]}


class Board:
    def __init__(self, tmp, config, *, hours=None, scenario=None, **extra):
        extra.setdefault("ap_radio", True)
        speed = extra.pop("speed", None)
        if speed is not None:
            extra["speed"] = speed
        self.vb = VirtualBoard(tmp, config=config, hours=hours, scenario=scenario or {"wifi": dict(HOME)},
                               extra=extra)
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            self.vb.run()
        except Exception as e:      # shown by the test that waits
            self.error = e

    @property
    def port(self):
        return self.vb.web_port

    def wait_line(self, text, timeout=30.0, start=0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.vb.lines[start:]:
                if text in line:
                    return line
            if self.error or not self.thread.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError("no line with %r within %.0f s (error %r); last lines:\n%s"
                             % (text, timeout, self.error, "\n".join(self.vb.lines[-25:])))

    def request(self, method, path, body=None, headers=None, timeout=10):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            c.close()

    def raw(self, data: bytes, timeout=10, pause=0.0) -> bytes:
        """Send bytes as they are (optionally one at a time), return all that comes back."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        try:
            if pause:
                for i in range(len(data)):
                    try:
                        s.sendall(data[i:i + 1])
                    except OSError:
                        break
                    time.sleep(pause)
            else:
                s.sendall(data)
            out = b""
            while True:
                try:
                    chunk = s.recv(4096)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            return out
        finally:
            s.close()

    def stop(self):
        self.vb.stop()
        self.thread.join(15)
