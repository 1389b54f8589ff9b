"""``airkit`` user errors: one clear line on stderr, non-zero exit, no traceback."""

import subprocess
import sys

import pytest


def airkit(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "airkit.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=60, cwd=cwd)


def one_line_error(proc, *words):
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("airkit: ")
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


@pytest.fixture
def files(tmp_path):
    (tmp_path / "broken.json").write_text('{"pms": {"silent": [[1, 2]]}')
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "unknown.json").write_text('{"pmss": {}}')
    (tmp_path / "badcfg.json").write_text('{"interval_s": 5, "wifi": {"ssid": "", "password": "pw-secret-99"}}')
    (tmp_path / "noise.bin").write_bytes(b"\x00\x01\x02" * 50)
    return tmp_path


def test_missing_scenario_file(files):
    one_line_error(airkit("sim", "--hours", 1, "--scenario", files / "nope.json"), "nope.json", "does not exist")


def test_invalid_scenario_json(files):
    one_line_error(airkit("sim", "--hours", 1, "--scenario", files / "broken.json"), "broken.json", "not valid JSON",
                   "line 1")


def test_scenario_not_an_object_or_unknown_key(files):
    one_line_error(airkit("sim", "--hours", 1, "--scenario", files / "list.json"), "JSON object")
    one_line_error(airkit("sim", "--hours", 1, "--scenario", files / "unknown.json"), "pmss")


def test_missing_config_file(files):
    one_line_error(airkit("sim", "--hours", 1, "--config", files / "nope.json"), "nope.json", "does not exist")


def test_invalid_config_json(files):
    one_line_error(airkit("sim", "--hours", 1, "--config", files / "broken.json"), "not valid JSON")


def test_config_with_problems_never_shows_the_password(files):
    line = one_line_error(airkit("sim", "--hours", 1, "--config", files / "badcfg.json"), "'interval_s'",
                          "'wifi.ssid'")
    assert "pw-secret-99" not in line


def test_pms_decode_user_errors(files):
    one_line_error(airkit("pms", "decode", files / "nope.bin"), "does not exist")
    one_line_error(airkit("pms", "decode", files), "folder")
    proc = airkit("pms", "decode", files / "noise.bin")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "no valid PMS5003 frame" in proc.stderr


def test_pms_decode_json(tmp_path):
    sys.path.insert(0, str(__import__("conftest").MP_TESTS))
    from pmsframes import data_frame, values_for

    cap = tmp_path / "cap.bin"
    cap.write_bytes(b"\x42\x4d\x00" + bytes(data_frame(values_for(1))) + b"\x13" + bytes(data_frame(values_for(2)))[:-1]
                    + bytes(data_frame(values_for(3))))
    proc = airkit("pms", "decode", "--json", cap)
    assert proc.returncode == 0, proc.stderr
    import json

    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    keys = ["pm1_cf1", "pm25_cf1", "pm10_cf1", "pm1_atm", "pm25_atm", "pm10_atm",
            "n0_3", "n0_5", "n1_0", "n2_5", "n5_0", "n10"]
    assert [[r[k] for k in keys] for r in rows] == [values_for(1), values_for(3)]
    summary = json.loads(proc.stderr.splitlines()[0])
    assert summary["frames_accepted"] == 2 and summary["checksum_failures"] == 1
