"""The firmware installs the way MicroPython packages do: mip from package.json."""

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FW = ROOT / "firmware"


def test_package_json_lists_every_board_module():
    pkg = json.loads((FW / "package.json").read_text())
    listed = {src for _dest, src in pkg["urls"]}
    on_disk = {"main.py", "otaboot.py"} | {p.relative_to(FW).as_posix() for p in (FW / "airkit_fw").rglob("*.py")}
    on_disk |= {p.relative_to(FW).as_posix() for p in (FW / "airkit_fw").rglob("*.txt")}   # the web pages' texts
    on_disk.discard("airkit_fw/config_doc.py")          # host-only descriptions
    assert listed == on_disk, "firmware/package.json is out of date: run 'airkit build --package-json'"
    for dest, src in pkg["urls"]:
        assert dest == ("main.py" if src == "main.py" else "lib/" + src)


def test_manifest_freezes_the_package():
    text = (FW / "manifest.py").read_text()
    assert 'package("airkit_fw"' in text


def test_mip_install_onto_virtual_board(tmp_path):
    sys.path.insert(0, str(ROOT / "host"))
    from airkit.vboard import VirtualBoard

    link = tmp_path / "port"
    board = VirtualBoard(tmp_path / "board", hours=None, port_link=link, firmware_from="flash")
    t = threading.Thread(target=board.run, daemon=True)
    t.start()
    try:
        for _ in range(100):
            if link.exists():
                break
            time.sleep(0.05)
        mpremote = [str(Path(sys.executable).parent / "mpremote"), "connect", str(link), "resume"]
        r = subprocess.run(mpremote + ["mip", "install", "--target", "/", str(FW / "package.json")],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        # The installed copy (on the board's littlefs flash) is what imports now.
        r = subprocess.run(mpremote + ["exec", "import airkit_fw.pms5003 as m;"
                                                "print(m.__file__); import os; print(sorted(os.listdir('/lib/airkit_fw')))"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "/lib/airkit_fw/pms5003.py" in r.stdout
        assert "'sampler.py'" in r.stdout
    finally:
        board.stop()
        t.join(5)


def test_wheel_contains_every_package(tmp_path):
    """A non-editable install must carry every host and firmware package."""
    import zipfile

    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                        "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    wheel = next(tmp_path.glob("airkit-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = set()
    for base, prefix in ((ROOT / "host" / "airkit", "airkit"), (FW / "airkit_fw", "airkit_fw")):
        for init in base.rglob("__init__.py"):
            rel = init.relative_to(base).as_posix()
            expected.add(prefix + "/" + rel)
    missing = sorted(expected - names)
    assert not missing, "packages missing from the wheel (pyproject [tool.setuptools] packages): %s" % missing
