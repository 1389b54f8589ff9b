"""The setup portal's server under the real MicroPython port in the virtual board,
reached from the host on loopback: what a phone and a hostile client see."""

import json
import socket
import struct
import time
from pathlib import Path

import pytest

from conftest import run_mp
from web_helpers import Board

SECRETS = ("s3cret-old-pass", "tok-secret-999", "pw123", "tok-in-url")
CONFIG = {"device": {"id": "station-1", "name": "yard"}, "interval_s": 60,
          "wifi": {"ssid": "old-net", "password": "s3cret-old-pass"},
          "uplinks": [{"type": "airkit_json", "url": "http://user:pw123@127.0.0.1:9/api/v1/batch?token=tok-in-url",
                       "token": "tok-secret-999"}]}


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    b = Board(tmp_path_factory.mktemp("portal"), CONFIG, boot_button=True)
    try:
        b.wait_line("setup portal: join the WiFi airkit-")
        yield b
    finally:
        b.stop()


def flash_file(board, name):
    return run_mp("flashtool.py", args=[Path(board.vb.board_dir) / "flash.img", "--cat", name], vboard=True)


def test_boot_button_opens_the_portal_with_the_scan_shown_as_text_and_no_secret(portal):
    assert any("access point airkit-" in line for line in portal.vb.lines)
    st, hdr, body = portal.request("GET", "/")
    page = body.decode()
    assert st == 200 and hdr["Content-Type"].startswith("text/html")
    assert "home-wifi" in page and "-58 dBm" in page
    # a network name with markup is text, never markup
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "Café &quot;Ñandú&quot; 咖啡" in page
    for s in SECRETS:
        assert s not in page
    assert page.count('type="password"') == 2 and "leave empty to keep it" in page
    assert "esp32-" in page                    # the node id to register at Sensor.Community


def test_language_from_the_browser_switchable_and_kept(portal):
    _, hdr, body = portal.request("GET", "/", headers={"Accept-Language": "zh-TW,zh;q=0.9,en;q=0.8"})
    assert "設定您的空氣品質測站" in body.decode() and 'lang="zh-TW"' in body.decode()
    assert "lang=zh-TW" in hdr["Set-Cookie"]
    _, _, body = portal.request("GET", "/?lang=en", headers={"Accept-Language": "zh-TW"})
    assert "Set up your air-quality station" in body.decode()
    _, _, body = portal.request("GET", "/", headers={"Cookie": "lang=zh-TW", "Accept-Language": "en"})
    assert "儲存並開始量測" in body.decode()
    _, _, body = portal.request("GET", "/", headers={"Accept-Language": "de-DE,fr"})
    assert "Save and start measuring" in body.decode()


@pytest.mark.parametrize("path", ["/generate_204", "/hotspot-detect.html", "/connecttest.txt", "/ncsi.txt",
                                  "/canonical.html"])
def test_captive_portal_probes_are_sent_to_the_page(portal, path):
    st, hdr, _ = portal.request("GET", path, headers={"Host": "connectivitycheck.gstatic.com"})
    assert st == 302 and hdr["Location"] == "http://192.168.4.1/"


def dns_query(name, qtype=1, qid=0x1234):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00" + struct.pack(">HH", qtype, 1)


def test_dns_answers_every_name_with_the_station(portal):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    try:
        for name in ("connectivitycheck.gstatic.com", "captive.apple.com", "www.msftconnecttest.com"):
            s.sendto(dns_query(name), ("127.0.0.1", portal.vb.dns_port))
            r, _ = s.recvfrom(512)
            assert r[:2] == b"\x12\x34" and r[2] & 0x80 and r[7] == 1
            assert r[-4:] == bytes([192, 168, 4, 1])
        s.sendto(dns_query("example.org", qtype=28, qid=7), ("127.0.0.1", portal.vb.dns_port))   # AAAA
        r, _ = s.recvfrom(512)
        assert r[:2] == b"\x00\x07" and r[7] == 0          # no IPv6 answer
        s.sendto(b"\xff" * 40, ("127.0.0.1", portal.vb.dns_port))           # garbage: no answer, no harm
        s.sendto(dns_query("a.b"), ("127.0.0.1", portal.vb.dns_port))
        r, _ = s.recvfrom(512)
        assert r[-4:] == bytes([192, 168, 4, 1])
    finally:
        s.close()


@pytest.mark.parametrize("path", ["/../config.json", "/%2e%2e/config.json", "/config.json", "//config.json",
                                  "/lib/airkit_fw/web/en.txt", "/web/en.txt", "/..%2fconfig.json"])
def test_paths_reach_only_the_pages(portal, path):
    st, _, body = portal.raw(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n").split(b"\r\n", 1)[0], None, \
        portal.raw(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert st.startswith(b"HTTP/1.0 404")
    for s in SECRETS + ("old-net", "ssid", "title\t"):
        assert s.encode() not in body


def test_huge_headers_are_refused_and_the_server_carries_on(portal):
    out = portal.raw(b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"A" * 20000 + b"\r\n\r\n")
    assert out.startswith(b"HTTP/1.0 431")
    assert portal.request("GET", "/")[0] == 200


def test_oversized_form_is_refused(portal):
    st, _, _ = portal.request("POST", "/save", body=b"name=" + b"x" * 5000,
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert st == 413


def test_slow_sender_is_cut_off_and_others_are_served(portal):
    import threading

    t0 = time.monotonic()
    out = {}
    th = threading.Thread(target=lambda: out.setdefault("slow", portal.raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                                                                           pause=0.4)))
    th.start()
    time.sleep(0.5)
    st = portal.request("GET", "/", timeout=15)[0]
    th.join(20)
    assert st == 200
    assert out["slow"].startswith(b"HTTP/1.0 408") or out["slow"] == b""
    assert time.monotonic() - t0 < 12          # the slow one held the server at most ~3 s


def test_many_idle_connections_do_not_stop_the_station(portal):
    idle = []
    try:
        for _ in range(6):
            s = socket.socket()
            s.settimeout(2)
            try:
                s.connect(("127.0.0.1", portal.port))
            except OSError:
                pass
            idle.append(s)
        t0 = time.monotonic()
        assert portal.request("GET", "/", timeout=20)[0] == 200
        assert time.monotonic() - t0 < 15      # each silent connection is closed after 1 s
    finally:
        for s in idle:
            s.close()
    assert not any("CRASH" in line or "Traceback" in line for line in portal.vb.lines)
    assert portal.vb.restarts == {"reset": 0, "watchdog": 0, "power_cut": 0}


def form(**kw):
    from urllib.parse import urlencode
    return urlencode(kw).encode()


def test_form_is_checked_with_the_config_rules_and_shown_back_escaped(portal):
    name = 'Ünï "q" \'s 測站 <b>'
    st, _, body = portal.request("POST", "/save", body=form(ssid="home-wifi", password="hunter2-new-pass",
                                                             name=name, lat="123.5", lon="abc", lang="en"),
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    page = body.decode()
    assert st == 400
    assert "'location.lat' is 123.5; it must be between -90 and 90" not in page   # lon fails first (a number?)
    assert "&#39;location.lon&#39; must be a number" in page
    assert 'value="Ünï &quot;q&quot; &#39;s 測站 &lt;b&gt;"' in page
    assert "hunter2-new-pass" not in page
    for s in SECRETS:
        assert s not in page
    # the same rules as 'airkit config validate': a latitude out of range, in its words
    st, _, body = portal.request("POST", "/save", body=form(ssid="home-wifi", name="x", lat="123.5", lon="5"),
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    from airkit_fw import config
    user = json.loads(json.dumps(CONFIG))
    user["location"] = {"lat": 123.5, "lon": 5.0}
    want = [p for p in config.validate(user) if "location.lat" in p]
    assert st == 400 and want and want[0].replace("'", "&#39;") in body.decode()
    # nothing was saved
    assert json.loads(flash_file(portal, "config.json")) == CONFIG


def test_no_wifi_portal_closes_when_unused_and_the_station_measures(tmp_path):
    # time runs fast at the unused portal here ("ap_speed": 0): 60 s without use pass at once
    b = Board(tmp_path, {"device": {"id": "s"}, "interval_s": 60, "web": {"portal_idle_s": 60}},
              hours=0.5, ap_speed=0)
    try:
        b.wait_line("setup portal: join the WiFi")
        b.wait_line("setup portal closed after 60 s without use")
        b.thread.join(60)
        assert not b.thread.is_alive() and b.error is None
        lines = b.vb.lines
        closed = max(i for i, line in enumerate(lines) if "setup portal closed" in line)
        assert sum(1 for line in lines[closed:] if line.startswith("reading ")) >= 20
        assert sum(1 for line in lines if "setup portal: join" in line) == 1   # not again at the next boot
    finally:
        b.stop()


def test_text_files_ship_with_the_firmware(tmp_path):
    from airkit.firmware_build import source_files

    names = [p.as_posix() for p in source_files()]
    assert "airkit_fw/web/en.txt" in names and "airkit_fw/web/zh-TW.txt" in names
    en = (Path(__file__).resolve().parents[1] / "firmware/airkit_fw/web/en.txt").read_text().splitlines()
    zh = (Path(__file__).resolve().parents[1] / "firmware/airkit_fw/web/zh-TW.txt").read_text().splitlines()
    assert [line.split("\t")[0] for line in en] == [line.split("\t")[0] for line in zh]   # same keys, same order
    assert all(len(line.split("\t")) == 2 for line in en + zh)


def test_sim_portal_opens_in_a_browser_and_the_station_then_measures(tmp_path):
    """`airkit sim --portal`: what a newcomer runs (the README's steps)."""
    import os
    import signal
    import subprocess
    import sys
    import threading
    import urllib.request

    from uplink_helpers import free_port

    port = free_port()
    exe = Path(sys.executable).parent / "airkit"
    proc = subprocess.Popen([str(exe), "sim", "--portal", "--web-port", str(port), "--board-dir", str(tmp_path / "b")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = [], []
    threading.Thread(target=lambda: out.extend(proc.stdout), daemon=True).start()
    threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True).start()
    try:
        deadline = time.monotonic() + 30
        page = None
        while time.monotonic() < deadline and page is None:
            try:
                page = urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=5).read().decode()
            except OSError:
                time.sleep(0.2)
        assert page and "airkit-sim" in page and "school-guest" in page
        assert any("open http://127.0.0.1:%d/" % port in line for line in err)
        body = form(ssid="airkit-sim", password="airkit-sim-wifi", name="My first station", lat="", lon="")
        saved = urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:%d/save" % port, data=body),
                                       timeout=10).read().decode()
        assert "Saved" in saved
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and len(out) < 2:
            time.sleep(0.2)
        assert len(out) >= 2, "".join(err[-20:])       # readings, one line each
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert proc.returncode == 0, "".join(err[-20:])
    assert "airkit-sim-wifi" not in "".join(out)


def test_sim_web_port_mistakes_are_one_sentence(tmp_path, capsys):
    from airkit import cli
    from uplink_helpers import free_port

    assert cli.main(["sim", "--portal", "--web-port", "80"]) == 2
    assert "--web-port must be a port number from 1024 to 65535" in capsys.readouterr().err
    s = socket.socket()
    s.bind(("127.0.0.1", free_port()))
    s.listen(1)
    try:
        assert cli.main(["sim", "--portal", "--web-port", str(s.getsockname()[1])]) == 2
        assert "in use: give another with --web-port" in capsys.readouterr().err
    finally:
        s.close()


def test_portal_form_turns_sensor_community_on_and_off_with_the_node_id():
    out = run_mp(source="""
from airkit_fw.web import portal
u, p = portal.apply_form({"uplinks": [{"type": "airkit_json", "url": "http://a:1@h/x?token=t", "token": "k"}]},
                         {"ssid": "net", "sc": "1", "url": "http://a:***@h/x?token=***", "status": "1"})
print(p)
print(u["uplinks"])
u, p = portal.apply_form(u, {"ssid": "", "ssid_other": "other", "url": ""})
print(p)
print(u["uplinks"], u["wifi"], u["web"])
""")
    lines = out.strip().splitlines()
    assert lines[0] == "[]"
    # the masked URL shown in the page came back unchanged: the stored one (with its secrets) is kept
    assert "'url': 'http://a:1@h/x?token=t'" in lines[1] and "'token': 'k'" in lines[1]
    assert "{'type': 'sensor_community'}" in lines[1]
    assert lines[2] == "[]"
    assert "'enabled': False" in lines[3] and "'ssid': 'other'" in lines[3] and "'status': False" in lines[3]


def test_portal_opens_after_wifi_failed_for_the_configured_time_and_readings_are_kept(tmp_path):
    cfg = {"device": {"id": "s"}, "interval_s": 60, "wifi": {"ssid": "home-wifi", "password": "wrong-password"},
           "web": {"portal_after_s": 300, "portal_idle_s": 60}}
    b = Board(tmp_path, cfg, hours=0.4, ap_speed=0)
    try:
        b.wait_line("restarting into the setup portal", timeout=60)
        b.wait_line("setup portal: join the WiFi", timeout=30)
        b.wait_line("setup portal closed after 60 s without use", timeout=30)
        b.thread.join(60)
        assert not b.thread.is_alive() and b.error is None
        lines = b.vb.lines
        seqs = [json.loads(line[8:])["seq"] for line in lines if line.startswith("reading ")]
        opened = next(i for i, line in enumerate(lines) if "restarting into the setup portal" in line)
        before = sum(1 for line in lines[:opened] if line.startswith("reading "))
        assert before >= 4                                  # ~5 minutes of readings, then the portal
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs) and len(seqs) > before   # numbering goes on
        assert b.vb.restarts["watchdog"] == 0
    finally:
        b.stop()


def test_sim_portal_never_prints_a_scenario_wifi_password(capsys):
    """The built-in simulated network's password is printed (it is no secret); a password the user
    put in a scenario file may be a real one and is not."""
    import argparse

    from airkit.simcmd import SIM_AP
    from airkit.simportal import apply

    import socket

    with socket.socket() as s:           # a free port (the default one may be taken on this machine)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = argparse.Namespace(web_port=port, portal=True, hours=24.0)
    apply(args, {}, {"wifi": {"ssid": "home", "password": "my-real-wifi-pw"}}, SIM_AP)
    err = capsys.readouterr().err
    assert "home" in err and "my-real-wifi-pw" not in err and "not shown" in err
    apply(argparse.Namespace(web_port=port, portal=True, hours=24.0), {}, {}, SIM_AP)
    assert SIM_AP["password"] in capsys.readouterr().err
