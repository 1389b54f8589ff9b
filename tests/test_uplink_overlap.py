"""Delivery that keeps waiting without blocking (issue 20): a piece whose answer is late
is "parked" on its open connection while the next pieces go on new ones; its late answer
still acknowledges it, an unanswered one is sent again, and the cursor file keeps the
gap across a power cut.

The real firmware under the real MicroPython unix port (``tests/mp/overlap_cases.py``:
journal on a littlefs2 image, the Sensor.Community uplink, the HTTP client and
``select.poll`` on the virtual board's stand-ins) delivers to the faithful
Sensor.Community stand-in (no de-duplication) through the fault proxy, which is told
which request to hold, drop or answer late."""

import json
from datetime import datetime, timezone

from conftest import run_mp
from uplink_helpers import NODE, FaultProxy, SensorCommunityServer

FAST = (0.005, 0.03)
T0 = 1767571200
N = 15                      # readings: 30 pushes (PM and DHT22 per reading)


def deliver(tmp_path, script, cut=False, n=N):
    sc = SensorCommunityServer({NODE: [1, 7]}, latency=FAST)
    proxy = FaultProxy(sc.port, rate=0.0, script=script)
    try:
        args = [proxy.port, n, tmp_path / "flash.img"] + (["cut"] if cut else [])
        out = run_mp("overlap_cases.py", args=args, vboard=True, timeout=90)
    finally:
        proxy.stop()
        sc.stop()
    res = json.loads([ln for ln in out.splitlines() if ln.startswith("result ")][-1][7:])
    return res, sc, proxy


def stored(sc):
    """(reading time, pin) of every row the server stored, with repeats."""
    return sorted((int(r["timestamp"].timestamp()), r["pin"]) for r in sc.rows)


def every_push(n=N):
    return sorted((T0 + 300 * i, pin) for i in range(1, n + 1) for pin in (1, 7))


def when(proxy, n, what):
    return [t for t, k, w in proxy.log if k == n and w == what][0]


def test_a_late_answer_of_a_stored_push_acknowledges_it_and_it_is_not_sent_again(tmp_path):
    # request 1 (reading 1's PM push) is stored at once and answered 2.5 s late (under the
    # 5 s timeout): the rest of the backlog goes meanwhile, the late answer closes the gap
    res, sc, proxy = deliver(tmp_path, {1: ("slow", 2.5)})
    assert stored(sc) == every_push()                     # all stored, none twice
    assert proxy.requests == 2 * N                        # nothing re-sent
    assert res["pending"] == 0 and res["gaps"] == [] and res["delivered"] == N
    assert res["cursor"] == [N, 0] and len(res["cursor_file"].split()) == 3   # no gap left on flash
    # the backlog did not wait for the late answer: every other push was sent before it came
    assert max(t for t, k, w in proxy.log if w == "request") < when(proxy, 1, "answered")
    assert res["ms"] < 4000


def test_a_backlog_drains_while_one_request_hangs_then_that_one_is_sent_again(tmp_path):
    # request 3 (reading 2's PM push) never reaches the server and gets no answer: the
    # other 29 pushes are delivered while it hangs; after its 5 s it is sent once more
    res, sc, proxy = deliver(tmp_path, {3: "timeout"})
    assert stored(sc) == every_push()                     # nothing lost, nothing twice
    assert proxy.requests == 2 * N + 1                    # the hung one, sent again once
    first = when(proxy, 3, "request")
    others = [t for t, k, w in proxy.log if w == "request" and k not in (3, 2 * N + 1)]
    assert max(others) - first < 2.0                      # not held back by the 5 s wait
    assert res["pending"] == 0 and res["gaps"] == [] and res["delivered"] == N
    assert 5000 <= res["ms"] < 8000                       # the resend waited for the timeout only


def test_power_cut_with_an_outstanding_gap_loses_nothing_and_duplicates_only_the_lost_answer(tmp_path):
    # request 1 is stored by the server but its answer is lost; the power is cut right
    # after the cursor file recorded it as a gap (and the next piece as done)
    res, sc, proxy = deliver(tmp_path, {1: "stored"}, cut=True)
    assert res["gaps_at_cut"] == [[1, 1]] and res["gaps_loaded"] == [[1, 1]]
    assert len(res["cursor_at_cut"].split()) == 5         # seq parts gap_seq gap_bits check
    rows = stored(sc)
    assert sorted(set(rows)) == every_push()              # nothing lost
    assert len(rows) - len(set(rows)) == 1                # one duplicate: the push whose answer was lost
    assert rows.count((T0 + 300, 1)) == 2
    assert res["pending"] == 0 and res["gaps"] == [] and res["boots"] == 2


def test_a_torn_or_tampered_gap_in_the_cursor_file_is_not_trusted():
    # the check covers the gap numbers: a cursor file whose gap was altered is refused
    from airkit_fw.uplinks import base

    class G:
        seq, bit = 7, 1
    good = base._cursor_text(9, 0, [G()])
    assert good.split()[:4] == ["9", "0", "7", "1"]
    bad = good.replace(" 7 1 ", " 8 1 ")
    assert bad != good and base._cursor_text(9, 0, [type("H", (), {"seq": 8, "bit": 1})()]) != bad
    assert base._cursor_text(9, 0) == "9 0 %d\n" % ((9 * 7 + 12345) & 0xFFFF)   # the old format, unchanged
