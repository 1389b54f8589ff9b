"""``airkit build``: compile the firmware to .mpy into a folder."""

from __future__ import annotations

from pathlib import Path


def register(sub):
    p = sub.add_parser("build", help="compile the firmware to .mpy (mpy-cross)")
    p.add_argument("--out", default="build/firmware", help="output folder (default: build/firmware)")
    p.add_argument("--romfs", metavar="FILE",
                   help="also write a ROMFS image (modules run in place from flash, far less RAM; "
                        "put it on a MicroPython 1.25+ board with 'mpremote romfs deploy FILE')")
    p.add_argument("--package-json", action="store_true",
                   help="also regenerate firmware/package.json (the mip install list)")
    p.set_defaults(func=run)


def run(args) -> int:
    from airkit.firmware_build import build, write_package_json

    if args.package_json:
        print("wrote %s" % write_package_json())
    if args.romfs:
        from airkit.firmware_build import build_romfs

        print("wrote %s (%d bytes, ROMFS)" % (args.romfs, build_romfs(Path(args.romfs))))
    files = build(Path(args.out))
    total = sum(p.stat().st_size for p in files.values())
    print("compiled %d files, %d bytes, into %s" % (len(files), total, args.out))
    return 0
