"""The doctor says when the board's firmware is not this airkit's, and its Ctrl-C never leaves the
station stopped at the REPL."""

import os
import signal
import subprocess
import sys
import time

from airkit.boardlink import open_board
from airkit.deploy import deploy
from airkit.doctor import run_doctor
from airkit.firmware_build import build
from toolkit_helpers import RunningBoard


def test_doctor_warns_when_the_firmware_is_not_this_airkits(tmp_path):
    current = build(tmp_path / "current")              # this airkit's firmware, compiled once for the test
    old = build(tmp_path / "old")
    with open(old["main.py"], "a") as f:
        f.write("\n# an older airkit's main.py\n")
    with RunningBoard(tmp_path, "d1", firmware_from="flash") as b:
        with open_board(b.port) as link:
            calls = []
            deploy(link, {"device": {"id": "d1"}}, built=old, progress=lambda *a: calls.append(a))
            assert calls and calls[-1][1] <= calls[-1][2] and {c[0] for c in calls} >= {"main.py"}   # progress
            rep = run_doctor(link, checks=("clock",), built=current)
            by = {c["check"]: c for c in rep["checks"]}
            assert by["firmware"]["passed"] is True                   # intact: what its manifest says
            assert by["current"]["warn"] and by["current"]["differ"] == 1, by["current"]
            assert "airkit deploy --port %s" % b.port in by["current"]["remedy"]
            deploy(link, None, built=current)
            by = {c["check"]: c for c in run_doctor(link, checks=("clock",), built=current)["checks"]}
            assert by["current"]["status"] == "ok" and not by["current"].get("warn")
    # a port name works as well as an open link (the library takes either)
    with RunningBoard(tmp_path, "d2", firmware_from="flash") as b:
        rep = run_doctor(b.port, checks=("clock",))
        assert rep["port"] == b.port and rep["facts"]


def test_ctrl_c_during_doctor_resets_the_board(tmp_path):
    with RunningBoard(tmp_path, "d3", config={"device": {"id": "d3"}}) as b:
        n = len(b.board.lines)
        proc = subprocess.Popen([sys.executable, "-m", "airkit.cli", "doctor", "--port", b.port],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # interrupt while the board works for the doctor (its facts are out, the self-test runs)
        assert b.wait_line(lambda ln: ln.startswith("selftest "), timeout=30, start=n), b.board.lines[-5:]
        os.kill(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err
        assert "reset" in err and "Traceback" not in err, err
        m = len(b.board.lines)
        # the station runs again (a hard reset, then readings), not stopped at the REPL
        assert b.wait_line(lambda ln: "starting (reset cause: hard)" in ln, timeout=30, start=n), b.board.lines[-8:]
        assert b.wait_line(lambda ln: ln.startswith("reading "), timeout=30, start=m)
