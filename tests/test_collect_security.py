"""Who may write: a spoofed write is refused on every ingest path (Sensor.Community push without
or with a wrong secret, airkit JSON, MQTT/LASS line signed or through a real Mosquitto's ACL),
node ids are never published, unknown and known ids get one answer, failed authentications are
rate-limited per client, and a reading from the future is refused and never 'latest'."""

import http.client
import json
import sqlite3
import subprocess
import sys
import time

import pytest

from airkit.collect.store import Store, iso_of
from uplink_helpers import NODE, SC_KEY, SC_STATION, TOKEN, Broker, start_collector

SC = "/v1/push-sensor-data/"


def body(ts=None, p2="6.00"):
    d = {"software_version": "x", "sensordatavalues": [{"value_type": "P0", "value": "3.00"},
                                                       {"value_type": "P1", "value": "8.00"},
                                                       {"value_type": "P2", "value": p2}]}
    d["timestamp"] = ts or iso_of(int(time.time()) - 60)
    return d


def post(c, path, data, headers=None, source="127.0.0.1"):
    conn = http.client.HTTPConnection("127.0.0.1", c.port, timeout=5, source_address=(source, 0))
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    conn.request("POST", path, raw, headers or {})
    r = conn.getresponse()
    out = r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    conn.close()
    return out


def get(c, path):
    conn = http.client.HTTPConnection("127.0.0.1", c.port, timeout=5)
    conn.request("GET", path)
    r = conn.getresponse()
    out = r.status, r.read()
    conn.close()
    return out


@pytest.fixture
def coll(tmp_path):
    c = start_collector(tmp_path)
    # a second node, linked to the token-protected station: its pushes need the station's token
    c.store.add_device("esp32-abcdef", "sc", station="station-1")
    yield c
    c.stop()


def test_spoofed_sensor_community_pushes_are_refused_alike(coll):
    pin = {"X-PIN": "1"}
    answers = [post(coll, SC, body(), {"X-Sensor": NODE, **pin}),                         # no secret
               post(coll, SC, body(), {"X-Sensor": NODE, "X-Airkit-Token": "guess", **pin}),   # wrong secret
               post(coll, SC, body(), {"X-Sensor": "esp32-ffff", **pin, **SC_KEY}),          # unknown node
               post(coll, SC, body(), {**pin}),                                              # no node
               post(coll, SC, b"{not json", {"X-Sensor": NODE, **pin}),                     # known, malformed
               post(coll, SC, b"{not json", {"X-Sensor": "esp32-ffff", **pin}),             # unknown, malformed
               # linked to a token-protected station: its own lack of a token is no way round it
               post(coll, SC, body(), {"X-Sensor": "esp32-abcdef", **pin}),
               post(coll, SC, body(), {"X-Sensor": "esp32-abcdef", "X-Airkit-Token": "guess", **pin})]
    assert {(st, b) for st, h, b in answers} == {(403, answers[0][2])}      # one answer, whatever the reason
    assert coll.store.count() == 0
    assert post(coll, SC, body(), {"X-Sensor": NODE, **pin, **SC_KEY})[0] == 201
    assert post(coll, SC, body(), {"X-Sensor": "esp32-abcdef", "X-Airkit-Token": TOKEN, **pin})[0] == 201
    assert coll.store.count(SC_STATION) == 1 and coll.store.count("station-1") == 1


def test_spoofed_airkit_json_batches_are_refused_alike(coll):
    rec = {"time": iso_of(int(time.time()) - 60), "pm25_atm": 499.0}
    a = post(coll, "/api/v1/batch", {"device": "station-1", "records": [rec]}, {})
    b = post(coll, "/api/v1/batch", {"device": "station-1", "records": [rec]}, {"Authorization": "Bearer nope"})
    c = post(coll, "/api/v1/batch", {"device": "no-such", "records": [rec]}, {"Authorization": "Bearer " + TOKEN})
    assert (a[0], a[2]) == (b[0], b[2]) == (c[0], c[2]) and a[0] == 401
    assert coll.store.count() == 0


def test_node_ids_are_never_published(coll):
    h = {"X-Sensor": NODE, "X-PIN": "1", **SC_KEY}
    assert post(coll, SC, body(), h)[0] == 201
    for path in ("/api/v1/latest", "/api/v1/latest?format=csv", "/api/v1/health", "/api/v1/stats",
                 "/api/v1/stations/%s" % SC_STATION, "/api/v1/stations/%s/history?format=csv" % SC_STATION):
        st, text = get(coll, path)
        assert st == 200 and NODE.encode() not in text and NODE[6:].encode() not in text, path
    assert get(coll, "/api/v1/stations/%s" % NODE)[0] == 404


def test_failed_authentications_are_rate_limited_per_client(coll):
    h = {"X-Sensor": NODE, "X-PIN": "1", "X-Airkit-Token": "guess"}
    statuses = [post(coll, SC, body(), h)[0] for _ in range(coll.failed_auth.limit + 3)]
    assert statuses[:coll.failed_auth.limit] == [403] * coll.failed_auth.limit and statuses[-1] == 429
    st, headers, _ = post(coll, SC, body(), dict(h, **SC_KEY))                  # even the right secret now
    assert st == 429 and 1 <= int(headers["retry-after"]) <= 60
    assert post(coll, "/api/v1/batch", {"device": "station-1", "records": []},
                {"Authorization": "Bearer " + TOKEN})[0] == 429
    # another client (another loopback address) is not held back by it
    assert post(coll, SC, body(), dict(h, **SC_KEY), source="127.0.0.2")[0] == 201


def test_rate_limit_window_and_memory_bound():
    from airkit.collect.ingest import FailedAuth

    f = FailedAuth(limit=3, window_s=10, max_clients=5)
    for _ in range(3):
        f.failed("a", now=100.0)
    assert f.retry_after("a", now=101.0) == 9 and f.retry_after("b", now=101.0) == 0
    assert f.retry_after("a", now=110.5) == 0                          # the window has passed
    for k in range(20):
        f.failed("c%d" % k, now=200.0)
    assert len(f._fails) <= 5


def test_future_readings_are_refused_and_never_latest(coll, tmp_path):
    h = {"X-Sensor": NODE, "X-PIN": "1", **SC_KEY}
    now = int(time.time())
    assert post(coll, SC, body(iso_of(now + 23 * 3600), "499"), h)[0] == 400      # the spoof
    assert post(coll, SC, body(iso_of(now + 600), "499"), h)[0] == 400
    assert post(coll, SC, body(iso_of(now - 60), "7"), h)[0] == 201
    auth = {"Authorization": "Bearer " + TOKEN}
    assert post(coll, "/api/v1/batch", {"device": "station-1", "records": [
        {"time": iso_of(now + 3600), "pm25_atm": 499.0}]}, auth)[0] == 400
    # a reading inside the clock tolerance is stored, but "latest" is not later than now
    assert post(coll, "/api/v1/batch", {"device": "station-1", "records": [
        {"time": iso_of(now - 300), "pm25_atm": 5.0}, {"time": iso_of(now + 60), "pm25_atm": 9.0}]}, auth)[0] == 200
    latest = {s["id"]: s for s in json.loads(get(coll, "/api/v1/latest")[1])["stations"]}
    assert latest["station-1"]["pm25_atm"] == 5.0 and latest[SC_STATION]["pm25_atm"] == 7.0


def test_migration_hides_node_ids_and_drops_a_pinned_future_latest(tmp_path):
    """A version 2 database (node filed under its id, a forged reading 23 h ahead as 'latest')."""
    db = tmp_path / "old.sqlite"
    s = Store(db)
    s.add_device("esp32-0a0b", "sc")
    s._exec("UPDATE devices SET station = NULL")
    now = int(time.time())
    for ep, v in ((now - 600, 5.0), (now + 23 * 3600, 499.0)):
        s._exec("INSERT INTO readings (device, time, epoch, n, pm25_atm) VALUES (?, ?, ?, 0, ?)",
                ("esp32-0a0b", iso_of(ep), ep, v))
    s._exec("INSERT INTO latest (device, epoch, n, time, pm25_atm) VALUES (?, ?, 0, ?, 499)",
            ("esp32-0a0b", now + 23 * 3600, iso_of(now + 23 * 3600)))
    s._exec("INSERT INTO stations (id, last_seen) VALUES ('esp32-0a0b', ?)", (iso_of(now),))
    s._exec("DELETE FROM schema_version")
    s._exec("INSERT INTO schema_version VALUES (2, 'x')")
    s.db.commit()
    s.close()
    s = Store(db)
    alias = s.device("esp32-0a0b")[3]
    assert alias.startswith("sc-") and s.count(alias) == 2 and s.count("esp32-0a0b") == 0
    st = s.stations()
    assert [x["id"] for x in st] == [alias] and st[0]["pm25_atm"] == 5.0
    assert "esp32-0a0b" not in json.dumps(st)
    s.close()
    raw = sqlite3.connect(db)
    assert raw.execute("SELECT COUNT(*) FROM readings WHERE device = 'esp32-0a0b'").fetchone()[0] == 0
    raw.close()


def test_cli_add_node_needs_a_secret_and_never_prints_the_node_as_station(tmp_path):
    db = str(tmp_path / "c.sqlite")
    run = lambda *a: subprocess.run([sys.executable, "-m", "airkit.cli", "collect", *a, "--db", db],  # noqa: E731
                                    capture_output=True, text=True, cwd=tmp_path, timeout=60)
    r = run("add-node", "esp32-1234")
    assert r.returncode == 2 and "--token-file" in r.stderr and "Traceback" not in r.stderr
    r = run("add-node", "esp32-1234", "--token-file", "node.token", "--json")
    tok = (tmp_path / "node.token").read_text().strip()
    out = json.loads(r.stdout)
    assert r.returncode == 0 and out["station"].startswith("sc-") and tok not in r.stdout + r.stderr
    assert (tmp_path / "node.token").stat().st_mode & 0o077 == 0
    r = run("add-node", "esp32-1234", "--lat", "25.0", "--lon", "121.5", "--json")    # keeps its secret and id
    assert r.returncode == 0 and json.loads(r.stdout)["station"] == out["station"]
    from airkit.collect.ingest import secret_ok
    s = Store(db)
    assert secret_ok(tok, s.secret_hash("esp32-1234"))
    s.close()
    r = subprocess.run([sys.executable, "-m", "airkit.cli", "collect", "--db", db, "--port", "0", "--node",
                        "esp32-1234"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "add-node" in r.stderr and "Traceback" not in r.stderr


def test_firmware_sends_the_secret_header_only_when_configured():
    from airkit_fw.uplinks.sensor_community import headers

    mac = bytes.fromhex("240ac4123456")
    assert "X-Airkit-Token" not in dict(headers(mac, 1))          # the real Sensor.Community server never sees it
    assert dict(headers(mac, 7, token="s3cret-token"))["X-Airkit-Token"] == "s3cret-token"


# --- MQTT against a real Mosquitto ---------------------------------------------------------------------
def _wait(cond, s=10.0):
    end = time.monotonic() + s
    while time.monotonic() < end and not cond():
        time.sleep(0.05)
    return cond()


def _publish(port, msgs, user=None, pw=None):
    import paho.mqtt.client as mqtt

    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    if user:
        pub.username_pw_set(user, pw)
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    try:
        for topic, payload in msgs:
            pub.publish(topic, payload, qos=1).wait_for_publish(5)
    finally:
        pub.loop_stop()
        pub.disconnect()


LASS = "|ver_format=3|fmt_opt=1|app=PM25|ver_app=0.2.0|device_id=%s|tick=1|date=%s|time=%s|device=ESP32|s_d0=%s|"


def test_mqtt_lass_lines_need_the_station_signature(tmp_path):
    from airkit.collect.mqttsub import Subscriber, sign_lass

    broker = Broker(tmp_path)
    store = Store(tmp_path / "c.sqlite")
    store.add_device("yard", "json", "yard-secret-token")
    sub = Subscriber(store, "mqtt://127.0.0.1:%d/LASS/#" % broker.port).start()
    try:
        time.sleep(0.3)
        day = iso_of(int(time.time()) - 600)
        d, t = day[:10], day[11:19]
        _publish(broker.port, [
            ("LASS/Test/PM25", LASS % ("yard", d, t, "499.00")),                                    # unsigned
            ("LASS/Test/PM25", sign_lass(LASS % ("yard", d, t, "499.00"), "wrong-token-guess")),     # wrong key
            ("LASS/Test/PM25", sign_lass(LASS % ("yard", d, t, "6.00"), "yard-secret-token")[:-3] + "00|"),
            ("LASS/Test/PM25", sign_lass(LASS % ("junk-1", d, t, "1.00"), "junk-token-123")),       # unregistered
            ("airkit/yard/state", json.dumps({"time": day, "pm25": 499.0})),                      # JSON: no sig
            ("LASS/Test/PM25", sign_lass(LASS % ("yard", d, t, "6.00"), "yard-secret-token"))])    # the station
        assert _wait(lambda: sub.stored + sub.refused >= 5)
        assert _wait(lambda: sub.stored == 1)
        rows = store.rows()
        assert [(r["device"], r["pm25_atm"]) for r in rows] == [("yard", 6.0)] and sub.refused == 4
    finally:
        sub.stop()
        broker.stop()


def test_mqtt_acl_mode_with_mosquitto_users_and_acls(tmp_path):
    """The documented Mosquitto set-up: one user per station, ACLs that let each publish only under
    its own id, the collector as a reader; a station cannot write another station."""
    import shutil

    from airkit.collect.mqttsub import Subscriber
    from uplink_helpers import free_port

    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    passwd = shutil.which("mosquitto_passwd")
    if not passwd:
        pytest.skip("mosquitto_passwd is not installed")
    pw = tmp_path / "passwd"
    for i, (user, secret) in enumerate((("yard", "yard-pw-1"), ("gym", "gym-pw-2"), ("collector", "coll-pw-3"))):
        subprocess.run([passwd, "-b"] + (["-c"] if i == 0 else []) + [str(pw), user, secret], check=True,
                       capture_output=True, timeout=30)
    acl = tmp_path / "acl"
    acl.write_text("user collector\ntopic read airkit/#\ntopic read LASS/#\n\n"
                   "pattern write airkit/%u/#\npattern write LASS/Test/PM25/%u\n")
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text("listener %d 127.0.0.1\nallow_anonymous false\npassword_file %s\nacl_file %s\n"
                    "persistence false\nuser root\n" % (port, pw, acl))
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store = Store(tmp_path / "c.sqlite")
    for s in ("yard", "gym"):
        store.add_device(s, "json", s + "-token-xyz")
    sub = None
    try:
        import socket
        assert _wait(lambda: not socket.socket().connect_ex(("127.0.0.1", port)), 10)
        sub = Subscriber(store, "mqtt://collector:coll-pw-3@127.0.0.1:%d/#" % port, auth="acl").start()
        time.sleep(0.5)
        day = iso_of(int(time.time()) - 600)
        _publish(port, [("airkit/gym/state", json.dumps({"time": day, "pm25": 499.0})),      # yard as gym: ACL
                        ("LASS/Test/PM25/gym", LASS % ("gym", day[:10], day[11:19], "499.00")),
                        ("airkit/yard/state", json.dumps({"time": day, "pm25": 7.0, "device_id": "gym"})),
                        ("LASS/Test/PM25/yard", LASS % ("gym", day[:10], day[11:19], "499.00")),  # id != topic
                        ("airkit/yard/state", json.dumps({"time": day, "pm25": 7.0}))], "yard", "yard-pw-1")
        assert _wait(lambda: sub.stored >= 1)
        time.sleep(0.5)
        assert [(r["device"], r["pm25_atm"]) for r in store.rows()] == [("yard", 7.0)]
        assert store.count("gym") == 0 and sub.refused == 1
    finally:
        if sub:
            sub.stop()
        proc.terminate()
        proc.wait(10)
