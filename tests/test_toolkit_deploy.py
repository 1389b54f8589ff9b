"""End-to-end: deploy, config read-back, monitor and doctor against virtual boards over a pty,
through mpremote's real serial transport."""

import json
import subprocess
import sys

import pytest

from airkit.boardlink import open_board
from airkit.cli import main
from airkit.deploy import deploy
from airkit.doctor import run_doctor
from toolkit_helpers import RunningBoard

AIRKIT = [sys.executable, "-m", "airkit.cli"]


def test_deploy_full_then_incremental_then_runs_from_flash(tmp_path, capsys):
    cfg = {"device": {"id": "t-01", "name": "desk"}, "wifi": {"ssid": "school", "password": "hunter22x"}}
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    with RunningBoard(tmp_path, "b1", firmware_from="flash") as b:
        assert main(["deploy", "--port", b.port, "--config", str(tmp_path / "cfg.json"), "--json"]) == 0
        full = json.loads(capsys.readouterr().out)
        assert full["files_sent"] == full["files"] > 5 and full["file_bytes_sent"] > 10000 and full["config_sent"]
        # The reset started the deployed firmware from the board's flash: readings appear.
        assert b.wait_line(lambda l: l.startswith("reading "), timeout=30), b.board.lines[-10:]
        # Second deploy: a busy main.py is interrupted, nothing is sent again, all verified.
        assert main(["deploy", "--port", b.port, "--config", str(tmp_path / "cfg.json"), "--json",
                     "--no-reset"]) == 0
        inc = json.loads(capsys.readouterr().out)
        assert inc["files_sent"] == 0 and inc["file_bytes_sent"] == 0 and not inc["config_sent"]
        assert inc["firmware_hash"] == full["firmware_hash"] and inc["verified"]
        # Every file on the board hashes to the manifest; the config reads back (password masked).
        with open_board(b.port) as link:
            manifest = json.loads(link.read_text("airkit_manifest.json"))
            have = link.hash_files(list(manifest["files"]))
            assert have == manifest["files"]
            # a damaged file is detected by the doctor's integrity check and repaired by a deploy
            link.exec("f = open('/lib/airkit_fw/sampler.mpy', 'ab')\nf.write(b'x')\nf.close()")
            from airkit.doctor import integrity
            bad = integrity(link)
            assert bad["passed"] is False and "lib/airkit_fw/sampler.mpy" in bad["changed"]
            again = deploy(link, cfg)
            assert again["files_sent"] == 1 and integrity(link)["passed"] is True
        assert main(["config", "show", "--port", b.port, "--json"]) == 0
        shown = json.loads(capsys.readouterr().out)
        assert shown["config"]["device"]["id"] == "t-01" and shown["config"]["wifi"]["password"] == "***"
        assert "hunter22x" not in json.dumps(shown)


def test_deploy_refuses_bad_config_and_missing_port(tmp_path, capsys):
    (tmp_path / "bad.json").write_text(json.dumps({"interval_s": 5, "wifi": {"pasword": "x"}}))
    assert main(["deploy", "--port", str(tmp_path / "nope"), "--config", str(tmp_path / "bad.json")]) == 2
    err = capsys.readouterr().err
    assert "interval_s" in err and "wifi.pasword" in err and "Traceback" not in err
    assert main(["deploy", "--port", str(tmp_path / "nope")]) == 3
    assert "does not exist" in capsys.readouterr().err


def test_monitor_parses_readings(tmp_path):
    with RunningBoard(tmp_path, "m1", config={"device": {"id": "mon"}}, extra={"speed": 600}) as b:
        out = subprocess.run(AIRKIT + ["monitor", "--port", b.port, "--count", "3", "--json"],
                             capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(l) for l in out.stdout.splitlines()]
    assert len(rows) == 3 and all(r["device"] == "mon" and r["pm25_atm"] is not None for r in rows)
    assert rows[1]["seq"] == rows[0]["seq"] + 1


def test_monitor_ctrl_c_exits_cleanly(tmp_path):
    import signal
    import time
    import threading
    # Ctrl-C is sent once the monitor has shown a reading (not after a guessed delay: on a loaded
    # machine the interpreter may still be starting); a watchdog bounds the wait.
    with RunningBoard(tmp_path, "m2", config={"device": {"id": "m2"}}, extra={"speed": 600}) as b:
        p = subprocess.Popen(AIRKIT + ["monitor", "--port", b.port], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        watchdog = threading.Timer(90, p.kill)
        watchdog.start()
        try:
            first = p.stdout.readline()
            p.send_signal(signal.SIGINT)
            out, err = p.communicate(timeout=30)
        finally:
            watchdog.cancel()
    assert p.returncode == 0 and "Traceback" not in err, err
    assert "reading(s) from" in err and "PM2.5" in first + out


def test_monitor_line_parser():
    from airkit.monitor import parse_line, sparkline
    assert parse_line('reading {"pm25_atm": 4}') == ("reading", {"pm25_atm": 4})
    assert parse_line("airkit SAFE MODE: no config.json") == ("safe", "no config.json")
    assert parse_line("reading {broken") is None and parse_line(">>> ") is None
    assert sparkline([0, 50, 100]) == "▁▅█"
    # a 1 µg/m³ change is not drawn as the full height of the chart (was ▁ vs █)
    small = sparkline([13, 14])
    assert abs("▁▂▃▄▅▆▇█".index(small[0]) - "▁▂▃▄▅▆▇█".index(small[1])) <= 1
    assert sparkline([1, 5, 9]) == "▁▂▄"


CASES = {
    "healthy": ({}, {}, {}, {"pms": "ok", "dht": "ok"}),
    "pms_silent": ({"pms": {"silent": [[0, 1000]]}}, {}, {}, {"pms": "silent"}),
    "pms_unplugged": ({}, {"pms_unplugged": True}, {}, {"pms": "silent"}),
    "pms_swapped": ({}, {"pms": [16, 17, None]}, {}, {"pms": "swapped"}),
    "pms_wrong_baud": ({"pms": {"baud": 115200}}, {}, {}, {"pms": "wrong_baud"}),
    "pms_checksum": ({"pms": {"checksum_error_rate": 0.7}}, {}, {}, {"pms": "checksum"}),
    "pms_no_fan": ({"pms": {"no_fan": [[0, 1000]]}}, {}, {}, {"pms": "no_fan"}),
    "pms_asleep": ({"pms": {"no_wake": [[0, 1000]]}}, {}, {"pms": {"mode": "continuous"}}, {"pms": "asleep"}),
    "dht_missing": ({"dht": {"missing": [[0, 1000]]}}, {}, {}, {"dht": "timeout", "pms": "ok"}),
    "dht_wrong_pin": ({}, {"dht": 4}, {}, {"dht": "timeout"}),
    "dht_stuck": ({"dht": {"stuck": [[0, 1000]]}}, {}, {}, {"dht": "stuck"}),
    "wifi_ok": ({"wifi": {"ssid": "school", "password": "right-pw"}}, {},
                {"wifi": {"ssid": "school", "password": "right-pw"}}, {"wifi": "ok"}),
    "wifi_wrong_password": ({"wifi": {"ssid": "school", "password": "right-pw"}}, {},
                            {"wifi": {"ssid": "school", "password": "wrong-pw"}}, {"wifi": "wrong_password"}),
    "wifi_no_ap": ({"wifi": {"ssid": "school", "password": "right-pw"}}, {},
                   {"wifi": {"ssid": "schoool", "password": "right-pw"}}, {"wifi": "no_ap"}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_doctor_diagnoses(tmp_path, name):
    scenario, wiring, cfg, want = CASES[name]
    with RunningBoard(tmp_path, name, scenario=scenario, wiring=wiring, config=cfg) as b:
        try:
            link = open_board(b.port)
        except Exception:
            print(b.diagnose())
            raise
        with link:
            rep = run_doctor(link)
    got = {c["check"]: c for c in rep["checks"]}
    for check, status in want.items():
        assert check in got, rep
        assert got[check]["status"] == status, (check, got[check])
        assert got[check]["passed"] is (status == "ok")
        if status != "ok":
            assert got[check]["remedy"] and not rep["ok"]
    assert rep["facts"]["mac"].startswith("24:0a:c4") and rep["facts"]["mem_free"] > 0
    assert "right-pw" not in json.dumps(rep.to_dict()) and "wrong-pw" not in json.dumps(rep.to_dict())


def test_doctor_cli_uplink_and_exit_codes(tmp_path):
    """The doctor tests the real upload against the real collector (storing nothing): an unregistered
    Sensor.Community node is a FAIL naming the node to register; a good token passes; a closed port fails."""
    import socket
    from airkit.collect.server import Collector
    from airkit.collect.store import Store
    store = Store(tmp_path / "c.sqlite")
    store.add_device("dr-1", "json", "tok-good-123")
    coll = Collector(store, "127.0.0.1", 0).start()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    base = "http://127.0.0.1:%d" % coll.port
    cfg = {"device": {"id": "dr-1"}, "wifi": {"ssid": "school", "password": "pw-school"},
           "uplinks": [{"type": "airkit_json", "url": base + "/api/v1/batch", "token": "tok-good-123"},
                       {"type": "sensor_community", "url": base + "/v1/push-sensor-data/", "token": "tok-good-123"},
                       {"type": "airkit_json", "url": "http://127.0.0.1:%d/api/v1/batch" % closed_port,
                        "token": "tok-good-123"},
                       {"type": "airkit_json", "url": base + "/api/v1/batch", "token": "tok-wrong"}]}
    try:
        with RunningBoard(tmp_path, "u1", scenario={"wifi": {"ssid": "school", "password": "pw-school"}},
                          config=cfg) as b:
            out = subprocess.run(AIRKIT + ["doctor", "--port", b.port, "--json", "--no-reset"],
                                 capture_output=True, text=True, timeout=120)
            rep = json.loads(out.stdout)
            ups = [c for c in rep["checks"] if c["check"] == "uplink"]
            node = ups[1].get("node")
            store.add_device(node, "sc", station="dr-1")          # its pushes carry dr-1's token
            stored = store.count()          # the station is stopped at the REPL from here on
            again = subprocess.run(AIRKIT + ["doctor", "--port", b.port, "--only", "uplinks", "--no-reset"],
                                   capture_output=True, text=True, timeout=120)
            assert store.count() == stored  # the doctor's exchanges (accepted ones too) stored nothing
            text = subprocess.run(AIRKIT + ["doctor", "--port", b.port, "--only", "pms,dht"],
                                  capture_output=True, text=True, timeout=120)
    finally:
        coll.stop()
    assert [u["status"] for u in ups] == ["ok", "rejected", "unreachable", "rejected"], ups
    assert ups[1]["http_status"] == 403 and node.startswith("esp32-")
    assert "airkit collect add-node %s" % node in ups[1]["remedy"]        # a collector: register it there
    assert ups[3]["http_status"] == 401 and "tok-wrong" not in out.stdout
    assert out.returncode == 1          # the refused uplinks (and missing manifest) fail
    assert "PASS  uplink    uplink 1 (sensor_community)" in again.stdout, again.stdout
    assert "PASS  pms" in text.stdout and "PASS  dht" in text.stdout and "FAIL  firmware" in text.stdout
    assert "-> run 'airkit deploy" in text.stdout
