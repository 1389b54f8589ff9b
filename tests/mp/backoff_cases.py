# The uplinks' back-off after failures, in virtual time, under MicroPython: the real delivery
# loop (uplinks/base.py) and journal on the virtual board's clock; the uplink's send() is
# the server end, failing as a dead server does.
import os
import time as _time

from mptest import eq
import vworld
import vclock
import vmachine
from airkit_fw import board as board_mod
from airkit_fw.journal import Journal
from airkit_fw.uplinks.base import Uplink, Uplinks
from airkit_fw.uplinks.net import NetError
from airkit_fw.pms5003 import KEYS

T0 = 1767571200


def reading(i):
    d = {"ticks": 1000 * i, "flags": [], "frames": 9, "checksum_errors": 0, "rh": 50.0, "temp_c": 20.0,
         "pm25_corrected": None}
    for k in KEYS:
        d[k] = i
    return d

DIR = "/tmp/airkit-backoff-%d" % (_time.time_ns() % 1000000007)


def check(cond, msg=""):
    if not cond:
        raise AssertionError(msg)


def rig(err_kind, err_detail, n=6):
    try:
        os.mkdir(DIR)
    except OSError:
        pass
    w = vworld.world()
    clock = vclock.VirtualClock(w)
    m = vmachine.Machine(w, clock, {}, "power-on", b"\x24\x0a\xc4\x01\x02\x03")
    b = board_mod.Board(machine=m, clock=clock, fs_root=DIR + "/%s-%s" % (err_kind, err_detail), name="test")
    os.mkdir(b.fs_root)
    j = Journal(b, log=lambda m: None)
    for i in range(1, n + 1):
        j.append(reading(i), T0 + 300 * i, 1000 * i)

    class Dead(Uplink):
        kind = "dead"
        batch = 1

        def __init__(self):
            Uplink.__init__(self, b, {}, None)
            self.name = "dead"
            self.tries = []

        def send(self, records, parts):
            self.tries.append(w.now_ms)
            raise NetError(err_kind, err_detail)

    u = Dead()
    ups = Uplinks(b, j, [u], None, log=lambda m: None)
    return w, b, u, ups


def gaps(u):
    return [y - x for x, y in zip(u.tries, u.tries[1:])]


def test_a_failed_connect_is_not_retried_at_once():
    for kind in ("refused", "timeout", "unreachable"):
        w, b, u, ups = rig(kind, "connect")
        ups.poll(b.ticks_add(b.ticks_ms(), 120000))
        g = gaps(u)
        check(len(u.tries) >= 2, "%s: tried %d times" % (kind, len(u.tries)))
        check(g[0] >= 2000, "%s: the next try came %d ms after a failed connect" % (kind, g[0]))
        check(all(y >= 2 * x - 50 for x, y in zip(g, g[1:])), "%s: not doubling %r" % (kind, g))
        check(len(u.tries) <= 7, "%s: %d connects in 100 s" % (kind, len(u.tries)))


def test_a_lost_answer_is_still_retried_almost_at_once():
    # a request that was sent and got no answer is not a connect failure: one quick retry
    w, b, u, ups = rig("timeout", "recv")
    ups.poll(b.ticks_add(b.ticks_ms(), 120000))
    check(gaps(u)[0] < 200, "first retry after %d ms" % gaps(u)[0])


def _rm(path):
    try:
        names = [e[0] for e in os.ilistdir(path)]
    except OSError:
        try:
            os.remove(path)
        except OSError:
            pass
        return
    for n in names:
        _rm(path + "/" + n)
    os.rmdir(path)


if __name__ == "__main__":
    import mptest
    try:
        mptest.main(globals())
    finally:
        _rm(DIR)
