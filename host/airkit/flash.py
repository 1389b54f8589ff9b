"""``airkit flash``: put MicroPython on a board with esptool's public API, safely.

Why this exists: flashing is where beginners get stuck, and where generic
tools do risky things (force an image onto the wrong chip, flash whatever a
download produced). Here the chip is identified with ``esptool.cmds``
(never by scraping esptool's output) and picks the board profile, the
official image comes verified from ``airkit.mpimages`` (pinned SHA-256, else
the first-use lock file; cache, offline bundle or HTTPS download), the offset
comes from the profile, an image built for another chip is refused, and each
esptool failure is translated into the plain-language remedy from the
beginner failure table (a board that is running its program instead of
waiting in the bootloader gets the BOOT-button remedy).

esptool's logger is process-global: run one flashing process per port
(``airkit provision`` does).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path

from airkit.errors import BoardError, InputError, UserError

FAST_BAUD = 460800
ROM_BAUD = 115200

ESP_IMAGE_MAGIC = 0xE9


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


def firmware_file(path) -> Path:
    """The .bin the user gave, or one sentence saying why it is not one."""
    image = Path(path)
    if image.is_dir():
        raise InputError("%s is a folder: give the path of the .bin file to flash (or --bundle %s for a bundle "
                         "made by 'airkit flash bundle')" % (image, image))
    if not image.is_file():
        raise InputError("firmware file %s does not exist: give the path of a downloaded .bin" % image)
    return image


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


def resolve_image(profile: dict | str, version: str | None = None, bundle: str | None = None,
                  allow_download: bool = True, log=print, lock=None, progress: bool = False) -> tuple[Path, str, str]:
    """(path, version, sha256) of a verified official image: cache, then bundle, then download.

    Trust: SHA-256 pinned in the profile, else the lock file (first use records it);
    see ``airkit.mpimages``. A damaged or changed file is never returned.
    """
    from airkit.mpimages import Images

    if isinstance(profile, str):
        from airkit.resources import load_profile

        profile = load_profile(profile)
    res = Images(bundle=bundle, allow_download=allow_download, lock=lock, progress=progress, log=log).resolve(
        profile, version)
    return res.path, res.version, res.sha256


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
    # esptool's compatibility check: "'X.bin' requires chip revision v3.0 or higher (this chip is revision v1.0)"
    ("requires chip revision",
     "the image was built for a newer (or other) revision of this chip than the board has: nothing was written; "
     "use an image that supports this revision (the official MicroPython images run on every revision), "
     "never a forced write"),
    ("will not fit in", "the image is larger than this board's flash: nothing was written; use the image for "
                        "this board's flash size (check --board)"),
    ("This chip is", "the board is a different chip than expected: check --board (see 'airkit ports')"),
]

# Errors of the serial link (noise, power, timing): worth one more try at the ROM's 115200 baud.
# Anything else (a refused image, a too small flash) fails the same way at any speed.
LINK_ERRORS = ("Invalid head of packet", "Timed out waiting for packet", "Packet content transfer stopped",
               "MD5 of file does not match", "No serial data received", "Serial data stream stopped",
               "Failed to write", "timed out", "Write timeout")


def explain(message: str) -> str:
    """The plain-language remedy for an esptool error message."""
    for needle, remedy in REMEDIES:
        if needle.lower() in message.lower():
            return remedy
    return "run again with --baud 115200; if it keeps failing, try another USB cable and port"


BOOT_REMEDY = ("the board is running its program instead of waiting in bootloader mode: hold the BOOT button, "
               "tap RST (EN), release BOOT, and run again")
NO_ANSWER = ("No serial data received", "Invalid head of packet", "Timed out waiting for packet")


def running_not_bootloader(port: str, listen_s: float = 0.6) -> bool:
    """True when the port carries a running program's output (ROM boot log, REPL) rather than a bootloader.

    esptool only sees bytes that are not a bootloader reply ("garbled data"); a
    short listen tells a board stuck in normal boot mode (no auto-reset circuit)
    from real line noise, so the user gets the BOOT-button remedy.
    """
    try:
        import serial

        with serial.Serial(port, ROM_BAUD, timeout=0.1) as ser:
            seen = b""
            t_end = time.monotonic() + listen_s
            while time.monotonic() < t_end and len(seen) < 4096:
                seen += ser.read(256)
    except (OSError, ValueError, ImportError) as e:  # serial.SerialException is an OSError
        del e
        return False
    if b"waiting for download" in seen:
        return False
    return any(k in seen for k in (b"boot:0x", b"rst:0x", b">>>", b"MicroPython", b"ets "))


def esptool_error(port: str, e: BaseException, micropython_seen: bool = False) -> UserError:
    msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    remedy = explain(str(e))
    # A board that answered at the MicroPython prompt a moment ago, or prints a running program's
    # output now, is not in the bootloader: the BOOT button, not the cable, is the way out.
    if any(k in str(e) for k in NO_ANSWER) and (micropython_seen or running_not_bootloader(port)):
        remedy = BOOT_REMEDY
    if remedy.startswith("the port is busy"):
        from airkit.ports import port_holders

        holders = port_holders(port)
        if holders:
            remedy = "the port is busy (held by %s): close it first" % ", ".join(holders)
    return BoardError("flashing %s failed (%s): %s" % (port, msg, remedy))


# --- the flash itself ---------------------------------------------------------------------------
def esptool_output():
    """esptool's messages go to stderr, so stdout holds only the command's result (``--json``)."""
    return contextlib.redirect_stdout(sys.stderr)


def identify(port: str, connect_attempts: int = 3, micropython_seen: bool = False) -> dict:
    """Chip name, MAC and features, from esptool's API (no flashing)."""
    from esptool.cmds import detect_chip
    from esptool.util import FatalError

    from airkit.ports import check_port

    check_port(port)
    try:
        with esptool_output(), detect_chip(port, baud=ROM_BAUD, connect_attempts=connect_attempts) as esp:
            return {"chip": esp.CHIP_NAME, "mac": ":".join("%02x" % b for b in esp.read_mac()),
                    "image_chip_id": getattr(esp, "IMAGE_CHIP_ID", None)}
    except (FatalError, OSError) as e:
        raise esptool_error(port, e, micropython_seen)


def flash_board(port: str, profile: dict | str, image: Path | str, erase: bool = True, baud: int = FAST_BAUD,
                connect_attempts: int = 3, log=print, micropython_seen: bool = False) -> dict:
    """Identify, check, (erase,) write with verification, reset. Returns what was done.

    ``profile``: a board profile (dict) or its name; ``image``: the ``.bin`` to write.
    The image and the port are checked before a byte goes to the board.
    """
    from esptool.cmds import attach_flash, detect_chip, reset_chip, run_stub, write_flash
    from esptool.util import FatalError

    from airkit.ports import check_port

    if isinstance(profile, str):
        from airkit.resources import load_profile

        profile = load_profile(profile)
    if not isinstance(profile, dict) or not profile.get("chip"):
        raise InputError("flash_board needs a board profile (airkit.load_profile(NAME)) or a board name, not %r"
                         % (profile,))
    from airkit.trust import check_flashable

    image = firmware_file(image)
    expected = profile["chip"]
    check_image_for_chip(image, expected)
    check_flashable(image, expected, flash_offset(profile))      # the whole image, before the port is opened
    check_port(port)
    try:
        with esptool_output(), detect_chip(port, baud=ROM_BAUD, connect_attempts=connect_attempts) as esp:
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
            # esptool checks the image against this chip (id, revision, flash size) *before* it
            # erases when the erase is part of write_flash: a refused image leaves the board as it was.
            if erase:
                log("erasing the flash of %s (first install), then writing %s at 0x%x (%d baud)"
                    % (port, image.name, offset, used))
            else:
                log("writing %s at 0x%x (%d baud)" % (image.name, offset, used))
            try:
                write_flash(esp, [(offset, str(image))], erase_all=erase)
            except FatalError as e:
                if used == ROM_BAUD or not any(k.lower() in str(e).lower() for k in LINK_ERRORS):
                    raise
                log("write failed at %d baud (%s); retrying at %d" % (used, str(e).strip().splitlines()[0][:80],
                                                                      ROM_BAUD))
                esp.change_baud(ROM_BAUD)
                used = ROM_BAUD
                write_flash(esp, [(offset, str(image))], erase_all=erase)
            reset_chip(esp, "hard-reset")
    except UserError:
        raise
    except (FatalError, OSError) as e:
        raise esptool_error(port, e, micropython_seen)
    return {"port": port, "chip": chip, "mac": mac, "offset": offset, "image": image.name,
            "image_sha256": _sha256(image), "erased": erase, "baud": used}


def register(sub):
    import argparse

    p = sub.add_parser("flash", help="install the official MicroPython image on a board (esptool), verified",
                       usage="airkit flash --port PORT [--board NAME] [--version X | --firmware FILE] "
                             "[--bundle DIR] [options]\n"
                             "       airkit flash --list [--board NAME | --port PORT] [--bundle DIR] [--json]\n"
                             "       airkit flash bundle --out DIR [--board NAME ...] [--version X]",
                       description="Detect the chip with esptool, pick the board profile (asks when several fit), "
                                   "download the recommended official MicroPython image over HTTPS (certificate "
                                   "checked), verify it (SHA-256 pinned in boards/, else the lock file "
                                   "airkit-images.lock: the first download's hash is recorded and every later one "
                                   "must match), erase on first install, write (verified), reset. Offline: "
                                   "--bundle DIR (made with 'airkit flash bundle') or --firmware FILE.")
    p.add_argument("--port", help="serial port (see 'airkit ports')")
    p.add_argument("--board", help="board profile in boards/ (default: chosen from the chip esptool detects)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--firmware", help="flash this .bin instead of an official image (still chip-checked)")
    src.add_argument("--version", help="MicroPython version to flash (default: the profile's recommended one; "
                                       "see --list)")
    src.add_argument("--list", action="store_true", help="list the MicroPython versions published for the board "
                                                         "(stable first; saved for offline use)")
    p.add_argument("--bundle", help="folder made by 'airkit flash bundle': flash offline from it (no download)")
    _source_options(p)
    p.add_argument("--erase", choices=["auto", "yes", "no"], default="auto",
                   help="erase the whole flash first (auto: when the board has no MicroPython yet)")
    p.add_argument("--baud", type=int, default=FAST_BAUD, help="transfer baud (default 460800, falls back to 115200)")
    p.add_argument("--json", action="store_true", help="machine-readable summary")
    p.set_defaults(func=run)
    fsub = p.add_subparsers(dest="flash_command", metavar="bundle")
    b = fsub.add_parser("bundle", help="download verified images for a class once, for offline flashing",
                        description="Copy the verified official images for the given boards (default: every "
                                    "profile in boards/) into DIR with their lock file. In a classroom without "
                                    "internet: 'airkit flash --port P --bundle DIR' or 'airkit provision CSV "
                                    "--bundle DIR'.")
    b.add_argument("--out", required=True, help="folder for the bundle (a USB stick, a shared folder)")
    b.add_argument("--board", dest="bundle_boards", action="append", help="board profile (repeat for several)")
    b.add_argument("--version", dest="bundle_version", help="MicroPython version (default: each profile's "
                                                            "recommended one)")
    b.add_argument("--force", action="store_true", help="replace a different file of the same name in DIR")
    b.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable summary")
    _source_options(b, suppress=True)
    b.set_defaults(func=run_bundle)


def _source_options(p, suppress: bool = False):
    import argparse

    d = argparse.SUPPRESS if suppress else None
    p.add_argument("--base-url", default=d,
                   help="download site (default https://micropython.org, or $AIRKIT_FIRMWARE_URL)")
    p.add_argument("--ca-file", default=d,
                   help="extra CA (PEM) to trust for the download site, e.g. a school's HTTPS proxy "
                        "($AIRKIT_CA_FILE); verification is never switched off")
    p.add_argument("--lock", default=d, help="lock file of trusted image hashes (default: airkit-images.lock in "
                                             "the cache, or $AIRKIT_IMAGES_LOCK)")


def _sha256(path: Path) -> str:
    from airkit.mpimages import sha256_path

    return sha256_path(path)


def _images(args, bundle=None, progress=True, log=None):
    from airkit.mpimages import Images

    return Images(base=getattr(args, "base_url", None), cafile=getattr(args, "ca_file", None),
                  lock=getattr(args, "lock", None), bundle=bundle, allow_download=not bundle, progress=progress,
                  log=log)


def all_profiles() -> list[dict]:
    from airkit.resources import boards_dir, load_profile

    return [load_profile(p.stem) for p in sorted(boards_dir().glob("*.json"))]


def choose_profile(port: str, chip: str, interactive: bool, ask=input) -> dict:
    """The profile for a detected chip: the only one that fits, or the user's pick from a list."""
    fits = [p for p in all_profiles() if chip_key(p.get("chip", "")) == chip_key(chip)]
    if len(fits) == 1:
        return fits[0]
    if not fits:
        if chip_key(chip) == "esp8266":
            raise InputError("the board on %s is an ESP8266: airkit's firmware needs an ESP32-family board (the "
                             "ESP8266 has too little RAM for it), so airkit cannot flash or run it; use an ESP32 "
                             "board (see boards/)" % port)
        raise InputError("the board on %s is an %s, and no profile in boards/ is for that chip: airkit cannot "
                         "flash it until one exists (copy the closest boards/*.json, set its chip, offset and "
                         "pins, and check that MicroPython publishes an image for it)" % (port, chip))
    names = ", ".join("%s (%s)" % (p["name"], p.get("description", "")) for p in fits)
    if not interactive:
        raise InputError("the board on %s is an %s, which fits several profiles: %s; say which with --board NAME"
                         % (port, chip, names))
    print("The board on %s is an %s. Which board is it?" % (port, chip), file=sys.stderr)
    for i, p in enumerate(fits, 1):
        print("  %d. %s - %s" % (i, p["name"], p.get("description", "")), file=sys.stderr)
    for _ in range(3):
        try:
            a = ask("number or name: ").strip()
        except EOFError:
            break
        for i, p in enumerate(fits, 1):
            if a == str(i) or a == p["name"]:
                return p
    raise InputError("no board chosen: run again with --board NAME (one of %s)" % ", ".join(p["name"] for p in fits))


def has_micropython(port: str) -> bool:
    """True when the board answers at a MicroPython raw REPL (an upgrade, not a first install).

    The probe stops the board's program, so a board that answered is reset
    afterwards: if flashing then fails (no auto-reset into the bootloader), the
    station is measuring again, not left at the prompt.
    """
    from airkit.boardlink import BoardLink

    import io

    with contextlib.redirect_stdout(io.StringIO()):    # mpremote prints what it read (b'') when entry fails
        try:
            link = BoardLink(port)
        except UserError:
            return False
        try:
            link.enter(attempts=2)
        except UserError:
            link.close()
            return False
        link.reset()
        link.close()
        # A board on native USB (S2/S3/C3) leaves and re-enters the USB bus when it resets: give it
        # a moment to come back before esptool opens the port (bounded; esptool explains a missing port).
        t_end = time.monotonic() + 5
        while "://" not in port and not os.path.exists(port) and time.monotonic() < t_end:
            time.sleep(0.1)
        return True


def run(args) -> int:
    from airkit.ports import check_port
    from airkit.resources import load_profile

    quiet = args.json

    def log(msg):
        if not quiet:
            print(msg, file=sys.stderr, flush=True)

    interactive = not quiet and sys.stdin.isatty()
    if args.list:
        if args.board:
            profiles = [load_profile(args.board)]
        elif args.port:
            profiles = [choose_profile(args.port, identify(args.port)["chip"], interactive)]
        else:
            profiles = all_profiles()
        return list_versions(_images(args, bundle=args.bundle, progress=False, log=log), profiles, args.json)
    if not args.port:
        raise InputError("say which board to flash with --port PORT (see 'airkit ports'), or use --list / "
                         "'airkit flash bundle --out DIR'")
    check_port(args.port)
    profile = load_profile(args.board) if args.board else None
    image = None
    if args.firmware:
        from airkit.trust import check_flashable

        image = firmware_file(args.firmware)
        version, sha, trust = "file", _sha256(image), "given file"
        if profile:
            check_image_for_chip(image, profile["chip"])
            check_flashable(image, profile["chip"], flash_offset(profile))
    elif profile:           # image first: nothing touches the port when the image is not right
        res = _images(args, bundle=args.bundle, progress=not quiet, log=log).resolve(profile, args.version)
        image, version, sha, trust = res.path, res.version, res.sha256, res.trust
    seen = has_micropython(args.port) if args.erase == "auto" else False
    erase = not seen if args.erase == "auto" else args.erase == "yes"
    if profile is None:
        chip = identify(args.port, micropython_seen=seen)["chip"]
        profile = choose_profile(args.port, chip, interactive)
        log("the board on %s is an %s: profile %s" % (args.port, chip, profile["name"]))
        if image is None:
            res = _images(args, bundle=args.bundle, progress=not quiet, log=log).resolve(profile, args.version)
            image, version, sha, trust = res.path, res.version, res.sha256, res.trust
        else:
            from airkit.trust import check_flashable

            check_image_for_chip(image, profile["chip"])
            check_flashable(image, profile["chip"], flash_offset(profile))
    t0 = time.monotonic()
    try:
        res = flash_board(args.port, profile, image, erase=erase, baud=args.baud, log=log, micropython_seen=seen)
    except KeyboardInterrupt:
        print("airkit: interrupted while flashing %s: the board may hold a half-written image; run 'airkit flash "
              "--port %s' again before using it" % (args.port, args.port), file=sys.stderr)
        return 130
    res.update(version=version, seconds=round(time.monotonic() - t0, 1), trust=trust, board=profile["name"])
    if args.json:
        print(json.dumps(res))
    else:
        print("flashed MicroPython %s (%s, SHA-256 %s..., %s) to the %s on %s at 0x%x; MAC %s"
              % (version, image.name, sha[:12], trust, res["chip"], args.port, res["offset"], res["mac"]))
    return 0


def list_versions(images, profiles: list[dict], as_json: bool) -> int:
    """The versions on the download site per profile, stable first, with what airkit thinks of each."""
    from airkit.mpimages import board_id, check_version

    out = []
    for prof in profiles:
        fw = prof.get("firmware") or {}
        rel, offline_since = images.releases(prof)
        pinned = fw.get("images") or {}
        rows = []
        for r in rel:
            notes = []
            if r.version == fw.get("recommended"):
                notes.append("recommended")
            if r.version == fw.get("oldest"):
                notes.append("oldest supported")
            try:
                check_version(prof, r.version)
            except InputError:
                notes.append("too old for airkit")
            if r.preview:
                notes.append("preview")
            if (pinned.get(r.version) or {}).get("sha256"):
                notes.append("pinned")
            elif images.lock.get(r.file):
                notes.append("in lock file")
            if (images.cache / r.file).exists():
                notes.append("downloaded")
            rows.append({"version": r.version, "date": r.date, "file": r.file, "notes": notes})
        out.append({"board": prof["name"], "micropython_board": board_id(prof), "offline_since": offline_since,
                    "recommended": fw.get("recommended"), "oldest": fw.get("oldest"), "versions": rows})
    if as_json:
        print(json.dumps(out, indent=1))
        return 0
    from rich.console import Console
    from rich.table import Table

    con = Console()
    for b in out:
        title = "%s (%s)" % (b["board"], b["micropython_board"])
        if b["offline_since"]:
            title += (" - in %s" if b["offline_since"].startswith("bundle ") else " - offline, list saved %s") \
                % b["offline_since"]
        t = Table(title=title, title_justify="left")
        for col in ("version", "date", "notes"):
            t.add_column(col)
        for r in b["versions"]:
            t.add_row(r["version"], r["date"], ", ".join(r["notes"]))
        con.print(t)
    return 0


def run_bundle(args) -> int:
    from airkit.resources import load_profile

    profiles = [load_profile(b) for b in args.bundle_boards] if args.bundle_boards else all_profiles()
    quiet = args.json

    def log(msg):
        if not quiet:
            print(msg, file=sys.stderr, flush=True)

    rows = _images(args, progress=not quiet, log=log).make_bundle(profiles, args.bundle_version, Path(args.out),
                                                                  force=args.force)
    if args.json:
        print(json.dumps(rows))
    else:
        for r in rows:
            print("%s: MicroPython %s  %s  SHA-256 %s (%s)" % (r["board"], r["version"], r["file"], r["sha256"],
                                                              r["trust"]))
        print("bundle ready in %s (images + %s): flash offline with 'airkit flash --port PORT --bundle %s' or "
              "'airkit provision CLASS.csv --bundle %s'" % (args.out, "airkit-images.lock", args.out, args.out))
    return 0
