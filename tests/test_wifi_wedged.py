"""A WiFi driver that hangs (the access point stays visible but nothing connects)
is cured by the last-resort reboot, which is counted, and nothing is lost."""

from test_reliability import assert_same, run_board, station_config
from uplink_helpers import start_collector


def test_wedged_wifi_reboots_once_and_delivers_everything(tmp_path):
    coll = start_collector(tmp_path)
    try:
        board, readings, status, lines = run_board(tmp_path, station_config(coll.port, sc=False), 12,
                                                   {"wifi": {"wedge_at": [1.0]}})
        assert board.restarts["reset"] == 1                     # exactly one reboot, by the firmware
        assert status["wifi_reboots"] == 1
        assert any("rebooting (last resort)" in ln for ln in lines)
        assert len(readings) >= 12 * 12 - 1                     # the reboot costs at most one reading slot
        stored = {r["time"]: r for r in coll.store.rows("station-1")}
        assert sorted(stored) == sorted(r["time"] for r in readings)
        for r in readings:
            assert_same(stored[r["time"]], r)
        assert status["pending"]["airkit_json"] == 0
    finally:
        coll.stop()


def test_outage_never_reboots(tmp_path):
    coll = start_collector(tmp_path)
    try:
        board, readings, status, lines = run_board(tmp_path, station_config(coll.port, sc=False), 12,
                                                   {"wifi": {"down": [[1.0, 11.0]]}})
        assert board.restarts["reset"] == 0 and status["wifi_reboots"] == 0
        assert status["pending"]["airkit_json"] == 0
    finally:
        coll.stop()
