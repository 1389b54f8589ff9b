"""On a board short of RAM, a big backfill batch must not stall delivery: the uplink
halves its batches until they fit and delivers everything. The virtual board's heap
is capped (the unix port is 64-bit: its objects are about twice an ESP32's, and the
virtual board's own stand-ins take about 54 KB of it)."""

from airkit.vboard import VirtualBoard
from test_reliability import station_config
from uplink_helpers import start_collector


def test_backfill_fits_in_a_small_heap(tmp_path):
    coll = start_collector(tmp_path)
    try:
        lines = []
        board = VirtualBoard(tmp_path / "b", config=station_config(coll.port, sc=False), hours=6, rtc_preset=False, on_line=lines.append,
                             heap_kb=256, scenario={"wifi": {"ssid": "lab", "password": "lab-wifi-pass",
                                                             "down": [[1, 3]]}})
        board.run()
        readings = [ln for ln in lines if ln.startswith("reading ")]
        assert len(readings) == 72
        assert coll.store.count("station-1") == 72, [ln for ln in lines if "uplink" in ln][-5:]
        assert board.restarts["watchdog"] == 0
    finally:
        coll.stop()
