"""``airkit build``: compile the firmware to .mpy into a folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

from airkit.errors import InputError, WouldOverwrite

ROMFS_MAGIC = b"\xd2\xcd\x31"     # the first bytes of every ROMFS image (mpremote's writer)


def register(sub):
    p = sub.add_parser("build", help="compile the firmware to .mpy (mpy-cross)")
    p.add_argument("--out", default="build/firmware", help="output folder (default: build/firmware)")
    p.add_argument("--romfs", metavar="FILE",
                   help="also write a ROMFS image (modules run in place from flash, far less RAM; "
                        "put it on a MicroPython 1.25+ board with 'mpremote romfs deploy FILE')")
    p.add_argument("--package-json", action="store_true",
                   help="also regenerate firmware/package.json (the mip install list)")
    p.add_argument("--force", action="store_true", help="overwrite a --romfs FILE that is not a ROMFS image")
    p.add_argument("--json", action="store_true", help="print what was written as one JSON object")
    p.set_defaults(func=run)


def check_out_folder(out: Path):
    from airkit.outfile import check_dir, writing

    if out.exists() and not out.is_dir():
        raise InputError("--out %s is a file, not a folder: give a folder for the compiled firmware" % out)
    check_dir(out, what="--out")
    with writing(out, "--out"):
        out.mkdir(parents=True, exist_ok=True)


def check_romfs_file(path: Path, force: bool):
    """The checked ``OutFile`` for --romfs: an older ROMFS image there is replaced, any other file needs --force."""
    from airkit.outfile import check_file

    if path.is_dir():
        raise InputError("--romfs %s is a folder: give a file name, e.g. fw.romfs" % path)
    if path.is_file() and not force:
        with open(path, "rb") as f:
            if f.read(len(ROMFS_MAGIC)) != ROMFS_MAGIC:
                raise WouldOverwrite("--romfs %s exists and is not a ROMFS image: give another name, or add --force "
                                     "to overwrite it" % path)
        force = True                     # an older build's image: rebuilt in place
    return check_file(path, force=force, what="--romfs")


def run(args) -> int:
    from airkit.firmware_build import build, write_package_json

    from airkit.resources import from_checkout

    if args.package_json and not from_checkout():
        raise InputError("--package-json regenerates firmware/package.json of a source checkout; this airkit is "
                         "an installed package: run it from a clone of the repository")
    out = Path(args.out)
    check_out_folder(out)
    romfs_dest = None
    if args.romfs:
        if args.romfs.endswith("/"):
            raise InputError("--romfs %s names a folder: give a file name, e.g. %sfw.romfs" % (args.romfs, args.romfs))
        romfs_dest = check_romfs_file(Path(args.romfs), args.force)
    result: dict = {"out": str(out)}
    say = (lambda msg: None) if args.json else print
    if args.package_json:
        result["package_json"] = str(write_package_json())
        say("wrote %s" % result["package_json"])
    if args.romfs:
        from airkit.firmware_build import build_romfs

        result["romfs"] = args.romfs
        result["romfs_bytes"] = build_romfs(romfs_dest)
        say("wrote %s (%d bytes, ROMFS)" % (args.romfs, result["romfs_bytes"]))
    from airkit.outfile import writing

    with writing(out, "--out"):
        files = build(out)
    result["files"] = len(files)
    result["bytes"] = sum(p.stat().st_size for p in files.values())
    say("compiled %(files)d files, %(bytes)d bytes, into %(out)s" % result)
    if args.json:
        print(json.dumps(result))
    return 0
