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


def start_collector(tmp: Path, device="station-1"):
    store = Store(tmp / "collect.sqlite")
    store.add_device(device, "json", TOKEN)
    store.add_device(NODE, "sc")
    return Collector(store, "127.0.0.1", 0).start()


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Broker:
    """Mosquitto on a free loopback port; amqtt when mosquitto is not installed."""

    def __init__(self, tmp: Path):
        self.port = free_port()
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


class InfluxReceiver(ThreadingHTTPServer):
    """Accepts InfluxDB 1.x ``/write`` requests and keeps the parsed lines (204 like InfluxDB)."""

    daemon_threads = True

    def __init__(self):
        self.lines: list[str] = []
        self.queries: list[str] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

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

        super().__init__(("127.0.0.1", 0), H)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self):
        return self.server_address[1]

    def stop(self):
        self.shutdown()
        self.server_close()
