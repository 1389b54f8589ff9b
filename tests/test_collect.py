"""The collector as a real HTTP server on loopback: Sensor.Community push API
(403 unknown node, 400 malformed, 201 stored), airkit JSON batches with
per-device tokens, size limits, de-duplication, CSV export, CLI errors."""

import csv
import http.client
import io
import json
import subprocess
import sys

import pytest

from airkit.collect.store import EXPORT_COLUMNS
from uplink_helpers import NODE, TOKEN, start_collector


@pytest.fixture
def coll(tmp_path):
    c = start_collector(tmp_path)
    yield c
    c.stop()


def post(c, path, body, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", c.port, timeout=5)
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    conn.request("POST", path, data, headers or {})
    r = conn.getresponse()
    out = r.status, r.read()
    conn.close()
    return out


SC_BODY = {"software_version": "x", "sensordatavalues": [{"value_type": "P0", "value": "3.00"},
                                                         {"value_type": "P1", "value": "8.00"},
                                                         {"value_type": "P2", "value": "6.00"}],
           "timestamp": "2026-01-05T01:05:00+01:00"}


def test_sensor_community_api(coll):
    h = {"X-Sensor": NODE, "X-PIN": "1", "Content-Type": "application/json"}
    assert post(coll, "/v1/push-sensor-data/", SC_BODY, {"X-Sensor": "esp32-unknown", "X-PIN": "1"})[0] == 403
    assert post(coll, "/v1/push-sensor-data/", SC_BODY, {"X-PIN": "1"})[0] == 403
    assert post(coll, "/v1/push-sensor-data/", b"{not json", h)[0] == 400
    assert post(coll, "/v1/push-sensor-data/", {"sensordatavalues": [{"value_type": "P1", "value": "abc"}]}, h)[0] == 400
    assert post(coll, "/v1/push-sensor-data/", {"software_version": "x"}, h)[0] == 400
    assert post(coll, "/v1/push-sensor-data/", SC_BODY, h)[0] == 201
    dht = {"sensordatavalues": [{"value_type": "temperature", "value": "21.30"},
                                {"value_type": "humidity", "value": "55.20"}], "timestamp": "2026-01-05T00:05:00Z"}
    assert post(coll, "/v1/push-sensor-data/", dht, dict(h, **{"X-PIN": "7"}))[0] == 201
    assert post(coll, "/v1/push-sensor-data/", SC_BODY, h)[0] == 201          # repeated: stored once
    rows = coll.store.rows(NODE)
    assert len(rows) == 1
    r = rows[0]
    assert r["time"] == "2026-01-05T00:05:00Z"                              # offset converted to UTC
    assert (r["pm1_atm"], r["pm10_atm"], r["pm25_atm"], r["temp_c"], r["rh"]) == (3, 8, 6, 21.3, 55.2)


def batch(recs, device="station-1"):
    return {"device": device, "fw": "0.1.0", "records": recs}


REC = {"seq": 1, "time": "2026-01-05T00:05:00Z", "flags": ["dht_stuck"], "pm1_cf1": 4, "pm25_cf1": 8,
       "pm10_cf1": 9, "pm1_atm": 3, "pm25_atm": 6, "pm10_atm": 8, "n0_3": 850, "n0_5": 255, "n1_0": 56,
       "n2_5": 5, "n5_0": 1, "n10": 0, "rh": 55.2, "temp_c": 21.3}


def test_airkit_json_tokens_dedup_and_export(coll, tmp_path):
    auth = {"Authorization": "Bearer " + TOKEN}
    assert post(coll, "/api/v1/batch", batch([REC]), {})[0] == 401
    assert post(coll, "/api/v1/batch", batch([REC]), {"Authorization": "Bearer wrong-token"})[0] == 401
    assert post(coll, "/api/v1/batch", batch([REC], "other"), auth)[0] == 403
    assert post(coll, "/api/v1/batch", {"records": []}, auth)[0] == 400
    assert post(coll, "/api/v1/batch", batch([dict(REC, pm25_cf1="8")]), auth)[0] == 400
    assert post(coll, "/api/v1/batch", batch([dict(REC, time="yesterday")]), auth)[0] == 400
    st, body = post(coll, "/api/v1/batch", batch([REC, dict(REC, seq=2, time="2026-01-05T00:10:00Z"),
                                                  dict(REC, seq=3, time=None)]), auth)
    assert st == 200 and json.loads(body) == {"accepted": 2, "duplicates": 0, "untimed": 1}
    st, body = post(coll, "/api/v1/batch", batch([REC]), auth)
    assert json.loads(body) == {"accepted": 0, "duplicates": 1, "untimed": 0}
    out = io.StringIO()
    assert coll.store.export_csv(out, "station-1") == 2
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0] == EXPORT_COLUMNS
    assert rows[1] == ["2026-01-05T00:05:00Z", "station-1", "8", "6", "9", "8", "4", "3", "850", "255", "56", "5",
                       "1", "0", "55.2", "21.3", "dht_stuck", "", ""]


def test_size_limits(coll):
    coll.max_body = 1000
    big = batch([dict(REC, seq=i, time="2026-01-05T%02d:00:00Z" % (i % 24)) for i in range(40)])
    assert post(coll, "/api/v1/batch", big, {"Authorization": "Bearer " + TOKEN})[0] == 413
    conn = http.client.HTTPConnection("127.0.0.1", coll.port, timeout=5)
    conn.putrequest("POST", "/api/v1/batch")
    conn.endheaders()
    assert conn.getresponse().status == 411
    assert coll.store.count() == 0


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "airkit.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=60)


def test_cli_export_and_user_errors(coll, tmp_path):
    post(coll, "/api/v1/batch", batch([REC]), {"Authorization": "Bearer " + TOKEN})
    db = tmp_path / "collect.sqlite"
    r = run_cli("collect", "export", "--db", str(db), "--out", str(tmp_path / "x.csv"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "x.csv").read_text().splitlines()[1].startswith("2026-01-05T00:05:00Z,station-1,8,6,")
    r = run_cli("collect", "export", "--db", str(tmp_path / "missing.sqlite"))
    assert r.returncode != 0 and "Traceback" not in r.stderr and "no collector database" in r.stderr
    (tmp_path / "tok").write_text("short")
    r = run_cli("collect", "add-device", "x", "--token-file", str(tmp_path / "tok"), "--db", str(db))
    assert r.returncode != 0 and "Traceback" not in r.stderr and "short" not in r.stdout
    (tmp_path / "tok").write_text("a-long-secret-token")
    r = run_cli("collect", "add-device", "x", "--token-file", str(tmp_path / "tok"), "--db", str(db))
    assert r.returncode == 0 and "a-long-secret-token" not in r.stdout + r.stderr
    r = run_cli("collect", "--port", str(coll.port), "--db", str(db))
    assert r.returncode != 0 and "Traceback" not in r.stderr and "--port" in r.stderr
