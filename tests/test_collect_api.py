"""The open data API: latest of every station, history with ranges and averaging, CSV and
JSON, CORS, OpenAPI, configurable licence; and the MQTT subscription's input checks."""

import csv
import io
import json
import time
import urllib.error
import urllib.request

import pytest

from airkit.collect.server import Collector
from airkit.collect.store import Store, epoch_of, iso_of

BASE = epoch_of("2026-01-05T00:00:00Z")


@pytest.fixture(scope="module")
def coll(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("api") / "c.sqlite")
    store.set_station("a", name="Yard", lat=25.03, lon=121.56)
    store.put([{"device": "a", "epoch": BASE + k * 300, "time": iso_of(BASE + k * 300), "pm25_atm": float(k % 12),
                "pm25_cf1": 1.0, "rh": 50.0, "flags": "ab_disagree" if k == 575 else ""} for k in range(576)],
              "airkit_json", {"fw": "0.1.0"})
    store.put([{"device": "b", "time": iso_of(BASE), "pm25_atm": 3.0, "pm25_corrected": 2.5}], "airkit_json",
              {"model": "epa-2021"}, received=iso_of(int(time.time()) - 86400))
    c = Collector(store, "127.0.0.1", 0, settings={"licence": "CC-BY-4.0", "attribution": "Test School"}).start()
    yield c
    c.stop()


def get(c, path, headers=None):
    req = urllib.request.Request(c.url + path.lstrip("/"), headers=headers or {})
    try:
        r = urllib.request.urlopen(req, timeout=10)
        return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def test_latest_of_every_station_json_and_csv_with_cors_and_licence(coll):
    st, h, body = get(coll, "/api/v1/latest", {"Origin": "https://example.org"})
    assert st == 200 and h["access-control-allow-origin"] == "*"
    doc = json.loads(body)
    assert doc["licence"] == "CC-BY-4.0" and doc["attribution"] == "Test School"
    s = {x["id"]: x for x in doc["stations"]}
    assert s["a"]["time"] == iso_of(BASE + 575 * 300) and s["a"]["pm25_atm"] == 11.0 and s["a"]["fw"] == "0.1.0"
    assert s["a"]["health"]["ab_disagree"] and s["a"]["health"]["uncorrected"] and not s["a"]["health"]["silent"]
    assert s["b"]["health"]["silent"] and not s["b"]["health"]["uncorrected"] and s["b"]["model"] == "epa-2021"
    st, h, body = get(coll, "/api/v1/latest?format=csv")
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert h["content-type"].startswith("text/csv") and [r["id"] for r in rows] == ["a", "b"]
    assert rows[0]["name"] == "Yard" and rows[0]["pm25_atm"] == "11.0"
    st, h, body = get(coll, "/api/v1/health?silent_after=3")
    assert json.loads(body)["silent"] == ["b"] and json.loads(body)["ab_disagree"] == ["a"]
    st, h, body = get(coll, "/api/v1/stations/b")
    assert st == 200 and json.loads(body)["pm25_corrected"] == 2.5
    assert get(coll, "/api/v1/stations/nope")[0] == 404


def test_history_ranges_averaging_and_csv(coll):
    doc = json.loads(get(coll, "/api/v1/stations/a/history")[2])              # default: 24 h up to the latest
    assert doc["every"] == "raw" and len(doc["readings"]) == 288
    assert doc["readings"][-1]["time"] == iso_of(BASE + 575 * 300) and doc["licence"] == "CC-BY-4.0"
    q = "from=2026-01-05T00:00:00Z&to=2026-01-05T02:00:00Z"
    assert len(json.loads(get(coll, "/api/v1/stations/a/history?" + q)[2])["readings"]) == 24
    h = json.loads(get(coll, "/api/v1/stations/a/history?every=hourly&" + q)[2])["readings"]
    assert [(r["time"], r["readings"], r["pm25_atm"]) for r in h] == [("2026-01-05T00:00:00Z", 12, 5.5),
                                                                      ("2026-01-05T01:00:00Z", 12, 5.5)]
    d = json.loads(get(coll, "/api/v1/stations/a/history?every=daily&from=2026-01-01T00:00:00Z")[2])["readings"]
    assert [r["readings"] for r in d] == [288, 288]
    st, hd, body = get(coll, "/api/v1/stations/a/history?every=hourly&columns=pm25_atm,rh&format=csv&" + q)
    # the last column: the network QC's flags of that hour (none: station a has no neighbours to compare with)
    assert body.decode().splitlines() == ["time,readings,flagged,pm25_atm,rh,qc",
                                          "2026-01-05T00:00:00Z,12,0,5.5,50.0,", "2026-01-05T01:00:00Z,12,0,5.5,50.0,"]
    assert "attachment" in hd["content-disposition"]
    for bad in ("every=weekly", "from=yesterday", "columns=password", "format=xml", "span=x", "span=%d" % 10 ** 20,
                "span=-5"):
        st, _, body = get(coll, "/api/v1/stations/a/history?" + bad)
        assert st == 400 and json.loads(body)["detail"], bad


def test_history_mistakes_a_researcher_makes(coll):
    """from after to, or a station id that does not exist, is a clear error, not an empty 200."""
    st, _, body = get(coll, "/api/v1/stations/a/history?from=2026-01-06T00:00:00Z&to=2026-01-05T00:00:00Z")
    assert st == 400 and "swap" in json.loads(body)["detail"]
    st, _, body = get(coll, "/api/v1/stations/a/history?from=2026-01-05T00:00:00Z&to=2026-01-05T00:00:00Z")
    assert st == 400
    st, _, body = get(coll, "/api/v1/stations/no-such-station/history?every=hourly")
    assert st == 404 and "no station no-such-station" in json.loads(body)["detail"]


def test_openapi_docs_and_write_endpoints_still_need_keys(coll):
    spec = json.loads(get(coll, "/api/openapi.json")[2])
    assert spec["openapi"].startswith("3.") and "/api/v1/latest" in spec["paths"]
    assert spec["info"]["license"]["name"] == "CC-BY-4.0"
    st, h, body = get(coll, "/api/docs")
    assert st == 200 and b"/api/v1/stations/{id}/history" in body
    st, h, body = get(coll, "/")
    assert st == 200 and b"leaflet.js" in body and b"unpkg" not in body and b"cdn" not in body.lower()
    assert get(coll, "/static/vendor/leaflet/leaflet.js")[0] == 200
    req = urllib.request.Request(coll.url + "api/v1/batch", data=json.dumps({"device": "a", "records": []}).encode(),
                                 method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 401          # unknown device and wrong token: one answer


def test_mqtt_lines_get_the_same_checks(tmp_path):
    from airkit.collect.mqttsub import Subscriber, sign_lass
    from uplink_helpers import Broker

    import paho.mqtt.client as mqtt

    broker = Broker(tmp_path)
    store = Store(tmp_path / "c.sqlite")
    store.add_device("AK_1", "json", "ak1-secret-token")
    sub = Subscriber(store, "mqtt://127.0.0.1:%d/LASS/#" % broker.port).start()
    try:
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        line = "|device_id=AK_1|date=%s|time=%s|s_d0=%s|s_h0=%s|"
        time.sleep(0.5)
        for args in (("2026-01-05", "00:00:00", "5.0", "250"), ("2999-01-05", "00:00:00", "5.0", "50"),
                     ("2026-01-05", "00:05:00", "1e309", "50"), ("2026-01-05", "00:10:00", "6.0", "51")):
            pub.publish("LASS/Test/PM25", sign_lass(line % args, "ak1-secret-token"), qos=1).wait_for_publish(5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and sub.stored + sub.rejected < 4:
            time.sleep(0.05)
        pub.loop_stop()
        rows = store.rows("AK_1")
        assert [(r["time"], r["pm25_atm"], r["rh"]) for r in rows] == [("2026-01-05T00:00:00Z", 5.0, None),
                                                                      ("2026-01-05T00:10:00Z", 6.0, 51.0)]
        assert rows[0]["flags"] == "range:rh=250" and sub.rejected == 2
    finally:
        sub.stop()
        broker.stop()


def test_station_with_a_correction_and_a_late_backlog(tmp_path):
    """A station whose correction is known but whose newest row came from its Sensor.Community
    copy (no corrected value) is not 'uncorrected'; a latest reading hours older than its
    arrival is reported with its age, so the dashboard never calls it 'now'."""
    store = Store(tmp_path / "c.sqlite")
    now = int(time.time())
    store.put([{"device": "c", "time": iso_of(now - 600), "pm25_atm": 9.0, "pm25_corrected": 6.0}], "airkit_json",
              {"model": "epa-2021"})
    store.put([{"device": "c", "time": iso_of(now - 300), "pm25_atm": 9.5}], "sc", {})
    store.put([{"device": "late", "time": iso_of(now - 5 * 3600), "pm25_atm": 60.0}], "airkit_json", {})
    c = Collector(store, "127.0.0.1", 0).start()
    try:
        s = {x["id"]: x for x in json.loads(get(c, "/api/v1/latest")[2])["stations"]}
    finally:
        c.stop()
    assert s["c"]["model"] == "epa-2021" and not s["c"]["health"]["uncorrected"]
    assert not s["late"]["health"]["silent"] and s["late"]["health"]["stale"]
    assert 5 * 3600 - 60 <= s["late"]["health"]["reading_age_s"] <= 5 * 3600 + 120
    assert not s["c"]["health"]["stale"]
