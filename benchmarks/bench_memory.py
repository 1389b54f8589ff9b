"""How much heap a real station needs: the smallest MicroPython heap in which a station
with WiFi, the journal and an airkit JSON uplink runs through an outage, delivers every
reading and never resets; and how much of that heap is the virtual board's own
stand-ins (everything held before the firmware's first module, the board layer, is
imported: the rest is the firmware's share).

Measured the ESP32's way on a 32-bit MicroPython unix port (objects and pointers the
size of an ESP32's: ``../shared/tools/micropython32``), for the three install methods:
``.mpy`` files on the flash (what ``airkit deploy`` sends), a ROMFS image (modules run
in place) and frozen into the interpreter (a custom build of ``firmware/manifest.py``,
made here once with the tool's ``build.sh`` and cached under ``build/``). Each: 24 h
with a 2 h outage. Also the import heap of every board module on 32 bits, and for the
``.mpy`` install the same day with the uplink over TLS and with two uplinks.
The older 64-bit figures (the PyPI unix port, 6 h) are kept for comparison.

Without ``../shared/tools/micropython32`` the 32-bit figures are skipped with a message.
``AIRKIT_MICROPYTHON32`` may point at the interpreter; ``AIRKIT_BENCH_NO_FROZEN=1``
skips the frozen build (2-5 minutes the first time).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "host"))
sys.path.insert(0, str(ROOT / "tests"))

HOURS_32 = 24
OUTAGE = [[1, 3]]           # hours: WiFi down from 1 h to 3 h
TLS = ROOT / "tests" / "data" / "tls"


def shared_tool() -> Path | None:
    env = os.environ.get("AIRKIT_MICROPYTHON32")
    if env:
        return Path(env) if Path(env).exists() else None
    for base in (ROOT.parent, ROOT.parent.parent):
        p = base / "shared" / "tools" / "micropython32" / "micropython32"
        if p.exists():
            return p
    return None


def _collector(tmp: Path, tls=False):
    from airkit.collect.server import Collector
    from airkit.collect.store import Store
    from uplink_helpers import NODE, SC_STATION, TOKEN

    store = Store(tmp / "collect.sqlite")
    store.add_device("station-1", "json", TOKEN)
    store.add_device(NODE, "sc", TOKEN, station=SC_STATION)
    kw = {"tls_cert": str(TLS / "server.pem"), "tls_key": str(TLS / "server.key")} if tls else {}
    return Collector(store, "127.0.0.1", 0, **kw).start()


def _config(port, kind, broker_port=None):
    from test_reliability import station_config
    from uplink_helpers import TOKEN

    if kind == "school":
        # a school's usual config: its collector (airkit JSON), Sensor.Community, Home Assistant
        return {"device": {"id": "station-1", "name": "School"}, "wifi": {"ssid": "lab", "password": "lab-wifi-pass"},
                "uplinks": [{"type": "airkit_json", "url": "http://127.0.0.1:%d/api/v1/batch" % port, "token": TOKEN},
                            {"type": "sensor_community", "url": "http://127.0.0.1:%d/v1/push-sensor-data/" % port},
                            {"type": "mqtt_ha", "url": "mqtt://127.0.0.1:%d" % broker_port}]}

    if kind == "tls":
        return {"device": {"id": "station-1"}, "wifi": {"ssid": "lab", "password": "lab-wifi-pass"},
                "uplinks": [{"type": "airkit_json", "url": "https://localhost:%d/api/v1/batch" % port,
                             "token": TOKEN, "ca": (TLS / "ca.pem").read_text()}]}
    return station_config(port, sc=(kind == "two"))


def station_run(heap_kb: int, *, micropython=None, firmware_from="repo", hours=6, kind="one", romfs=None,
                mpy_dir=None, romfs_frozen=False) -> dict:
    """One simulated run; returns ok (every reading delivered, no reset), the stand-ins' heap
    and how often an uplink had to halve its batch for lack of memory."""
    from airkit.vboard import VirtualBoard
    from uplink_helpers import MAC, SC_STATION

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        coll = _collector(tmp, tls=(kind == "tls"))
        broker = None
        if kind == "school":
            from uplink_helpers import Broker
            broker = Broker(tmp)
        try:
            lines = []
            extra = {}
            if romfs:
                extra["romfs"] = romfs
                extra["romfs_frozen"] = romfs_frozen
            if mpy_dir:
                extra["mpy_dir"] = mpy_dir
            board = VirtualBoard(tmp / "b", config=_config(coll.port, kind, broker and broker.port), hours=hours,
                                 rtc_preset=False,
                                 on_line=lines.append, heap_kb=heap_kb, firmware_from=firmware_from, mac=MAC,
                                 micropython=micropython, extra=extra,
                                 scenario={"wifi": {"ssid": "lab", "password": "lab-wifi-pass", "down": OUTAGE}})
            try:
                board.run(max_boots=3)
            except Exception:
                return {"ok": False, "standins": 0, "low_memory": 0}
            n = sum(1 for ln in lines if ln.startswith("reading "))
            ok = (n >= hours * 12 and coll.store.count("station-1") == n and board.restarts["watchdog"] == 0
                  and board.restarts["reset"] == 0)
            if kind in ("two", "school"):
                ok = ok and coll.store.count(SC_STATION) == n
            if kind == "school":         # Home Assistant: every reading acknowledged (QoS 1) by the broker
                import json as _json
                st = [_json.loads(ln[8:]) for ln in lines if ln.startswith("uplinks {")]
                ok = ok and bool(st) and st[-1].get("pending", {}).get("mqtt_ha", 1) <= 1
            return {"ok": ok, "standins": board.state().get("heap_before_firmware", 0),
                    "low_memory": sum(1 for ln in lines if "low on memory" in ln or "MemoryError" in ln)}
        finally:
            coll.stop()
            if broker is not None:
                broker.stop()


def smallest_heap(lo, hi, step, margin=0, **kw) -> tuple[int, dict]:
    """Smallest heap (KiB, to ``step``) in which ``station_run`` passes; ``hi`` must pass.

    Passing is not quite monotonic in the heap size (where objects land decides how
    fragmented it gets), so with ``margin`` the answer is also checked at the next
    ``margin`` sizes above it and moved up past any that fails."""
    best = station_run(hi, **kw)
    if not best["ok"]:
        raise RuntimeError("the station does not run even with %d KiB of heap (%s)" % (hi, kw))
    top = hi
    while hi - lo > step:
        mid = (lo + hi) // 2
        r = station_run(mid, **kw)
        if r["ok"]:
            hi, best = mid, r
        else:
            lo = mid
    k = 1
    while k <= margin and hi + k * step < top:
        if station_run(hi + k * step, **kw)["ok"]:
            k += 1
        else:
            hi, k = hi + (k + 1) * step, 1
            best = station_run(hi, **kw)
            while not best["ok"] and hi < top:
                hi += step
                best = station_run(hi, **kw)
    return hi, best


def _import_heap(interp: str, names: list[str], cwd: str, image: str | None = None) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        lst = Path(tmp) / "modules.txt"
        lst.write_text("\n".join(names))
        args = [interp, str(ROOT / "benchmarks" / "mp" / "import_heap.py")] + ([image] if image else []) + [str(lst)]
        env = dict(os.environ, MICROPYPATH="%s:.frozen" % cwd if cwd else ".frozen")
        proc = subprocess.run(args, capture_output=True, text=True, cwd=cwd or tmp, timeout=120, env=env)
    if proc.returncode != 0:
        raise RuntimeError("import heap: %s%s" % (proc.stdout, proc.stderr))
    return int(proc.stdout.split()[-1])


def _verifies_tls(interp: str) -> bool:
    proc = subprocess.run([interp, "-c", "import tls; tls.CERT_REQUIRED; tls.SSLContext.load_verify_locations"],
                          capture_output=True, text=True, timeout=30)
    return proc.returncode == 0


def frozen_interpreter(tool: Path) -> Path | None:
    """The 32-bit interpreter with the firmware frozen in, built once per firmware version."""
    from airkit.firmware_build import source_files
    from airkit.vboard import firmware_dir

    src = firmware_dir()
    h = hashlib.sha256()
    for rel in source_files(src) + [Path("manifest.py")]:
        h.update(rel.as_posix().encode() + b"\0" + (src / rel).read_bytes())
    out = ROOT / "build" / ("micropython32-frozen-%s" % h.hexdigest()[:12]) / "micropython32"
    return _build_interpreter(tool, out, src / "manifest.py", "the firmware")


def _build_interpreter(tool: Path, out: Path, manifest: Path, what: str) -> Path | None:
    """``out``, built with ``manifest`` frozen in when not there yet (2-5 minutes); None if the build fails."""
    if out.exists():
        return out
    print("  building a 32-bit MicroPython with %s frozen in (2-5 minutes, cached in %s)"
          % (what, out.parent.relative_to(ROOT)), flush=True)
    proc = subprocess.run([str(tool.parent / "build.sh"), str(out), str(manifest)],
                          capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0 or not out.exists():
        print("  build failed, figures skipped: %s" % (proc.stderr.strip().splitlines()[-3:],))
        return None
    return out


def figures_32bit(tool: Path) -> dict:
    from airkit.firmware_build import build, build_romfs

    interp = str(tool)
    figs = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        files = build(tmp / "mpy")
        lib = str(tmp / "mpy" / "lib")
        modules = sorted(n[len("lib/"):-len(".mpy")].replace("/", ".") for n in files
                         if n.startswith("lib/") and not n.endswith("__init__.mpy"))
        station = ["airkit_fw.app", "airkit_fw.services", "airkit_fw.wifi", "airkit_fw.timesync",
                   "airkit_fw.uplinks.airkit_json"]
        image = str(tmp / "fw.romfs")
        build_romfs(Path(image))
        figs["firmware_import_heap_bytes_32bit"] = _import_heap(interp, modules, lib)
        figs["firmware_import_heap_bytes_32bit_station"] = _import_heap(interp, station, lib)
        figs["firmware_import_heap_bytes_32bit_romfs"] = _import_heap(interp, modules, str(tmp), image)

        step = 1
        for method, kw in (("mpy", {"firmware_from": "mpy", "mpy_dir": str(tmp / "mpy")}),
                           ("romfs", {"firmware_from": "romfs", "romfs": image})):
            hi, r = smallest_heap(48, 256, step, margin=3, micropython=interp, hours=HOURS_32, **kw)
            figs["station_min_heap_kib_32bit_" + method] = hi
            figs["vboard_standins_heap_kib_32bit_" + method] = round(r["standins"] / 1024, 1)
            figs["station_firmware_heap_kib_32bit_" + method] = round(hi - r["standins"] / 1024, 1)
            print("  %s: %d KiB (stand-ins %.1f)" % (method, hi, r["standins"] / 1024), flush=True)
        kinds = ["two"]
        if _verifies_tls(interp):
            kinds.insert(0, "tls")
        else:
            print("  TLS not measured: this interpreter's tls module cannot verify certificates (no "
                  "tls.CERT_REQUIRED: an axTLS build), and the firmware never sends without verifying; "
                  "on an ESP32, mbedTLS keeps its buffers outside the GC heap", flush=True)
        for kind in kinds:
            try:
                hi, r = smallest_heap(48, 320, step, margin=3, micropython=interp, hours=HOURS_32, kind=kind,
                                      firmware_from="mpy", mpy_dir=str(tmp / "mpy"))
            except RuntimeError as e:
                print("  %s: not measured: %s" % (kind, e), flush=True)
                continue
            figs["station_min_heap_kib_32bit_mpy_%s" % kind] = hi
            figs["station_firmware_heap_kib_32bit_mpy_%s" % kind] = round(hi - r["standins"] / 1024, 1)

    if os.environ.get("AIRKIT_BENCH_NO_FROZEN"):
        print("  frozen figures skipped (AIRKIT_BENCH_NO_FROZEN is set)")
        return figs
    frozen = frozen_interpreter(tool)
    if frozen is None:
        return figs
    with tempfile.TemporaryDirectory() as tmp:
        figs["firmware_import_heap_bytes_32bit_frozen"] = _import_heap(str(frozen), modules, "")
    hi, r = smallest_heap(32, 256, step, margin=3, micropython=str(frozen), hours=HOURS_32,
                          firmware_from="frozen")
    figs["station_min_heap_kib_32bit_frozen"] = hi
    figs["vboard_standins_heap_kib_32bit_frozen"] = round(r["standins"] / 1024, 1)
    figs["station_firmware_heap_kib_32bit_frozen"] = round(hi - r["standins"] / 1024, 1)
    return figs


SCHOOL_GOAL_MPY_KIB = 64       # issue 20: the firmware's own heap, installed as .mpy
SCHOOL_GOAL_FROZEN_KIB = 40


def board_like_interpreter(tool: Path, manifest: str) -> Path | None:
    """The 32-bit interpreter with the virtual board's stand-ins (and, for the frozen route, the
    firmware) frozen in, as C modules are on a board: built once per source version (2-5 min)."""
    from airkit.firmware_build import source_files
    from airkit.vboard import firmware_dir

    h = hashlib.sha256()
    paths = sorted((ROOT / "host" / "airkit" / "vboard").glob("*.py")) + [ROOT / "benchmarks" / "mp" / manifest]
    if "firmware" in manifest:
        src = firmware_dir()
        paths += [src / rel for rel in source_files(src)] + [src / "manifest.py"]
    for p in paths:
        h.update(str(p.relative_to(ROOT)).encode() + b"\0" + p.read_bytes())
    out = ROOT / "build" / ("micropython32-%s-%s" % (manifest[:-3], h.hexdigest()[:12])) / "micropython32"
    return _build_interpreter(tool, out, ROOT / "benchmarks" / "mp" / manifest, manifest)


def romfs_interpreter(tool: Path) -> tuple[Path, Path] | None:
    """(interpreter, image): the stand-ins plus the firmware's ROMFS image frozen in as a bytes
    constant, so the image lies in read-only memory and is mounted in place (a board's
    memory-mapped romfs partition), never copied into the heap."""
    from airkit.firmware_build import build_romfs

    work = ROOT / "build" / "romfs-model"
    work.mkdir(parents=True, exist_ok=True)
    image = work / "fw.romfs"
    build_romfs(image)
    data = image.read_bytes()
    h = hashlib.sha256(data)
    for p in sorted((ROOT / "host" / "airkit" / "vboard").glob("*.py")):
        h.update(p.read_bytes())
    d = work / h.hexdigest()[:12]
    d.mkdir(exist_ok=True)
    (d / "vboard_romfs.py").write_text("# the firmware's ROMFS image, frozen: read-only memory, as flash on a board\n"
                                       "IMAGE = %r\n" % data)
    (d / "manifest.py").write_text('include("%s")\nmodule("vboard_romfs.py")\n'
                                   % (ROOT / "benchmarks" / "mp" / "standins_manifest.py"))
    (d / "fw.romfs").write_bytes(data)
    out = _build_interpreter(tool, d / "micropython32", d / "manifest.py", "the stand-ins and a ROMFS image")
    return (out, d / "fw.romfs") if out else None


def figures_school(tool: Path) -> dict:
    """A school's config (collector + Sensor.Community + Home Assistant MQTT), 24 h with an
    outage, with the stand-ins frozen so the figure is the firmware's own: as .mpy on the flash
    (what ``airkit deploy`` installs on the official image) and frozen (a custom image)."""
    from airkit.firmware_build import build

    figs = {}
    interp = board_like_interpreter(tool, "standins_manifest.py")
    if interp is None:
        return figs
    with tempfile.TemporaryDirectory() as tmp:
        files = build(Path(tmp) / "mpy")
        del files
        kw = {"firmware_from": "mpy", "mpy_dir": str(Path(tmp) / "mpy")}
        hi, r = smallest_heap(48, 256, 1, margin=2, micropython=str(interp), hours=HOURS_32, kind="school", **kw)
        sk = r["standins"] / 1024
        figs["station_fw_heap_kib_32bit_mpy_school"] = round(hi - sk, 1)
        figs["vboard_standins_frozen_heap_kib_32bit"] = round(sk, 1)
        print("  school, .mpy: %d KiB in all, stand-ins %.1f, firmware %.1f (goal %d)"
              % (hi, sk, hi - sk, SCHOOL_GOAL_MPY_KIB), flush=True)
        # the deploy path at the goal: the firmware installed as airkit deploy does (.mpy files on the
        # board's littlefs flash, main.py beside them), 24 h in the stand-ins + 64 KiB: clean or not
        goal = int(sk + SCHOOL_GOAL_MPY_KIB + 0.999)
        figs["station_school_deploy_runs_clean_at_goal_32bit"] = int(station_run(
            goal, micropython=str(interp), hours=HOURS_32, kind="school", **kw)["ok"])
    if os.environ.get("AIRKIT_BENCH_NO_FROZEN"):
        return figs
    rom = romfs_interpreter(tool)
    if rom is not None:
        hi, r = smallest_heap(24, 256, 1, margin=2, micropython=str(rom[0]), hours=HOURS_32, kind="school",
                              firmware_from="romfs", romfs=str(rom[1]), romfs_frozen=True)
        sk = r["standins"] / 1024
        figs["station_fw_heap_kib_32bit_romfs_school"] = round(hi - sk, 1)
        print("  school, ROMFS (image in read-only memory): %d KiB in all, stand-ins %.1f, firmware %.1f"
              % (hi, sk, hi - sk), flush=True)
    frozen = board_like_interpreter(tool, "standins_firmware_manifest.py")
    if frozen is not None:
        hi, r = smallest_heap(24, 256, 1, margin=2, micropython=str(frozen), hours=HOURS_32, kind="school",
                              firmware_from="frozen")
        sk = r["standins"] / 1024
        figs["station_fw_heap_kib_32bit_frozen_school"] = round(hi - sk, 1)
        print("  school, frozen: %d KiB in all, stand-ins %.1f, firmware %.1f (goal %d)"
              % (hi, sk, hi - sk, SCHOOL_GOAL_FROZEN_KIB), flush=True)
    return figs


def figures_64bit() -> dict:
    from airkit.firmware_build import build_romfs

    hi, r = smallest_heap(96, 512, 8)
    figures = {"station_min_heap_kb_unix64": hi,
               "vboard_standins_heap_kb_unix64": round(r["standins"] / 1024, 1),
               "station_firmware_heap_kb_unix64": round(hi - r["standins"] / 1024, 1)}
    with tempfile.TemporaryDirectory() as tmp:
        image = str(Path(tmp) / "firmware.romfs")
        build_romfs(Path(image))
        # the image is read into heap on the unix port (flash on a board): it is part of
        # "before firmware" and so not counted as firmware heap
        hi, r = smallest_heap(96, 512, 8, firmware_from="romfs", romfs=image)
        figures["station_firmware_heap_kb_unix64_romfs"] = round(hi - r["standins"] / 1024, 1)
    return figures


def run() -> dict:
    figures = figures_64bit()
    tool = shared_tool()
    if tool is None:
        print("  32-bit figures skipped: ../shared/tools/micropython32/micropython32 is not here "
              "(set AIRKIT_MICROPYTHON32 to a 32-bit MicroPython unix port to measure them)")
        return figures
    figures.update(figures_32bit(tool))
    figures.update(figures_school(tool))
    return figures


if __name__ == "__main__":
    if sys.argv[1:] == ["school"]:        # only the school figures (about 15 minutes)
        t = shared_tool()
        print(figures_school(t) if t else "no 32-bit interpreter: ../shared/tools/micropython32")
    else:
        print(run())
