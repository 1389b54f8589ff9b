"""Heap of the station's web pages, on a 32-bit MicroPython with the virtual board's
stand-ins frozen in (on a board they are C, so what is left in the heap is the
firmware's own), firmware installed as ``.mpy`` (what ``airkit deploy`` sends):

- ``portal_fw_heap_kib_32bit``: the smallest heap in which the setup portal (run
  instead of the measuring loop) serves its page in both languages, refuses a bad
  form and saves a good one (the station that starts after it is not part of this
  figure); minus what the stand-ins and the launcher hold.
  Goal <= 48 KiB (it must run in the ESP32's first 56 KiB heap area).
- ``station_fw_heap_kib_32bit_mpy_statuspage``: the smallest heap in which a school
  station (airkit collector + Sensor.Community + MQTT/Home Assistant, status page on)
  runs 6 virtual hours with a 2-hour WiFi outage, delivers every reading to all three,
  serves its status page and /data.json while a client keeps asking, and never resets;
  minus the stand-ins. Goal <= 64 KiB.

The interpreter with the stand-ins frozen is built once with the tool's ``build.sh``
and cached under ``build/``. Without ``../shared/tools/micropython32`` (or with no
compiler for the build) the figures are skipped with a message.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "host"))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

VBOARD = ROOT / "host" / "airkit" / "vboard"
STANDINS = ("world.py", "vclock.py", "vmachine.py", "vdht.py", "vnetwork.py", "vsocket.py", "pms_sim.py",
            "blockdev.py")
HOURS = 6
OUTAGE = [[1, 3]]
WIFI = {"ssid": "lab", "password": "lab-wifi-pass"}


def standins_interpreter(tool: Path) -> Path | None:
    h = hashlib.sha256()
    for name in STANDINS:
        h.update(name.encode() + b"\0" + (VBOARD / name).read_bytes())
    out = ROOT / "build" / ("micropython32-standins-%s" % h.hexdigest()[:12])
    exe = out / "micropython32"
    if exe.exists():
        return exe
    out.mkdir(parents=True, exist_ok=True)
    manifest = out / "manifest.py"
    manifest.write_text("".join('module("%s", base_path="%s")\n' % (n, VBOARD) for n in STANDINS))
    print("  building a 32-bit MicroPython with the stand-ins frozen in (2-5 minutes, cached in %s)"
          % out.relative_to(ROOT), flush=True)
    proc = subprocess.run([str(tool.parent / "build.sh"), str(exe), str(manifest)], capture_output=True, text=True,
                          timeout=1800)
    if proc.returncode != 0 or not exe.exists():
        print("  build failed, figures skipped: %s" % (proc.stderr.strip().splitlines()[-3:],))
        return None
    return exe


def _board_class():
    from airkit.vboard import VirtualBoard

    launcher = Path(tempfile.mkdtemp(prefix="airkit-launcher-"))
    shutil.copy(VBOARD / "run.py", launcher / "run.py")       # alone: the stand-ins come frozen

    class FrozenStandinsBoard(VirtualBoard):
        def _cmd(self):
            cmd = super()._cmd()
            return [str(launcher / "run.py") if c.endswith("/run.py") else c for c in cmd]

    return FrozenStandinsBoard


def _fetch(url, data=None, lang=None, timeout=20):
    req = urllib.request.Request(url, data=data, headers={"Accept-Language": lang} if lang else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return None, b""


def portal_run(heap_kb, interp, mpy_dir) -> dict:
    Board = _board_class()
    with tempfile.TemporaryDirectory() as tmp:
        lines = []
        vb = Board(Path(tmp) / "b", config={"device": {"id": "station-1"}, "interval_s": 60}, hours=0.5,
                   heap_kb=heap_kb, micropython=interp, firmware_from="mpy", on_line=lines.append,
                   scenario={"wifi": dict(WIFI, neighbours=[["school-guest", -70], ["<b>x</b>", -85]])},
                   extra={"ap_radio": True, "mpy_dir": mpy_dir})
        th = threading.Thread(target=lambda: _safe_run(vb), daemon=True)
        th.start()
        ok = False
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not any("setup portal: join" in ln for ln in lines):
                if not th.is_alive():
                    break
                time.sleep(0.05)
            base = "http://127.0.0.1:%d/" % vb.web_port
            steps = [_fetch(base, lang="en"), _fetch(base, lang="zh-TW"),
                     _fetch(base + "save", b"ssid=lab&lat=99&lon=1"),
                     _fetch(base + "save", b"ssid=lab&password=lab-wifi-pass&name=Yard+%22N%22&lat=25.03&lon=121.56")]
            ok = ([s for s, _ in steps] == [200, 200, 400, 200] and b"school-guest" in steps[0][1]
                  and "設定".encode() in steps[1][1])
            deadline = time.monotonic() + 30
            while ok and time.monotonic() < deadline and not any("settings saved" in ln for ln in lines):
                time.sleep(0.05)
            ok = ok and any("settings saved" in ln for ln in lines)   # the portal's part ends here
        finally:
            vb.stop()
            th.join(10)
        upto = next((i for i, ln in enumerate(lines) if "settings saved" in ln), len(lines))
        ok = ok and not any("MemoryError" in ln or "CRASH" in ln for ln in lines[:upto])
        return {"ok": ok, "standins": vb.state().get("heap_before_firmware", 0)}


def _safe_run(vb):
    try:
        vb.run(max_boots=3)
    except Exception:
        pass


def station_run(heap_kb, interp, mpy_dir) -> dict:
    from bench_memory import _collector, _config
    from uplink_helpers import MAC, SC_STATION, Broker

    Board = _board_class()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        coll = _collector(tmp)               # the school's collector, as bench_memory measures it
        store = coll.store
        broker = Broker(tmp)
        lines = []
        served = [0]
        stop = threading.Event()
        try:
            cfg = _config(coll.port, "school", broker.port)
            cfg["web"] = {"status": True}
            from uplink_helpers import TOKEN
            for u in cfg["uplinks"]:           # the collector wants the station's secret on the push too
                if u["type"] == "sensor_community":
                    u["token"] = TOKEN
            vb = Board(tmp / "b", config=cfg, hours=HOURS, heap_kb=heap_kb, micropython=interp, firmware_from="mpy",
                       mac=MAC, rtc_preset=False, on_line=lines.append,
                       scenario={"wifi": dict(WIFI, down=OUTAGE)}, extra={"mpy_dir": mpy_dir})

            def client():
                base = "http://127.0.0.1:%d/" % vb.web_port
                k = 0
                while not stop.is_set():
                    st, body = _fetch(base + ("data.json" if k % 2 else ""), timeout=5)
                    if st == 200:
                        served[0] += 1
                    k += 1
                    stop.wait(0.3)

            th = threading.Thread(target=client, daemon=True)
            th.start()
            try:
                vb.run(max_boots=3)
            except Exception:
                return {"ok": False, "standins": 0}
            finally:
                stop.set()
                th.join(10)
            n = sum(1 for ln in lines if ln.startswith("reading "))
            ok = (n >= HOURS * 12 and store.count("station-1") == n and store.count(SC_STATION) == n
                  and vb.restarts["watchdog"] == 0 and vb.restarts["reset"] == 0 and served[0] >= 2
                  and not any("MemoryError" in ln for ln in lines))
            why = {"readings": n, "collector": store.count("station-1"), "sc": store.count(SC_STATION),
                   "restarts": vb.restarts, "served": served[0]}
            return {"ok": ok, "standins": vb.state().get("heap_before_firmware", 0), "served": served[0],
                    "why": why}
        finally:
            broker.stop()
            coll.stop()


def smallest(fn, lo, hi, margin=2, **kw):
    best = fn(hi, **kw)
    if not best["ok"]:
        raise RuntimeError("does not run even with %d KiB" % hi)
    top = hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        r = fn(mid, **kw)
        print("    %d KiB: %s" % (mid, "ok" if r["ok"] else "fails"), flush=True)
        if r["ok"]:
            hi, best = mid, r
        else:
            lo = mid
    k = 1
    while k <= margin and hi + k < top:       # not quite monotonic: the next sizes must pass too
        if fn(hi + k, **kw)["ok"]:
            k += 1
        else:
            hi, k = hi + k + 1, 1
            best = fn(hi, **kw)
    return hi, best


def run(which=("portal", "station")) -> dict:
    from bench_memory import shared_tool
    from airkit.firmware_build import build

    tool = shared_tool()
    if tool is None:
        print("  web heap figures skipped: ../shared/tools/micropython32/micropython32 is not here")
        return {}
    interp = standins_interpreter(tool)
    if interp is None:
        return {}
    figs = {}
    with tempfile.TemporaryDirectory() as tmp:
        build(Path(tmp) / "mpy")
        mpy = str(Path(tmp) / "mpy")
        if "portal" in which:
            hi, r = smallest(portal_run, 32, 128, interp=str(interp), mpy_dir=mpy)
            figs["portal_fw_heap_kib_32bit"] = round(hi - r["standins"] / 1024, 1)
            print("  portal: smallest heap %d KiB, stand-ins %.1f KiB" % (hi, r["standins"] / 1024), flush=True)
        if "station" in which:
            hi, r = smallest(station_run, 32, 200, interp=str(interp), mpy_dir=mpy)
            figs["station_fw_heap_kib_32bit_mpy_statuspage"] = round(hi - r["standins"] / 1024, 1)
            print("  station + status page: smallest heap %d KiB, stand-ins %.1f KiB, pages served %d"
                  % (hi, r["standins"] / 1024, r["served"]), flush=True)
    return figs


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1:] or ("portal", "station"))))
