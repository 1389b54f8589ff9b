"""Runs against a real ESP32 on a serial port (PMS5003 and DHT22 wired per its
board profile). Not part of `make test`: run with

    AIRKIT_HW_PORT=/dev/ttyUSB0 .venv/bin/python -m pytest -m hardware tests/test_hardware.py
"""

import json
import os

import pytest

from airkit.cli import main

PORT = os.environ.get("AIRKIT_HW_PORT")
pytestmark = [pytest.mark.hardware,
              pytest.mark.skipif(not PORT, reason="set AIRKIT_HW_PORT to the port of a real board")]


def test_real_board_deploy_twice_sends_nothing_the_second_time(tmp_path, capsys):
    cfg = tmp_path / "station.json"
    assert main(["config", "init", str(cfg), "--board", os.environ.get("AIRKIT_HW_BOARD", "esp32-devkitc")]) == 0
    assert main(["deploy", "--port", PORT, "--config", str(cfg), "--json"]) == 0
    capsys.readouterr()
    assert main(["deploy", "--port", PORT, "--config", str(cfg), "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["files_sent"] == 0 and second["verified"]


def test_real_board_kit_test(capsys):
    rc = main(["doctor", "--port", PORT, "--json"])
    report = json.loads(capsys.readouterr().out)
    failed = [c for c in report["checks"] if c.get("passed") is False]
    assert rc == (1 if failed else 0)
    by_name = {c["check"]: c for c in report["checks"]}
    assert by_name["pms"]["passed"], by_name["pms"]
    assert by_name["dht"]["passed"], by_name["dht"]
