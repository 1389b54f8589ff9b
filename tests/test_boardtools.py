"""Board commands as a user who makes mistakes meets them: silent or garbage ports, a board
unplugged mid-deploy, a pushed correction and a later deploy, stations that must run again."""

import json
import os
import pty
import signal
import subprocess
import sys
import threading
import time

import pytest

from airkit.cli import main
from toolkit_helpers import RunningBoard

AIRKIT = [sys.executable, "-m", "airkit.cli"]
CORR = {"kind": "mlr", "name": "site A", "coef": {"intercept": 1.0, "pm": 0.5, "rh": 0.0, "t": 0.0},
        "valid": {"pm": [0, 200], "rh": [0, 100], "t": [-20, 50]}, "floor": 0.0}


# --- no hang, one sentence -----------------------------------------------------------------------
def _silent_pty():
    master, slave = pty.openpty()
    return master, slave, os.ttyname(slave)


def test_monitor_on_a_silent_pty_says_so_within_10_s_and_stops_on_ctrl_c():
    master, slave, name = _silent_pty()
    try:
        p = subprocess.Popen(AIRKIT + ["monitor", "--port", name], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        t0 = time.monotonic()
        line = p.stderr.readline()          # bounded: the test's own timeout below kills a hang
        took = time.monotonic() - t0
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
        os.close(master)
        os.close(slave)
    assert "nothing answers on %s yet" % name in line and took < 10 + 3
    assert p.returncode == 0 and "Traceback" not in err


@pytest.mark.parametrize("argv", [["deploy"], ["doctor"], ["config", "show"]])
def test_nothing_behind_a_pty_is_one_sentence_within_10_s(argv):
    master, slave, name = _silent_pty()
    try:
        t0 = time.monotonic()
        out = subprocess.run(AIRKIT + argv + ["--port", name], capture_output=True, text=True, timeout=60)
        took = time.monotonic() - t0
    finally:
        os.close(master)
        os.close(slave)
    assert out.returncode == 3, out.stderr
    assert "nothing answers on %s" % name in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert took < 10 + 3          # the interpreter's own start-up on a loaded machine on top


def test_garbage_at_another_baud_is_one_sentence():
    master, slave, name = _silent_pty()
    stop = threading.Event()

    def babble():                 # a board printing at another baud rate: bytes, never text
        import random
        rnd = random.Random(1)
        while not stop.is_set():
            try:
                os.write(master, bytes(rnd.randrange(0x80, 0x100) for _ in range(64)))
            except OSError:
                pass
            time.sleep(0.01)
            try:
                os.read(master, 4096) if False else None
            except OSError:
                pass
    th = threading.Thread(target=babble, daemon=True)
    th.start()
    try:
        out = subprocess.run(AIRKIT + ["doctor", "--port", name], capture_output=True, text=True, timeout=60)
        mon = subprocess.run(AIRKIT + ["monitor", "--port", name], capture_output=True, text=True, timeout=60)
    finally:
        stop.set()
        th.join(5)
        os.close(master)
        os.close(slave)
    assert out.returncode == 3 and "unreadable bytes" in out.stderr and "Traceback" not in out.stderr
    assert mon.returncode == 3 and "unreadable bytes" in mon.stderr and "Traceback" not in mon.stderr


@pytest.mark.parametrize("kind", ["devnull", "file", "folder"])
def test_not_a_serial_port(tmp_path, capsys, kind):
    port = {"devnull": "/dev/null", "file": str(tmp_path / "f.txt"), "folder": str(tmp_path)}[kind]
    (tmp_path / "f.txt").write_text("x")
    for argv in (["deploy"], ["doctor"], ["config", "show"], ["monitor"]):
        assert main(argv + ["--port", port]) == 2
        err = capsys.readouterr().err
        assert "is not a serial port" in err and "check the cable" not in err


def test_simulator_killed_mid_deploy_one_sentence_nothing_half_written(tmp_path, monkeypatch, capsys):
    from airkit import boardlink
    from airkit.firmware_build import build, sha256_file

    link_path = str(tmp_path / "vb")
    bdir = str(tmp_path / "bd")

    def start_sim():
        p = subprocess.Popen(AIRKIT + ["sim", "--hours", "0", "--port-link", link_path, "--board-dir", bdir],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 30
        while not os.path.exists(link_path):
            assert time.monotonic() < deadline and p.poll() is None, "sim did not start"
            time.sleep(0.05)
        time.sleep(1.0)
        return p

    sim = start_sim()
    calls = {"n": 0}
    orig = boardlink.BoardLink._write_b64

    def write_then_unplug(self, path, data, chunk, progress):
        calls["n"] += 1
        if calls["n"] == 3:
            os.killpg(sim.pid, signal.SIGKILL)
            sim.wait(10)
            time.sleep(0.3)
        return orig(self, path, data, chunk, progress)

    monkeypatch.setattr(boardlink.BoardLink, "_write_b64", write_then_unplug)
    try:
        rc = main(["deploy", "--port", link_path])
    finally:
        if sim.poll() is None:
            os.killpg(sim.pid, signal.SIGKILL)
    err = capsys.readouterr().err
    assert rc == 3 and "Traceback" not in err and "SerialException" not in err, err
    assert len(err.strip().splitlines()) == 1 and str(link_path) in err
    monkeypatch.setattr(boardlink.BoardLink, "_write_b64", orig)
    # Back on: every firmware file on the board is either absent or complete; no manifest claims a deploy.
    want = {p: sha256_file(f) for p, f in build(tmp_path / "build").items()}
    sim = start_sim()
    try:
        with boardlink.open_board(link_path) as link:
            files = [p for p in link.list_tree("lib") if not p.endswith(".new")]
            have = link.hash_files(files + ["main.py", boardlink.MANIFEST])
    finally:
        os.killpg(sim.pid, signal.SIGKILL)
        sim.wait(10)
    assert have[boardlink.MANIFEST] is None
    assert files and all(have[p] == want[p] for p in files if p in want), have


# --- the correction survives; the station runs again -----------------------------------------------
def _readings_after(b, n0, timeout=40):
    return b.wait_line(lambda l: l.startswith("reading "), timeout=timeout, start=n0)


def test_push_then_deploy_keeps_the_correction_and_readings_resume(tmp_path, capsys):
    station = tmp_path / "station.json"
    station.write_text(json.dumps({"device": {"id": "keep-1"}, "interval_s": 300}))
    model = tmp_path / "m.json"
    model.write_text(json.dumps({"format": "airkit-calibration-model", "correction": CORR}))
    with RunningBoard(tmp_path, "k1", firmware_from="flash") as b:
        assert main(["deploy", "--port", b.port, "--config", str(station)]) == 0
        capsys.readouterr()
        assert _readings_after(b, 0)
        # push without --config: on the board only; a later deploy keeps it and says so
        n0 = len(b.board.lines)
        assert main(["calibrate", "push", "--model", str(model), "--port", b.port]) == 0
        assert "only on the board" in capsys.readouterr().err
        assert _readings_after(b, n0), "the station did not run again after calibrate push"
        assert main(["deploy", "--port", b.port, "--config", str(station), "--json"]) == 0
        cap = capsys.readouterr()
        assert json.loads(cap.out)["correction"] == "kept" and "kept the board's correction" in cap.err
        assert main(["config", "show", "--port", b.port, "--json"]) == 0
        shown = json.loads(capsys.readouterr().out)     # parseable: no stray b'' in front
        assert shown["config"]["correction"] == CORR
        # push with --config: the local file has it too
        assert main(["calibrate", "push", "--model", str(model), "--port", b.port, "--config", str(station),
                     "--json"]) == 0
        res = json.loads(capsys.readouterr().out)
        assert res["local_updated"] and json.loads(station.read_text())["correction"] == CORR
        n0 = len(b.board.lines)
        assert main(["config", "show", "--port", b.port]) == 0
        assert _readings_after(b, n0), "the station did not run again after config show --port"


# --- config: schema, indexed keys, secrets, encodings -------------------------------------------------
def test_config_schema_indexed_keys_and_secrets(tmp_path, capsys):
    f = str(tmp_path / "s.json")
    assert main(["config", "show", "--schema"]) == 0
    out = capsys.readouterr().out
    assert "wifi.password" in out and "uplinks[N].KEY" in out
    assert main(["config", "show", "--schema", "--json"]) == 0
    assert any(r["key"] == "interval_s" for r in json.loads(capsys.readouterr().out))
    assert main(["config", "init", f]) == 0
    capsys.readouterr()
    assert main(["config", "set", f, "uplinks[0].type=airkit_json", "uplinks[0].url=http://127.0.0.1:8000/api/v1/batch",
                 "uplinks[0].token=s3cret-token-123"]) == 0
    cap = capsys.readouterr()
    assert "s3cret" not in cap.out + cap.err and "uplinks[0].token=***" in cap.out
    cfg = json.loads(open(f).read())
    assert cfg["uplinks"] == [{"type": "airkit_json", "url": "http://127.0.0.1:8000/api/v1/batch",
                               "token": "s3cret-token-123"}]
    assert main(["config", "set", f, "uplinks[0].token=12345"]) == 0      # digits stay text
    assert json.loads(open(f).read())["uplinks"][0]["token"] == "12345"
    capsys.readouterr()
    assert main(["config", "set", f, 'uplinks=[{"type":"airkit_json","url":"http://x/","token":"tok-xyz"}]']) == 0
    cap = capsys.readouterr()
    assert "tok-xyz" not in cap.out + cap.err
    assert main(["config", "set", f, 'uplinks=[{"type":"airkit_json","token":"tok-bad"']) == 2
    cap = capsys.readouterr()
    assert "tok-bad" not in cap.out + cap.err
    assert main(["config", "set", f, "uplinks[1]=sensor_community"]) == 0
    assert json.loads(open(f).read())["uplinks"][1] == {"type": "sensor_community"}
    assert main(["config", "set", f, "uplinks[5].token=x"]) == 2
    assert "no entry 5" in capsys.readouterr().err
    assert main(["config", "show", f]) == 0
    assert "tok-xyz" not in capsys.readouterr().out
    assert main(["config", "validate", f, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["valid"] is True


def test_non_utf8_config_is_one_sentence(tmp_path, capsys):
    f = tmp_path / "latin.json"
    f.write_bytes('{"device": {"name": "Café"}}'.encode("cp1252"))
    for argv in (["config", "show", str(f)], ["config", "validate", str(f)], ["config", "set", str(f), "interval_s=600"],
                 ["deploy", "--port", "/dev/null", "--config", str(f)]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "not UTF-8" in err and "Traceback" not in err


def test_deploy_sentence_is_sensible():
    from airkit.deploy import deploy_sentence
    base = {"version": "0.1", "files": 26, "firmware_hash": "ab" * 32, "reset": True}
    s = deploy_sentence(dict(base, files_sent=0, file_bytes_sent=326, config_sent=True), "P")
    assert "0 of 26" not in s and "326 bytes" not in s and "already current" in s and "config.json updated" in s
    s = deploy_sentence(dict(base, files_sent=3, file_bytes_sent=40000, config_sent=False), "P")
    assert "3 of 26 files changed" in s and "39 KB" in s


def test_console_protocol_one_module():
    from airkit_fw import app, console, selftest
    from airkit_fw.uplinks.base import STATUS_PREFIX
    assert app.READING_PREFIX == console.READING and app.SAFE_PREFIX == console.SAFE
    assert selftest.PREFIX == console.SELFTEST and STATUS_PREFIX == console.STATUS
    assert console.parse('\x00>>> reading {"seq": 1}') == ("reading", {"seq": 1})
    assert console.parse('uplinks {"pending": {}}') == ("uplinks", {"pending": {}})
    assert console.parse('selftest {"check": "pms"}') == ("selftest", {"check": "pms"})
    assert console.parse("airkit SAFE MODE: no config") == ("safe", "no config")
    assert console.parse("airkit 0.1.0 starting (reset cause: power)")[0] == "start"
    assert console.parse('status {"free_heap": 1}') == ("status", {"free_heap": 1})
    assert console.parse("airkit CRASH: crash 1 in a row") == ("crash", "crash 1 in a row")
    from airkit_fw import board
    assert board.CRASH_PREFIX == console.CRASH and app.STATUS_PREFIX == console.HEALTH
    assert console.parse("reading {bad") is None and console.parse("") is None
    assert console.parse_all('reading {"a": 1}\nx\nreading {"a": 2}', "reading") == [{"a": 1}, {"a": 2}]


def test_deploy_merges_or_reports_the_board_correction():
    from airkit.deploy import merge_board_correction
    local = {"device": {"id": "a"}}
    board = json.dumps({"device": {"id": "a"}, "correction": CORR})
    merged, what, _ = merge_board_correction(local, board)
    assert what == "kept" and merged["correction"] == CORR and "correction" not in local
    other = dict(CORR, name="site B")
    merged, what, old = merge_board_correction(dict(local, correction=other), board)
    assert what == "replaced" and merged["correction"] == other and old == CORR
    assert merge_board_correction(local, "{broken")[1] is None
    assert merge_board_correction(local, None)[1] is None


@pytest.mark.parametrize("kind,status,needle", [
    ("sensor_community", 403, "register node esp32-abc at https://devices.sensor.community"),
    ("opensensemap", 401, "access token"), ("opensensemap", 404, "box_id"),
    ("influx", 404, "CREATE DATABASE"), ("airkit_json", 401, "token"), ("mqtt_ha", None, "user name and password")])
def test_doctor_uplink_verdicts_name_the_remedy(kind, status, needle):
    from airkit.doctor import verdict
    v = verdict({"check": "uplink", "index": 0, "type": kind, "status": "rejected", "http_status": status,
                 "host": "h", "port": 80, "node": "esp32-abc"})
    assert v["passed"] is False and needle in v["remedy"]


def test_doctor_on_a_board_short_of_memory_reports_instead_of_failing(tmp_path):
    """issue 9 (low memory reported): on a board whose heap cannot even load the self-test, doctor
    used to stop with 'run airkit deploy' (wrong remedy); it now reports the free heap and why."""
    from airkit.boardlink import open_board
    from airkit.doctor import heap_check, run_doctor
    # 145 KiB on the 64-bit unix port: the firmware starts, the self-test cannot load (the firmware grew: 135 no longer started)
    with RunningBoard(tmp_path, "lowmem", config={"device": {"id": "lm1"}}, heap_kb=145) as b:
        with open_board(b.port) as link:
            rep = run_doctor(link, checks=("clock",))
    got = {c["check"]: c for c in rep["checks"]}
    assert got["heap"]["status"] in ("ok", "low") and rep["facts"]["mem_free"] > 0
    assert got["selftest"]["status"] == "no_memory" and "PSRAM" in got["selftest"]["remedy"]
    assert not rep["ok"]
    low = heap_check(20 * 1024)
    assert low["warn"] and low["passed"] is True and "TLS" in low["summary"] and low["remedy"]
    assert not heap_check(200 * 1024)["warn"]
    assert heap_check(None)["passed"] is None
