"""A fleet of stations (the real MicroPython unix port, one process per start) updating from a real
`airkit collect --releases`: a canary rollout whose canary crashes at import is rolled back on the
canary and pauses the rollout, so no other station gets it; a good release goes to the canary, then to
every station; `airkit fleet --json` shows it all."""

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import run_mp

from airkit.cli import main
from airkit.release import build_release, keygen
from airkit.resources import firmware_dir

N = 10


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fleet")
    key = tmp / "release.pem"
    pub = keygen(key)["public_key"]
    rel = tmp / "releases"
    v1 = build_release(rel, key, "1.0.0")["folder"]
    fw = tmp / "fw-broken"
    shutil.copytree(firmware_dir(), fw)
    app = fw / "airkit_fw" / "app.py"
    app.write_text("raise RuntimeError('broken release')\n" + app.read_text())
    build_release(rel, key, "2.0.0", src=fw)
    build_release(rel, key, "3.0.0")
    # the stations: each has v1 installed and confirmed, and the fleet's public key
    sys.path.insert(0, str(firmware_dir()))
    import otaboot

    from airkit_fw import ota
    stations = {}
    from airkit.collect.store import open_store

    db = tmp / "collect.sqlite"
    store = open_store(str(db))
    for i in range(N):
        dev = "st%02d" % i
        d = tmp / dev
        (d / "ota").mkdir(parents=True)
        (d / "ota" / "key").write_text(pub + "\n")
        ota.Updater(lambda n: open(os.path.join(v1, n), "rb"), None, "1.28.0", root=str(d / "ota"),
                    log=lambda m: None).install()
        otaboot.choose(str(d / "ota"))
        otaboot.healthy(str(d / "ota"))
        token = "token-%s-0123456789" % dev
        store.add_device(dev, "json", token)
        stations[dev] = {"dir": d, "token": token}
    store.close() if hasattr(store, "close") else None
    proc = subprocess.Popen([sys.executable, "-m", "airkit.cli", "collect", "--db", str(db), "--port", "0",
                             "--json", "--releases", str(rel)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        url = json.loads(proc.stdout.readline())["url"].rstrip("/")
        yield {"url": url, "rel": rel, "stations": stations}
    finally:
        proc.terminate()
        proc.wait(20)


def start(fleet, dev):
    s = fleet["stations"][dev]
    out = run_mp("ota_station.py", args=[fleet["url"], dev, s["token"]], cwd=s["dir"], vboard=True, timeout=120)
    return out


def round_(fleet, devs):
    with ThreadPoolExecutor(4) as pool:
        return dict(zip(devs, pool.map(lambda d: start(fleet, d), devs)))


def fleet_json(fleet, capsys):
    capsys.readouterr()
    assert main(["fleet", "--collector", fleet["url"], "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_canary_that_rolls_back_pauses_the_rollout_then_a_good_release_reaches_everyone(fleet, capsys):
    devs = sorted(fleet["stations"])
    canary = devs[:2]
    assert main(["release", "rollout", "2.0.0", "--releases", str(fleet["rel"]), "--canary", ",".join(canary)]) == 0
    out = round_(fleet, devs)                                   # everyone reports; canaries install 2.0.0
    assert all("INSTALLED 2.0.0" in out[d] for d in canary), out
    assert all("INSTALLED None" in out[d] for d in devs[2:])
    for _ in range(3):                                          # 2.0.0 crashes at import at every start
        out = round_(fleet, canary)
        assert all("CRASH broken release" in o for o in out.values()), out
    out = round_(fleet, canary)                                 # the 4th start: rolled back, and it says so
    assert all("SLOT a" in o and "INSTALLED None" in o for o in out.values()), out
    doc = fleet_json(fleet, capsys)
    assert doc["rollout"]["stage"] == "paused" and "rolled 2.0.0 back" in doc["rollout"]["why"]
    for d in canary:
        r = doc["stations"][d]
        assert (r["fw"], r["ota"], r["trial_of"]) == ("1.0.0", "rolled back", "2.0.0") and "started 3 times" in r["why"]
    out = round_(fleet, devs)                                   # nobody else gets the paused release
    assert all("INSTALLED None" in o for o in out.values()), out
    assert all(json.loads(o.split("STATE ")[1].splitlines()[0])["version"] == "1.0.0" for o in out.values())

    # a good release: the canary first, then every station
    assert main(["release", "rollout", "3.0.0", "--releases", str(fleet["rel"]), "--canary", devs[0]]) == 0
    out = round_(fleet, devs)
    assert "INSTALLED 3.0.0" in out[devs[0]] and all("INSTALLED None" in out[d] for d in devs[1:]), out
    out = round_(fleet, devs[:1])                               # the canary confirms it ...
    assert "INSTALLED None" in out[devs[0]], out
    out = round_(fleet, devs[1:])                               # ... then everyone else installs it
    assert all("INSTALLED 3.0.0" in out[d] for d in devs[1:]), out
    round_(fleet, devs)                                         # they start it on trial and confirm it
    doc = fleet_json(fleet, capsys)
    assert doc["rollout"]["stage"] == "all"
    assert {(r["fw"], r["ota"]) for r in doc["stations"].values()} == {("3.0.0", "confirmed")}, doc


def test_release_files_are_served_only_from_the_releases_folder(fleet):
    import requests

    ok = requests.get(fleet["url"] + "/ota/v1/releases/3.0.0/release.json", timeout=10)
    assert ok.status_code == 200 and json.loads(ok.content)["version"] == "3.0.0"
    for bad in ("/ota/v1/releases/..%2f..%2fetc/passwd", "/ota/v1/releases/3.0.0/..%2f..%2frollout.json",
                "/ota/v1/releases/3.0.0/lib/../../fleet.json", "/ota/v1/releases/9.9.9/release.json"):
        assert requests.get(fleet["url"] + bad, timeout=10).status_code == 404, bad
    r = requests.post(fleet["url"] + "/ota/v1/report/st00", data="{}", timeout=10)
    assert r.status_code == 401                                 # a report needs the station's token
    cfg = requests.get(fleet["url"] + "/api/v1/config", timeout=10)
    assert str(fleet["rel"]) not in cfg.text                    # the server's folder is not published
