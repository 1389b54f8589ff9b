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

from airkit.errors import UserError

MANIFEST = "airkit_manifest.json"      # on the board: {path: sha256} of the deployed firmware
REPL_BAUD = 115200


class BoardExecError(UserError):
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
        return UserError("port %s does not exist: plug the board in with a data USB cable and run "
                         "'airkit ports' to see which port it got" % port)
    if err in (errno.EACCES, errno.EPERM) or "Permission denied" in text:
        return UserError("permission denied on %s: run 'sudo usermod -aG dialout $USER', then log out "
                         "and back in" % port)
    if err in (errno.EBUSY, errno.EAGAIN) or "busy" in text.lower() or "exclusively lock" in text:
        from airkit.ports import port_holders

        holders = port_holders(port)
        who = (" (held by %s)" % ", ".join(holders)) if holders else " (Thonny, a serial monitor or ModemManager?)"
        return UserError("port %s is busy%s: close the program using it and run again" % (port, who))
    return UserError("cannot open port %s (%s): check the cable and run 'airkit ports'" % (port, text.strip()))


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
    def enter(self, attempts: int = 6, hammer_s: float = 0.0):
        """Enter the raw REPL without a soft reset.

        A busy ``main.py`` is interrupted with Ctrl-C, retried with back-off
        (0.2, 0.4, 0.8 ... s). ``hammer_s``: keep sending Ctrl-C every 50 ms for
        that long first, to catch a board that crashes and reboots in a loop.
        """
        from mpremote.transport import TransportError

        ser = self.t.serial
        if hammer_s:
            end = time.monotonic() + hammer_s
            while time.monotonic() < end:
                ser.write(b"\r\x03")
                time.sleep(0.05)
                if ser.in_waiting:
                    ser.read(ser.in_waiting)
        delay = 0.2
        last = None
        for _ in range(attempts):
            try:
                ser.write(b"\r\x03")
                self._drain(quiet_s=min(delay, 0.5))
                self.t.enter_raw_repl(soft_reset=False, timeout_overall=max(2.0, delay * 4))
                # A Ctrl-C can reach a busy board late: prove the prompt works before using it.
                out, err = self.t.exec_raw("print('airkit-ok')", timeout=max(2.0, delay * 4))
                if b"airkit-ok" not in out or err:
                    raise TransportError("unexpected answer %r" % (out + err)[-60:])
                self.in_repl = True
                return self
            except TransportError as e:
                last = e
                # Back to the friendly REPL: if the board reached the raw REPL but we missed
                # its banner, the next Ctrl-A prints a fresh one.
                ser.write(b"\r\x02")
                time.sleep(delay)
                delay = min(delay * 2, 3.0)
        raise UserError("the board on %s does not answer at the MicroPython prompt (%s): press its reset "
                        "button and run again; if it crash-loops use 'airkit deploy --safe', and if it has "
                        "no MicroPython yet run 'airkit flash'" % (self.port, last))

    def _drain(self, quiet_s=0.2, max_s=3.0):
        """Read and drop output until the board has been quiet for ``quiet_s``."""
        ser = self.t.serial
        end = time.monotonic() + max_s
        last = time.monotonic()
        while time.monotonic() < end and time.monotonic() - last < quiet_s:
            n = ser.in_waiting
            if n:
                ser.read(n)
                last = time.monotonic()
            else:
                time.sleep(0.02)

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
            raise UserError("the board on %s stopped answering (%s): check the cable and run again"
                            % (self.port, e))
        if err:
            raise BoardExecError(self.port, err.decode("utf-8", "replace"))
        return out.decode("utf-8", "replace")

    def eval_json(self, code: str, timeout: float = 10):
        """Run code whose last printed line is JSON; return it parsed."""
        out = self.exec(code, timeout=timeout)
        lines = [ln for ln in out.strip().splitlines() if ln.strip()]
        if not lines:
            raise UserError("the board on %s gave no answer: run again" % self.port)
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
            raise UserError("%s arrived damaged on the board (hash mismatch): check the USB cable and "
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


def open_board(port: str, safe: bool = False) -> BoardLink:
    """Open ``port`` and enter the raw REPL (with ``safe``: catch a crash-looping board)."""
    if not port:
        raise UserError("no port given: use --port (see 'airkit ports')")
    if not port.startswith(("socket://", "rfc2217://")) and not os.path.exists(port):
        raise UserError("port %s does not exist: plug the board in with a data USB cable and run "
                        "'airkit ports' to see which port it got" % port)
    link = BoardLink(port)
    try:
        link.enter(attempts=8 if safe else 6, hammer_s=3.0 if safe else 0.0)
    except BaseException:
        link.close()
        raise
    return link
