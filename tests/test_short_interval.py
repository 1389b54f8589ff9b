"""The reading budget at the shortest interval (60 s): a dead DHT22 (and an unplugged
PMS5003) costs bounded time, the uploads get their turn after every reading, and the
status lines keep coming (issue: at interval_s 60 a station with a dead DHT22 delivered
0 of 30 readings; with the PMS unplugged too it printed no status line at all)."""

import json

import pytest

from airkit.vboard import VirtualBoard
from test_reliability import station_config
from uplink_helpers import start_collector


@pytest.mark.parametrize("pms_unplugged,pms_faults", [(False, {}), (True, {}), (False, {"checksum_error_rate": 1.0})])
def test_interval_60_with_a_dead_dht22_delivers_every_reading(tmp_path, pms_unplugged, pms_faults):
    # the last case: a PMS sending only broken frames makes a reading longer than the interval
    # (every read waits out its timeout); the uploads must still get their turn after it
    coll = start_collector(tmp_path)
    try:
        lines = []
        board = VirtualBoard(tmp_path / "b", config=dict(station_config(coll.port, sc=False), interval_s=60),
                             hours=1, scenario={"dht": {"missing": [[0, 2]]}, "pms": pms_faults,
                                                "wifi": {"ssid": "lab", "password": "lab-wifi-pass"}},
                             rtc_preset=False, on_line=lines.append,
                             wiring={"pms_unplugged": True} if pms_unplugged else {})
        board.run()
        readings = [json.loads(ln[8:]) for ln in lines if ln.startswith("reading ")]
        assert board.restarts == {"reset": 0, "watchdog": 0, "power_cut": 0}
        assert len(readings) >= (40 if pms_faults else 55)    # about one a minute (the broken PMS: slower)
        assert all("dht_failed" in r["flags"] for r in readings)
        assert all(("pms_missing" in r["flags"]) == (pms_unplugged or bool(pms_faults)) for r in readings)
        stored = {r["time"] for r in coll.store.rows("station-1")}
        assert {r["time"] for r in readings[:-1]} <= stored, "%d of %d delivered" % (len(stored), len(readings))
        assert sum(ln.startswith("uplinks {") for ln in lines) >= len(readings) - 1
        assert sum(ln.startswith("status {") for ln in lines) >= len(readings) // 12
    finally:
        coll.stop()
