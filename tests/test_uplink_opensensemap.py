"""openSenseMap native bulk upload, end to end: the firmware on the virtual board
backfills through a loopback server that checks requests the way the
openSenseMap API does for ``POST /boxes/:boxId/data`` (text/csv body of
``sensorId,value,createdAt`` lines, box access token in ``Authorization``,
unknown sensors and bad values rejected, at most 2,500 values per request)."""

import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from test_reliability import run_board

BOX = "5f2b56f4263635001c1dd1ab"
SENSORS = {"pm25": "5f2b56f4263635001c1dd1ac", "pm10": "5f2b56f4263635001c1dd1ad",
           "temperature": "5f2b56f4263635001c1dd1ae", "humidity": "5f2b56f4263635001c1dd1af"}
TOKEN = "9a3c0e2b7f1d4e55a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718"


class OpenSenseMapReceiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        self.values = []          # (sensor id, value, createdAt)
        self.requests = []        # values per accepted request
        self.refused = 0
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def answer(self, code, text):
                body = text.encode()
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                if self.path != "/boxes/%s/data" % BOX:
                    return self.answer(404, "Box not found")
                if self.headers.get("Authorization") != TOKEN:
                    outer.refused += 1
                    return self.answer(401, "Box access token not valid!")
                if not self.headers.get("Content-Type", "").startswith("text/csv"):
                    return self.answer(415, "Unsupported content-type")
                rows = [ln.split(",") for ln in body.strip().split("\n") if ln]
                if len(rows) > 2500:
                    return self.answer(422, "too many measurements")
                for r in rows:
                    if len(r) != 3 or r[0] not in SENSORS.values():
                        return self.answer(422, "sensor id not in box")
                    float(r[1])
                    datetime.fromisoformat(r[2].replace("Z", "+00:00"))
                outer.values.extend((r[0], float(r[1]), r[2]) for r in rows)
                outer.requests.append(len(rows))
                self.answer(201, "Measurements saved in box")

        super().__init__(("127.0.0.1", 0), H)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def stop(self):
        self.shutdown()
        self.server_close()


def osm_config(port, token):
    return {"device": {"id": "station-1"}, "wifi": {"ssid": "lab", "password": "lab-wifi-pass"},
            "uplinks": [{"type": "opensensemap", "url": "http://127.0.0.1:%d" % port, "box_id": BOX,
                         "sensors": SENSORS, "access_token": token}]}


def test_backfill_after_outage_keeps_every_timestamp(tmp_path):
    osm = OpenSenseMapReceiver()
    try:
        board, readings, status, lines = run_board(tmp_path, osm_config(osm.server_address[1], TOKEN), 24,
                                                   {"wifi": {"down": [[2, 20]]}})
        assert len(readings) == 288
        assert status["pending"]["opensensemap"] == 0
        by_sensor = {}
        for sid, v, t in osm.values:
            by_sensor.setdefault(sid, {})[t] = v
        for r in readings:
            assert by_sensor[SENSORS["pm25"]][r["time"]] == r["pm25_atm"]
            assert by_sensor[SENSORS["pm10"]][r["time"]] == r["pm10_atm"]
            assert abs(by_sensor[SENSORS["humidity"]][r["time"]] - r["rh"]) < 0.051
            assert abs(by_sensor[SENSORS["temperature"]][r["time"]] - r["temp_c"]) < 0.051
        assert max(osm.requests) <= 2500
        assert len(osm.requests) < 288 / 4            # backfill went in batches, not one request per reading
        assert TOKEN not in "\n".join(lines)          # the access token is never printed
    finally:
        osm.stop()


def test_wrong_token_loses_nothing(tmp_path):
    osm = OpenSenseMapReceiver()
    try:
        board, readings, status, lines = run_board(tmp_path, osm_config(osm.server_address[1], "not-the-token"),
                                                   2, {})
        assert len(readings) == 24 and not osm.values and osm.refused >= 1
        assert status["pending"]["opensensemap"] == 24
        assert board.restarts == {"reset": 0, "watchdog": 0, "power_cut": 0}
    finally:
        osm.stop()
