"""firmware/manifest.py is the only list of what goes on a board: the .mpy build that
`airkit deploy` sends, the ROMFS image and package.json all come from it; host-only
modules never ship; the PMS5003 and DHT22 drivers install and import alone."""

import json
import shutil
import subprocess
from pathlib import Path

from airkit.firmware_build import build, build_romfs, manifest_files, source_files

ROOT = Path(__file__).resolve().parents[1]
FW = ROOT / "firmware"
HOST_ONLY = {"airkit_fw/config_doc.py"}


def test_every_firmware_module_is_in_the_manifest_or_host_only():
    listed = {p.as_posix() for p in manifest_files(FW / "manifest.py") if p.suffix == ".py"}
    on_disk = {p.relative_to(FW).as_posix() for p in (FW / "airkit_fw").rglob("*.py")}
    on_disk |= {p.name for p in FW.glob("*.py") if p.name not in ("main.py", "manifest.py")}   # otaboot.py
    assert listed <= on_disk, "the manifest lists files that do not exist: %s" % sorted(listed - on_disk)
    missing = on_disk - listed - HOST_ONLY
    assert not missing, "add these to firmware/manifest.py (or they never reach a board): %s" % sorted(missing)
    assert not listed & HOST_ONLY


def test_deploy_build_and_package_json_follow_the_manifest(tmp_path):
    want = ["main.py"] + [p.as_posix() for p in manifest_files(FW / "manifest.py")]
    assert [p.as_posix() for p in source_files()] == want
    files = build(tmp_path / "out")
    assert sorted(files) == sorted(w if w == "main.py" else "lib/" + (w[:-3] + ".mpy" if w.endswith(".py") else w)
                                   for w in want)     # data files (the web pages' texts) are copied as they are
    assert not any("config_doc" in name for name in files)
    pkg = json.loads((FW / "package.json").read_text())
    assert [src for _dest, src in pkg["urls"]] == want, "run 'airkit build --package-json'"


def test_manifest_evaluation_follows_includes_and_whole_packages(tmp_path):
    (tmp_path / "lib" / "pkg" / "sub").mkdir(parents=True)
    for name in ("pkg/__init__.py", "pkg/a.py", "pkg/sub/b.py", "solo.py"):
        (tmp_path / "lib" / name).write_text("")
    (tmp_path / "lib" / "manifest.py").write_text('module("solo.py")\n')
    (tmp_path / "manifest.py").write_text('metadata(version="1")\nrequire("umqtt.simple")\n'
                                          'package("pkg", base_path="lib")\ninclude("lib")\n')
    assert [p.as_posix() for p in manifest_files(tmp_path / "manifest.py")] == [
        "lib/pkg/__init__.py", "lib/pkg/a.py", "lib/pkg/sub/b.py", "lib/solo.py"]


def test_romfs_image_holds_only_board_modules(tmp_path):
    image = tmp_path / "fw.romfs"
    build_romfs(image)
    data = image.read_bytes()
    assert b"config_doc" not in data and b"journal" in data


def test_drivers_install_and_import_alone(tmp_path):
    """As with micropython-lib's sensor drivers: copy what drivers/NAME/package.json lists
    into an empty lib folder (what mip does) and import it with no airkit on the path."""
    from conftest import micropython_exe

    lib = tmp_path / "lib"
    lib.mkdir()
    for name in ("pms5003", "dht22"):
        pj = FW / "drivers" / name / "package.json"
        pkg = json.loads(pj.read_text())
        assert pkg["urls"] and pkg["deps"] == []
        for dest, src in pkg["urls"]:
            shutil.copyfile((pj.parent / src).resolve(), lib / dest)
    script = tmp_path / "t.py"
    script.write_text("import sys\nsys.path[:] = ['%s']\nimport pms5003, dht22\n"
                      "d = pms5003.FrameDecoder()\nprint('ok', sorted(k for k in sys.modules if 'airkit' in k))\n" % lib)
    r = subprocess.run([micropython_exe(), str(script)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.split() == ["ok", "[]"]
