"""The dashboard for a network, in headless Chromium at 2,000 stations (desktop and phone):
clustering with counts, search, a sortable paginated table, Traditional Chinese chosen from the
browser's language and switchable, CSV with a BOM for Excel zh-TW, and a spoofed write from the
page refused on both HTTP write paths."""

import json
import random
import time
import urllib.request

import pytest

from airkit.collect.server import Collector
from airkit.collect.store import Store, iso_of
from browser_helpers import chromium_paths, quit_browser, screenshot, start_browser, wait_for

pytestmark = pytest.mark.skipif(None in chromium_paths(), reason="chromium and chromedriver are not installed")
N = 2000
CJK = "台北-大安"


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("net") / "c.sqlite")
    rnd = random.Random(7)
    now = int(time.time()) // 300 * 300
    rows = []
    for i in range(N):
        sid = CJK if i == 0 else "st%04d" % i
        store.set_station(sid, name="大安森林公園" if i == 0 else "Station %04d" % i,
                          lat=22.0 + rnd.random() * 3.2, lon=120.1 + rnd.random() * 1.8)
        rows.append({"device": sid, "time": iso_of(now - 300), "pm25_atm": 999.0 if i == 1 else rnd.random() * 60})
    store.put(rows, "airkit_json", {"fw": "0.1.0"})
    store.add_device(CJK, "json", "net-token-123456")
    c = Collector(store, "127.0.0.1", 0, settings={"tiles": ""}).start()
    yield c
    c.stop()


def _markers_on_map(d):
    return d.execute_script(_COUNT)


_COUNT = ("var n = 0, p = 0; function shown(e) { return getComputedStyle(e).opacity !== '0'; }"
        "document.querySelectorAll('.cluster-icon').forEach(function (c) {"
        " if (shown(c)) n += parseInt(c.querySelector('.cluster').getAttribute('data-count'), 10); });"
        "document.querySelectorAll('.station-pin').forEach(function (c) { if (shown(c)) p++; });"
        "return [n, p];")


@pytest.mark.parametrize("size", [(1200, 900), (390, 844)])
def test_network_map_table_search_and_languages(network, size):
    d = start_browser(*size)
    try:
        d.execute_cdp_cmd("Emulation.setLocaleOverride", {"locale": "zh-TW"})
        d.execute_cdp_cmd("Network.setUserAgentOverride", {"userAgent": d.execute_script("return navigator.userAgent"),
                                                           "acceptLanguage": "zh-TW,zh;q=0.9"})
        d.get(network.url)
        wait_for(d, "document.body.getAttribute('data-markers') == '%d'" % N, 60)
        assert d.execute_script("return document.documentElement.lang") == "zh-TW"      # from the browser
        assert "空氣品質測站" in d.find_element("id", "title").text
        assert d.find_element("id", "nav-map").text == "地圖"
        # every station is in a cluster (its count on it) or a pin, once the zoom animation is over
        wait_for(d, "(function () { " + _COUNT + " })().reduce(function (a, b) { return a + b; }) == %d" % N, 15)
        clusters, pins = _markers_on_map(d)
        assert clusters + pins == N and d.execute_script("return document.querySelectorAll('.cluster-icon').length") >= 3
        rows = d.execute_script("return document.querySelectorAll('#station-table tbody tr').length")
        assert rows == 50 and "2000" in d.find_element("id", "table-count").text
        screenshot(d, "network-zh-%d.png" % size[0])
        box = d.find_element("id", "search")
        box.send_keys("大安")
        wait_for(d, "document.querySelectorAll('#station-table tbody tr').length == 1")
        assert d.execute_script("return document.querySelector('#station-table tbody tr').getAttribute('data-station')") == CJK
        box.clear()
        box.send_keys("x")                           # clear() fires no input event: type and erase
        box.send_keys("\b")
        wait_for(d, "document.querySelectorAll('#station-table tbody tr').length == 50")
        d.execute_script("document.querySelector('th[data-sort=pm] button').click()")   # highest PM2.5 first
        assert d.execute_script("return document.querySelector('#station-table tbody tr').getAttribute('data-station')") \
            == "st0001"
        d.execute_script("document.getElementById('next').click()")
        assert "2 / 40" in d.find_element("id", "page").text
        href = d.find_element("id", "latest-csv").get_attribute("href")
        assert href.endswith("bom=1")
        assert urllib.request.urlopen(href, timeout=10).read().startswith("\ufeff".encode())
        # a spoofed write from the page: both write paths refuse it
        got = d.execute_async_script(
            "var done = arguments[0]; Promise.all(["
            " fetch('/v1/push-sensor-data/', {method: 'POST', headers: {'X-Sensor': 'esp32-abc', 'X-PIN': '1',"
            "  'Content-Type': 'application/json'}, body: JSON.stringify({sensordatavalues: [{value_type: 'P2', value: '499'}]})}),"
            " fetch('/api/v1/batch', {method: 'POST', headers: {'Content-Type': 'application/json'},"
            "  body: JSON.stringify({device: '" + CJK + "', records: [{time: new Date().toISOString(), pm25_atm: 499}]})})"
            "]).then(function (r) { done([r[0].status, r[1].status]); });")
        assert got == [403, 401]
        # switch to English
        d.execute_script("var s = document.getElementById('lang'); s.value = 'en'; s.dispatchEvent(new Event('change'));")
        wait_for(d, "document.getElementById('nav-map').textContent == 'Map'")
        assert d.execute_script("return document.documentElement.lang") == "en"
        screenshot(d, "network-en-%d.png" % size[0])
    finally:
        quit_browser(d)
    latest = json.loads(urllib.request.urlopen(network.url + "api/v1/latest", timeout=10).read())
    assert {s["id"]: s for s in latest["stations"]}[CJK]["pm25_atm"] != 499
