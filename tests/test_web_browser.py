"""The station's pages as a person uses them: headless Debian Chromium (Selenium +
chromedriver) on the firmware's own web server, running under the real MicroPython
port in the virtual board, reached on a loopback port. Screenshots (desktop and
phone, English and Traditional Chinese) go to build/test-artifacts/."""

import json
import time
import urllib.error
import urllib.request
from base64 import b64encode
from pathlib import Path

import pytest

from browser_helpers import chromium_paths, quit_browser, screenshot, start_browser, wait_for
from conftest import run_mp
from uplink_helpers import TOKEN
from web_helpers import HOME, Board

pytestmark = pytest.mark.skipif(None in chromium_paths(), reason="chromium and chromedriver are not installed "
                                "(make setup installs them)")

PHONE = (412, 915)


def collector(tmp):
    from airkit.collect.server import Collector
    from airkit.collect.store import Store

    store = Store(tmp / "collect.sqlite")
    store.add_device("station-1", "json", TOKEN)
    return store, Collector(store, "127.0.0.1", 0).start()


def test_portal_in_both_languages_sets_up_a_station_that_uploads(tmp_path):
    store, coll = collector(tmp_path)
    b = Board(tmp_path / "board", {"device": {"id": "station-1"}, "interval_s": 60}, hours=1)
    d = start_browser(*PHONE)
    try:
        b.wait_line("setup portal: join the WiFi airkit-")
        base = "http://127.0.0.1:%d/" % b.port
        d.get(base + "?lang=zh-TW")
        wait_for(d, "document.getElementById('save') !== null")
        assert "設定您的空氣品質測站" in d.title
        screenshot(d, "portal-zh-TW-phone.png")
        d.find_element("css selector", "a[lang=en]").click()
        wait_for(d, "document.title.indexOf('Set up') === 0")
        screenshot(d, "portal-en-phone.png")
        # the network whose name is a script: shown as text, never run
        labels = [e.text for e in d.find_elements("css selector", ".ssid")]
        assert "<script>alert('x')</script>" in labels and "home-wifi" in labels
        assert d.execute_script("return document.querySelectorAll('.ssid script').length") == 0
        d.find_element("css selector", "input[name=ssid][value='home-wifi']").click()
        d.find_element("name", "password").send_keys(HOME["password"])
        d.find_element("name", "name").send_keys('Schulhof "Nord" 校園')
        d.find_element("name", "lat").send_keys("25.0330")
        d.find_element("name", "lon").send_keys("121.5654")
        d.find_element("name", "url").send_keys(coll.url + "api/v1/batch")
        d.find_element("name", "token").send_keys(TOKEN)
        d.find_element("name", "status").click()
        d.set_window_size(1200, 1100)
        screenshot(d, "portal-en-desktop-filled.png")
        d.find_element("id", "save").click()
        wait_for(d, "document.body.innerText.indexOf('Saved') >= 0")
        assert "home-wifi" in d.find_element("tag name", "body").text
        screenshot(d, "portal-en-saved.png")
        # the station restarts, joins the network it was given and uploads to the collector
        b.wait_line("setup portal: settings saved")
        b.wait_line("wifi: connected to home-wifi", timeout=60)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and store.count("station-1") == 0:
            time.sleep(0.2)
        assert store.count("station-1") > 0
        b.thread.join(120)
        assert b.error is None and b.vb.restarts["reset"] == 1 and b.vb.restarts["watchdog"] == 0
        cfg = json.loads(run_mp("flashtool.py", args=[Path(b.vb.board_dir) / "flash.img", "--cat", "config.json"],
                                vboard=True))
        assert cfg["wifi"] == {"ssid": "home-wifi", "password": HOME["password"]}
        assert cfg["device"] == {"id": "station-1", "name": 'Schulhof "Nord" 校園'}
        assert cfg["location"] == {"lat": 25.033, "lon": 121.5654}
        assert cfg["uplinks"] == [{"type": "airkit_json", "url": coll.url + "api/v1/batch", "token": TOKEN,
                                   "enabled": True}]
        assert cfg["web"]["status"] is True
        assert not any(HOME["password"] in line or TOKEN in line for line in b.vb.lines)
    finally:
        quit_browser(d)
        b.stop()
        coll.stop()


def get_when_listening(url, timeout=15):
    """The page starts listening once the first reading is handed on (just after its line)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return urllib.request.urlopen(url, timeout=timeout).read()
        except urllib.error.URLError as e:
            if not isinstance(e.reason, ConnectionRefusedError) or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def readings_now(b):
    return [json.loads(line[8:]) for line in b.vb.lines if line.startswith("reading ")]


def test_status_page_and_airrohr_data_json(tmp_path):
    store, coll = collector(tmp_path)
    cfg = {"device": {"id": "station-1", "name": "yard"}, "interval_s": 60,
           "wifi": {"ssid": HOME["ssid"], "password": HOME["password"]}, "web": {"status": True},
           "uplinks": [{"type": "airkit_json", "url": coll.url + "api/v1/batch", "token": TOKEN}]}
    b = Board(tmp_path / "board", cfg, speed=20)
    d = start_browser(1200, 900)
    try:
        b.wait_line("reading {", timeout=60)
        base = "http://127.0.0.1:%d/" % b.port
        before = readings_now(b)
        text = get_when_listening(base + "data.json").decode()
        after = readings_now(b)
        assert text.startswith('{"software_version": "airkit-0.1.0", "age":"')
        doc = json.loads(text)
        assert list(doc) == ["software_version", "age", "sensordatavalues"]
        assert int(doc["age"]) >= 0
        vals = {v["value_type"]: v["value"] for v in doc["sensordatavalues"]}
        assert [v["value_type"] for v in doc["sensordatavalues"]] == [
            "PMS_P0", "PMS_P1", "PMS_P2", "temperature", "humidity", "samples", "interval", "signal"]
        assert all(isinstance(v, str) for v in vals.values())
        assert vals["interval"] == "60000" and vals["signal"] == "-61"
        assert any(vals["PMS_P2"] == "%.2f" % r["pm25_atm"] and vals["PMS_P0"] == "%.2f" % r["pm1_atm"]
                   and vals["PMS_P1"] == "%.2f" % r["pm10_atm"] and vals["temperature"] == "%.2f" % r["temp_c"]
                   and vals["humidity"] == "%.2f" % r["rh"] for r in (before + after)[-3:])
        d.get(base)
        wait_for(d, "document.title === 'Air-quality station'")
        body = d.find_element("tag name", "body").text
        assert "PM2.5" in body and "airkit-0.1.0" in body and "Free memory" in body and "airkit_json" in body
        screenshot(d, "status-en-desktop.png")
        d.set_window_size(*PHONE)
        d.get(base + "?lang=zh-TW")
        wait_for(d, "document.title === '空氣品質測站'")
        assert "最新量測" in d.find_element("tag name", "body").text
        screenshot(d, "status-zh-TW-phone.png")
    finally:
        quit_browser(d)
        b.stop()
        coll.stop()


def test_status_page_password_and_off_by_default(tmp_path):
    cfg = {"device": {"id": "s"}, "interval_s": 60, "wifi": {"ssid": HOME["ssid"], "password": HOME["password"]},
           "web": {"status": True, "password": "pa55-word-x"}}
    b = Board(tmp_path / "board", cfg, speed=20)
    try:
        b.wait_line("reading {", timeout=60)       # it listens from the first reading on
        base = "http://127.0.0.1:%d/" % b.port
        with pytest.raises(urllib.error.HTTPError):
            get_when_listening(base)
        for path in ("", "data.json"):
            with pytest.raises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(base + path, timeout=15)
            assert e.value.code == 401 and b"pa55" not in e.value.read()
            bad = urllib.request.Request(base + path, headers={"Authorization": "Basic " + b64encode(
                b"airkit:pa55-word-y").decode()})
            with pytest.raises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(bad, timeout=15)
            assert e.value.code == 401
            good = urllib.request.Request(base + path, headers={"Authorization": "Basic " + b64encode(
                b"anyone:pa55-word-x").decode()})
            page = urllib.request.urlopen(good, timeout=15).read()
            assert b"pa55" not in page
    finally:
        b.stop()
    cfg["web"] = {}
    b = Board(tmp_path / "board2", cfg, speed=20)
    try:
        b.wait_line("reading {", timeout=60)
        time.sleep(0.5)
        with pytest.raises(OSError):
            urllib.request.urlopen("http://127.0.0.1:%d/" % b.port, timeout=5)
    finally:
        b.stop()
