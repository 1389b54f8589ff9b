"""Foundation figures: decoder allocation and speed, firmware size and import heap,
laser duty cycle of the default cycle, wall time of a simulated day.

All MicroPython figures come from the real unix port (``micropython``), which
runs the same bytecode as the ESP32; absolute speeds differ from a 240 MHz
ESP32 (expect it to be roughly 20-50x slower there) but allocation does not.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "host"))


def _micropython(args, cwd=None):
    import os

    from airkit.vboard import micropython_command

    env = dict(os.environ, MICROPYPATH="%s:.frozen" % cwd)
    proc = subprocess.run(micropython_command() + args, capture_output=True, text=True, cwd=cwd, timeout=300,
                          env=env)
    if proc.returncode != 0:
        raise RuntimeError("micropython failed: %s%s" % (proc.stdout, proc.stderr))
    out = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2:
            out[parts[0]] = float(parts[1])
    return out


def run() -> dict:
    from airkit.firmware_build import build

    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        files = build(Path(tmp))
        figures["firmware_mpy_bytes"] = sum(p.stat().st_size for p in files.values())
        lib = Path(tmp) / "lib"
        # The decoder benchmark runs on the compiled .mpy, as on a board.
        bench = _micropython([str(ROOT / "benchmarks" / "mp" / "decode_bench.py")], cwd=str(lib))
        figures["pms_decode_alloc_bytes_per_frame"] = bench["alloc_per_frame"]
        figures["pms_decode_us_per_frame"] = round(bench["us_per_frame"], 2)
        # Every module the board can load; config_doc holds key descriptions for the host tools
        # and is never imported on the board.
        host_only = {"__init__", "config_doc"}
        modules = sorted("airkit_fw." + p.stem for p in (lib / "airkit_fw").glob("*.mpy") if p.stem not in host_only)
        modules += sorted("airkit_fw.%s.%s" % (p.parent.name, p.stem)
                          for p in (lib / "airkit_fw").glob("*/*.mpy") if p.stem != "__init__")
        names = Path(tmp) / "modules.txt"
        names.write_text("\n".join(modules))
        heap = _micropython([str(ROOT / "benchmarks" / "mp" / "import_heap.py"), str(names)], cwd=str(lib))
        core = Path(tmp) / "core.txt"          # what a station with no network configured imports
        core.write_text("airkit_fw.app\nairkit_fw.correction")
        heap_core = _micropython([str(ROOT / "benchmarks" / "mp" / "import_heap.py"), str(core)], cwd=str(lib))
        figures["firmware_import_heap_bytes_sensing_core"] = int(heap_core["import_heap"])
        # The same modules run in place from a ROMFS image (MicroPython 1.25+): bytecode stays in flash.
        from airkit.firmware_build import build_romfs

        image = Path(tmp) / "firmware.romfs"
        figures["firmware_romfs_bytes"] = build_romfs(image)
        script = str(ROOT / "benchmarks" / "mp" / "import_heap.py")
        figures["firmware_import_heap_bytes_romfs"] = int(
            _micropython([script, str(image), str(names)], cwd=tmp)["import_heap"])
        figures["firmware_import_heap_bytes_sensing_core_romfs"] = int(
            _micropython([script, str(image), str(core)], cwd=tmp)["import_heap"])
        figures["firmware_import_heap_bytes"] = int(heap["import_heap"])

    # A simulated day with the default config: wall time, and the laser's real on-time.
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "airkit.cli", "sim", "--hours", "24", "--json",
                               "--board-dir", tmp], capture_output=True, text=True, timeout=600)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError("airkit sim failed: " + proc.stderr)
        readings = [json.loads(l) for l in proc.stdout.splitlines() if l.startswith("{") and '"summary"' not in l]
        figures["sim_24h_wall_s"] = round(wall, 2)
        figures["sim_24h_readings"] = len(readings)
        # laser-on seconds over the simulated time between the first and last reading (+ one interval)
        span_s = 300 * len(readings)
        figures["laser_duty_cycle_default"] = round(readings[-1]["laser_on_s"] / span_s, 4)
        figures["warmup_s_default"] = 30
    return figures


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
