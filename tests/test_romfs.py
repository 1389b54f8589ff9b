"""The firmware as a ROMFS image (MicroPython 1.25+): built with mpremote's writer,
mountable by the real interpreter, and the station runs from it in place."""

import json
import subprocess
import sys
from pathlib import Path

from conftest import run_mp

ROOT = Path(__file__).resolve().parents[1]


def test_romfs_image_holds_every_board_module(tmp_path):
    image = tmp_path / "fw.romfs"
    r = subprocess.run([sys.executable, "-m", "airkit.cli", "build", "--out", str(tmp_path / "b"),
                        "--romfs", str(image)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = run_mp(source="import vfs, os\n"
                        "vfs.mount(vfs.VfsRom(open(%r, 'rb').read()), '/rom')\n"
                        "print(sorted(os.listdir('/rom/airkit_fw')))\n"
                        "print(sorted(os.listdir('/rom/airkit_fw/uplinks')))\n"
                        "print(sorted(os.listdir('/rom/airkit_fw/web')))\n" % str(image))
    listed = set()
    for line in out.splitlines():
        listed |= set(json.loads(line.replace("'", '"')))
    fw = ROOT / "firmware" / "airkit_fw"
    want = {p.with_suffix(".mpy").name for p in fw.rglob("*.py")} - {"config_doc.mpy"}
    assert want <= listed, want - listed
    assert "config_doc.mpy" not in listed and not any(n.endswith(".py") for n in listed)


def test_station_runs_in_place_from_romfs(tmp_path):
    from airkit.firmware_build import build_romfs
    from airkit.vboard import VirtualBoard

    image = tmp_path / "fw.romfs"
    build_romfs(image)
    vb = VirtualBoard(tmp_path / "board", config={}, hours=1, firmware_from="romfs", extra={"romfs": str(image)})
    vb.run()
    assert "virtual board: firmware from /rom" in vb.lines
    readings = vb.readings()
    assert len(readings) == 12 and all(row["frames"] == 9 for row in readings)


def test_sim_cli_romfs():
    r = subprocess.run([sys.executable, "-m", "airkit.cli", "sim", "--hours", "0.5", "--json", "--firmware", "romfs"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert len([ln for ln in r.stdout.splitlines() if '"summary"' not in ln]) == 6
