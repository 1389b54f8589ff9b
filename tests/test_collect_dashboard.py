"""The dashboard in a real browser: headless Debian Chromium (Selenium + chromedriver)
against a real collector filled through its HTTP APIs. Screenshots are saved in
build/test-artifacts/."""

import csv
import io
import json
import time
import urllib.request

import pytest

from airkit.collect.server import Collector
from airkit.collect.store import Store, iso_of
from browser_helpers import chromium_paths, quit_browser, screenshot, start_browser, wait_for
from test_collect import post

pytestmark = pytest.mark.skipif(None in chromium_paths(), reason="chromium and chromedriver are not installed "
                                                                  "(make sysdeps installs them)")
TOKEN = "dash-token-0123456789"
# station -> (PM2.5, lat, lon); 12 ug/m3 is "Moderate" on the US EPA AQI but "Good" on Taiwan's MOENV AQI
STATIONS = {"clean": (4.0, 25.030, 121.560), "twelve": (12.0, 25.040, 121.575), "smoky": (45.0, 25.020, 121.545),
            "heavy": (80.0, 25.045, 121.545)}
US = {"clean": "#00e400", "twelve": "#ffff00", "smoky": "#ff7e00", "heavy": "#ff0000"}
TW = {"clean": "#00e800", "twelve": "#00e800", "smoky": "#ff7e00", "heavy": "#ff0000"}


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dash")
    store = Store(tmp / "collect.sqlite")
    dead = "http://127.0.0.1:9/{z}/{x}/{y}.png"                  # a tile server that is not there (offline)
    coll = Collector(store, "127.0.0.1", 0, settings={"tiles": dead}).start()
    end = int(time.time()) // 300 * 300
    for name, (pm, lat, lon) in STATIONS.items():
        store.add_device(name, "json", TOKEN)
        store.set_station(name, name=name.title() + (" <img id=pwn src=x>" if name == "heavy" else ""), lat=lat, lon=lon)
        recs = [{"seq": k, "time": iso_of(end - (287 - k) * 300), "flags": ["dht_stuck"] if k == 100 else [],
                 "pm25_atm": pm, "pm25_cf1": pm * 1.4, "pm10_atm": pm * 1.3, "rh": 55.0 + k % 10,
                 "temp_c": 15 + (k % 48) / 4} for k in range(288)]
        st, body = post(coll, "/api/v1/batch", {"device": name, "fw": "0.1.0", "records": recs},
                        {"Authorization": "Bearer " + TOKEN})
        assert st == 200 and json.loads(body)["accepted"] == 288, body
    # a station that stopped sending two hours ago (its last upload was received then)
    store.set_station("gone", name="Gone", lat=25.035, lon=121.550)
    store.put([{"device": "gone", "time": iso_of(end - 7200 - k * 300), "pm25_atm": 5.0} for k in range(12)],
              "airkit_json", {"fw": "0.0.9"}, received=iso_of(end - 7200))
    # a station heard just now whose newest reading is 5 h old (its backlog is arriving), with a correction
    store.set_station("late", name="Late", lat=25.025, lon=121.570)
    store.put([{"device": "late", "time": iso_of(end - 5 * 3600 - k * 300), "pm25_atm": 30.0, "pm25_corrected": 20.0}
               for k in range(6)], "airkit_json", {"fw": "0.1.0", "model": "epa-2021"})
    yield coll
    coll.stop()


@pytest.fixture
def browser():
    d = start_browser()
    yield d
    quit_browser(d)


def marker_fills(d):
    return d.execute_script(
        "var o = {}; document.querySelectorAll('path.station-marker').forEach(function (p) {"
        "o[p.getAttribute('data-station')] = [p.getAttribute('fill'), p.classList.contains('silent')]; }); return o;")


def test_map_markers_colours_silent_and_offline_tiles(filled, browser):
    d = browser
    d.get(filled.url)
    wait_for(d, "document.querySelectorAll('path.station-marker').length == 6")
    fills = marker_fills(d)
    assert {k: v[0] for k, v in fills.items() if k in US} == US
    assert fills["gone"] == ["#9e9e9e", True]                                   # grey, marked silent
    row = d.find_element("css selector", "tr[data-station=gone]").text
    assert "silent" in row and "h ago" in row
    late = d.find_element("css selector", "tr[data-station=late]").text
    assert "(reading from 5 h ago)" in late                                   # an old value is never shown as "now"
    wait_for(d, "!document.getElementById('tiles-note').hidden")               # tiles failed: said so
    assert "Gone" in d.find_element("id", "station-table").text               # positions and values still there
    d.execute_script("document.querySelector('path.station-marker[data-station=heavy]')"
                     ".dispatchEvent(new MouseEvent('mouseover', {bubbles: true}))")
    wait_for(d, "document.querySelector('.leaflet-tooltip') !== null")
    assert "Heavy <img id=pwn src=x>: 80.0" in d.find_element("css selector", ".leaflet-tooltip").text
    assert d.execute_script("return document.getElementById('pwn') === null")  # names are text, never HTML
    screenshot(d, "dashboard-map-us.png")
    d.execute_script("var s = document.getElementById('aqi'); s.value = 'tw'; s.dispatchEvent(new Event('change'));")
    wait_for(d, "document.querySelector('path.station-marker[data-station=twelve]').getAttribute('fill') == '#00e800'")
    assert {k: v[0] for k, v in marker_fills(d).items() if k in TW} == TW
    assert "MOENV" in d.find_element("id", "legend").text
    screenshot(d, "dashboard-map-tw.png")


def test_station_page_chart_points_flags_and_csv(filled, browser):
    d = browser
    d.get(filled.url + "#/station/smoky")
    wait_for(d, "document.querySelector('#chart-pm25 svg') && "
                "document.querySelector('#chart-pm25 svg').getAttribute('data-points') !== null")
    svg_points = d.execute_script(
        "var n = 0; document.querySelectorAll('#chart-pm25 polyline.series-pm25_atm').forEach(function (p) {"
        "n += p.getAttribute('points').trim().split(' ').length; }); return n;")
    assert svg_points == 288
    assert d.find_element("css selector", "#chart-pm25 svg").get_attribute("data-points") == "288"
    facts = d.find_element("id", "st-facts").text
    assert "0.1.0" in facts and "Backlog" in facts and "Last seen" in facts
    assert "dht_stuck: 1 reading(s) \u2014 the humidity/temperature sensor repeated the same value" in \
        d.find_element("id", "st-flags").text                                # what the flag means, in words
    assert "raw sensor value, not corrected" in d.find_element("id", "st-status").text
    assert len(d.find_elements("css selector", "#chart-pm25 circle.flagged")) == 1
    screenshot(d, "dashboard-station-24h.png")
    href = d.find_element("css selector", "#chart-pm25 a.csv").get_attribute("href")
    rows = list(csv.DictReader(io.StringIO(urllib.request.urlopen(href, timeout=10).read().decode())))
    assert len(rows) == 288 and float(rows[0]["pm25_atm"]) == 45.0 and "pm25_corrected" in rows[0]
    d.find_element("css selector", "button[data-range='7d']").click()
    wait_for(d, "document.querySelector('#chart-pm25 h3').textContent.indexOf('7 days') >= 0")
    n7 = int(d.find_element("css selector", "#chart-pm25 svg").get_attribute("data-points"))
    assert 24 <= n7 <= 25                                                     # hourly averages of one day
    screenshot(d, "dashboard-station-7d.png")


def test_silent_station_page_health_view_and_phone(filled, browser):
    d = browser
    d.get(filled.url + "#/station/gone")
    wait_for(d, "document.getElementById('st-status').textContent.length > 0")
    assert d.find_element("id", "st-status").text.startswith("Silent")
    d.get(filled.url + "#/health")
    wait_for(d, "document.querySelector('#health-silent li') !== null")
    assert [e.get_attribute("data-station") for e in d.find_elements("css selector", "#health-silent li")] == ["gone"]
    assert "5 of 6" in d.find_element("css selector", "#health-uncorrected h2").text
    d.get(filled.url + "#/station/late")
    wait_for(d, "document.getElementById('st-status').textContent.length > 0")
    assert "corrected with epa-2021" in d.find_element("id", "st-status").text
    assert "(reading from 5 h ago)" in d.find_element("id", "st-status").text
    screenshot(d, "dashboard-health.png")
    d.set_window_size(390, 844)                                            # a phone
    d.get(filled.url)
    wait_for(d, "document.querySelectorAll('path.station-marker').length == 6")
    assert d.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")
    screenshot(d, "dashboard-phone.png")
    d.get(filled.url + "api/docs")                                        # the API page fits a phone too
    wait_for(d, "document.readyState == 'complete'")
    assert "hourly means of one station for a week" in d.find_element("tag name", "body").text
    assert d.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")
