"""``airkit ports``: which serial port is which board, and why one cannot be used.

Why this exists: the first thing a beginner gets wrong is the port: a
charge-only cable (no port at all), a Bluetooth port picked by mistake, a
missing ``dialout`` group, or Thonny still holding the port. This lists every
port with its USB VID:PID, the USB-serial chip family, its serial number, and a
plain hint for each of those cases.
"""

from __future__ import annotations

import json
import os
import sys

# USB VID:PID -> USB-serial chip family (the ones on ESP32 boards).
USB_CHIPS = {
    (0x10C4, 0xEA60): "CP210x",
    (0x10C4, 0xEA70): "CP210x",
    (0x1A86, 0x7523): "CH340",
    (0x1A86, 0x5523): "CH341",
    (0x1A86, 0x55D4): "CH9102",
    (0x1A86, 0x55D3): "CH9102",
    (0x0403, 0x6001): "FTDI",
    (0x0403, 0x6010): "FTDI",
    (0x0403, 0x6014): "FTDI",
    (0x0403, 0x6015): "FTDI",
    (0x303A, 0x1001): "Espressif native USB",
    (0x303A, 0x0002): "Espressif native USB",
    (0x303A, 0x4001): "Espressif native USB",
}

DRIVERS = {
    "CP210x": "Silicon Labs CP210x VCP driver",
    "CH340": "WCH CH340/CH341 driver",
    "CH341": "WCH CH340/CH341 driver",
    "CH9102": "WCH CH9102 driver (CH34xVCPDriver; Apple's built-in driver fails while flashing)",
    "FTDI": "FTDI VCP driver",
}

# Programs that commonly hold a serial port open.
KNOWN_HOLDERS = ("thonny", "arduino", "minicom", "screen", "picocom", "putty", "ModemManager",
                 "mpremote", "esptool", "pyserial-miniterm", "miniterm", "code", "platformio", "brltty")


def chip_family(vid, pid) -> str | None:
    if vid is None or pid is None:
        return None
    return USB_CHIPS.get((vid, pid))


def is_bluetooth(info) -> bool:
    text = " ".join(str(x) for x in (info.device, info.description, getattr(info, "hwid", "")) if x).lower()
    return "bluetooth" in text or "rfcomm" in text or "blth" in text


def port_holders(device: str, users_only: bool = False) -> list[str]:
    """Names (and pids) of processes with ``device`` open (Linux /proc; empty elsewhere).

    ``users_only``: leave out the process that made a pseudo-terminal (it holds the pty's master:
    a virtual board's simulator, a test), so only programs *using* the port are named."""
    try:
        target = os.path.realpath(device)
        st = os.stat(target)
    except OSError:
        return []
    found = []
    if not os.path.isdir("/proc"):
        return found
    pts = os.path.basename(target) if os.path.dirname(target) == "/dev/pts" else None
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        fd_dir = "/proc/%s/fd" % pid
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        holds = owns = False
        for fd in fds:
            try:
                fst = os.stat(os.path.join(fd_dir, fd))
            except OSError:
                continue
            if fst.st_rdev == st.st_rdev and fst.st_ino == st.st_ino:
                holds = True
            elif users_only and pts is not None and os.major(fst.st_rdev) == 5 and os.minor(fst.st_rdev) == 2:
                try:                      # /dev/ptmx: which pty this master belongs to
                    with open("/proc/%s/fdinfo/%s" % (pid, fd)) as f:
                        owns = owns or ("tty-index:\t%s\n" % pts) in f.read()
                except OSError:
                    pass
        if holds and not owns:
            try:
                with open("/proc/%s/comm" % pid) as f:
                    name = f.read().strip()
            except OSError:
                name = "?"
            found.append("%s (pid %s)" % (name, pid))
    return found


def check_port(port: str):
    """One sentence for a port that cannot be a board: none given, missing, a plain file, a folder, /dev/null.

    Looks at the path only (no byte is sent; the tty check opens it without
    waiting for carrier), so it can run before anything else touches the port.
    """
    import stat

    from airkit.errors import BoardError, InputError

    if not port or not isinstance(port, str):
        raise InputError("no port given: use --port PORT (see 'airkit ports')")
    if "://" in port or os.name == "nt":          # socket://, rfc2217:// URLs; COM3 is not a path
        return
    try:
        st = os.stat(port)
    except FileNotFoundError:
        raise BoardError("port %s does not exist: plug the board in with a data USB cable and run "
                         "'airkit ports' to see which port it got" % port)
    except OSError as e:
        raise InputError("%s cannot be a serial port (%s): give the board's port, e.g. /dev/ttyUSB0; "
                         "'airkit ports' lists them" % (port, e.strerror))
    what = ("a folder" if stat.S_ISDIR(st.st_mode) else "a file" if stat.S_ISREG(st.st_mode)
            else None if stat.S_ISCHR(st.st_mode) else "not a device")
    if what is None:
        import termios

        try:
            fd = os.open(port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError:
            return                  # permission or busy: opening it for real explains that
        try:
            termios.tcgetattr(fd)
        except termios.error:
            what = "a device that is no terminal"
        finally:
            os.close(fd)
    if what:
        raise InputError("%s is not a serial port (%s): give the board's port, e.g. /dev/ttyUSB0 or COM3; "
                         "'airkit ports' lists them" % (port, what))


def probe(device: str) -> str | None:
    """None when the port can be opened exclusively, else a hint sentence."""
    import serial

    if not os.access(device, os.R_OK | os.W_OK) and os.path.exists(device):
        return ("permission denied: run 'sudo usermod -aG dialout $USER', then log out and back in")
    try:
        s = serial.Serial(device, exclusive=True, timeout=0)
        s.close()
        return None
    except (OSError, serial.SerialException) as e:
        text = str(e)
        if "Permission denied" in text or getattr(e, "errno", None) == 13:
            return "permission denied: run 'sudo usermod -aG dialout $USER', then log out and back in"
        if "busy" in text.lower() or "lock" in text.lower() or getattr(e, "errno", None) == 16:
            holders = port_holders(device)
            if holders:
                return "busy: held by %s; close it first" % ", ".join(holders)
            return "busy: another program holds it (Thonny, a serial monitor or ModemManager?); close it first"
        return "cannot open: %s" % text


def describe(info, check_open: bool = True) -> dict:
    """One port as a dict: device, vid_pid, chip, serial_number, description, board, hint."""
    vid, pid = info.vid, info.pid
    chip = chip_family(vid, pid)
    d = {
        "device": info.device,
        "vid_pid": "%04x:%04x" % (vid, pid) if vid is not None and pid is not None else None,
        "chip": chip,
        "serial_number": info.serial_number,
        "description": info.description,
        "location": getattr(info, "location", None),
        "likely_board": chip is not None,
        "hint": None,
    }
    if is_bluetooth(info):
        d["likely_board"] = False
        d["hint"] = "Bluetooth port: ignored (not a board)"
        return d
    if chip is None:
        d["hint"] = "not a known ESP32 USB-serial chip"
    if check_open:
        problem = probe(info.device)
        if problem:
            d["hint"] = problem
    if (chip == "CH9102" and sys.platform == "darwin"):
        d["hint"] = ((d["hint"] + "; ") if d["hint"] else "") + \
            "CH9102 on macOS: install the WCH driver (Apple's fails with 'Failed to write to target RAM')"
    return d


def list_ports(check_open: bool = True) -> list[dict]:
    from serial.tools import list_ports as lp

    return [describe(i, check_open) for i in sorted(lp.comports(), key=lambda i: i.device)]


def board_ports() -> list[dict]:
    """Ports that look like boards (known USB-serial chip, not Bluetooth)."""
    return [p for p in list_ports(check_open=False) if p["likely_board"]]


def register(sub):
    p = sub.add_parser("ports", help="list serial ports, which chip each is, and why one cannot be used",
                       description="List serial ports with USB VID:PID, USB-serial chip family, serial number "
                                   "and a hint (permissions, busy port, Bluetooth, no board found).")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args) -> int:
    ports = list_ports()
    boards = [p for p in ports if p["likely_board"]]
    hints = []
    if not boards:
        hints.append("no ESP32 board found: plug it in with a data USB cable (many cables only charge); "
                     "if it still does not appear, install the driver for its USB chip "
                     "(CP210x: Silicon Labs, CH340/CH9102: WCH) and compare 'airkit ports' before and after")
    if args.json:
        print(json.dumps({"ports": ports, "hints": hints}, indent=1))
        return 0
    if not ports:
        print("no serial ports at all.")
    for p in ports:
        chip = p["chip"] or "unknown chip"
        line = "%-20s %-10s %-22s serial %-16s %s" % (p["device"], p["vid_pid"] or "-", chip,
                                                      p["serial_number"] or "-", p["description"] or "")
        print(line.rstrip())
        if p["hint"]:
            print("%20s -> %s" % ("", p["hint"]))
        elif p["chip"] in DRIVERS and sys.platform in ("darwin", "win32"):
            print("%20s    driver: %s" % ("", DRIVERS[p["chip"]]))
    for h in hints:
        print(h)
    return 0
