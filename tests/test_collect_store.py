"""The collector's store, the same suite on both backends: SQLite (a file) and a real
PostgreSQL server the tests start themselves (pg_cluster in conftest.py)."""

import json
import sqlite3
import threading

import pytest

from airkit.collect.server import Collector
from airkit.collect.store import SCHEMA_VERSION, epoch_of, iso_of, open_store
from test_collect import REC, SC_BODY, batch, post

TOKEN = "store-token-123456"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "collect.sqlite")
    return request.getfixturevalue("pg_cluster").new_database()


@pytest.fixture
def store(store_url):
    s = open_store(store_url)
    yield s
    s.close()


def row(t, **v):
    return dict({"device": "st", "time": t}, **v)


def test_dedup_is_by_station_time_and_content(store):
    t = "2026-01-05T00:05:00Z"
    assert store.put([row(t, pm25_atm=6.0, pm10_atm=8.0)], "x") == (1, 0)
    assert store.put([row(t, pm25_atm=6.0, pm10_atm=8.0)], "x") == (0, 1)          # resent: once
    assert store.put([row(t, rh=55.2, temp_c=21.3)], "x") == (0, 1)                 # the DHT push fills in
    assert store.put([row(t, pm25_atm=6.004)], "x") == (0, 1)                      # 2-decimal rounding: same
    assert store.put([row(t, pm25_atm=7.0)], "x") == (1, 0)                         # other content: kept
    assert store.put([row(t, pm25_atm=9.0), row(t, pm25_atm=9.0)], "x") == (1, 1)
    rows = store.rows("st")
    assert [(r["n"], r["pm25_atm"], r["rh"]) for r in rows] == [(0, 6.0, 55.2), (1, 7.0, None), (2, 9.0, None)]
    assert store.count() == 3 and store.count("st") == 3 and store.count("other") == 0


def test_latest_stations_history_and_averaging(store):
    base = epoch_of("2026-01-05T00:00:00Z")
    rows = [dict(device=d, epoch=base + k * 300, time=iso_of(base + k * 300), pm25_atm=float(k % 12), rh=50.0,
                 flags="dht_stuck" if k == 3 else "") for d in ("a", "b") for k in range(576)]
    assert store.put(rows, "airkit_json", {"fw": "0.1.0", "model": "epa-2021"}) == (1152, 0)
    store.set_station("a", name="Yard", lat=25.03, lon=121.56)
    st = {s["id"]: s for s in store.stations()}
    assert set(st) == {"a", "b"}
    assert st["a"]["time"] == iso_of(base + 575 * 300) and st["a"]["pm25_atm"] == 11.0
    assert (st["a"]["name"], st["a"]["lat"], st["a"]["fw"], st["a"]["model"], st["a"]["interval_s"]) == \
        ("Yard", 25.03, "0.1.0", "epa-2021", 300)
    raw = store.history("a", base, base + 3600)
    assert len(raw) == 12 and raw[3]["flags"] == "dht_stuck" and raw[0]["time"] == "2026-01-05T00:00:00Z"
    hourly = store.history("a", base, base + 2 * 86400, "hourly", ["pm25_atm"])
    assert len(hourly) == 48 and hourly[0]["readings"] == 12 and hourly[0]["flagged"] == 1
    assert hourly[0]["pm25_atm"] == pytest.approx(5.5) and set(hourly[0]) == {"time", "readings", "flagged",
                                                                               "pm25_atm"}
    daily = store.history("a", None, None, "daily")
    assert [d["readings"] for d in daily] == [288, 288] and daily[1]["time"] == "2026-01-06T00:00:00Z"
    assert store.last_epoch("a") == base + 575 * 300 and store.last_epoch("zz") is None


def test_schema_version_and_reopen(store_url):
    s = open_store(store_url)
    s.put([row("2026-01-05T00:05:00Z", pm25_atm=1.0)], "x")
    s.close()
    s = open_store(store_url)                       # migrating twice changes nothing
    assert s.count() == 1
    v = s._select("SELECT version FROM schema_version")
    assert [r["version"] for r in v] == [SCHEMA_VERSION]
    s.close()


LEGACY = ["CREATE TABLE devices (id TEXT PRIMARY KEY, kind TEXT NOT NULL, token_sha256 TEXT, added TEXT)",
          "CREATE TABLE readings (device TEXT NOT NULL, time TEXT NOT NULL, source TEXT, seq INTEGER, "
          "pm25_atm REAL, rh REAL, flags TEXT, received TEXT, PRIMARY KEY (device, time))",
          "INSERT INTO devices VALUES ('old', 'json', 'abc', '2025-01-01T00:00:00Z')",
          "INSERT INTO readings VALUES ('old', '2025-06-01T00:00:00Z', 'airkit_json', 1, 7.5, 40, '', "
          "'2025-06-01T00:00:05Z')",
          "INSERT INTO readings VALUES ('old', '2025-06-01T00:05:00Z', 'airkit_json', 2, 8.5, 41, '', "
          "'2025-06-01T00:05:05Z')"]


def test_migrates_the_first_collectors_database(store_url):
    if store_url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(store_url, autocommit=True) as c:
            for stmt in LEGACY:
                c.execute(stmt)
    else:
        c = sqlite3.connect(store_url)
        for stmt in LEGACY:
            c.execute(stmt)
        c.commit()
        c.close()
    s = open_store(store_url)
    assert [(r["time"], r["pm25_atm"], r["seq"], r["n"]) for r in s.rows("old")] == \
        [("2025-06-01T00:00:00Z", 7.5, 1, 0), ("2025-06-01T00:05:00Z", 8.5, 2, 0)]
    assert s.device("old") == ("old", "json", "abc", None)
    assert s.stations()[0]["pm25_atm"] == 8.5                           # the latest table was filled
    assert s.put([{"device": "old", "time": "2025-06-01T00:05:00Z", "pm25_atm": 8.5}], "x") == (0, 1)
    s.close()


def test_concurrent_writers_lose_nothing(store):
    def work(k):
        for i in range(50):
            store.put([row(iso_of(epoch_of("2026-01-05T00:00:00Z") + i * 300), pm25_atm=float(k))], "x")

    ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert store.count() == 200                     # 4 different contents at each of 50 times


def test_http_apis_on_both_backends(store):
    store.add_device("station-1", "json", TOKEN)
    store.add_device("esp32-1", "sc", station="station-1")
    coll = Collector(store, "127.0.0.1", 0).start()
    try:
        h = {"X-Sensor": "esp32-1", "X-PIN": "1", "X-Airkit-Token": TOKEN}     # the station's token
        assert post(coll, "/v1/push-sensor-data/", SC_BODY, h)[0] == 201
        st, body = post(coll, "/api/v1/batch", batch([dict(REC, pm25_atm=6.0, pm10_atm=8.0, pm1_atm=3.0)]),
                        {"Authorization": "Bearer " + TOKEN})
        assert st == 200 and json.loads(body) == {"accepted": 0, "duplicates": 1, "untimed": 0}
        r = store.rows("station-1")
        assert len(r) == 1 and r[0]["pm25_cf1"] == 8 and r[0]["pm25_atm"] == 6
        import urllib.request

        doc = json.loads(urllib.request.urlopen(coll.url + "api/v1/latest", timeout=10).read())
        assert [s["id"] for s in doc["stations"]] == ["station-1"] and doc["licence"]
    finally:
        coll.stop()



def test_two_collectors_on_one_database_store_each_reading_once(store_url):
    """Several collector processes behind a proxy share one database: the same readings
    delivered to both at once are stored once, different ones all kept."""
    a, b = open_store(store_url), open_store(store_url)
    base = epoch_of("2026-01-05T00:00:00Z")
    same = [row(iso_of(base + i * 300), pm25_atm=5.0) for i in range(400)]     # 40 races (one lost: a 5xx)
    errors = []

    def work(s, extra):
        try:
            for i in range(0, 400, 10):
                s.put(same[i:i + 10] + [row(iso_of(base + i * 300), pm25_atm=extra)], "x")
        except Exception as e:      # noqa: BLE001 - reported below
            errors.append(e)

    ts = [threading.Thread(target=work, args=(a, 7.0)), threading.Thread(target=work, args=(b, 8.0))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not errors
    assert a.count() == 400 + 40 + 40
    a.close()
    b.close()


def test_postgres_connection_lost_is_reopened(store_url):
    if not store_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    import psycopg

    s = open_store(store_url)
    s.put([row("2026-01-05T00:00:00Z", pm25_atm=1.0)], "x")
    pid = s.db.info.backend_pid
    with psycopg.connect(store_url, autocommit=True) as c:
        c.execute("SELECT pg_terminate_backend(%s)", (pid,))
    assert s.put([row("2026-01-05T00:05:00Z", pm25_atm=2.0)], "x") == (1, 0)   # reopened and stored, no error
    assert s.count() == 2
    s.close()


def test_postgres_restart_answers_the_next_push_without_a_500(pg_cluster):
    """The first push after the server dropped the collector's connection (a restart) is stored."""
    import psycopg

    s = open_store(pg_cluster.new_database())
    s.add_device("station-1", "json", TOKEN)
    coll = Collector(s, "127.0.0.1", 0).start()
    auth = {"Authorization": "Bearer " + TOKEN}
    try:
        assert post(coll, "/api/v1/batch", batch([REC]), auth)[0] == 200
        with psycopg.connect(s.url, autocommit=True) as c:
            c.execute("SELECT pg_terminate_backend(%s)", (s.db.info.backend_pid,))
        st, body = post(coll, "/api/v1/batch", batch([dict(REC, seq=2, time="2026-01-05T00:10:00Z")]), auth)
        assert st == 200, body
        with psycopg.connect(s.url, autocommit=True) as c:
            c.execute("SELECT pg_terminate_backend(%s)", (s.db.info.backend_pid,))
        import urllib.request
        assert urllib.request.urlopen(coll.url + "api/v1/latest", timeout=10).status == 200
        assert s.count() == 2
    finally:
        coll.stop()
        s.close()
