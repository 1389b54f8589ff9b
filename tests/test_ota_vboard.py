"""The trial of an update on a virtual board running the real firmware (main.py, the app, the airkit JSON
uplink) against a real collector: a release that runs but never gets an upload acknowledged is rolled back
by itself after the trial budget and the old version uploads again; a good release is confirmed by its
first acknowledged upload."""

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from conftest import run_mp
from uplink_helpers import MAC, TOKEN, start_collector

from airkit.release import build_release, keygen
from airkit.resources import firmware_dir
from airkit.vboard import VirtualBoard


@pytest.fixture(scope="module")
def rel(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("vrel")
    key = tmp / "k.pem"
    pub = keygen(key)["public_key"]
    out = tmp / "releases"
    v1 = build_release(out, key, "1.0.0")["folder"]
    fw = tmp / "fw-mute"
    shutil.copytree(firmware_dir(), fw)
    http = fw / "airkit_fw" / "uplinks" / "http.py"
    text = http.read_text()
    marker = '    """(status, retry_after_s or None, body bytes). Raises NetError on network failure."""\n'
    assert marker in text
    http.write_text(text.replace(marker, marker + '    raise NetError("refused", "this release cannot upload")\n'))
    mute = build_release(out, key, "2.0.0", src=fw)["folder"]
    good = build_release(out, key, "3.0.0")["folder"]
    return {"pub": pub, "v1": v1, "mute": mute, "good": good, "tmp": tmp}


def flash_with_trial(rel, board_dir, trial_release=None):
    """A station that runs 1.0.0 (confirmed), holds the fleet's key and, given ``trial_release``, has it
    installed, starting on trial."""
    sys.path.insert(0, str(firmware_dir()))
    import otaboot

    from airkit_fw import ota
    host = board_dir.parent / (board_dir.name + "-ota")
    (host / "ota").mkdir(parents=True)
    (host / "ota" / "key").write_text(rel["pub"] + "\n")
    root = str(host / "ota")
    for folder in (rel["v1"], trial_release) if trial_release else (rel["v1"],):
        ota.Updater(lambda n, f=folder: open(os.path.join(f, n), "rb"), None, "1.28.0", root=root,
                    log=lambda m: None).install()
        if folder == rel["v1"]:
            otaboot.choose(root)
            otaboot.healthy(root)
    run_mp("flashtool.py", args=[board_dir / "flash.img", "--tree-all", host / "ota", "/ota"], vboard=True)


def flash_state(board_dir):
    out = run_mp(source="import sys, vfs, blockdev, otaboot\n"
                        "vfs.mount(vfs.VfsLfs2(blockdev.FileBlockDev(%r)), '/flash')\n"
                        "import json; print('STATE', json.dumps(otaboot.read_state('/flash/ota')))\n"
                 % str(board_dir / "flash.img"), vboard=True)
    return json.loads(out.split("STATE ", 1)[1].splitlines()[0])


def run(tmp, name, port, hours):
    lines = []
    cfg = {"device": {"id": "station-1"}, "wifi": {"ssid": "lab", "password": "lab-wifi-pass"},
           "uplinks": [{"type": "airkit_json", "url": "http://127.0.0.1:%d/api/v1/batch" % port, "token": TOKEN}]}
    b = VirtualBoard(tmp / name, config=cfg, hours=hours, rtc_preset=False, mac=MAC, on_line=lines.append,
                     scenario={"wifi": {"ssid": "lab", "password": "lab-wifi-pass"}})
    return b, lines


def test_a_release_that_never_uploads_rolls_back_and_the_old_one_uploads(rel, tmp_path):
    coll = start_collector(tmp_path)
    try:
        b, lines = run(tmp_path, "mute", coll.port, 1.5)
        flash_with_trial(rel, tmp_path / "mute", rel["mute"])
        b.run()
        st = flash_state(tmp_path / "mute")
        assert st["version"] == "1.0.0" and st["current"] == "a" and "trial" not in st, st
        assert st["last"]["result"] == "rolled back" and st["last"]["version"] == "2.0.0"
        assert "no upload was acknowledged within 15 min" in st["last"]["why"]
        assert b.restarts["reset"] >= 1
        assert coll.store.count("station-1") > 0          # the old version delivered the readings
    finally:
        coll.stop()


def test_a_good_release_is_confirmed_by_its_first_acknowledged_upload(rel, tmp_path):
    coll = start_collector(tmp_path)
    try:
        b, lines = run(tmp_path, "good", coll.port, 0.5)
        flash_with_trial(rel, tmp_path / "good", rel["good"])
        b.run()
        st = flash_state(tmp_path / "good")
        assert (st["version"], st["current"], st["last"]["result"]) == ("3.0.0", "b", "confirmed"), st
        assert b.restarts["reset"] == 0 and coll.store.count("station-1") > 0
    finally:
        coll.stop()


def test_virtual_boards_update_from_a_real_collector_canary_first(rel, tmp_path):
    """Three virtual boards running 1.0.0 check their collector at start and every 6 h; a rollout of 3.0.0
    with one canary: the canary installs it, restarts, confirms it with its first upload, then the others."""
    import subprocess

    from airkit.collect.ota import set_rollout
    from airkit.collect.store import Store

    releases = Path(rel["good"]).parent
    store = Store(tmp_path / "c.sqlite")
    for i in range(3):
        store.add_device("station-%d" % i, "json", TOKEN)
    store.close() if hasattr(store, "close") else None
    set_rollout(releases, "3.0.0", ["station-0"])
    proc = subprocess.Popen([sys.executable, "-m", "airkit.cli", "collect", "--db", str(tmp_path / "c.sqlite"),
                             "--port", "0", "--json", "--releases", str(releases)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        port = int(json.loads(proc.stdout.readline())["url"].rstrip("/").rsplit(":", 1)[1])
        boards = []
        for i in range(3):
            cfg = {"device": {"id": "station-%d" % i}, "wifi": {"ssid": "lab", "password": "lab-wifi-pass"},
                   "uplinks": [{"type": "airkit_json", "url": "http://127.0.0.1:%d/api/v1/batch" % port,
                                "token": TOKEN}]}
            b = VirtualBoard(tmp_path / ("b%d" % i), config=cfg, hours=7, rtc_preset=False,
                             mac="24:0a:c4:12:34:%02x" % i, scenario={"wifi": {"ssid": "lab",
                                                                               "password": "lab-wifi-pass"}})
            flash_with_trial(rel, tmp_path / ("b%d" % i))
            boards.append(b)
        boards[0].run()            # the canary: installs 3.0.0 at its first check, restarts, confirms
        for b in boards[1:]:
            b.run()                # the others: offered 3.0.0 once the canary confirmed it
        states = [flash_state(tmp_path / ("b%d" % i)) for i in range(3)]
        assert all((s["version"], s["last"]["result"]) == ("3.0.0", "confirmed") for s in states), states
        assert all(b.restarts["reset"] == 1 for b in boards)
        import requests
        doc = requests.get("http://127.0.0.1:%d/ota/v1/fleet" % port, timeout=10).json()
        assert doc["rollout"]["stage"] == "all"
    finally:
        proc.terminate()
        proc.wait(20)
