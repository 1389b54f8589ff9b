"""`airkit sim --micropython PATH --heap-kb N` (and the same VirtualBoard options): which
interpreter runs the board and its heap. Runs with the interpreter installed with airkit;
the 32-bit figures (../shared/tools/micropython32) are the memory benchmark's business."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from airkit.errors import InputError
from airkit.vboard import VirtualBoard

MICROPYTHON = str(Path(sys.executable).parent / "micropython")


def airkit(*args):
    return subprocess.run([sys.executable, "-m", "airkit.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def one_line(proc, code, *words):
    assert proc.returncode == code, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])


def test_sim_with_a_named_interpreter_and_heap_runs_the_mpy_install(tmp_path):
    p = airkit("sim", "--micropython", MICROPYTHON, "--heap-kb", "400", "--hours", "1", "--json",
               "--board-dir", tmp_path)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    readings = [json.loads(ln) for ln in lines if '"summary"' not in ln]
    assert len(readings) == 12
    assert json.loads(lines[-1])["restarts"] == {"reset": 0, "watchdog": 0, "power_cut": 0}
    # what `airkit deploy` sends (.mpy) was put on the virtual flash and ran from there
    assert (tmp_path / "mpy" / "lib" / "airkit_fw" / "app.mpy").exists()


def test_sim_heap_reaches_the_interpreter(tmp_path):
    lines = []
    vb = VirtualBoard(tmp_path, config={"interval_s": 300}, hours=0.1, heap_kb=300, micropython=MICROPYTHON,
                      on_line=lines.append)
    vb.run()
    boot = [ln for ln in lines if ln.startswith("virtual board: stand-ins hold")]
    used, free = [int(w) for w in boot[0].split() if w.isdigit()]
    assert 250 * 1024 < used + free <= 300 * 1024          # the GC heap is what was asked for
    assert any(ln.startswith("airkit: free heap") for ln in lines)


def test_wrong_interpreter_or_heap_is_one_clear_error(tmp_path):
    one_line(airkit("sim", "--micropython", tmp_path / "nope", "--hours", "0.1"), 2, "does not exist")
    not_mp = tmp_path / "fake"
    not_mp.write_text("#!/bin/sh\necho hello\n")
    os.chmod(not_mp, 0o755)
    one_line(airkit("sim", "--micropython", not_mp, "--hours", "0.1"), 2, "not a MicroPython")
    plain = tmp_path / "plain"
    plain.write_text("x")
    one_line(airkit("sim", "--micropython", plain, "--hours", "0.1"), 2, "not executable")
    one_line(airkit("sim", "--heap-kb", "4", "--hours", "0.1"), 2, "at least 16")
    with pytest.raises(InputError):
        VirtualBoard(tmp_path / "b", heap_kb=0)


def test_heap_too_small_says_so_in_one_line(tmp_path):
    # too small for the virtual board itself
    one_line(airkit("sim", "--heap-kb", "30", "--hours", "0.5"), 2, "too small for the virtual board")
    # enough for the board, not for the station: it retries (crash lines), then the run ends in one error
    p = airkit("sim", "--heap-kb", "96", "--hours", "0.5")
    assert p.returncode == 2
    crash = [ln for ln in p.stderr.splitlines() if ln.startswith("airkit CRASH: ")]
    assert crash and "MemoryError" in crash[0]
    last = p.stderr.strip().splitlines()[-1]
    assert last.startswith("airkit: the station crashed at every start") and "--heap-kb" in last
    assert "Traceback" not in p.stderr
