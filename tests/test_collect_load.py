"""Reads that cannot starve writes: history pages and their cursor, server-side downsampling,
ETag/gzip/caching on /latest, uploads answered while heavy readers run, and a crowd of idle
connections degrading to 503 without tracebacks, with the file limit raised where allowed."""

import gzip
import json
import resource
import socket
import subprocess
import sys
import threading
import time

import pytest

from airkit.collect.server import Collector
from airkit.collect.store import Store, iso_of
from test_collect_defects import req

TOKEN = "load-token-123456"
END = (int(time.time()) - 86400) // 300 * 300
N = 30 * 288                                   # 30 days of 5-minute readings


@pytest.fixture(scope="module")
def coll(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("load") / "c.sqlite")
    store.add_device("month", "json", TOKEN)
    store.put([{"device": "month", "epoch": END - k * 300, "time": iso_of(END - k * 300), "pm25_atm": float(k % 50)}
               for k in range(N)], "airkit_json")
    c = Collector(store, "127.0.0.1", 0).start()
    yield c
    c.stop()


def test_history_is_paged_and_the_pages_add_up(coll):
    path = "/api/v1/stations/month/history?every=raw&from=2015-01-01T00:00:00Z&limit=5000"
    got, pages = [], 0
    while path:
        st, h, body = req(coll, "GET", path)
        doc = json.loads(body)
        assert st == 200 and len(doc["readings"]) <= 5000
        assert ("link" in h) == bool(doc["next"])
        got += doc["readings"]
        path = doc["next"]
        pages += 1
    assert pages == 2 and len(got) == N and len({r["time"] for r in got}) == N
    assert [r["time"] for r in got] == sorted(r["time"] for r in got)
    st, h, body = req(coll, "GET", "/api/v1/stations/month/history?from=2015-01-01T00:00:00Z")
    assert len(json.loads(body)["readings"]) == 8640 and json.loads(body)["next"] is None     # default page 10,000
    assert req(coll, "GET", "/api/v1/stations/month/history?limit=50001")[0] == 400
    assert req(coll, "GET", "/api/v1/stations/month/history?cursor=abc")[0] == 400


def test_every_auto_downsamples_long_ranges(coll):
    st, h, body = req(coll, "GET", "/api/v1/stations/month/history?every=auto&from=2015-01-01T00:00:00Z")
    doc = json.loads(body)
    assert doc["every"] == "daily" and 30 <= len(doc["readings"]) <= 32
    st, h, body = req(coll, "GET", "/api/v1/stations/month/history?every=auto&span=604800")
    assert json.loads(body)["every"] == "hourly"
    st, h, body = req(coll, "GET", "/api/v1/stations/month/history?every=auto&span=86400")
    assert json.loads(body)["every"] == "raw"


def test_latest_has_etag_cache_control_and_gzip(coll):
    st, h, body = req(coll, "GET", "/api/v1/latest", headers={"Accept-Encoding": "gzip"})
    assert st == 200 and h["content-encoding"] == "gzip" and "max-age" in h["cache-control"]
    doc = json.loads(gzip.decompress(body))
    assert doc["stations"][0]["id"] == "month"
    st, h2, plain = req(coll, "GET", "/api/v1/latest")
    assert json.loads(plain) == doc and "content-encoding" not in h2 and h2["etag"] == h["etag"]
    st, h3, empty = req(coll, "GET", "/api/v1/latest", headers={"If-None-Match": h["etag"]})
    assert st == 304 and empty == b""


def test_uploads_are_answered_while_heavy_readers_run(coll):
    stop = threading.Event()
    reads = [0]

    def reader():
        while not stop.is_set():
            path = "/api/v1/stations/month/history?every=raw&from=2015-01-01T00:00:00Z"
            while path and not stop.is_set():
                st, h, body = req(coll, "GET", path)
                if st == 200:
                    path = json.loads(body)["next"]
                    reads[0] += 1
                else:
                    time.sleep(0.2)

    ts = [threading.Thread(target=reader) for _ in range(8)]
    for t in ts:
        t.start()
    times = []
    try:
        time.sleep(0.5)
        for k in range(20):
            body = json.dumps({"device": "month", "records": [{"time": iso_of(END + 300 * (k + 1)), "pm25_atm": 1.0}]})
            t0 = time.perf_counter()
            st, h, _ = req(coll, "POST", "/api/v1/batch", body, {"Authorization": "Bearer " + TOKEN})
            times.append(time.perf_counter() - t0)
            assert st == 200
    finally:
        stop.set()
        for t in ts:
            t.join(60)
    assert reads[0] >= 8
    times.sort()
    assert times[len(times) // 2] < 1.0, times         # loose on a loaded machine; the benchmark measures it


def test_crowd_of_idle_connections_degrades_without_tracebacks(tmp_path):
    """With a low file limit the server raises its soft limit to the hard one; past what it can
    hold, new connections get 503 at once; idle ones are dropped after --timeout; no traceback."""
    def low_limits():
        resource.setrlimit(resource.RLIMIT_NOFILE, (128, 200))

    p = subprocess.Popen([sys.executable, "-m", "airkit.cli", "collect", "--db", str(tmp_path / "c.sqlite"),
                          "--port", "0", "--json", "--timeout", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, preexec_fn=low_limits)
    socks = []
    try:
        port = int(json.loads(p.stdout.readline())["url"].rsplit(":", 1)[1].strip("/"))
        limits = open("/proc/%d/limits" % p.pid).read()
        line = [ln for ln in limits.splitlines() if ln.startswith("Max open files")][0]
        assert line.split()[3:5] == ["200", "200"], line            # soft raised to the hard limit
        refused = 0
        for _ in range(260):
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=2)
                socks.append(s)
            except OSError:
                refused += 1
        time.sleep(0.3)
        busy = 0
        for s in socks:
            s.setblocking(False)
            try:
                if s.recv(64).startswith(b"HTTP/1.1 503"):
                    busy += 1
            except (BlockingIOError, OSError):
                pass
        assert busy > 0
        for s in socks:
            s.close()
        socks = []
        deadline = time.monotonic() + 10
        while True:
            try:
                st, h, body = req(None, "GET", "/api/v1/latest", port=port)
                if st == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the collector did not recover"
            time.sleep(0.2)
    finally:
        for s in socks:
            s.close()
        p.terminate()
        out, err = p.communicate(timeout=30)
    assert "Traceback" not in err and len(err) < 2000, err[-2000:]


def test_daily_archive_has_every_station_and_the_licence(tmp_path):
    import csv as csvmod
    import io

    store = Store(tmp_path / "c.sqlite")
    day = (int(time.time()) // 86400 - 2) * 86400
    rows = [{"device": d, "epoch": day + k * 300, "time": iso_of(day + k * 300), "pm25_atm": 1.0 + k % 7}
            for d in ("a", "台北-大安") for k in range(288)]
    rows.append({"device": "a", "epoch": day + 86400, "time": iso_of(day + 86400), "pm25_atm": 9.0})   # next day
    store.put(rows, "airkit_json")
    store.set_station("a", lat=25.0, lon=121.5)
    c = Collector(store, "127.0.0.1", 0, settings={"licence": "CC-BY-4.0"}).start()
    try:
        name = iso_of(day)[:10]
        idx = json.loads(req(c, "GET", "/api/v1/archive")[2])
        assert idx["licence"] == "CC-BY-4.0" and {"day": name, "url": "/api/v1/archive/%s.csv.gz" % name} in idx["days"]
        st, h, body = req(c, "GET", "/api/v1/archive/%s.csv.gz" % name)
        assert st == 200 and h["content-type"] == "application/gzip"
        text = gzip.decompress(body).decode("utf-8")
        assert text.startswith("# airkit collect daily archive %s (UTC). Licence: CC-BY-4.0" % name)
        got = list(csvmod.DictReader(io.StringIO(text.split("\n", 1)[1])))
        assert len(got) == 576 and {r["station"] for r in got} == {"a", "台北-大安"}
        assert all(r["time"].startswith(name) for r in got) and got[0]["lat"] in ("25.0", "")
        assert (tmp_path / "c.sqlite.archive" / ("airkit-%s.csv.gz" % name)).exists()        # built once
        today = iso_of(int(time.time()))[:10]
        assert req(c, "GET", "/api/v1/archive/%s.csv.gz" % today)[0] == 404                # not over yet
        assert req(c, "GET", "/api/v1/archive/2026-13-45.csv.gz")[0] == 400
        assert req(c, "GET", "/api/v1/archive/..%2F..%2Fetc.csv.gz")[0] in (400, 404)
        cfg = req(c, "GET", "/api/v1/config")[2].decode()
        assert "archive" not in cfg and str(tmp_path) not in cfg
    finally:
        c.stop()
