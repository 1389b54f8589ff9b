"""Signed releases (airkit release) and application OTA on the station (firmware otaboot.py +
airkit_fw/ota.py), run on the real MicroPython unix port: install, trial, confirm, rollback after
repeated crashes or without an acknowledged upload, refusals that change nothing, and power cuts
at every filesystem step of an update and of the first starts after it."""

import json
import os
import shutil
import stat

import pytest
from conftest import run_mp

from airkit.cli import main
from airkit.errors import InputError, WouldOverwrite
from airkit.release import build_release, keygen, verify_release


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rel")
    key = tmp / "keys" / "release.pem"
    pub = keygen(key)["public_key"]
    out = tmp / "releases"
    v1 = build_release(out, key, "1.0.0")
    v2 = build_release(out, key, "2.0.0")
    mp9 = build_release(out, key, "3.0.0", min_micropython="9.0.0")
    other = keygen(tmp / "keys" / "other.pem")["public_key"]
    tampered = tmp / "tampered"
    shutil.copytree(v2["folder"], tampered)
    f = tampered / v2["files"][3]["path"]
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0x55
    f.write_bytes(bytes(data))
    cut = tmp / "cut"
    shutil.copytree(v2["folder"], cut)
    f = cut / v2["files"][5]["path"]
    f.write_bytes(f.read_bytes()[:-7])
    return {"key": key, "pub": pub, "other": other, "v1": v1["folder"], "v2": v2["folder"], "mp9": mp9["folder"],
            "tampered": str(tampered), "cut": str(cut), "work": str(tmp / "station"), "v2m": v2}


def mp_case(releases, name, timeout=120):
    r = releases
    out = run_mp("ota_cases.py", args=[name, r["work"], r["pub"], r["v1"], r["v2"], r["other"], r["tampered"],
                                       r["cut"], r["mp9"]], timeout=timeout)
    assert "PASS " + name in out, out
    return out


def test_release_is_signed_with_an_owner_only_key_never_printed(releases, tmp_path, capsys):
    key = releases["key"]
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert main(["release", "keygen", "--key", str(tmp_path / "k.pem")]) == 0
    out = capsys.readouterr().out
    assert "PRIVATE" not in out and (tmp_path / "k.pem").read_text().split("\n")[1] not in out
    assert main(["release", "keygen", "--key", str(tmp_path / "k.pem")]) == 5          # never overwritten
    assert "already holds a key" in capsys.readouterr().err
    m = json.loads((releases["v2m"]["folder"] + "/release.json") and
                   open(releases["v2m"]["folder"] + "/release.json").read())
    assert m["version"] == "2.0.0" and m["min_micropython"] == "1.23.0"
    paths = [f["path"] for f in m["files"]]
    assert "lib/airkit_fw/app.mpy" in paths and "main.py" not in paths and "lib/otaboot.mpy" not in paths
    assert all(len(f["sha256"]) == 64 and f["size"] > 0 for f in m["files"])
    assert verify_release(releases["v2"], releases["pub"])["version"] == "2.0.0"
    with pytest.raises(InputError, match="not signed by this station's release key"):
        verify_release(releases["v2"], releases["other"])
    with pytest.raises(InputError, match="does not match its SHA-256"):
        verify_release(releases["tampered"], releases["pub"])
    with pytest.raises(WouldOverwrite):
        build_release(os.path.dirname(releases["v1"]), key, "1.0.0")


def test_a_key_others_can_read_is_refused(tmp_path):
    key = tmp_path / "k.pem"
    keygen(key)
    key.chmod(0o644)
    with pytest.raises(InputError, match="can be read by other users"):
        build_release(tmp_path / "out", key, "1.0.0")


@pytest.mark.parametrize("case", ["test_install_trial_confirm", "test_crash_at_every_start_rolls_back",
                                  "test_no_upload_within_the_budget_rolls_back",
                                  "test_wrong_key_truncated_and_newer_micropython_are_refused"])
def test_station_ota(releases, case):
    mp_case(releases, case)


def test_power_cut_at_steps_of_an_update_leaves_old_or_new(releases, monkeypatch):
    """Every 6th filesystem change of the download and every one of the switch, the first starts and the
    confirmation (make bench cuts at every one of them: ota_power_cut_bricked)."""
    monkeypatch.setenv("OTA_CUT_STRIDE", "6")
    out = mp_case(releases, "test_power_cut_at_every_step", timeout=300)
    line = [x for x in out.splitlines() if x.startswith("CUTS ")][0]
    n = dict(zip(line.split()[::2], map(int, line.split()[1::2])))
    assert n["OF"] >= 200 and n["CUTS"] >= 80 and n["BRICKED"] == 0 and n["OLD"] > 0 and n["NEW"] > 0, line


def test_a_release_that_crashes_at_import_rolls_back(releases, tmp_path):
    """A release whose app raises at import is started TRIAL_BOOTS times (each a new MicroPython
    process, as after the reset main.py makes after a crash), then the previous version runs again."""
    fw = tmp_path / "fw"
    from airkit.resources import firmware_dir

    shutil.copytree(firmware_dir(), fw)
    app = fw / "airkit_fw" / "app.py"
    app.write_text("raise RuntimeError('broken release')\n" + app.read_text())
    bad = build_release(tmp_path / "rel", releases["key"], "6.6.6", src=fw)
    station = tmp_path / "station"
    station.mkdir()
    setup = ("import sys; sys.path.insert(0, '.'); from airkit_fw import ota; import otaboot\n"
             "g = lambda root: (lambda n: open(root + '/' + n, 'rb'))\n"
             "ota.Updater(g(%r), %r, '1.28.0', log=print).install(); otaboot.choose(); otaboot.healthy()\n"
             "ota.Updater(g(%r), %r, '1.28.0', log=print).install()\n"
             % (releases["v1"], releases["pub"], bad["folder"], releases["pub"]))
    run_mp(source=setup, cwd=station, vboard=True)
    # main.py as the station runs it; the stand-in machine.reset() ends the process (a reset)
    starts = []
    for _ in range(5):
        out = run_mp(source="import otaboot; print('RUNS', otaboot.select())\n"
                            "try:\n    from airkit_fw import app\n    print('IMPORTED', app.__file__)\n"
                            "except Exception as e:\n    print('CRASH', e)\n",
                     cwd=station, vboard=True, check=False)
        starts.append(out.stdout.strip().splitlines())
    runs = [next(x for x in s if x.startswith("RUNS")) for s in starts]
    assert runs == ["RUNS b", "RUNS b", "RUNS b", "RUNS a", "RUNS a"], starts
    assert all(any("CRASH broken release" in x for x in s) for s in starts[:3])
    assert any("IMPORTED" in x and "ota/a/" in x for x in starts[3]), starts[3]
    st = run_mp(source="import otaboot, json; print(json.dumps(otaboot.read_state()))", cwd=station)
    st = json.loads(st.strip().splitlines()[-1])
    assert st["last"]["result"] == "rolled back" and st["last"]["version"] == "6.6.6" and st["version"] == "1.0.0"
