"""``airkit flash``: put MicroPython on a board with esptool's public API, safely.

Why this exists: flashing is where beginners get stuck, and where generic
tools do risky things (force an image onto the wrong chip, flash whatever a
download produced). Here the chip is identified with ``esptool.cmds``
(never by scraping esptool's output), the image and offset come from the
board profile, an image built for another chip is refused, every image is
checked against the SHA-256 pinned in ``boards/`` before it is written
(cached, offline bundle or download), and each esptool failure is translated
into the plain-language remedy from the beginner failure table.

esptool's logger is process-global: run one flashing process per port
(``airkit provision`` does).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
import urllib.request
from pathlib import Path

from airkit.errors import UserError

FAST_BAUD = 460800
ROM_BAUD = 115200

# esptool's chip names as written in board profiles.
ESP_IMAGE_MAGIC = 0xE9


def cache_dir() -> Path:
    base = os.environ.get("AIRKIT_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "airkit")
    return Path(base) / "firmware"


def chip_defs():
    from esptool.targets import CHIP_DEFS

    return CHIP_DEFS


def chip_key(name: str) -> str:
    """'ESP32-C3' -> 'esp32c3' (esptool's CHIP_DEFS key)."""
    return (name or "").lower().replace("-", "")


def image_chip_id(data: bytes) -> int | None:
    """The chip id in an ESP app/bootloader image header (None: not an ESP image or no id field)."""
    if len(data) < 16 or data[0] != ESP_IMAGE_MAGIC:
        return None
    return data[12] | (data[13] << 8)


def chip_for_id(chip_id: int) -> str | None:
    for key, cls in chip_defs().items():
        if getattr(cls, "IMAGE_CHIP_ID", None) == chip_id:
            return cls.CHIP_NAME
    return None


def check_image_for_chip(path: Path, chip_name: str):
    """Refuse an image built for another chip (never forced)."""
    with open(path, "rb") as f:
        head = f.read(16)
    cid = image_chip_id(head)
    if cid is None:
        raise UserError("%s is not an ESP32 firmware image (no image header): download the .bin for your "
                        "board from micropython.org" % path.name)
    cls = chip_defs().get(chip_key(chip_name))
    want = getattr(cls, "IMAGE_CHIP_ID", None) if cls else None
    if want is None:
        raise UserError("airkit does not know the chip '%s'" % chip_name)
    if cid != want:
        raise UserError("%s is built for %s, but the board is an %s: use the image for %s (refusing to force it)"
                        % (path.name, chip_for_id(cid) or "chip id %d" % cid, chip_name, chip_name))


def flash_offset(profile: dict, chip_name: str | None = None) -> int:
    """The offset from the profile, cross-checked with esptool's table for the chip."""
    chip_name = chip_name or profile["chip"]
    cls = chip_defs().get(chip_key(chip_name))
    table = getattr(cls, "BOOTLOADER_FLASH_OFFSET", None) if cls else None
    off = profile.get("flash_offset", table)
    if table is not None and off != table:
        raise UserError("board profile %s says offset 0x%x but an %s boots from 0x%x: fix the profile"
                        % (profile.get("name"), off, chip_name, table))
    return int(off)


def sha256_path(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


def pinned_image(profile: dict, version: str | None) -> tuple[str, dict]:
    fw = profile.get("firmware") or {}
    images = fw.get("images") or {}
    version = version or fw.get("default")
    if not version or version not in images:
        known = ", ".join(sorted(images)) or "none"
        raise UserError("no MicroPython %s image is pinned for board %s (pinned: %s): pin it in boards/%s.json "
                        "or give a file with --firmware" % (version or "(default)", profile.get("name"), known,
                                                             profile.get("name")))
    return version, images[version]


def resolve_image(profile: dict, version: str | None = None, bundle: str | None = None,
                  allow_download: bool = True, log=print) -> tuple[Path, str, str]:
    """(path, version, sha256) of a verified image: cache, then bundle, then download.

    Every candidate is checked against the pinned SHA-256; a corrupted cached
    file is removed and never flashed.
    """
    version, entry = pinned_image(profile, version)
    want = entry.get("sha256")
    name = entry["file"]
    if not want:
        raise UserError("MicroPython %s for %s has no SHA-256 pinned in boards/%s.json: pin the hash of the "
                        "official image before flashing it" % (version, profile.get("name"), profile.get("name")))
    cache = cache_dir()
    cached = cache / name
    if cached.exists():
        got = sha256_path(cached)
        if got == want:
            return cached, version, want
        cached.unlink()
        raise UserError("the cached image %s is corrupted (SHA-256 %s..., expected %s...): it was deleted and "
                        "not flashed; run again to fetch it fresh" % (name, got[:12], want[:12]))
    if bundle:
        cand = Path(bundle) / name
        if not cand.exists():
            raise UserError("the offline bundle %s has no %s: copy it there or use another bundle" % (bundle, name))
        got = sha256_path(cand)
        if got != want:
            raise UserError("%s in the bundle does not match the pinned SHA-256 (%s..., expected %s...): the "
                            "bundle copy is damaged or a different build" % (name, got[:12], want[:12]))
        cache.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cand, cached)
        return cached, version, want
    if not allow_download or not entry.get("url"):
        raise UserError("MicroPython %s (%s) is not in the cache %s: give --bundle DIR with the file, or allow "
                        "the download" % (version, name, cache))
    cache.mkdir(parents=True, exist_ok=True)
    part = cache / (name + ".part")
    log("downloading %s" % entry["url"])
    try:
        with urllib.request.urlopen(entry["url"], timeout=30) as r, open(part, "wb") as f:
            shutil.copyfileobj(r, f)
    except OSError as e:
        part.unlink(missing_ok=True)
        raise UserError("cannot download %s (%s): check the internet connection or use --bundle DIR"
                        % (entry["url"], getattr(e, "reason", e)))
    got = sha256_path(part)
    if got != want:
        part.unlink()
        raise UserError("the downloaded %s does not match its pinned SHA-256: not flashed; try again later"
                        % name)
    os.replace(part, cached)
    return cached, version, want


# --- esptool failures -> what to do -----------------------------------------------------------
REMEDIES = [
    ("Wrong boot mode detected",
     "the chip did not enter download mode: hold the BOOT button, tap RST (EN), release BOOT, and run again"),
    ("No serial data received",
     "no answer from the chip: use a data USB cable (not charge-only), hold BOOT while it connects, try "
     "another USB port or cable, and run again (it falls back to 115200 baud by itself)"),
    ("Download mode successfully detected, but getting no sync reply",
     "the board is in download mode but its serial TX line is dead: try another cable or USB port"),
    ("Failed to write to target RAM",
     "this is the CH9102 USB chip with Apple's built-in driver: install the WCH CH34x driver and use the "
     "port it creates (cu.wchusbserial...)"),
    ("Invalid head of packet",
     "the serial data is garbled (noise, long cable, weak power or too high a baud rate): run again with "
     "--baud 115200, use a short cable or a powered USB hub"),
    ("Timed out waiting for packet",
     "the chip stopped answering (brown-out or loose cable): use a short cable or a powered USB hub and run "
     "again with --baud 115200"),
    ("Packet content transfer stopped",
     "the transfer broke off (noise or power): run again with --baud 115200, short cable, powered hub"),
    ("MD5 of file does not match",
     "data was corrupted on the way to the flash: try another cable and run again"),
    ("Permission denied",
     "permission denied on the port: run 'sudo usermod -aG dialout $USER', then log out and back in"),
    ("Could not exclusively lock", "the port is busy: close Thonny, serial monitors or other flashers first"),
    ("Resource busy", "the port is busy: close Thonny, serial monitors or other flashers first"),
    ("could not open port", "the port does not exist: plug the board in and check 'airkit ports'"),
    ("No such file or directory", "the port does not exist: plug the board in and check 'airkit ports'"),
    ("Unexpected chip ID", "the image or the selected chip does not match this board: check --board"),
    ("This chip is", "the board is a different chip than expected: check --board (see 'airkit ports')"),
]


def explain(message: str) -> str:
    """The plain-language remedy for an esptool error message."""
    for needle, remedy in REMEDIES:
        if needle.lower() in message.lower():
            return remedy
    return "run again with --baud 115200; if it keeps failing, try another USB cable and port"


def esptool_error(port: str, e: BaseException) -> UserError:
    msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return UserError("flashing %s failed (%s): %s" % (port, msg, explain(str(e))))


# --- the flash itself ---------------------------------------------------------------------------
def identify(port: str, connect_attempts: int = 3) -> dict:
    """Chip name, MAC and features, from esptool's API (no flashing)."""
    from esptool.cmds import detect_chip
    from esptool.util import FatalError

    try:
        with detect_chip(port, baud=ROM_BAUD, connect_attempts=connect_attempts) as esp:
            return {"chip": esp.CHIP_NAME, "mac": ":".join("%02x" % b for b in esp.read_mac()),
                    "image_chip_id": getattr(esp, "IMAGE_CHIP_ID", None)}
    except (FatalError, OSError) as e:
        raise esptool_error(port, e)


def flash_board(port: str, profile: dict, image: Path, erase: bool = True, baud: int = FAST_BAUD,
                connect_attempts: int = 3, log=print) -> dict:
    """Identify, check, (erase,) write with verification, reset. Returns what was done."""
    from esptool.cmds import attach_flash, detect_chip, erase_flash, reset_chip, run_stub, write_flash
    from esptool.util import FatalError

    expected = profile["chip"]
    try:
        with detect_chip(port, baud=ROM_BAUD, connect_attempts=connect_attempts) as esp:
            chip = esp.CHIP_NAME
            if chip_key(chip) != chip_key(expected):
                raise UserError("the board on %s is an %s, but profile %s is for an %s: use the right --board"
                                % (port, chip, profile.get("name"), expected))
            check_image_for_chip(image, chip)
            offset = flash_offset(profile, chip)
            mac = ":".join("%02x" % b for b in esp.read_mac())
            esp = run_stub(esp)
            used = ROM_BAUD
            if baud > ROM_BAUD:
                try:
                    esp.change_baud(baud)
                    used = baud
                except (FatalError, OSError):
                    used = ROM_BAUD
            attach_flash(esp)
            if erase:
                log("erasing the flash of %s (first install)" % port)
                erase_flash(esp)
            log("writing %s at 0x%x (%d baud)" % (image.name, offset, used))
            try:
                write_flash(esp, [(offset, str(image))])
            except FatalError:
                if used == ROM_BAUD:
                    raise
                log("write failed at %d baud; retrying at %d" % (used, ROM_BAUD))
                esp.change_baud(ROM_BAUD)
                used = ROM_BAUD
                write_flash(esp, [(offset, str(image))])
            reset_chip(esp, "hard-reset")
    except UserError:
        raise
    except (FatalError, OSError) as e:
        raise esptool_error(port, e)
    return {"port": port, "chip": chip, "mac": mac, "offset": offset, "image": image.name,
            "image_sha256": sha256_path(image), "erased": erase, "baud": used}


def register(sub):
    p = sub.add_parser("flash", help="install MicroPython on a board (esptool), image checked by SHA-256",
                       description="Identify the chip with esptool, pick image and offset from the board profile, "
                                   "refuse images for another chip, erase on first install, write (verified), "
                                   "reset. Images come from the local cache, an offline --bundle, or a download "
                                   "of a version not yet cached; all are checked against SHA-256s pinned in boards/.")
    p.add_argument("--port", required=True, help="serial port (see 'airkit ports')")
    p.add_argument("--board", default="esp32-devkitc", help="board profile in boards/ (default esp32-devkitc)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--firmware", help="flash this .bin instead of a pinned version (still chip-checked)")
    src.add_argument("--version", help="MicroPython version from the profile's pinned images")
    p.add_argument("--bundle", help="folder with pinned images for offline use (no download)")
    p.add_argument("--erase", choices=["auto", "yes", "no"], default="auto",
                   help="erase the whole flash first (auto: when the board has no MicroPython yet)")
    p.add_argument("--baud", type=int, default=FAST_BAUD, help="transfer baud (default 460800, falls back to 115200)")
    p.add_argument("--json", action="store_true", help="machine-readable summary")
    p.set_defaults(func=run)


def has_micropython(port: str) -> bool:
    """True when the board answers at a MicroPython raw REPL (an upgrade, not a first install)."""
    from airkit.boardlink import BoardLink

    try:
        link = BoardLink(port)
    except UserError:
        return False
    try:
        link.enter(attempts=2)
        return True
    except UserError:
        return False
    finally:
        link.close()


def run(args) -> int:
    from airkit.resources import load_profile

    profile = load_profile(args.board)
    quiet = args.json

    def log(msg):
        if not quiet:
            print(msg, file=sys.stderr, flush=True)

    if args.firmware:
        image = Path(args.firmware)
        if not image.exists():
            raise UserError("firmware file %s does not exist" % args.firmware)
        version, sha = "file", sha256_path(image)
        check_image_for_chip(image, profile["chip"])
    else:
        image, version, sha = resolve_image(profile, args.version, args.bundle, allow_download=not args.bundle,
                                            log=log)
    if args.erase == "auto":
        erase = not has_micropython(args.port)
    else:
        erase = args.erase == "yes"
    t0 = time.monotonic()
    res = flash_board(args.port, profile, image, erase=erase, baud=args.baud, log=log)
    res.update(version=version, seconds=round(time.monotonic() - t0, 1))
    if args.json:
        print(json.dumps(res))
    else:
        print("flashed MicroPython %s (%s, SHA-256 %s...) to the %s on %s at 0x%x; MAC %s"
              % (version, image.name, sha[:12], res["chip"], args.port, res["offset"], res["mac"]))
    return 0
