"""Uplinks against servers that answer as the real ones do: the faithful
Sensor.Community and openSenseMap stand-ins (no de-duplication, real status
codes), a real InfluxDB 1.x with authentication on, and a fault-injecting
proxy. Each test names the bug it guards against (issue: uplinks proven
against the real servers)."""

import json
from datetime import datetime, timedelta, timezone

import pytest

from airkit_fw import config as fwconfig
from test_reliability import run_board
from uplink_helpers import (NODE, FaultProxy, InfluxServer, OpenSenseMapServer, SensorCommunityServer)

FAST = (0.005, 0.03)          # stand-in latency for the longer runs (the codes and semantics are the real ones)


def sc_config(port, **kw):
    u = {"type": "sensor_community", "url": "http://127.0.0.1:%d/v1/push-sensor-data/" % port}
    u.update(kw)
    return {"device": {"id": "station-1"}, "wifi": {"ssid": "lab", "password": "lab-wifi-pass"}, "uplinks": [u]}


def _iso(t):
    return datetime.fromisoformat(t.replace("Z", "+00:00"))


def test_sensor_community_backlog_drains_through_10pct_faults_without_duplicates(tmp_path):
    # Bugs: the back-off grew on every failed push and was reset only by a whole good batch
    # (the backlog never drained); a reading whose PM push succeeded and DHT push failed was
    # resent whole (duplicate rows: the server does not de-duplicate).
    sc = SensorCommunityServer({NODE: [1, 7]}, latency=FAST)
    proxy = FaultProxy(sc.port, rate=0.1, seed=11)
    try:
        board, readings, status, lines = run_board(tmp_path, sc_config(proxy.port), 12,
                                                   {"wifi": {"down": [[1, 9]]}})
        assert len(readings) == 144
        assert sum(proxy.faults.values()) >= 10                # the faults really happened
        assert status["pending"]["sensor_community"] == 0
        assert sc.duplicates() == 0
        pm = sorted(r["timestamp"] for r in sc.rows if "P2" in r["values"])
        th = sorted(r["timestamp"] for r in sc.rows if "temperature" in r["values"])
        want = sorted(_iso(r["time"]) for r in readings)
        assert pm == want and th == want
        by_t = {r["timestamp"]: r for r in sc.rows if "P2" in r["values"]}
        for r in readings:
            v = by_t[_iso(r["time"])]["values"]
            assert (v["P0"], v["P1"], v["P2"]) == ("%.2f" % r["pm1_atm"], "%.2f" % r["pm10_atm"],
                                                   "%.2f" % r["pm25_atm"])
    finally:
        proxy.stop()
        sc.stop()


@pytest.mark.parametrize("pins,stored,refused", [([1, 11], "P2", "temperature"), ([7, 11], "temperature", "P2")])
def test_sensor_community_pins_are_independent(tmp_path, pins, stored, refused):
    # Bug: a 400 on pin 7 counted the whole reading as rejected although the PM data were
    # stored; a 400 on pin 1 skipped the reading and never sent the DHT22 push.
    sc = SensorCommunityServer({NODE: pins}, latency=FAST)      # a node whose sensors make one pin a 400
    try:
        board, readings, status, lines = run_board(tmp_path, sc_config(sc.port), 2, {})
        assert len(readings) == 24
        assert sorted(r["timestamp"] for r in sc.rows if stored in r["values"]) == \
            sorted(_iso(r["time"]) for r in readings)
        assert not [r for r in sc.rows if refused in r["values"]]
        assert sc.answers.count(400) == 24                       # each refused push tried once, then skipped
        assert status["rejected"]["sensor_community"] == 24         # refused pushes, counted once each
        assert status["delivered"]["sensor_community"] == 24        # ... but every reading reached the map
        assert status["pending"]["sensor_community"] == 0 and sc.duplicates() == 0
    finally:
        sc.stop()


def test_sensor_community_unregistered_node_keeps_readings_and_says_what_to_do(tmp_path):
    sc = SensorCommunityServer({"esp32-somebody-else": [1, 7]}, latency=FAST)
    try:
        board, readings, status, lines = run_board(tmp_path, sc_config(sc.port), 2, {})
        assert status["pending"]["sensor_community"] == 24 and not sc.rows
        assert status["state"]["sensor_community"] == "HTTP 403"
        assert NODE in status["reason"]["sensor_community"] and "register" in status["reason"]["sensor_community"]
        assert sc.answers.count(403) <= 5                          # once per 30 min, not hammered
    finally:
        sc.stop()


def test_sensor_community_wrong_path_names_the_url_without_its_password(tmp_path):
    # Bug: a 404's status line quoted the uplink's url whole, password included.
    srv = SensorCommunityServer({NODE: [1, 7]}, latency=FAST)
    try:
        cfg = sc_config(srv.port, url="http://school:pw-Secret7@127.0.0.1:%d/push/" % srv.port)
        board, readings, status, lines = run_board(tmp_path, cfg, 1, {})
    finally:
        srv.stop()
    assert status["pending"]["sensor_community"] == len(readings) and not srv.rows
    assert "127.0.0.1:%d/push/" % srv.port in status["reason"]["sensor_community"]
    assert "pw-Secret7" not in "\n".join(lines)


def test_power_cuts_duplicate_at_most_one_push_each(tmp_path):
    # Bug: a power cut between a 2xx and the cursor save (saved every 10 min) resent readings.
    sc = SensorCommunityServer({NODE: [1, 7]}, latency=FAST)
    cuts = [0.55, 1.3, 2.05, 2.8, 3.6, 4.45]
    try:
        board, readings, status, lines = run_board(tmp_path, sc_config(sc.port), 5,
                                                   {"wifi": {"down": [[0.3, 1.0]]}, "power_cuts": cuts})
        assert board.restarts["power_cut"] == len(cuts)
        assert status["pending"]["sensor_community"] == 0
        assert sc.duplicates() <= len(cuts)
        stored = {r["timestamp"] for r in sc.rows if "P2" in r["values"]}
        assert {_iso(r["time"]) for r in readings if r["time"]} <= stored    # untimed ones get their time later
        assert len(stored) <= len(readings)
    finally:
        sc.stop()


BOX = "5f2b56f4263635001c1dd1ab"
SENSORS = {"pm25": "5f2b56f4263635001c1dd1ac", "pm10": "5f2b56f4263635001c1dd1ad",
           "temperature": "5f2b56f4263635001c1dd1ae", "humidity": "5f2b56f4263635001c1dd1af"}
TOKEN = "9a3c0e2b7f1d4e55a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718"
START = datetime(2026, 1, 5, tzinfo=timezone.utc)             # the virtual board's default start


def osm_config(port, sensors=SENSORS):
    return {"device": {"id": "station-1"}, "wifi": {"ssid": "lab", "password": "lab-wifi-pass"},
            "uplinks": [{"type": "opensensemap", "url": "http://127.0.0.1:%d" % port, "box_id": BOX,
                         "sensors": sensors, "access_token": TOKEN}]}


def test_opensensemap_422_skips_only_the_refused_readings(tmp_path):
    # Bug: a 422 (a reading time-stamped in the future) was retried forever with back-off,
    # so every reading behind it was stuck.
    server_now = START + timedelta(hours=3)                        # readings after 3:01 are "in the future"
    osm = OpenSenseMapServer(BOX, SENSORS.values(), TOKEN, latency=FAST, now=lambda: server_now)
    try:
        board, readings, status, lines = run_board(tmp_path, osm_config(osm.port), 4,
                                                   {"wifi": {"down": [[1, 3.5]]}})
        ok = [r for r in readings if _iso(r["time"]) <= server_now + timedelta(minutes=1)]
        bad = [r for r in readings if _iso(r["time"]) > server_now + timedelta(minutes=1)]
        assert ok and bad
        stored = sorted({t for sid, v, t in osm.values if sid == SENSORS["pm25"]})
        assert stored == sorted(_iso(r["time"]).strftime("%Y-%m-%dT%H:%M:%SZ") for r in ok)
        assert osm.duplicates() == 0
        assert status["rejected"]["opensensemap"] == len(bad)
        assert status["pending"]["opensensemap"] == 0
    finally:
        osm.stop()


def test_opensensemap_sensor_not_in_box_keeps_data_and_names_the_id(tmp_path):
    # Bug: a 400 (a sensor id not in the box: a configuration mistake) threw the data away.
    wrong = dict(SENSORS, humidity="5f2b56f4263635001c1dd1ff")
    osm = OpenSenseMapServer(BOX, SENSORS.values(), TOKEN, latency=FAST)
    try:
        board, readings, status, lines = run_board(tmp_path, osm_config(osm.port, wrong), 2, {})
        assert len(readings) == 24 and not osm.values
        assert status["pending"]["opensensemap"] == 24
        assert not status["rejected"].get("opensensemap")
        assert "5f2b56f4263635001c1dd1ff" in status["reason"]["opensensemap"]
        assert osm.answers.count(400) <= 5                           # once per 30 min, not hammered
    finally:
        osm.stop()


@pytest.fixture
def influx(tmp_path):
    srv = InfluxServer(tmp_path)
    yield srv
    srv.stop()


def influx_config(port, **kw):
    u = {"type": "influx", "url": "http://127.0.0.1:%d" % port, "db": "airkit"}
    u.update(kw)
    return {"device": {"id": "station-1"}, "wifi": {"ssid": "lab", "password": "lab-wifi-pass"}, "uplinks": [u]}


def test_influx_1x_with_auth_stores_every_reading_at_its_time(tmp_path, influx):
    # Bug: only 'Authorization: Token' was sent, which InfluxDB 1.x answers 401; measurement
    # names with a space were not escaped.
    cfg = influx_config(influx.port, username=influx.USER, password=influx.PASSWORD, measurement="air quality")
    board, readings, status, lines = run_board(tmp_path, cfg, 3, {"wifi": {"down": [[1, 2]]}})
    pts = influx.points("air quality")
    assert sorted(p["time"] for p in pts) == sorted(_iso(r["time"]).strftime("%Y-%m-%dT%H:%M:%SZ")
                                                    for r in readings)
    by_t = {p["time"]: p for p in pts}
    for r in readings:
        p = by_t[_iso(r["time"]).strftime("%Y-%m-%dT%H:%M:%SZ")]
        assert (p["PMS_P2"], p["node"]) == (r["pm25_atm"], NODE)
    assert status["pending"]["influx"] == 0
    assert influx.PASSWORD not in "\n".join(lines)


def test_influx_credentials_in_the_url_are_sent_as_basic_auth_and_never_shown(tmp_path, influx):
    # Bug: 'http://user:pw@host:8086' (how owners write it) was taken whole as the host name:
    # every upload failed as a DNS error and the status line showed the password.
    url = "http://%s:%s@127.0.0.1:%d" % (influx.USER, influx.PASSWORD, influx.port)
    board, readings, status, lines = run_board(tmp_path, influx_config(influx.port, url=url), 1, {})
    assert len(influx.points()) == len(readings) and status["pending"]["influx"] == 0
    assert influx.PASSWORD not in "\n".join(lines)


def test_influx_token_on_1x_is_refused_and_readings_kept(tmp_path, influx):
    board, readings, status, lines = run_board(tmp_path, influx_config(influx.port, token="abc"), 1, {})
    assert status["pending"]["influx"] == 12 and status["state"]["influx"] == "HTTP 401"
    assert "username" in status["reason"]["influx"]
    assert not influx.points()


def test_influx_partial_write_counts_what_was_stored_and_keeps_the_reason(tmp_path, influx):
    # Bug: a 400 "partial write" (some lines stored) was counted as all rejected, reason lost.
    # A 1-hour retention policy: readings older than an hour are dropped by the server.
    influx.query('CREATE RETENTION POLICY "hour" ON "airkit" DURATION 1h REPLICATION 1 DEFAULT')
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=2)
    cfg = influx_config(influx.port, username=influx.USER, password=influx.PASSWORD)
    from airkit.vboard import VirtualBoard
    from uplink_helpers import MAC
    lines = []
    b = VirtualBoard(tmp_path / "b", config=cfg, hours=2.5, start=start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                     scenario={"wifi": {"ssid": "lab", "password": "lab-wifi-pass", "down": [[0.2, 1.9]]}},
                     rtc_preset=False, mac=MAC, on_line=lines.append)
    b.run()
    readings = [json.loads(ln[8:]) for ln in lines if ln.startswith("reading ")]
    status = [json.loads(ln[8:]) for ln in lines if ln.startswith("uplinks {")][-1]
    stored = influx.points()
    rejected = status["rejected"].get("influx", 0)
    assert stored and rejected                                    # some lines stored, some dropped
    assert len(stored) + rejected == len(readings)
    assert status["pending"]["influx"] == 0
    assert "retention" in status["reason"]["influx"]


def test_credentials_in_urls_are_masked():
    cfg = {"uplinks": [{"type": "influx", "url": "http://me:secret-pw@db.example:8086/write?db=a&u=me&p=secret-pw"},
                       {"type": "airkit_json", "url": "https://x.example/api?token=tok-123&x=1"}]}
    shown = json.dumps(fwconfig.masked(cfg))
    assert "secret-pw" not in shown and "tok-123" not in shown
    assert "db.example:8086" in shown and "x=1" in shown


def test_sim_endpoint_against_a_200ms_server_delivers_every_reading_once(tmp_path):
    # Bug: the virtual board shortened socket timeouts ~50x, so a server answering in
    # 100-200 ms "timed out" after storing the row: 8 of 72 readings delivered, 27 duplicates.
    import subprocess
    import sys
    from pathlib import Path
    sc = SensorCommunityServer(None, latency=(0.2, 0.2))
    try:
        exe = Path(sys.executable).parent / "airkit"
        out = subprocess.run([str(exe), "sim", "--hours", "1", "--json", "--endpoint",
                              "http://127.0.0.1:%d/v1/push-sensor-data/" % sc.port],
                             capture_output=True, text=True, timeout=240)
        assert out.returncode == 0, out.stderr
        readings = [json.loads(ln) for ln in out.stdout.splitlines() if ln.startswith("{") and '"seq"' in ln]
        assert len(readings) == 12
        assert sc.duplicates() == 0
        assert len([r for r in sc.rows if "P2" in r["values"]]) == 12
    finally:
        sc.stop()


def test_sim_says_why_readings_are_still_pending(tmp_path):
    # Bug: 'airkit sim' against a server refusing the node (403) ended with "delivered none;
    # pending in journal sensor_community 12" and not a word about what to do.
    import subprocess
    import sys
    from pathlib import Path
    sc = SensorCommunityServer({}, latency=FAST)
    try:
        f = tmp_path / "station.json"
        f.write_text(json.dumps(sc_config(sc.port)))
        exe = Path(sys.executable).parent / "airkit"
        out = subprocess.run([str(exe), "sim", "--hours", "1", "--config", str(f)],
                             capture_output=True, text=True, timeout=240)
        assert out.returncode == 0, out.stderr
        assert "HTTP 403" in out.stderr and "devices.sensor.community" in out.stderr
        assert "lab-wifi-pass" not in out.stdout + out.stderr
        out = subprocess.run([str(exe), "sim", "--hours", "1", "--config", str(f), "--json"],
                             capture_output=True, text=True, timeout=240)
        summary = json.loads(out.stdout.splitlines()[-1])
        assert summary["state"]["sensor_community"] == "HTTP 403"
        assert "register" in summary["reason"]["sensor_community"]
    finally:
        sc.stop()


def test_doctor_sends_the_influx_credentials_the_station_sends(tmp_path, influx):
    # Bug: the doctor's InfluxDB probe sent no 'username'/'password' (only a token it never found):
    # a correctly configured InfluxDB 1.x with auth on was reported as refusing the station.
    import subprocess
    import sys
    from toolkit_helpers import RunningBoard
    AIRKIT = [sys.executable, "-m", "airkit.cli"]
    base = "http://127.0.0.1:%d" % influx.port
    cfg = {"device": {"id": "dr-1"}, "wifi": {"ssid": "school", "password": "pw-school"},
           "uplinks": [{"type": "influx", "url": base, "db": "airkit", "username": influx.USER,
                        "password": influx.PASSWORD},
                       {"type": "influx", "name": "bad", "url": base, "db": "airkit", "username": influx.USER,
                        "password": "wrong-pw"}]}
    with RunningBoard(tmp_path, "u1", scenario={"wifi": {"ssid": "school", "password": "pw-school"}},
                      config=cfg) as b:
        out = subprocess.run(AIRKIT + ["doctor", "--port", b.port, "--only", "uplinks", "--json", "--no-reset"],
                             capture_output=True, text=True, timeout=120)
    ups = [c for c in json.loads(out.stdout)["checks"] if c["check"] == "uplink"]
    assert [u["status"] for u in ups] == ["ok", "rejected"], ups
    assert ups[1]["http_status"] == 401 and influx.PASSWORD not in out.stdout
    assert not influx.points()          # the probe stored nothing
