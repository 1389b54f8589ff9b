"""How much heap a real station needs: the smallest MicroPython heap (unix port,
64-bit) in which a station with WiFi and an airkit JSON uplink runs six simulated
hours with a two-hour outage and delivers every reading; and how much of that heap
the virtual board's own stand-ins take. The ESP32 is 32-bit (smaller objects), so
its figure is lower than the firmware part of this one, but it is not measured here.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "host"))
sys.path.insert(0, str(ROOT / "tests"))


def _station_ok(heap_kb: int, romfs: str | None = None) -> tuple[bool, int]:
    from airkit.vboard import VirtualBoard
    from test_reliability import station_config
    from uplink_helpers import start_collector

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        coll = start_collector(tmp)
        try:
            lines = []
            board = VirtualBoard(tmp / "b", config=station_config(coll.port, sc=False), hours=6, rtc_preset=False, on_line=lines.append,
                                 heap_kb=heap_kb, firmware_from="romfs" if romfs else "repo",
                                 extra={"romfs": romfs} if romfs else None, scenario={"wifi": {"ssid": "lab", "password": "lab-wifi-pass",
                                                                     "down": [[1, 3]]}})
            try:
                board.run()
            except Exception:
                return False, 0
            n = sum(1 for ln in lines if ln.startswith("reading "))
            ok = n >= 72 and coll.store.count("station-1") == n and not board.restarts["watchdog"]
            return ok and not board.restarts["reset"], board.state().get("heap_before_firmware", 0)
        finally:
            coll.stop()


def _smallest(romfs=None) -> tuple[int, int]:
    lo, hi = 96, 512                      # KB; hi is known to work
    ok, standins = _station_ok(hi, romfs)
    if not ok:
        raise RuntimeError("the station does not run even with %d KB of heap" % hi)
    while hi - lo > 8:
        mid = (lo + hi) // 2
        if _station_ok(mid, romfs)[0]:
            hi = mid
        else:
            lo = mid
    return hi, standins


def run() -> dict:
    from airkit.firmware_build import build_romfs

    hi, standins = _smallest()
    figures = {"station_min_heap_kb_unix64": hi,
               "vboard_standins_heap_kb_unix64": round(standins / 1024, 1),
               "station_firmware_heap_kb_unix64": round(hi - standins / 1024, 1)}
    with tempfile.TemporaryDirectory() as tmp:
        image = str(Path(tmp) / "firmware.romfs")
        build_romfs(Path(image))
        # the image is read into heap on the unix port (flash on a board): it is part of
        # "before firmware" and so not counted as firmware heap
        hi, before = _smallest(image)
        figures["station_firmware_heap_kb_unix64_romfs"] = round(hi - before / 1024, 1)
    return figures


if __name__ == "__main__":
    print(run())
