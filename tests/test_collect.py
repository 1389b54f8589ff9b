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
from uplink_helpers import NODE, SC_KEY, SC_STATION, TOKEN, start_collector


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
    h = {"X-Sensor": NODE, "X-PIN": "1", "Content-Type": "application/json", **SC_KEY}
    assert post(coll, "/v1/push-sensor-data/", SC_BODY, {"X-Sensor": "esp32-unknown", "X-PIN": "1",
                                                          **SC_KEY})[0] == 403
    assert post(coll, "/v1/push-sensor-data/", SC_BODY, {"X-PIN": "1"})[0] == 403
    assert post(coll, "/v1/push-sensor-data/", b"{not json", h)[0] == 400
    assert post(coll, "/v1/push-sensor-data/", {"sensordatavalues": [{"value_type": "P1", "value": "abc"}]}, h)[0] == 400
    assert post(coll, "/v1/push-sensor-data/", {"software_version": "x"}, h)[0] == 400
    assert post(coll, "/v1/push-sensor-data/", SC_BODY, h)[0] == 201
    dht = {"sensordatavalues": [{"value_type": "temperature", "value": "21.30"},
                                {"value_type": "humidity", "value": "55.20"}], "timestamp": "2026-01-05T00:05:00Z"}
    assert post(coll, "/v1/push-sensor-data/", dht, dict(h, **{"X-PIN": "7"}))[0] == 201
    assert post(coll, "/v1/push-sensor-data/", SC_BODY, h)[0] == 201          # repeated: stored once
    rows = coll.store.rows(SC_STATION)
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
    assert post(coll, "/api/v1/batch", batch([REC], "other"), auth)[0] == 401          # unknown device: the same answer as a wrong token
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


# --- hostile input: a public service's checks -------------------------------------------------------------
SC_H = {"X-Sensor": NODE, "X-PIN": "1", **SC_KEY}


def sc(values, ts="2026-01-05T00:05:00Z"):
    d = {"software_version": "x", "sensordatavalues": [{"value_type": k, "value": v} for k, v in values]}
    if ts:
        d["timestamp"] = ts
    return d


def test_sc_push_refuses_or_flags_impossible_values(coll):
    assert post(coll, "/v1/push-sensor-data/", sc([("P2", "1e309")]), SC_H)[0] == 400
    assert post(coll, "/v1/push-sensor-data/", sc([("P2", "nan")]), SC_H)[0] == 400
    assert post(coll, "/v1/push-sensor-data/", sc([("P2", "5"), ("P2", "6")]), SC_H)[0] == 400
    assert post(coll, "/v1/push-sensor-data/", sc([("P9", "5")]), SC_H)[0] == 400                  # unknown type
    assert post(coll, "/v1/push-sensor-data/", sc([("P2", "5")]), dict(SC_H, **{"X-PIN": "99"}))[0] == 400
    assert post(coll, "/v1/push-sensor-data/", sc([("temperature", "5")]), SC_H)[0] == 400          # not pin 1's
    assert post(coll, "/v1/push-sensor-data/", sc([("P2", "5")], "2999-01-01T00:00:00Z"), SC_H)[0] == 400
    assert post(coll, "/v1/push-sensor-data/", sc([("P2", "5")], "1999-01-01T00:00:00Z"), SC_H)[0] == 400
    assert coll.store.count() == 0
    dht = dict(SC_H, **{"X-PIN": "7"})
    assert post(coll, "/v1/push-sensor-data/", sc([("temperature", "-300"), ("humidity", "250")]), dht)[0] == 201
    r = coll.store.rows(SC_STATION)[0]
    assert r["temp_c"] is None and r["rh"] is None
    assert r["flags"] == "range:rh=250;range:temp_c=-300"                 # flagged, raw value kept in the flag


def test_batch_refuses_non_finite_and_flags_out_of_range(coll):
    auth = {"Authorization": "Bearer " + TOKEN}
    body = json.dumps(batch([REC])).replace('"rh": 55.2', '"rh": 1e309').encode()
    assert post(coll, "/api/v1/batch", body, auth)[0] == 400
    body = json.dumps(batch([REC])).replace('"rh": 55.2', '"rh": NaN').encode()
    assert post(coll, "/api/v1/batch", body, auth)[0] == 400
    assert post(coll, "/api/v1/batch", batch([dict(REC, time="2999-01-01T00:00:00Z")]), auth)[0] == 400
    assert post(coll, "/api/v1/batch", batch([dict(REC, seq=10 ** 30)]), auth)[0] == 400
    body = json.dumps(batch([REC])).replace('"rh": 55.2', '"rh": ' + "9" * 5000).encode()
    assert post(coll, "/api/v1/batch", body, auth)[0] == 400
    assert coll.store.count() == 0
    st, body = post(coll, "/api/v1/batch", batch([dict(REC, rh=250, pm25_atm=-1)]), auth)
    assert st == 200 and json.loads(body)["accepted"] == 1
    r = coll.store.rows("station-1")[0]
    assert r["rh"] is None and r["pm25_atm"] is None and r["pm25_cf1"] == 8
    assert r["flags"] == "dht_stuck;range:pm25_atm=-1;range:rh=250"


def test_untimed_pushes_in_one_second_are_all_kept(coll):
    from airkit.collect.ingest import parse_sc

    now = 1_790_000_000
    for v in ("5.00", "6.00", "7.00", "7.00"):
        rows, _ = parse_sc(coll.store, SC_H, json.dumps(sc([("P2", v)], None)).encode(), now=now)
        coll.store.put(rows, "sensor_community")
    assert sorted(r["pm25_atm"] for r in coll.store.rows(SC_STATION)) == [5, 6, 7]      # same content twice: once
    for v in ("1.00", "2.00", "3.00"):                                            # and through HTTP
        assert post(coll, "/v1/push-sensor-data/", sc([("P2", v)], None), SC_H)[0] == 201
    assert coll.store.count(SC_STATION) == 6


@pytest.mark.parametrize("path", ["/v1/push-sensor-data/", "/api/v1/batch"])
def test_deeply_nested_json_is_400(coll, path):
    for body in (b"[" * 100000 + b"]" * 100000, b'{"a":' * 50000 + b"1" + b"}" * 50000, b"[" * 500000):
        st, text = post(coll, path, body, dict(SC_H, Authorization="Bearer " + TOKEN))
        assert st == 400, text
    st, text = post(coll, path, json.dumps(sc([("P2", "[[[[[[[[[[")])).encode(), SC_H)   # brackets in a string
    assert st != 500 and b"nested" not in text


def test_stalled_clients_are_dropped_and_others_served(tmp_path):
    import socket
    import time

    from airkit.collect.server import Collector
    from airkit.collect.store import Store

    store = Store(tmp_path / "collect.sqlite")
    store.add_device("station-1", "json", TOKEN)
    coll = Collector(store, "127.0.0.1", 0, timeout_s=0.5).start()
    try:
        head = socket.create_connection(("127.0.0.1", coll.port), timeout=5)
        head.sendall(b"POST /api/v1/batch HTTP/1.1\r\nHost: x\r\n")               # headers never finished
        body = socket.create_connection(("127.0.0.1", coll.port), timeout=5)
        body.sendall(b"POST /api/v1/batch HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"dev")
        idle = socket.create_connection(("127.0.0.1", coll.port), timeout=5)       # sends nothing at all
        assert post(coll, "/api/v1/batch", batch([REC]), {"Authorization": "Bearer " + TOKEN})[0] == 200
        t0 = time.monotonic()
        for s in (head, body, idle):
            data = b""
            while True:
                chunk = s.recv(4096)                 # bounded by the 5 s socket timeout
                if not chunk:
                    break
                data += chunk
            s.close()
            if s is body:
                assert data.startswith(b"HTTP/1.1 408"), data
        assert time.monotonic() - t0 < 4
    finally:
        coll.stop()


def test_cli_collect_survives_rude_clients_without_tracebacks(tmp_path):
    import signal
    import socket
    import time

    db = tmp_path / "c.sqlite"
    _node_with_key(tmp_path, db)
    p = subprocess.Popen([sys.executable, "-m", "airkit.cli", "collect", "--db", str(db), "--port", "0",
                          "--timeout", "0.5", "--json"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        info = json.loads(p.stdout.readline())
        port = int(info["url"].rsplit(":", 1)[1].strip("/"))
        for k in range(30):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            if k % 3 == 0:
                s.sendall(b"POST /v1/push-sensor-data/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{")
            elif k % 3 == 1:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                s.sendall(b"POST /v1/push-sensor-data/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{")
            else:
                s.sendall(b"GET /api/v1/latest HTTP/1.1\r\nHost: x\r\n\r\n")
            s.close()                                         # gone before the answer (reset for k % 3 == 1)
        time.sleep(1.5)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("POST", "/v1/push-sensor-data/", json.dumps(SC_BODY),
                     {"X-Sensor": NODE, "X-PIN": "1", **SC_KEY})
        assert conn.getresponse().status == 201
    finally:
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    assert "Traceback" not in err and "Error" not in err, err
    assert "stopped; 1 readings" in err


def _node_with_key(tmp_path, db):
    """Register NODE with TOKEN as its secret, as a teacher would (add-node --token-file)."""
    (tmp_path / "node.token").write_text(TOKEN)
    r = run_cli("collect", "--db", str(db), "add-node", NODE, "--token-file", str(tmp_path / "node.token"),
                cwd=tmp_path)
    assert r.returncode == 0, r.stderr


def test_cli_export_refuses_to_overwrite_and_json_outputs(coll, tmp_path):
    post(coll, "/api/v1/batch", batch([REC]), {"Authorization": "Bearer " + TOKEN})
    db = str(tmp_path / "collect.sqlite")
    out = tmp_path / "mine.csv"
    out.write_text("my own work\n")
    r = run_cli("collect", "export", "--db", db, "--out", str(out))
    assert r.returncode == 5 and "--force" in r.stderr and "Traceback" not in r.stderr
    assert out.read_text() == "my own work\n"
    r = run_cli("collect", "export", "--db", db, "--out", str(out), "--force", "--json")
    assert r.returncode == 0 and json.loads(r.stdout) == {"rows": 1, "out": str(out)}
    assert out.read_text().startswith("time,device")
    r = run_cli("collect", "export", "--db", db, "--json")
    assert r.returncode == 0 and json.loads(r.stdout)[0]["pm25_cf1"] == 8
    (tmp_path / "tok").write_text("a-long-secret-token")
    r = run_cli("collect", "add-device", "yard", "--token-file", str(tmp_path / "tok"), "--db", db, "--json",
                "--lat", "25.03", "--lon", "121.56", "--name", "School yard")
    assert r.returncode == 0 and json.loads(r.stdout) == {"device": "yard", "registered": True}
    assert "a-long-secret-token" not in r.stdout + r.stderr
    r = run_cli("collect", "add-node", "esp32-abc", "--station", "yard", "--db", db, "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["station"] == "yard"
    r = run_cli("collect", "add-node", "esp32-abc", "--db", db, "--lat", "95", "--lon", "0")
    assert r.returncode == 2 and "--lat" in r.stderr


@pytest.mark.parametrize("args,code,words", [
    (["--port", "99999"], 2, "not a TCP port"),
    (["--port", "-1"], 2, "not a TCP port"),
    (["--db", "postgresql://someone:hunter2@127.0.0.1:1/x"], 4, "cannot open the PostgreSQL database"),
    (["--tls-cert", "x.pem"], 2, "--tls-key"),
    (["--tls-cert", "nope.pem", "--tls-key", "nope.key"], 2, "TLS file nope.pem does not exist"),
    (["--tls-cert", "junk.pem", "--tls-key", "junk.pem"], 2, "cannot be used (not PEM)"),
    (["--max-body", "10"], 2, "too small"),
    (["--db", "nodir/x.sqlite"], 2, "the folder nodir does not exist"),
])
def test_cli_serve_mistakes_are_one_sentence(tmp_path, args, code, words):
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    r = run_cli("collect", *args, cwd=tmp_path)
    assert r.returncode == code, r.stderr
    assert words in r.stderr and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "hunter2" not in r.stderr


def test_cli_db_before_the_subcommand_is_used(tmp_path):
    """`airkit collect --db X export` (the option where `airkit collect --db X` takes it) must use X,
    not silently the default file in the current folder."""
    db = tmp_path / "school.sqlite"
    (tmp_path / "tok").write_text("a-long-secret-token")
    r = run_cli("collect", "--db", str(db), "add-device", "yard", "--token-file", "tok", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = run_cli("collect", "--db", str(db), "add-node", "esp32-abc", "--station", "yard", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "airkit-collect.sqlite").exists()
    from airkit.collect.store import open_store
    assert open_store(db).device("esp32-abc") is not None
    r = run_cli("collect", "--db", "postgresql://someone:hunter2@127.0.0.1:1/x", "export", cwd=tmp_path)
    assert r.returncode == 4 and "PostgreSQL" in r.stderr and "hunter2" not in r.stderr, r.stderr
    r = run_cli("collect", "--db", str(db), "--json", "export", cwd=tmp_path)
    assert r.returncode == 0 and json.loads(r.stdout) == []


def test_cli_add_device_makes_a_token_when_the_file_is_new(tmp_path):
    """The README's first line names a token file the teacher does not have yet: it is created
    (random, owner-only), never printed, and a second run reuses it."""
    db = str(tmp_path / "c.sqlite")
    r = run_cli("collect", "add-device", "yard", "--token-file", "yard.token", "--db", db, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    tok = (tmp_path / "yard.token").read_text().strip()
    assert len(tok) >= 20 and tok not in r.stdout + r.stderr and "yard.token" in r.stdout + r.stderr
    assert (tmp_path / "yard.token").stat().st_mode & 0o077 == 0
    r = run_cli("collect", "add-device", "yard", "--token-file", "yard.token", "--db", db, cwd=tmp_path)
    assert r.returncode == 0 and (tmp_path / "yard.token").read_text().strip() == tok
    r = run_cli("collect", "add-device", "hall", "--token-file", "hall.token", "--db", db, "--json", cwd=tmp_path)
    assert r.returncode == 0 and json.loads(r.stdout) == {"device": "hall", "registered": True,
                                                          "token_file_created": "hall.token"}
    r = run_cli("collect", "add-device", "gym", "--token-file", "nodir/gym.token", "--db", db, cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "gym.token" in r.stderr


def test_cli_serve_unknown_host_names_the_host(tmp_path):
    r = run_cli("collect", "--host", "999.1.1.1", "--port", "0", "--db", str(tmp_path / "c.sqlite"), cwd=tmp_path)
    assert r.returncode == 2 and "--host 999.1.1.1" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_listening_on_every_interface_prints_an_address_others_can_use():
    """`--host 0.0.0.0` (the README's school line): the printed URL is one the class can type,
    not 0.0.0.0 (checked without binding anything)."""
    from airkit.collect import lan_url

    assert lan_url("127.0.0.1", 8000) is None
    u = lan_url("0.0.0.0", 8000)
    assert u.startswith("http://") and u.endswith(":8000") and "0.0.0.0" not in u


def test_a_refused_value_never_hides_in_a_good_reading(coll):
    """A push at the same second that says pm25_atm=1e308 where a valid pm25_atm is stored is a
    different reading (kept apart, its refused value in its own flag); a refused value for an
    empty column (a broken DHT22 after the PMS push) still merges into the reading."""
    auth = {"Authorization": "Bearer " + TOKEN}
    assert post(coll, "/api/v1/batch", batch([dict(REC, flags=[])]), auth)[0] == 200
    st, body = post(coll, "/api/v1/batch", batch([{"time": REC["time"], "pm25_atm": 1e308}]), auth)
    assert st == 200 and json.loads(body)["accepted"] == 1
    rows = coll.store.rows("station-1")
    assert len(rows) == 2 and rows[0]["pm25_atm"] == 6 and not rows[0]["flags"]
    assert rows[1]["flags"] == "range:pm25_atm=1e+308"
    h = {"X-Sensor": NODE, "X-PIN": "1", **SC_KEY}
    assert post(coll, "/v1/push-sensor-data/", SC_BODY, h)[0] == 201
    assert post(coll, "/v1/push-sensor-data/", {"sensordatavalues": [{"value_type": "humidity", "value": "250"},
                                                                      {"value_type": "temperature", "value": "21"}],
                                                "timestamp": SC_BODY["timestamp"]}, dict(h, **{"X-PIN": "7"}))[0] == 201
    r = coll.store.rows(SC_STATION)
    assert len(r) == 1 and r[0]["pm25_atm"] == 6 and r[0]["temp_c"] == 21 and r[0]["flags"] == "range:rh=250"


def test_ctrl_c_while_serving_stops_cleanly_and_keeps_what_was_acknowledged(tmp_path):
    import signal

    db = tmp_path / "c.sqlite"
    _node_with_key(tmp_path, db)
    p = subprocess.Popen([sys.executable, "-m", "airkit.cli", "collect", "--db", str(db), "--port", "0", "--json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = int(json.loads(p.stdout.readline())["url"].rsplit(":", 1)[1].strip("/"))
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/v1/push-sensor-data/", json.dumps(SC_BODY),
                     {"X-Sensor": NODE, "X-PIN": "1", **SC_KEY})
        assert conn.getresponse().status == 201
        conn.close()
    finally:
        p.send_signal(signal.SIGINT)                   # what Ctrl-C sends
        out, err = p.communicate(timeout=30)
    assert p.returncode == 0 and "Traceback" not in err and "stopped; 1 readings" in err, err
    from airkit.collect.store import open_store
    assert open_store(db).count() == 1
