"""Shared helpers for the toolkit tests: virtual boards behind pseudo-terminals."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from airkit.vboard import VirtualBoard


class RunningBoard:
    """A virtual board running in a thread, its REPL on a pseudo-terminal at ``port``."""

    def __init__(self, tmp: Path, name: str = "b1", **kw):
        self.dir = Path(tmp) / name
        self.port = str(Path(tmp) / (name + ".tty"))
        kw.setdefault("hours", None)
        self.board = VirtualBoard(self.dir, port_link=self.port, **kw)
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not os.path.exists(self.port):
            if time.monotonic() > deadline or self.error:
                raise RuntimeError("virtual board did not start: %r" % (self.error,))
            time.sleep(0.05)
        # Wait until the board has booted (firmware started, or nothing to start), as a
        # person would before running a tool: a Ctrl-C during boot stops it half-way.
        booted = ("starting (reset cause", "no airkit firmware", "nothing to run", "SAFE MODE")
        if self.wait_line(lambda l: any(b in l for b in booted), timeout=20) is None:
            raise RuntimeError("virtual board did not boot: %r" % self.board.lines[-5:])

    def _run(self):
        try:
            self.board.run()
        except BaseException as e:  # reported by the test that waits on it
            self.error = e

    def wait_line(self, predicate, timeout=20.0, start=0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.board.lines[start:]):
                if predicate(line):
                    return line
            time.sleep(0.05)
        return None

    def diagnose(self) -> str:
        """What the board was doing (for a test that could not reach it)."""
        import subprocess

        proc = self.board.proc
        lines = ["board process: %s (exit %s), runner error: %r" % (
            proc.pid if proc else None, proc.poll() if proc else None, self.error)]
        lines += ["  " + ln for ln in self.board.lines[-12:]]
        if proc:
            lines.append(subprocess.run(["ps", "-o", "pid,stat,wchan:24,time,cmd", "-p", str(proc.pid)],
                                        capture_output=True, text=True).stdout)
            try:
                lines.append("stack: " + open("/proc/%d/stack" % proc.pid).read())
            except OSError:
                pass
        return "\n".join(lines)

    def stop(self):
        self.board.stop()
        self.thread.join(10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
