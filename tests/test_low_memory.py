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


def test_memory_error_in_the_uplinks_counts_as_a_crash(tmp_path):
    """An uplink that cannot get the memory for even one reading (MemoryError at batch size 1,
    again and again) makes the station crash (counters saved, wait, reset: a fresh heap), never
    an alive station that delivers nothing. Runs the real start-up and loop on MicroPython."""
    from conftest import run_mp

    name = "test_memory_error_in_the_uplinks_is_a_crash_not_a_silent_station"
    out = run_mp("startup_cases.py", args=[name], vboard=True, timeout=120, cwd=tmp_path)
    assert "PASS " + name in out
    assert "airkit CRASH: crash 1 in a row" in out and "cannot get the memory to send one reading" in out


def test_free_heap_on_an_esp32_leaves_out_the_idf_split_block(tmp_path):
    """On an ESP32 ``gc.mem_free()`` counts the largest free IDF block (RAM the GC heap could
    take, which WiFi and TLS need): the station's status line and the doctor report without it.
    An ``esp32`` module answering as the ESP32 port's ``idf_heap_info`` does stands in here."""
    from conftest import run_mp

    (tmp_path / "esp32.py").write_text(
        "HEAP_DATA = 4\n"
        "def idf_heap_info(caps):\n"
        "    assert caps == HEAP_DATA\n"
        "    return [(177000, 61000, 31744, 42000), (16000, 9000, 8192, 8000)]\n")
    src = ("import gc, time\nfrom airkit_fw import board\nclass M:\n    pass\n"
           "b = board.Board(machine=M(), clock=time)\n"
           "print(board.idf_split())\ngc.collect()\nf = gc.mem_free()\nt = b.mem_free()\nprint(f - t)\n")
    out = run_mp(source=src, extra_path=[tmp_path]).split()
    assert out[0] == "31744"
    assert abs(int(out[1]) - 31744) < 512, out
    # without an IDF (the unix port, the virtual board) nothing is taken off
    out = run_mp(source=src).split()
    assert out[0] == "0" and abs(int(out[1])) < 512
