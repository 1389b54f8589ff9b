"""Store-and-forward under faults, end to end: the unchanged firmware on the
virtual board (real MicroPython, littlefs flash, killed processes for power
cuts) uploading through real loopback sockets to the real collector.

Each test compares what the station printed (every reading it produced, with
its values) with what the collector stored, so a lost, duplicated, re-timed
or corrupted reading fails the test.
"""

import json
import random

import pytest

from airkit.vboard import VirtualBoard
from uplink_helpers import MAC, SC_STATION, TOKEN, start_collector

KEYS = ("pm1_cf1", "pm25_cf1", "pm10_cf1", "pm1_atm", "pm25_atm", "pm10_atm", "n0_3", "n0_5", "n1_0", "n2_5",
        "n5_0", "n10")


def station_config(port, sc=True):
    ups = [{"type": "airkit_json", "url": "http://127.0.0.1:%d/api/v1/batch" % port, "token": TOKEN}]
    if sc:
        ups.append({"type": "sensor_community", "url": "http://127.0.0.1:%d/v1/push-sensor-data/" % port,
                    "token": TOKEN})
    return {"device": {"id": "station-1"}, "wifi": {"ssid": "lab", "password": "lab-wifi-pass"}, "uplinks": ups}


def run_board(tmp_path, cfg, hours, scenario, name="b"):
    lines = []
    board = VirtualBoard(tmp_path / name, config=cfg, hours=hours, scenario=dict(scenario, wifi=dict(
        scenario.get("wifi", {}), ssid="lab", password="lab-wifi-pass")), rtc_preset=False, mac=MAC,
        on_line=lines.append)
    board.run()
    readings = [json.loads(ln[8:]) for ln in lines if ln.startswith("reading ")]
    status = [json.loads(ln[8:]) for ln in lines if ln.startswith("uplinks {")]
    return board, readings, status[-1] if status else None, lines


def assert_same(stored, printed):
    for k in KEYS:
        assert stored[k] == printed[k], (k, stored, printed)
    assert stored["rh"] == pytest.approx(printed["rh"], abs=0.051)
    assert stored["temp_c"] == pytest.approx(printed["temp_c"], abs=0.051)


@pytest.mark.slow
def test_72h_with_48h_outage_every_reading_delivered_with_its_time(tmp_path):
    coll = start_collector(tmp_path)
    try:
        board, readings, status, lines = run_board(tmp_path, station_config(coll.port), 72,
                                                   {"wifi": {"down": [[12, 60]]}})
        assert len(readings) == 72 * 12
        assert board.restarts == {"reset": 0, "watchdog": 0, "power_cut": 0}
        stored = {r["time"]: r for r in coll.store.rows("station-1")}
        sc_rows = {r["time"]: r for r in coll.store.rows(SC_STATION)}
        assert all(r["time"] for r in readings)             # the RTC kept time through the outage
        assert sorted(stored) == sorted(r["time"] for r in readings)
        for r in readings:
            assert_same(stored[r["time"]], r)
            s = sc_rows[r["time"]]                          # Sensor.Community pushes, backfilled too
            assert (s["pm1_atm"], s["pm10_atm"], s["pm25_atm"]) == (r["pm1_atm"], r["pm10_atm"], r["pm25_atm"])
        assert len(sc_rows) == len(readings)
        assert status["pending"] == {"airkit_json": 0, "sensor_community": 0}
        assert status["dropped"] == 0
        assert any("wifi: link lost" in ln for ln in lines) and any("wifi: connected" in ln for ln in lines[100:])
    finally:
        coll.stop()


@pytest.mark.slow
def test_50_power_cuts_during_flash_writes(tmp_path):
    rng = random.Random(7)
    hours = 50
    cuts = sorted(rng.uniform(0.2, hours - 0.5) for _ in range(50))
    coll = start_collector(tmp_path)
    try:
        board, readings, status, lines = run_board(tmp_path, station_config(coll.port, sc=False), hours,
                                                   {"power_cuts": cuts, "power_cut_on_write": True})
        assert board.restarts["power_cut"] == 50
        assert board.restarts["watchdog"] == 0
        assert board.state()["counters"]["power_cuts"] == 50
        stored = coll.store.rows("station-1")
        printed = {}
        for r in readings:
            printed.setdefault(r["time"], r)
        # 0 corrupted records accepted: every stored record is a reading the station produced, unchanged
        for s in stored:
            assert s["time"] in printed, s
            assert_same(s, printed[s["time"]])
        lost = set(printed) - {s["time"] for s in stored}
        assert len(lost) <= 50, "lost %d readings in 50 power cuts" % len(lost)
        assert len(stored) >= len(printed) - 50
        assert status["pending"]["airkit_json"] == 0
    finally:
        coll.stop()


@pytest.mark.slow
def test_endpoint_500_429_and_timeouts_lose_nothing_and_never_starve_the_watchdog(tmp_path):
    import time as _time
    coll = start_collector(tmp_path)
    calls = {"n": 0}

    def faults(handler):
        calls["n"] += 1
        n = calls["n"]
        phase = n % 10
        if n > 200:
            return False                     # eventually healthy
        if phase in (1, 2):
            handler._send(500, {"detail": "boom"})
            return True
        if phase == 3:
            handler.send_response(429)
            handler.send_header("Retry-After", "120")
            handler.send_header("Content-Length", "0")
            handler.send_header("Connection", "close")
            handler.end_headers()
            handler.close_connection = True
            return True
        if phase == 4:
            # hangs past the firmware's wait for an answer: on loopback 1 s of wall time for
            # its 5 s timeout, after up to 1 s (real time) before the next piece may go
            _time.sleep(2.5)
            handler.close_connection = True
            return True
        return False

    coll.fault_hook = faults
    try:
        board, readings, status, lines = run_board(tmp_path, station_config(coll.port), 30, {})
        assert board.restarts == {"reset": 0, "watchdog": 0, "power_cut": 0}
        assert calls["n"] > 200
        stored = {r["time"] for r in coll.store.rows("station-1")}
        assert stored == {r["time"] for r in readings}
        assert len(coll.store.rows(SC_STATION)) == len(readings)
        assert status["pending"] == {"airkit_json": 0, "sensor_community": 0}
        text = "\n".join(lines)
        assert "HTTP 500" in text and "HTTP 429" in text and "timeout" in text
        assert TOKEN not in text and "lab-wifi-pass" not in text       # no secret in the console
    finally:
        coll.stop()
