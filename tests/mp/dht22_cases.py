# DHT22 driver against the virtual board's dht stand-in, in virtual time. MicroPython.
import errno
from vworld import world
import vclock
import vmachine
import vdht
from airkit_fw import dht22
from airkit_fw.dht22 import DHT22, OK, FAILED, STUCK, IMPLAUSIBLE


def check(cond, msg=""):
    if not cond:
        raise AssertionError(msg)


class Spy(vdht.DHT22):
    """The dht stand-in, noting when each measurement starts."""

    def __init__(self, pin):
        vdht.DHT22.__init__(self, pin)
        self.starts = []

    def measure(self):
        self.starts.append(vdht._world.now_ms)
        vdht.DHT22.measure(self)


def rig(faults=None, pin=15):
    w = world({"dht": faults or {}})
    clock = vclock.VirtualClock(w)
    vdht.attach(w, 15, faults or {})
    m = vmachine.Machine(w, clock, {}, "power-on", b"\x24\x0a\xc4\x01\x02\x03")
    sensor = Spy(m.Pin(pin))
    return w, clock, sensor


class Fixed:
    """A sensor answering with fixed values (or raising ``exc`` ``fails`` times first)."""

    def __init__(self, t, h, exc=None, fails=0):
        self.t = t
        self.h = h
        self.exc = exc
        self.fails = fails
        self.calls = 0

    def measure(self):
        self.calls += 1
        if self.calls <= self.fails:
            raise self.exc

    def temperature(self):
        return self.t

    def humidity(self):
        return self.h


def test_waits_one_second_after_power_up():
    w, clock, s = rig()
    t0 = w.now_ms
    d = DHT22(s, clock)
    check(d.read() == OK, "status %d" % d.status)
    check(s.starts[0] - t0 >= 1000, "read %d ms after power-up" % (s.starts[0] - t0))
    check(d.timeouts == 0, "timeouts %d" % d.timeouts)
    check(-40 <= d.temp_c <= 80 and 0 <= d.rh <= 100, "values %r %r" % (d.temp_c, d.rh))


def test_two_seconds_between_reads():
    w, clock, s = rig()
    d = DHT22(s, clock)
    for _ in range(5):
        check(d.read() == OK, "read")
    gaps = [b - a for a, b in zip(s.starts, s.starts[1:])]
    check(len(gaps) == 4 and min(gaps) >= 2000, "gaps %r" % (gaps,))
    clock.sleep_ms(10000)
    t0 = w.now_ms
    d.read()
    check(s.starts[-1] - t0 < 50, "waited needlessly %d ms" % (s.starts[-1] - t0))


def test_timeouts_by_errno_name_are_retried_then_failed():
    w, clock, s = rig({"missing": [[0, 100]]})          # unplugged: always ETIMEDOUT
    d = DHT22(s, clock)
    t0 = w.now_ms
    check(d.read() == FAILED, "status %d" % d.status)
    check(d.timeouts == 3 and len(s.starts) == 3, "tries %d timeouts %d" % (len(s.starts), d.timeouts))
    check(d.temp_c is None and d.rh is None, "values kept after failure")
    check(w.now_ms - t0 < 3 * 2300, "bounded: %d ms" % (w.now_ms - t0))
    # the unix port's ETIMEDOUT (110) is not the ESP32's (116): only the name is the same
    check(errno.ETIMEDOUT in (110, 116), "errno")


def test_a_dead_sensor_gets_one_try_then_retries_again_once_back():
    w, clock, s = rig({"missing": [[0, 1]]})           # unplugged for the first hour
    d = DHT22(s, clock)
    check(d.read() == FAILED and len(s.starts) == 3, "first read: %d tries" % len(s.starts))
    clock.sleep_ms(60000)
    t0 = w.now_ms
    check(d.read() == FAILED and len(s.starts) == 4, "dead: %d tries" % len(s.starts))
    check(w.now_ms - t0 < 500, "a dead sensor cost %d ms" % (w.now_ms - t0))
    clock.sleep_ms(3600 * 1000)                         # plugged back in
    check(d.read() == OK, "back: status %d" % d.status)
    d._s = Fixed(21.5, 40.0, OSError(errno.ETIMEDOUT), 2)
    check(d.read() == OK and d._s.calls == 3, "retries after recovery: %d" % d._s.calls)


def test_timeout_then_success():
    w, clock, _ = rig()
    s = Fixed(21.5, 40.0, OSError(errno.ETIMEDOUT), 2)
    d = DHT22(s, clock)
    check(d.read() == OK and d.temp_c == 21.5 and d.rh == 40.0, "status %d" % d.status)
    check(d.timeouts == 2 and s.calls == 3, "timeouts %d calls %d" % (d.timeouts, s.calls))


def test_checksum_error_retried():
    w, clock, _ = rig()
    s = Fixed(21.5, 40.0, Exception("checksum error"), 1)
    d = DHT22(s, clock)
    check(d.read() == OK, "status %d" % d.status)
    check(d.checksum_errors == 1 and s.calls == 2, "checksum_errors %d" % d.checksum_errors)


def test_other_errors_are_not_swallowed_as_timeouts():
    w, clock, _ = rig()
    s = Fixed(21.5, 40.0, OSError(errno.EIO), 5)
    d = DHT22(s, clock)
    try:
        d.read()
    except OSError as e:
        check(e.args[0] == errno.EIO, "errno %r" % (e.args,))
    else:
        raise AssertionError("EIO was treated as a timeout")
    check(d.timeouts == 0, "counted as timeout")


def test_random_failures_recovered_by_retries():
    w, clock, s = rig({"failure_rate": 0.3})
    d = DHT22(s, clock)
    results = [d.read() for _ in range(60)]
    ok = results.count(OK)
    check(ok >= 50, "only %d of 60 reads ok" % ok)
    check(d.timeouts + d.checksum_errors > 10, "no failures seen %d %d" % (d.timeouts, d.checksum_errors))
    check(d.timeouts > 0 and d.checksum_errors > 0, "both kinds retried")


def test_stuck_high_humidity_detected():
    w, clock, s = rig({"stuck": [[0, 1]]})
    d = DHT22(s, clock)
    st = [d.read() for _ in range(8)]
    check(d.rh == 99.9, "rh %r" % d.rh)
    check(st[:5] == [OK] * 5, "flagged too early %r" % (st,))
    check(st[5:] == [STUCK] * 3, "not flagged %r" % (st,))
    clock.sleep_ms(3600 * 1000)                   # the fault window ends
    check(d.read() == OK and d.rh < 99.9, "stuck after recovery: %r" % d.rh)


def test_stuck_low_humidity_detected():
    w, clock, s = rig({"low_stuck": [[0, 1]]})
    d = DHT22(s, clock)
    st = [d.read() for _ in range(6)]
    check(st[-1] == STUCK and d.rh == 1.0, "%r rh %r" % (st, d.rh))


def test_impossible_values_rejected():
    w, clock, _ = rig()
    for t, h in ((-41.0, 50.0), (80.5, 50.0), (20.0, -0.1), (20.0, 100.5), (None, 50.0), (20.0, None)):
        d = DHT22(Fixed(t, h), clock)
        check(d.read() == IMPLAUSIBLE, "%r %r accepted" % (t, h))
        check(d.temp_c is None and d.rh is None and d.implausible == 1, "values kept %r %r" % (t, h))
    for t, h in ((-40.0, 0.0), (80.0, 100.0), (20.0, 50.0)):
        d = DHT22(Fixed(t, h), clock)
        check(d.read() == OK, "%r %r rejected" % (t, h))


def test_feeds_the_watchdog():
    w, clock, s = rig({"missing": [[0, 100]]})
    fed = []
    d = DHT22(s, clock, feed_wdt=lambda: fed.append(1))
    d.read()
    check(len(fed) == 3, "fed %d times" % len(fed))


if __name__ == "__main__":
    import mptest
    mptest.main(globals())
