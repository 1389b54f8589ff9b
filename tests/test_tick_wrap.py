"""Time that wraps: 14 days of uptime on the virtual board with no gap in readings.

The ESP32's ``ticks_ms`` wraps at 2^30 ms (298.3 h) and ``ticks_diff`` is right
only within 2^29 ms (149.1 h) of its reference, so a reference tick taken at boot
goes wrong after 149 h (issue: the DHT22's power-up tick stopped every station
for 6.2 days). The virtual clock wraps exactly as the ESP32's does (the 64-bit
unix port's own ``time.ticks_ms`` would wrap only at 2^62 ms). Virtual time runs
as fast as the CPU allows, so 14 days take seconds. The driver-level checks run
on the MicroPython unix port (tests/mp/tickwrap_cases.py).
"""

import json

import pytest

from test_sim_e2e import sim, t_of

DAYS = 14
INTERVAL_S = 900


@pytest.mark.parametrize("mode,uptime_h", [("cycle", 0), ("continuous", 290)])
def test_14_days_of_uptime_have_a_reading_every_interval(tmp_path, mode, uptime_h):
    cfg = tmp_path / "station.json"
    cfg.write_text(json.dumps({"interval_s": INTERVAL_S, "pms": {"mode": mode}}))
    readings, summary = sim("--hours", DAYS * 24, "--config", cfg, "--uptime-start-h", uptime_h,
                            "--board-dir", tmp_path / "board", timeout=180)
    want = DAYS * 24 * 3600 // INTERVAL_S
    assert summary["reboots"] == 0 and summary["counters"].get("watchdog_resets", 0) == 0
    times = [t_of(r) for r in readings]
    gaps = [b - a for a, b in zip(times, times[1:])]
    worst = max(range(len(gaps)), key=lambda i: gaps[i])
    assert gaps[worst] == INTERVAL_S, "no reading for %.1f h after %.1f h of uptime" % (
        gaps[worst] / 3600, uptime_h + (times[worst] - times[0]) / 3600)
    assert len(readings) == want, len(readings)
    # the run crossed both: 2^29 ms after boot and the counter's wrap at 2^30
    ticks = [r["ticks"] for r in readings]
    assert sum(1 for a, b in zip(ticks, ticks[1:]) if b < a) >= 1, "the tick counter never wrapped"
    assert (times[-1] - times[0]) * 1000 > 2 ** 30
    assert all(r["frames"] == 9 and r["warmup_ok"] and r["rh"] is not None for r in readings)


def test_uplink_delivers_at_once_after_a_wifi_outage_longer_than_6_days(tmp_path):
    """An uplink's retry time set before a 6.6-day outage must not read as "days ahead" after it."""
    from test_reliability import run_board, station_config
    from uplink_helpers import start_collector

    coll = start_collector(tmp_path)
    try:
        cfg = dict(station_config(coll.port, sc=False), interval_s=900)
        board, readings, status, lines = run_board(tmp_path, cfg, 162, {"wifi": {"down": [[0.5, 160]]}})
        assert board.restarts == {"reset": 0, "watchdog": 0, "power_cut": 0}
        assert len(readings) == 162 * 4
        stored = {r["time"] for r in coll.store.rows("station-1")}
        assert stored == {r["time"] for r in readings}, "%d of %d delivered in the 2 h after the outage" % (
            len(stored), len(readings))
        assert status["pending"] == {"airkit_json": 0}
    finally:
        coll.stop()


def test_wedged_wifi_is_still_rebooted_after_6_days_of_uptime(tmp_path):
    """The WiFi's "not in the first 6 h after boot" guard must not read "just booted" after 149 h."""
    from test_reliability import run_board, station_config
    from uplink_helpers import start_collector

    coll = start_collector(tmp_path)
    try:
        cfg = dict(station_config(coll.port, sc=False), interval_s=900)
        board, readings, status, lines = run_board(tmp_path, cfg, 160, {"wifi": {"wedge_at": [150.0]}})
        assert board.restarts["reset"] == 1 and status["wifi_reboots"] == 1
        assert any("rebooting (last resort)" in ln for ln in lines)
        assert status["pending"]["airkit_json"] == 0
    finally:
        coll.stop()


def test_uptime_start_option_is_checked_and_sets_the_tick_counter(tmp_path):
    from airkit.vboard import TICKS_PERIOD, ticks_for_uptime
    from test_cli_errors import airkit, one_line_error

    assert ticks_for_uptime(0) == 0 and ticks_for_uptime(1) == 3600000
    assert ticks_for_uptime(298.3) == int(298.3 * 3600000) % TICKS_PERIOD < 3600000     # wrapped
    one_line_error(airkit("sim", "--hours", 1, "--uptime-start-h", -1), "--uptime-start-h")
    one_line_error(airkit("sim", "--hours", 1, "--uptime-start-h", "nan"), "--uptime-start-h")
    one_line_error(airkit("sim", "--hours", 1, "--uptime-start-h", 5, "--ticks-start", 7), "not both")
    readings, _ = sim("--hours", 1, "--uptime-start-h", 298.2, "--board-dir", tmp_path)
    ticks = [r["ticks"] for r in readings]
    assert ticks[0] > TICKS_PERIOD - 3600000 and ticks[-1] < 3600000     # crossed the wrap within the hour
    assert len(readings) == 12
