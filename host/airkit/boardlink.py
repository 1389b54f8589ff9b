"""Talking to a MicroPython board's raw REPL through mpremote's serial transport.

Why this exists: every toolkit command (deploy, doctor, config, provision)
needs the same careful connection: open the port with a plain-language error
for each beginner failure (missing port, permissions, busy port), interrupt a
busy ``main.py`` with Ctrl-C and back-off, never soft-reset (a soft reset
restarts ``main.py`` on a board and ends the MicroPython unix port used as the
virtual board), count the bytes sent, and hash files on the board.

mpremote has no documented library API, so the version is pinned in
pyproject and only ``SerialTransport`` and its ``exec``/``fs_*`` methods are
used.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import time

from airkit.errors import BoardError, InputError, UserError

try:
    import serial as _serial

    SERIAL_ERRORS = (OSError, _serial.SerialException)
except ImportError:         # pragma: no cover - pyserial is a dependency
    SERIAL_ERRORS = (OSError,)

MANIFEST = "airkit_manifest.json"      # on the board: {path: sha256} of the deployed firmware
REPL_BAUD = 115200
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
# Text only a MicroPython console prints: seeing any of it, the board is alive (just busy).
ALIVE_MARKS = (b">>>", b"raw REPL", b"MicroPython", b"Traceback", b"KeyboardInterrupt", b"reading {",
               b"airkit ", b"soft reboot", b"rst:0x", b"ets ")
SILENT_S = 6.0          # a silent or garbage-printing port is given up after this (< 10 s)
ALIVE_S = 40.0          # a board that shows signs of life gets this long to reach the prompt
IO_TIMEOUT_S = 15.0     # no single serial read or write may block longer than this
INTERRUPT_GAP_S = 3.5   # at most one Ctrl-C this often (a second one can kill the unix port mid-interrupt)


class BoardExecError(BoardError):
    """Code sent to the board ended in a traceback (``error_output`` holds it)."""

    def __init__(self, port, error_output):
        self.error_output = error_output
        last = (error_output.strip().splitlines() or ["?"])[-1]
        super().__init__("the board on %s reported an error (%s): run 'airkit deploy' so it has the current "
                         "firmware, then try again" % (port, last))


class CountingSerial:
    """Wraps a pyserial object and counts the bytes written (what the board receives)."""

    def __init__(self, ser):
        self._ser = ser
        self.bytes_written = 0

    def write(self, data):
        self.bytes_written += len(data)
        return self._ser.write(data)

    def __getattr__(self, name):
        return getattr(self._ser, name)


def port_open_error(port: str, exc: BaseException) -> UserError:
    """The one-sentence explanation for a port that cannot be opened."""
    text = str(exc)
    err = getattr(exc, "errno", None)
    cause = exc.__cause__ or exc.__context__
    if err is None and cause is not None:
        err = getattr(cause, "errno", None)
        text += " " + str(cause)
    if err == errno.ENOENT or "No such file" in text or "could not open port" in text and "FileNotFound" in text:
        return BoardError("port %s does not exist: plug the board in with a data USB cable and run "
                         "'airkit ports' to see which port it got" % port)
    if err in (errno.EACCES, errno.EPERM) or "Permission denied" in text:
        return BoardError("permission denied on %s: run 'sudo usermod -aG dialout $USER', then log out "
                         "and back in" % port)
    if err in (errno.EBUSY, errno.EAGAIN) or "busy" in text.lower() or "exclusively lock" in text:
        from airkit.ports import port_holders

        holders = port_holders(port)
        who = (" (held by %s)" % ", ".join(holders)) if holders else " (Thonny, a serial monitor or ModemManager?)"
        return BoardError("port %s is busy%s: close the program using it and run again" % (port, who))
    return BoardError("cannot open port %s (%s): check the cable and run 'airkit ports'" % (port, text.strip()))


class BoardLink:
    """An open raw-REPL session with a board. Use as a context manager."""

    def __init__(self, port: str, baud: int = REPL_BAUD):
        from mpremote.transport import TransportError
        from mpremote.transport_serial import SerialTransport

        self.port = port
        try:
            self.t = SerialTransport(port, baudrate=baud)
        except TransportError as e:
            # mpremote swallows the OSError; open once more to learn why.
            raise self._why_not_open(e)
        except OSError as e:
            raise port_open_error(port, e)
        # Bounded I/O: mpremote reads with no timeout, which never returns on a silent pty.
        self.t.serial.timeout = IO_TIMEOUT_S
        self.t.serial.write_timeout = IO_TIMEOUT_S
        self.counter = CountingSerial(self.t.serial)
        self.t.serial = self.counter
        self.in_repl = False

    def _why_not_open(self, e):
        import serial

        try:
            s = serial.Serial(self.port, exclusive=True)
            s.close()
        except (OSError, serial.SerialException) as e2:
            return port_open_error(self.port, e2)
        return port_open_error(self.port, e)

    @property
    def bytes_sent(self) -> int:
        return self.counter.bytes_written

    # --- entering the REPL ----------------------------------------------------------
    def enter(self, attempts: int | None = None, hammer_s: float = 0.0, silent_s: float = SILENT_S,
              alive_s: float = ALIVE_S):
        """Enter the raw REPL without a soft reset.

        Ctrl-C interrupts a busy ``main.py``, Ctrl-A asks for the raw REPL, and the
        banner is awaited byte by byte (nothing after it is consumed); the prompt is
        then proven with a real ``exec``. Retried with back-off for as long as the
        board shows signs of life (MicroPython text) up to ``alive_s``; a port that
        stays silent or prints only unreadable bytes is given up after ``silent_s``
        (< 10 s) with one sentence. ``hammer_s``: keep sending Ctrl-C every 50 ms
        for that long first, to catch a board that crashes and reboots in a loop.
        ``attempts`` is accepted for compatibility; the deadlines bound the tries.
        """
        ser = self.t.serial
        start = time.monotonic()
        seen = bytearray()
        alive = False
        try:
            if hammer_s:
                end = time.monotonic() + hammer_s
                while time.monotonic() < end:
                    ser.write(b"\r\x03")
                    time.sleep(0.05)
                    if ser.in_waiting:
                        seen += ser.read(ser.in_waiting)
            # A board already at its prompt (safe mode, --no-reset, after a burst of Ctrl-C) needs
            # no interrupt at all: ask for the raw REPL first, and interrupt only if it is busy.
            ser.write(b"\x01")
            ok, got = self._read_until(RAW_BANNER, 0.5)
            seen += got
            if ok and self._prove():
                return self
            delay = 0.2
            last_ctrl_c = None
            at_prompt = ok or b">>> " in got
            alive = at_prompt
            while True:
                # Never wait past the deadline that applies (a silent port must be told in < 10 s).
                left = start + (alive_s if alive else silent_s) - time.monotonic()
                got = b""
                if at_prompt:
                    # The board is at a prompt: never interrupt it again. A Ctrl-C that reaches the
                    # MicroPython unix port (the virtual board) while its console is between modes
                    # kills it, and a real board needs none. Ctrl-B leaves a half-entered raw REPL.
                    ser.write(b"\x02")
                    more = self._read_quiet(min(delay, max(0.05, left / 3)), until=b">>> ")
                    got += more
                elif last_ctrl_c is None or time.monotonic() - last_ctrl_c >= INTERRUPT_GAP_S:
                    # One Ctrl-C (no CR in front: a CR makes the REPL leave raw terminal mode for a
                    # moment), then let the board finish its traceback and print its prompt.
                    ser.write(b"\x03")
                    last_ctrl_c = time.monotonic()
                    got += self._read_quiet(max(0.1, min(1.5, left / 3)), until=b">>> ")
                ser.write(b"\x01")
                ok, more = self._read_until(RAW_BANNER, max(0.3, min(1.0 + 2 * delay, left)))
                got += more
                seen += got
                del seen[:-4096]
                alive = alive or any(m in seen for m in ALIVE_MARKS)
                at_prompt = at_prompt or b">>> " in got or b"raw REPL" in got
                if ok:
                    if self._prove():
                        return self
                    alive = True
                elapsed = time.monotonic() - start
                if elapsed >= (alive_s if alive else silent_s):
                    break
                delay = min(delay * 2, 2.0)
        except SERIAL_ERRORS as e:
            raise self.lost(e)
        self.last_output = bytes(seen[-600:])       # for a diagnosis by whoever catches the error
        from airkit.ports import port_holders

        users = port_holders(self.port, users_only=True)
        if users and not alive:
            raise BoardError("nothing answers on %s: %s also has the port open and takes the board's answers; "
                             "close it (Thonny, screen, a serial monitor) and run again" % (self.port, ", ".join(users)))
        if not seen:
            raise BoardError("nothing answers on %s: no byte came back in %d s; check that the board is plugged "
                             "in with a data cable and powered, that this is its port ('airkit ports'), and that "
                             "it has MicroPython ('airkit flash')" % (self.port, round(time.monotonic() - start)))
        if not alive:
            raise BoardError("nothing answers on %s at the MicroPython prompt: it prints unreadable bytes (another "
                             "baud rate, or a boot loop); press the board's reset button, use 'airkit deploy "
                             "--safe' for a crash loop, or 'airkit flash' if it has no MicroPython yet" % self.port)
        raise BoardError("the board on %s does not answer at the MicroPython prompt: press its reset button and "
                         "run again; if it crash-loops use 'airkit deploy --safe', and if it has no MicroPython "
                         "yet run 'airkit flash'" % self.port)

    def _prove(self) -> bool:
        """After the raw-REPL banner: prove the prompt works with a real exec before using it.

        A Ctrl-C can reach a busy board late. Plain raw mode, not raw-paste: if this times
        out on a loaded machine, the board is left at the raw REPL (Ctrl-B recovers it),
        never inside a paste that would swallow every later Ctrl-C as data."""
        from mpremote.transport import TransportError

        self.t.in_raw_repl = True
        paste = self.t.use_raw_paste
        self.t.use_raw_paste = False
        try:
            out, err = self.t.exec_raw("print('airkit-ok')", timeout=IO_TIMEOUT_S)
            if b"airkit-ok" in out and not err:
                self.in_repl = True
                return True
        except TransportError:
            pass
        finally:
            self.t.use_raw_paste = paste
        return False

    def _read_for(self, seconds: float) -> bytes:
        """Everything that arrives in ``seconds``."""
        ser = self.t.serial
        out = b""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            n = ser.in_waiting
            if n:
                out += ser.read(n)
            else:
                time.sleep(0.02)
        return out

    def _read_quiet(self, seconds: float, until: bytes = b"", quiet_s: float = 0.3) -> bytes:
        """Read until the output ends with ``until`` and the board has been quiet ``quiet_s``,
        or ``seconds`` have passed."""
        ser = self.t.serial
        out = b""
        now = time.monotonic()
        end, last = now + seconds, now
        while now < end:
            n = ser.in_waiting
            if n:
                out += ser.read(n)
                last = time.monotonic()
            elif until and out.endswith(until) and now - last >= quiet_s:
                break
            else:
                time.sleep(0.02)
            now = time.monotonic()
        return out

    def _read_until(self, ending: bytes, seconds: float):
        """(found, bytes read): read byte by byte until ``ending`` (nothing after it is consumed)."""
        ser = self.t.serial
        data = bytearray()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if ser.in_waiting:
                data += ser.read(1)
                if data.endswith(ending):
                    return True, bytes(data)
                if len(data) > 8192:
                    del data[:-4096]
            else:
                time.sleep(0.01)
        return False, bytes(data)

    def lost(self, exc) -> BoardError:
        """The one sentence for a board that went away in the middle of a command."""
        return BoardError("lost the connection to the board on %s (%s): plug it back in and run the command "
                          "again; files on the board are either complete or untouched (each is written beside "
                          "its target and renamed only when verified)" % (self.port, str(exc).strip() or
                                                                          type(exc).__name__))

    def close(self):
        try:
            if self.in_repl:
                self.t.exit_raw_repl()
        except Exception:
            pass
        try:
            self.t.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- running code -----------------------------------------------------------------
    def exec(self, code: str, timeout: float = 10) -> str:
        from mpremote.transport import TransportError

        try:
            out, err = self.t.exec_raw(code, timeout=timeout)
        except TransportError as e:
            raise BoardError("the board on %s stopped answering (%s): check the cable and run again"
                             % (self.port, e))
        except SERIAL_ERRORS as e:
            raise self.lost(e)
        if err:
            raise BoardExecError(self.port, err.decode("utf-8", "replace"))
        return out.decode("utf-8", "replace")

    def eval_json(self, code: str, timeout: float = 10):
        """Run code whose last printed line is JSON; return it parsed."""
        out = self.exec(code, timeout=timeout)
        lines = [ln for ln in out.strip().splitlines() if ln.strip()]
        if not lines:
            raise BoardError("the board on %s gave no answer: run again" % self.port)
        return json.loads(lines[-1])

    # --- files ---------------------------------------------------------------------------
    def hash_files(self, paths: list[str]) -> dict[str, str | None]:
        """SHA-256 of each file on the board, computed on the board (None: missing)."""
        code = (
            "import hashlib, json\n"
            "def _h(p):\n"
            " try:\n"
            "  f = open(p, 'rb')\n"
            " except OSError:\n"
            "  return None\n"
            " h = hashlib.sha256(); b = bytearray(512); mv = memoryview(b)\n"
            " while True:\n"
            "  n = f.readinto(b)\n"
            "  if not n: break\n"
            "  h.update(mv[:n])\n"
            " f.close()\n"
            " return ''.join('%%02x' %% x for x in h.digest())\n"
            "print(json.dumps({p: _h(p) for p in %s}))\n" % json.dumps(["/" + p.lstrip("/") for p in paths])
        )
        res = self.eval_json(code, timeout=30)
        return {p: res.get("/" + p.lstrip("/")) for p in paths}

    def read_text(self, path: str) -> str | None:
        code = ("try:\n f = open(%r)\n print(repr(f.read())); f.close()\nexcept OSError:\n print('None')\n"
                % ("/" + path.lstrip("/")))
        import ast

        out = self.exec(code).strip()
        return ast.literal_eval(out) if out else None

    def makedirs(self, dirs: list[str]):
        if not dirs:
            return
        code = ("import os\nfor d in %r:\n try:\n  os.mkdir(d)\n except OSError:\n  pass\n"
                % ["/" + d.strip("/") for d in dirs])
        self.exec(code)

    def write_atomic(self, path: str, data: bytes, chunk: int = 1536, progress=None):
        """Write ``path`` + '.new', check its hash on the board, then rename over ``path``."""
        path = "/" + path.lstrip("/")
        tmp = path + ".new"
        self._write_b64(tmp, data, chunk, progress)
        want = hashlib.sha256(data).hexdigest()
        got = self.hash_files([tmp])[tmp]
        if got != want:
            raise BoardError("%s arrived damaged on the board (hash mismatch): check the USB cable and "
                            "run again" % path)
        self.exec("import os\nos.rename(%r, %r)" % (tmp, path))

    def _write_b64(self, path, data, chunk, progress):
        # base64 chunks: 4/3 of the file size on the wire, where repr() of a .mpy is ~3x.
        import base64

        self.exec("from binascii import a2b_base64 as _d\n_f = open(%r, 'wb')\n_w = _f.write" % path)
        try:
            for i in range(0, len(data), chunk):
                self.exec("_w(_d(%r))" % base64.b64encode(data[i:i + chunk]).decode())
                if progress:
                    progress(min(i + chunk, len(data)))
        finally:
            self.exec("_f.close()")

    def remove(self, paths: list[str]):
        if paths:
            self.exec("import os\nfor p in %r:\n try:\n  os.remove(p)\n except OSError:\n  pass\n"
                      % ["/" + p.lstrip("/") for p in paths])

    def list_tree(self, top: str) -> list[str]:
        """Every file below ``top`` on the board (paths without a leading slash)."""
        code = (
            "import os, json\n"
            "def _w(d, out):\n"
            " try:\n  it = os.ilistdir(d)\n except OSError:\n  return\n"
            " for e in it:\n"
            "  p = d.rstrip('/') + '/' + e[0]\n"
            "  if e[1] & 0x4000:\n   _w(p, out)\n  else:\n   out.append(p)\n"
            "_o = []\n_w(%r, _o)\nprint(json.dumps(_o))\n" % ("/" + top.strip("/"))
        )
        return [p.lstrip("/") for p in self.eval_json(code)]

    def interrupt_and_reset(self) -> bool:
        """Stop whatever the board runs for us (Ctrl-C), then hard-reset it so its station runs again;
        for a host tool interrupted half-way (the user's Ctrl-C). False when the port is gone."""
        try:
            self.t.serial.write(b"\x03")
            self.t.serial.flush()
            self._read_quiet(1.0, until=b">")
        except Exception:
            return False
        try:
            self.t.serial.write(b"\r\x01")          # back to the raw REPL, where reset() types its line
            self.t.serial.flush()
            self._read_quiet(0.5, until=b">")
        except Exception:
            return False
        self.reset()
        return True

    def reset(self):
        """Hard-reset the board (as the reset button does); the link is unusable afterwards."""
        # Plain raw-REPL input, then Ctrl-D, and no waiting: mpremote's exec_raw_no_follow
        # uses raw-paste mode and waits for an acknowledgement that a resetting board
        # never sends; if the board then prints steadily (a running station), that wait
        # never ends.
        try:
            self.t.serial.write(b"import machine\r\nmachine.reset()\r\n\x04")
            self.t.serial.flush()
        except Exception:
            pass
        self.in_repl = False
        time.sleep(0.3)


from airkit.ports import check_port  # noqa: E402,F401  (one check for every command: flash, monitor, deploy ...)


def open_board(port: str, safe: bool = False) -> BoardLink:
    """Open ``port`` and enter the raw REPL (with ``safe``: catch a crash-looping board)."""
    check_port(port)
    link = BoardLink(port)
    try:
        link.enter(hammer_s=3.0 if safe else 0.0)
    except BaseException:
        link.close()
        raise
    return link
