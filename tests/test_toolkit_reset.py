"""Resetting a board from the host never hangs, even when the restarted station
prints steadily (it used to wait for an acknowledgement a resetting board never sends)."""

import threading
import time

from airkit.boardlink import open_board
from toolkit_helpers import RunningBoard


def test_reset_returns_and_the_station_runs_again(tmp_path):
    # speed 600: the restarted station prints a reading about every half second
    with RunningBoard(tmp_path, "r1", config={"device": {"id": "r1"}}, extra={"speed": 600}) as b:
        link = open_board(b.port)
        done = threading.Event()

        def reset():
            link.reset()
            link.close()
            done.set()

        t0 = time.monotonic()
        threading.Thread(target=reset, daemon=True).start()
        assert done.wait(20), "reset() did not return"
        assert time.monotonic() - t0 < 10
        # the board really reset (hard reset cause) and its station runs again
        assert b.wait_line(lambda l: "starting (reset cause: hard)" in l, timeout=20)
        n = len(b.board.lines)
        assert b.wait_line(lambda l: l.startswith("reading "), timeout=20, start=n)
        with open_board(b.port) as again:
            assert "ok" in again.exec("print('ok')")


def test_a_burst_of_ctrl_c_interrupts_but_never_kills_the_board(tmp_path):
    """Tools send Ctrl-C repeatedly (mpremote does); a board survives that, so must the virtual one."""
    import serial

    for i in range(6):
        with RunningBoard(tmp_path, "c%d" % i, config={"device": {"id": "c"}}) as b:
            s = serial.Serial(b.port, timeout=0.2)
            t0 = time.monotonic()
            while time.monotonic() - t0 < 0.6:
                s.write(b"\x03")
                time.sleep(0.0005 * (i % 3))
            s.close()
            time.sleep(0.5)
            assert b.error is None and b.board.proc.poll() is None, b.board.lines[-3:]
            with open_board(b.port) as link:
                assert "alive" in link.exec("print('alive')")


def test_unread_console_never_stalls_the_board(tmp_path):
    """Nobody reads the port for a long while (kilobytes of readings): the board keeps
    running (output nobody reads is lost, as on a real serial adapter) and answers after."""
    with RunningBoard(tmp_path, "q1", config={"device": {"id": "q1"}}, extra={"speed": 30000}) as b:
        n = len(b.board.readings())
        deadline = time.monotonic() + 30
        while len(b.board.readings()) < n + 300 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(b.board.readings()) >= n + 300, "the board stalled while nobody read its console"
        assert b.board.link_dropped > 4096
        with open_board(b.port) as link:
            assert "alive" in link.exec("print('alive')")
