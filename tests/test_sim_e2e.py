"""End to end: the unchanged firmware on the virtual board (MicroPython unix port),
driven through ``airkit sim`` as a user runs it, or through ``VirtualBoard``."""

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from conftest import run_mp

KEYS = ["pm1_cf1", "pm25_cf1", "pm10_cf1", "pm1_atm", "pm25_atm", "pm10_atm",
        "n0_3", "n0_5", "n1_0", "n2_5", "n5_0", "n10"]
START = datetime(2026, 1, 5, tzinfo=timezone.utc).timestamp()


def sim(*args, timeout=90):
    proc = subprocess.run([sys.executable, "-m", "airkit.cli", "sim", "--json", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, "airkit sim failed:\n" + proc.stderr[-3000:]
    objs = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    summary = [o for o in objs if o.get("summary")]
    assert len(summary) == 1, proc.stdout[-2000:]
    return [o for o in objs if not o.get("summary")], summary[0]


def t_of(r):
    assert r["time"].endswith("Z"), r["time"]
    return datetime.fromisoformat(r["time"].replace("Z", "+00:00")).timestamp()


def hour(r):
    return (t_of(r) - START) / 3600


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    return sim("--hours", 24, "--board-dir", tmp_path_factory.mktemp("day"))


def test_a_day_gives_288_complete_readings(day):
    readings, summary = day
    assert len(readings) == 288 and summary["readings"] == 288 and summary["reboots"] == 0
    for r in readings:
        for k in KEYS:
            assert isinstance(r[k], int) and r[k] >= 0, (k, r)
        assert isinstance(r["rh"], float) and 0 <= r["rh"] <= 100
        assert isinstance(r["temp_c"], float) and -40 <= r["temp_c"] <= 80
        assert r["flags"] == []
        datetime.strptime(r["time"], "%Y-%m-%dT%H:%M:%SZ")
    times = [t_of(r) for r in readings]
    assert all(b - a == 300 for a, b in zip(times, times[1:]))
    assert 0 <= times[0] - START <= 60
    assert [r["seq"] for r in readings] == list(range(1, 289))


def test_warm_up_and_all_reads_used(day):
    readings, _ = day
    assert all(r["warmup_ok"] is True and r["frames"] == 9 for r in readings)
    # each cycle keeps the laser on for >= 30 s of warm-up plus the reads
    steps = [b["laser_on_s"] - a["laser_on_s"] for a, b in zip(readings, readings[1:])]
    assert min(steps) >= 38 and max(steps) <= 45, (min(steps), max(steps))
    # the PMS values are medians of stable frames: CF=1 >= atm, counts ordered by size
    for r in readings:
        assert r["pm25_cf1"] >= r["pm25_atm"] and r["n0_3"] >= r["n0_5"] >= r["n1_0"]


def test_laser_duty_cycle_at_most_15_percent(day):
    readings, _ = day
    duty = readings[-1]["laser_on_s"] / (len(readings) * 300)
    assert 0.10 <= duty <= 0.15, duty


SCENARIO = {"pms": {"garbage_rate": 0.02, "checksum_error_rate": 0.05, "silent": [[10.0, 11.5]],
                    "stuck": [[18.0, 19.0]]},
            "dht": {"failure_rate": 0.5, "stuck": [[15.0, 16.0]]}}


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    d = tmp_path_factory.mktemp("faulty")
    sc = d / "scenario.json"
    sc.write_text(json.dumps(SCENARIO))
    return sim("--hours", 24, "--scenario", sc, "--board-dir", d / "board")


def flagged(readings, flag):
    return [r for r in readings if flag in r["flags"]]


def test_silent_pms_is_missing_with_null_values(faulty):
    readings, _ = faulty
    assert len(readings) == 288
    missing = flagged(readings, "pms_missing")
    assert missing and all(10.0 <= hour(r) <= 11.52 for r in missing)
    inside = [r for r in readings if 10.02 <= hour(r) < 11.5]
    assert len(missing) >= len(inside) >= 17
    for r in missing:
        assert r["frames"] == 0
        assert all(r[k] is None for k in KEYS), "a missing PMS must give null, not 0"
    assert all(r[k] is not None for r in readings if "pms_missing" not in r["flags"] for k in KEYS)


def test_checksum_errors_counted(faulty):
    readings, _ = faulty
    total = sum(r["checksum_errors"] for r in readings)
    reads = 9 * len(readings)
    assert 0.02 * reads <= total <= 0.10 * reads, total
    # a frame that failed its checksum is not used: fewer frames in those readings
    assert all(r["frames"] <= 9 for r in readings)
    assert any(r["checksum_errors"] and r["frames"] < 9 for r in readings)


def test_dht_failures_flagged(faulty):
    readings, _ = faulty
    failed = flagged(readings, "dht_failed")
    assert 5 <= len(failed) <= 100
    assert all(r["rh"] is None and r["temp_c"] is None for r in failed)


def test_dht_stuck_flagged_in_its_window(faulty):
    readings, _ = faulty
    stuck = flagged(readings, "dht_stuck")
    assert len(stuck) >= 6
    assert all(15.0 <= hour(r) <= 16.05 and r["rh"] == 99.9 for r in stuck)


def test_pms_stuck_flagged_in_its_window(faulty):
    readings, _ = faulty
    stuck = flagged(readings, "pms_stuck")
    assert len(stuck) >= 5
    assert all(18.0 <= hour(r) <= 19.05 for r in stuck)


def test_tick_wrap_causes_no_gap_or_extra_reading(tmp_path):
    readings, summary = sim("--hours", 24, "--ticks-start", 1073000000, "--board-dir", tmp_path)
    assert len(readings) == 288 and summary["reboots"] == 0
    ticks = [r["ticks"] for r in readings]
    assert any(b < a for a, b in zip(ticks, ticks[1:])), "the tick counter never wrapped"
    assert all(t < 2 ** 30 for t in ticks)
    times = [t_of(r) for r in readings]
    assert all(b - a == 300 for a, b in zip(times, times[1:]))
    assert all(r["flags"] == [] and r["frames"] == 9 and r["warmup_ok"] for r in readings)


def test_board_dir_keeps_flash_and_counters(tmp_path):
    first, _ = sim("--hours", 2, "--board-dir", tmp_path)
    second, _ = sim("--hours", 2, "--board-dir", tmp_path)
    assert len(first) == len(second) == 24
    assert second[0]["laser_on_s"] >= first[-1]["laser_on_s"] + 30
    assert second[0]["seq"] == first[-1]["seq"] + 1
    assert t_of(second[0]) > t_of(first[-1])
    # and without the board dir the counter starts again
    fresh, _ = sim("--hours", 0.5)
    assert fresh[0]["laser_on_s"] < 60


# --- the virtual board directly: safe mode, crashes, resets ------------------------

def board(tmp_path, **kw):
    from airkit.vboard import VirtualBoard

    kw.setdefault("hours", 1)
    return VirtualBoard(tmp_path, **kw)


def causes(vb):
    return [line.split("reset cause:")[1].strip(" )") for line in vb.lines if "starting (reset cause:" in line]


def safe_lines(vb):
    return [line for line in vb.lines if line.startswith("airkit SAFE MODE: ")]


def test_invalid_config_enters_safe_mode_without_showing_the_password(tmp_path):
    secret = "correct-horse-battery"
    vb = board(tmp_path, config={"wifi": {"ssid": "", "password": secret}, "interval_s": 5,
                                 "pms": {"tx": "17"}})
    t0 = time.monotonic()
    boots = vb.run()
    assert boots == 1, "boot loop"
    assert time.monotonic() - t0 < 20
    lines = safe_lines(vb)
    assert any("'interval_s'" in line for line in lines)
    assert any("'pms.tx'" in line for line in lines)
    assert any("'wifi.ssid'" in line for line in lines)
    assert any("REPL" in line for line in lines)
    assert vb.readings() == []
    assert not any(secret in line for line in vb.lines)


def test_missing_config_enters_safe_mode(tmp_path):
    vb = board(tmp_path, config=None)
    assert vb.run() == 1
    lines = safe_lines(vb)
    assert lines and "config.json" in lines[0]
    assert vb.readings() == []


def write_flash(board_dir, name, text):
    run_mp("flashtool.py", args=[Path(board_dir) / "flash.img", name, text], vboard=True)


def deploy_broken_firmware(tmp_path, method, marker):
    """Put the firmware on the board's flash (as 'airkit deploy' does) with one
    sampler method broken: the kind of bad edit a user can deploy."""
    import shutil

    src = Path(__file__).resolve().parents[1] / "firmware"
    fw = tmp_path / "fw-copy"
    shutil.copytree(src, fw, ignore=shutil.ignore_patterns("__pycache__"))
    path = fw / "airkit_fw" / "sampler.py"
    text = path.read_text()
    head = "    def %s(self" % method
    i = text.index(head)
    body = text.index(":\n", i) + 2
    text = text[:body] + "        raise RuntimeError(%r)\n" % marker + text[body:]
    path.write_text(text)
    board_dir = tmp_path / "board"
    board_dir.mkdir()
    run_mp("flashtool.py", args=[board_dir / "flash.img", "--file", fw / "main.py", "main.py"], vboard=True)
    run_mp("flashtool.py", args=[board_dir / "flash.img", "--tree", fw / "airkit_fw", "/lib/airkit_fw"],
           vboard=True)
    return board_dir


def crash_lines(vb):
    return [line for line in vb.lines if line.startswith("airkit CRASH: ")]


def test_start_up_crash_is_retried_after_a_wait_and_a_reset(tmp_path):
    # Never a dead station: a crash at start-up is not safe mode (that is kept for a bad
    # config or the SAFE file); it is counted, printed and retried after a bounded wait.
    board_dir = deploy_broken_firmware(tmp_path, "__init__", "sampler start-up broken")
    vb = board(board_dir, config={"interval_s": 300}, hours=0.25, firmware_from="flash")
    boots = vb.run()
    crashes = crash_lines(vb)
    assert crashes and all("start-up failed" in line and "sampler start-up broken" in line for line in crashes)
    assert "crash 1 in a row" in crashes[0] and "resetting in 10 s" in crashes[0]
    assert "crash 2 in a row" in crashes[1] and "resetting in 20 s" in crashes[1]
    assert not safe_lines(vb)
    assert vb.restarts["reset"] == boots - 1 >= 2
    assert vb.readings() == []


def test_crash_while_running_is_retried_at_a_bounded_rate(tmp_path):
    board_dir = deploy_broken_firmware(tmp_path, "sample", "sampling broken")
    vb = board(board_dir, config={"interval_s": 300}, hours=2, firmware_from="flash")
    boots = vb.run()
    # waits of 10, 20, 40 ... s, at most 10 minutes: no tight boot loop, never given up
    assert 8 <= boots <= 20, "boots: %d" % boots
    waits = [int(line.split("resetting in ")[1].split()[0]) for line in crash_lines(vb)]
    assert waits[:7] == [10, 20, 40, 80, 160, 320, 600] and max(waits) == 600
    assert all("sampling broken" in line for line in crash_lines(vb))
    assert not safe_lines(vb)
    assert causes(vb)[:3] == ["power-on", "hard", "hard"]


def test_heap_too_small_to_start_is_retried_then_starts_when_memory_allows(tmp_path):
    # A board whose heap cannot hold the firmware: each try ends in a MemoryError, a
    # wait and a reset, never in safe mode. Once memory allows (here: the next boots get
    # the interpreter's default heap) the station starts and reports the crashes it had.
    seen = []

    def on_line(line):
        if line.startswith("airkit CRASH: "):
            seen.append(line)
            if len(seen) == 2:
                vb.heap_kb = None
    # 104 KiB: the virtual board's own code (select.poll and AP stand-ins included) fits, the firmware does not
    vb = board(tmp_path / "b", config={"interval_s": 300}, hours=1, heap_kb=104, on_line=on_line)
    vb.run()
    assert len(seen) == 2 and all("MemoryError" in line for line in seen), vb.lines[-8:]
    assert vb.restarts["reset"] == 2
    assert not safe_lines(vb)
    assert vb.readings()
    status = [json.loads(line[len("status "):]) for line in vb.lines if line.startswith("status {")]
    assert status and status[-1]["crashes"] == 2 and status[-1]["free_heap"] > 0
    assert any(line.startswith("airkit: free heap") and "at boot" in line for line in vb.lines)


def test_bad_counters_file_is_ignored_not_fatal(tmp_path):
    vb = board(tmp_path, config={"interval_s": 300}, hours=0.2)
    vb.run()
    write_flash(tmp_path, "state.json", '{"laser_on_s": "x", "seq": null}')
    vb = board(tmp_path, hours=0.5)
    vb.run()
    assert len(vb.readings()) >= 5
    assert not safe_lines(vb)


def test_power_cut_boots_with_power_on_cause(tmp_path):
    vb = board(tmp_path, config={"interval_s": 300}, hours=1, scenario={"power_cuts": [0.5]})
    vb.run()
    assert vb.restarts["power_cut"] == 1
    assert causes(vb) == ["power-on", "power-on"]
    assert len(vb.readings()) >= 10


# --- the REPL through a pseudo-terminal, with the real mpremote -----------------

def stop_sim(proc):
    proc.terminate()
    try:
        proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()


def assert_virtual_board_at_the_repl(link):
    """mpremote on the link reaches the REPL, and the board there is the virtual ESP32 start-up registered."""
    mpremote = str(Path(sys.executable).parent / "mpremote")
    out = subprocess.run([mpremote, "connect", str(link), "resume", "exec",
                          "from airkit_fw import board; b = board.current(); print('on', b.name, 6 * 7)"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "on virtual-esp32 42" in out.stdout


def test_port_link_with_mpremote(tmp_path):
    link = tmp_path / "ttyVB"
    proc = subprocess.Popen([sys.executable, "-m", "airkit.cli", "sim", "--hours", "1", "--json",
                             "--port-link", str(link), "--board-dir", str(tmp_path / "b")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while not link.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert link.exists(), "no pseudo-terminal at %s" % link
        assert_virtual_board_at_the_repl(link)
    finally:
        stop_sim(proc)
    assert not link.exists(), "the link was not removed"


def test_binary_config_file_enters_safe_mode(tmp_path):
    vb = board(tmp_path, config={"interval_s": 300}, hours=0.1)
    vb.run()
    (tmp_path / "junk.bin").write_bytes(bytes(range(128, 256)) * 4)
    run_mp("flashtool.py", args=[tmp_path / "flash.img", "--file", tmp_path / "junk.bin", "config.json"], vboard=True)
    vb = board(tmp_path, hours=0.3)
    assert vb.run() == 1
    assert safe_lines(vb), vb.lines[-5:]
    assert vb.readings() == []


def test_port_link_interrupt_during_start_up_keeps_the_virtual_board(tmp_path):
    """A tool that sends Ctrl-C the moment the port link appears (mpremote does, and a loaded machine
    makes it arrive during the virtual board's own start-up) still finds the board as the virtual board
    registered it: its start-up (the chip's ROM, not firmware) cannot be interrupted, so the interpreter
    survives and `board.current()` at the REPL is the virtual ESP32, not a default Board."""
    import os as _os
    import threading

    from airkit.boardlink import open_board
    from airkit.vboard import VirtualBoard

    link = tmp_path / "ttyVB"
    vb = VirtualBoard(tmp_path / "b", hours=None, port_link=link, config={"device": {"id": "i1"}})
    runner = threading.Thread(target=vb.run, daemon=True)
    runner.start()
    try:
        fd = None
        end = time.monotonic() + 20
        while fd is None and time.monotonic() < end:
            try:
                fd = _os.open(str(link), _os.O_RDWR | _os.O_NOCTTY)
            except OSError:
                time.sleep(0.002)
        assert fd is not None, "no pseudo-terminal at %s" % link
        _os.write(fd, b"\r\x03")               # at once, before the board has started (unfixed: killed it)
        _os.close(fd)
        end = time.monotonic() + 30
        while not any(ln.startswith("virtual board: firmware from") for ln in vb.lines):
            assert vb.proc is None or vb.proc.poll() is None, "the interpreter was killed: %s" % vb.lines[-5:]
            assert time.monotonic() < end, vb.lines[-5:]
            time.sleep(0.05)
        with open_board(str(link)) as board_link:
            name = board_link.exec("from airkit_fw import board\nprint(board.current().name)").strip()
        assert name == "virtual-esp32", name
        assert vb.proc.poll() is None and vb.restarts == {"reset": 0, "watchdog": 0, "power_cut": 0}
    finally:
        vb.stop()
        runner.join(15)
