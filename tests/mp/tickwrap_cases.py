# Waits across the tick wrap, under MicroPython, on the virtual clock (ticks_ms wraps at
# 2^30 ms as on an ESP32; ticks_diff is right only within 2^29 ms of its reference).
from mptest import eq
from vworld import world, pms_rig
import vclock
import vmachine
import vdht
from airkit_fw import board as board_mod
from airkit_fw.dht22 import DHT22, OK
from airkit_fw.pms5003 import PMS5003, COMMAND_GAP_MS
from dht22_cases import Spy, check

HALF = 1 << 29
PERIOD = 1 << 30
DAY_MS = 86400000


def test_dht_waits_stay_bounded_for_14_days_of_uptime():
    for ticks_start in (0, PERIOD - 3600000):
        w = world({}, ticks_start)
        clock = vclock.VirtualClock(w)
        vdht.attach(w, 15, {})
        m = vmachine.Machine(w, clock, {}, "power-on", b"\x24\x0a\xc4\x01\x02\x03")
        s = Spy(m.Pin(15))
        d = DHT22(s, clock)
        boot = w.now_ms
        check(d.read() == OK, "first read")
        step = 300000
        while w.now_ms - boot < 14 * DAY_MS:
            clock.sleep_ms(step - (w.now_ms - s.starts[-1]))
            t0 = w.now_ms
            d.read()
            waited = s.starts[-1] - t0
            check(waited < 2000, "read at %.2f h of uptime waited %d ms" % ((t0 - boot) / 3600000, waited))


def test_dht_just_past_2_29_ms_after_boot():
    w = world({})
    clock = vclock.VirtualClock(w)
    vdht.attach(w, 15, {})
    m = vmachine.Machine(w, clock, {}, "power-on", b"\x24\x0a\xc4\x01\x02\x03")
    s = Spy(m.Pin(15))
    d = DHT22(s, clock)
    clock.sleep_ms(HALF + 500)          # the first read only now: power-up long passed
    t0 = w.now_ms
    check(d.read() == OK, "read")
    check(s.starts[-1] - t0 < 50, "waited %d ms" % (s.starts[-1] - t0))
    clock.sleep_ms(HALF + 300)          # a second read after another 6.2 days: no stale gap
    t0 = w.now_ms
    d.read()
    check(s.starts[-1] - t0 < 50, "waited %d ms after a long pause" % (s.starts[-1] - t0))


def test_pms_continuous_warm_up_and_command_gap_across_the_wrap():
    w, clock, uart, dev, m = pms_rig({}, PERIOD - 60000)
    drv = PMS5003(uart, clock)        # continuous: woke at boot, never woken again
    boot = w.now_ms
    drv.set_passive()
    clock.sleep_ms(31000)
    eq(drv.warm_ms_left(30000), 0, "warm")
    for at in (HALF - 10000, HALF + 10, HALF + 29000, PERIOD - 5000, PERIOD + 10, PERIOD + 20000, 14 * DAY_MS):
        clock.sleep_ms(boot + at - w.now_ms)
        left = drv.warm_ms_left(30000)
        check(left == 0, "warm-up of %d ms left at %.2f h of uptime" % (left, at / 3600000))
        t0 = w.now_ms
        check(drv.set_passive(), "passive")
        check(w.now_ms - t0 < COMMAND_GAP_MS + 200, "command waited %d ms" % (w.now_ms - t0))
    # a real wake still restarts the warm-up
    drv.sleep()
    drv.wake()
    check(drv.warm_ms_left(30000) > 29000, "warm-up not restarted")


def test_board_left_ms_and_sleep_are_bounded():
    w = world({}, PERIOD - 1000)
    clock = vclock.VirtualClock(w)
    m = vmachine.Machine(w, clock, {}, "power-on", b"\x24\x0a\xc4\x01\x02\x03")
    b = board_mod.Board(machine=m, clock=clock, name="test")
    t = b.ticks_add(b.ticks_ms(), 5000)       # across the wrap
    eq(b.left_ms(t, 10000), 5000, "left")
    clock.sleep_ms(6000)
    eq(b.left_ms(t, 10000), 0, "passed")
    clock.sleep_ms(PERIOD - 26000)            # passed 12.4 days ago: ticks_diff says "25 s ahead"
    check(b.ticks_diff(t, b.ticks_ms()) > 0, "the rig did not make a stale deadline")
    eq(b.left_ms(t, 10000), 0, "a stale deadline counts as passed")
    t0 = w.now_ms
    b.sleep_ms(6 * DAY_MS)                    # a wait computed wrong: cut to the longest interval
    eq(w.now_ms - t0, board_mod.SLEEP_MAX_MS, "slept")
    eq(b.long_sleeps, 1, "counted")
    t0 = w.now_ms
    b.sleep_ms(-5)
    eq(w.now_ms, t0, "negative sleep")


if __name__ == "__main__":
    import mptest
    mptest.main(globals())
