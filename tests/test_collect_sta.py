"""The collector's SensorThings API (read), checked with the real ``frost-sta-client``
library (from the authors of FROST-Server, the OGC reference implementation) and with
the query shapes of Civil IoT Taiwan's tutorial (plain HTTP GETs)."""

import json
import urllib.error
import urllib.parse
import urllib.request

import pytest

from airkit.collect.server import Collector
from airkit.collect.store import Store, epoch_of, iso_of

BASE = epoch_of("2026-01-05T00:00:00Z")
WEEK = 7 * 288


@pytest.fixture(scope="module")
def coll(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("sta") / "c.sqlite")
    store.set_station("tw-001", name="大安國小", lat=25.03, lon=121.54)
    store.set_station("tw-002", name="Yard", lat=25.05, lon=121.50)
    rows = [{"device": "tw-001", "epoch": BASE + k * 300, "time": iso_of(BASE + k * 300),
             "pm25_atm": float(k % 50), "pm25_cf1": float(k % 50) + 1, "rh": 60.0, "temp_c": 21.5,
             "pm25_corrected": float(k % 50) * 0.5, "model": "epa-2021",
             "flags": "ab_disagree" if k == 10 else ""} for k in range(WEEK + 288)]
    store.put(rows, "airkit_json", {"fw": "0.2.0", "model": "epa-2021"})
    store.put([{"device": "tw-002", "epoch": BASE, "time": iso_of(BASE), "pm25_atm": 7.0}], "airkit_json")
    store.put([{"device": "o'brien", "epoch": BASE, "time": iso_of(BASE), "pm25_atm": 9.0}], "airkit_json")
    c = Collector(store, "127.0.0.1", 0).start()
    yield c
    c.stop()


def get(c, path):
    try:
        r = urllib.request.urlopen(c.url + path.lstrip("/"), timeout=20)
        return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def sta(c, rest, **q):
    return get(c, "sta/v1.1/" + rest + ("?" + urllib.parse.urlencode(q) if q else ""))


def test_frost_client_reads_stations_datastreams_and_a_week_of_observations(coll):
    frost = pytest.importorskip("frost_sta_client")
    svc = frost.SensorThingsService(coll.url + "sta/v1.1")
    things = list(svc.things().query().list())
    assert sorted(t.id for t in things) == ["o'brien", "tw-001", "tw-002"]
    t = svc.things().find("tw-001")
    assert t.name == "大安國小" and t.properties["fw"] == "0.2.0"
    streams = list(svc.datastreams().query().filter("Thing/@iot.id eq 'tw-001'").list())
    assert {d.id for d in streams} >= {"tw-001:pm25_atm", "tw-001:pm25_corrected", "tw-001:rh"}
    ds = svc.datastreams().find("tw-001:pm25_atm")
    assert ds.unit_of_measurement.symbol == "µg/m³"
    start, end = iso_of(BASE + 288 * 300), iso_of(BASE + 288 * 300 + 7 * 86400)
    obs = list(ds.get_observations().query()
               .filter("phenomenonTime ge %s and phenomenonTime lt %s" % (start, end)).top(500).list())
    # the client follows @iot.nextLink by itself: the whole week, in order, without gaps
    assert len(obs) == WEEK
    times = [epoch_of(o.phenomenon_time) for o in obs]
    assert times == sorted(times) and times[0] == BASE + 288 * 300 and times[-1] - times[0] == (WEEK - 1) * 300
    assert obs[0].result == float(288 % 50)
    high = list(ds.get_observations().query().filter("result gt 48").list())
    assert high and all(o.result > 48 for o in high)
    # the observation by id, and its flags
    o = svc.observations().find("tw-001:pm25_atm:%d:0" % (BASE + 10 * 300))
    assert o.result_quality == ["ab_disagree"] and o.result == 10.0


def test_civil_iot_tutorial_query_shapes(coll):
    st, doc = sta(coll, "")
    assert st == 200 and {v["name"] for v in doc["value"]} >= {"Things", "Datastreams", "Observations"}
    st, doc = sta(coll, "Things", **{"$select": "description"})
    assert st == 200 and all(set(t) == {"description"} for t in doc["value"])
    st, doc = sta(coll, "Things('tw-001')", **{"$expand": "Datastreams"})
    assert st == 200 and len(doc["Datastreams"]) == 7
    # the latest value of every datastream of every station, in one request (pyCIOT's shape)
    st, doc = sta(coll, "Things", **{"$expand": "Locations,Datastreams($expand=Observations($orderby=phenomenonTime "
                                                "desc;$top=1))", "$filter": "name eq '大安國小'"})
    assert st == 200 and len(doc["value"]) == 1
    thing = doc["value"][0]
    assert thing["Locations"][0]["location"]["coordinates"] == [121.54, 25.03]
    pm = [d for d in thing["Datastreams"] if d["@iot.id"] == "tw-001:pm25_atm"][0]
    assert len(pm["Observations"]) == 1
    assert pm["Observations"][0]["phenomenonTime"] == iso_of(BASE + (WEEK + 287) * 300)
    assert "Observations@iot.nextLink" in pm
    st, doc = sta(coll, "Datastreams('tw-001:pm25_corrected')/Observations", **{"$top": "2", "$count": "true"})
    assert st == 200 and doc["@iot.count"] == WEEK + 288 and len(doc["value"]) == 2 and "@iot.nextLink" in doc
    assert doc["value"][0]["parameters"]["model"] == "epa-2021"
    st, doc = sta(coll, "Datastreams('tw-001:rh')/Thing")
    assert st == 200 and doc["@iot.id"] == "tw-001"
    st, doc = sta(coll, "Datastreams('tw-001:rh')/Sensor")
    assert doc["@iot.id"] == "DHT22" and doc["metadata"].startswith("https://")
    st, doc = sta(coll, "Things", **{"$orderby": "name desc", "$top": "1"})
    assert doc["value"][0]["name"] == "大安國小" and "@iot.nextLink" in doc
    st, doc = sta(coll, "Things", **{"$filter": "substringof('Ya', name)"})
    assert [t["@iot.id"] for t in doc["value"]] == ["tw-002"]
    st, doc = sta(coll, "Things('o''brien')/Datastreams('o''brien:pm25_atm')/Observations")
    assert st == 200 and doc["value"][0]["result"] == 9.0
    assert get(coll, "sta/v1.0/Things('tw-002')")[1]["name"] == "Yard"


@pytest.mark.parametrize("rest,q,status", [
    ("Things", {"$filter": "name eq"}, 400),
    ("Things", {"$filter": "evil(name)"}, 400),
    ("Things", {"$top": "-1"}, 400),
    ("Things", {"$top": "100000000"}, 400),
    ("Things", {"$orderby": "name sideways"}, 400),
    ("Things", {"$foo": "1"}, 400),
    ("Things", {"$expand": "Datastreams(" * 3}, 400),
    ("Observations", {"$filter": "substringof('x', resultQuality)"}, 400),
    ("Observations", {"$filter": "phenomenonTime ge 'yesterday'"}, 400),
    ("Things('nope')", {}, 404),
    ("Widgets", {}, 404),
    ("Datastreams('tw-001:password')", {}, 404),
    ("Observations('tw-001:pm25_atm:1:0')", {}, 404),
])
def test_bad_queries_get_a_message_not_a_crash(coll, rest, q, status):
    st, doc = sta(coll, rest, **q)
    assert st == status and doc["message"]


def test_an_expansion_that_multiplies_observations_is_refused_not_read(coll):
    st, doc = sta(coll, "Things", **{"$expand": "Datastreams($expand=Observations($top=10000))"})
    assert st == 400 and "more than" in doc["message"]
    st, doc = sta(coll, "Things", **{"$expand": "Datastreams($expand=Observations($top=1))"})
    assert st == 200


def test_deep_filter_is_refused_and_the_server_stays_up(coll):
    st, doc = sta(coll, "Things", **{"$filter": "(" * 900 + "name eq 'x'" + ")" * 900})
    assert st == 400
    assert sta(coll, "Things")[0] == 200
