# PMS5003 command driver against the simulated sensor (real byte protocol) on a
# virtual UART, in virtual time. Run under MicroPython.
from vworld import pms_rig
from airkit_fw.pms5003 import PMS5003, FrameDecoder, COMMAND_GAP_MS


def check(cond, msg=""):
    if not cond:
        raise AssertionError(msg)


def rig(faults=None, ticks_start=0):
    w, clock, uart, dev, m = pms_rig(faults, ticks_start)
    drv = PMS5003(uart, clock)
    return w, clock, uart, dev, drv


def test_active_mode_frames_after_power_on():
    w, clock, uart, dev, drv = rig()
    check(not drv.passive, "starts in active mode")
    t0 = w.now_ms
    check(drv.read(6000), "no pushed frame within 6 s of power-on")
    check(w.now_ms - t0 <= 6000, "waited too long")
    check(drv.decoder.frames == 1 and drv.decoder.checksum_errors == 0, "counters")
    v = drv.decoder.values
    check(v[1] > 0 and v[6] > v[7] > v[8], "plausible values %r" % (v,))
    check(dev.log == [], "no command needed in active mode")


def test_set_passive_is_confirmed_and_stops_pushing():
    w, clock, uart, dev, drv = rig()
    clock.sleep_ms(5000)
    check(drv.set_passive(), "passive mode not confirmed by the reply")
    check(dev.log[-1][1:] == (0xE1, 0), "sent %r" % (dev.log,))
    check(not dev.active and drv.passive, "sensor still active")
    drv.drain()
    clock.sleep_ms(10000)
    check(uart.any() == 0, "frames pushed in passive mode")


def test_passive_read_one_frame_per_request():
    w, clock, uart, dev, drv = rig()
    check(drv.set_passive(), "passive")
    for i in range(5):
        before = dev.stats["frames"]
        check(drv.read(), "passive read %d failed" % i)
        check(dev.log[-1][1:] == (0xE2, 0), "read request not sent")
        check(dev.stats["frames"] == before + 1, "the sensor sent %d frames" % (dev.stats["frames"] - before))
        clock.sleep_ms(1000)
    check(drv.decoder.frames == 5, "frames %d" % drv.decoder.frames)


def test_data_frame_before_reply_is_tolerated():
    w, clock, uart, dev, drv = rig()
    clock.sleep_ms(4000)
    # the sensor is in the middle of pushing a frame when the mode command goes out
    dev.next_push_ms = w.now_ms
    uart.any()
    check(drv.set_passive(), "reply after a data frame not recognised")
    check(drv.decoder.replies == 1, "replies %d" % drv.decoder.replies)
    check(drv.read(), "read after passive")


def test_sleep_stops_frames_and_reads_time_out():
    w, clock, uart, dev, drv = rig()
    drv.set_passive()
    check(drv.read(), "read before sleep")
    check(drv.sleep(), "sleep not confirmed")
    check(dev.log[-1][1:] == (0xE4, 0), "sleep command")
    check(not dev.awake and not drv.awake, "still awake")
    clock.sleep_ms(60000)
    check(uart.any() == 0, "bytes while asleep")
    t0 = w.now_ms
    check(not drv.read(2500), "a frame while asleep")
    waited = w.now_ms - t0
    check(2500 <= waited <= 2500 + COMMAND_GAP_MS + 50, "read waited %d ms" % waited)


def test_wake_resends_passive_mode():
    w, clock, uart, dev, drv = rig()
    drv.set_passive()
    drv.sleep()
    clock.sleep_ms(30000)
    drv.wake()
    cmds = [(c, d) for (_, c, d) in dev.log]
    check(cmds[-2:] == [(0xE4, 1), (0xE1, 0)], "after wake sent %r" % (cmds,))
    check(dev.awake and not dev.active, "sensor not in passive mode after wake")
    check(drv.warm_ms_left() > 29000, "warm-up not restarted: %d" % drv.warm_ms_left())
    clock.sleep_ms(3000)
    check(drv.read(), "read after wake")
    clock.sleep_ms(30000)
    check(drv.warm_ms_left() == 0, "warm-up never ends")


def test_at_least_100_ms_between_commands():
    w, clock, uart, dev, drv = rig()
    drv.set_passive(0)
    drv.read(0)
    drv.read(0)
    drv.sleep(0)
    drv.wake()
    drv.set_active(0)
    drv.set_passive(0)
    times = [t for (t, _, _) in dev.log]
    check(len(times) == 8, "commands %r" % (dev.log,))
    for a, b in zip(times, times[1:]):
        check(b - a >= COMMAND_GAP_MS, "commands %d ms apart: %r" % (b - a, times))


def test_bounded_waits_when_the_sensor_is_silent():
    w, clock, uart, dev, drv = rig({"silent": [[0, 100]]})
    t0 = w.now_ms
    check(not drv.set_passive(1000), "reply from a silent sensor")
    check(w.now_ms - t0 <= 1000 + 50, "set_passive waited %d ms" % (w.now_ms - t0))
    t0 = w.now_ms
    check(not drv.read(2500), "frame from a silent sensor")
    check(w.now_ms - t0 <= 2500 + COMMAND_GAP_MS + 50, "read waited %d ms" % (w.now_ms - t0))
    t0 = w.now_ms
    check(not drv.sleep(1000), "sleep reply from a silent sensor")
    drv.wake()
    check(w.now_ms - t0 <= 1000 + 1000 + 3 * COMMAND_GAP_MS + 100, "sleep+wake waited %d ms" % (w.now_ms - t0))


def test_feeds_the_watchdog_while_waiting():
    w, clock, uart, dev, _ = rig({"silent": [[0, 100]]})
    fed = []
    drv = PMS5003(uart, clock, feed_wdt=lambda: fed.append(w.now_ms))
    drv.read(2500)
    check(len(fed) > 10, "fed %d times" % len(fed))
    gaps = [b - a for a, b in zip(fed, fed[1:])]
    check(max(gaps) <= 1000, "longest gap between feeds %d ms" % max(gaps))


def test_garbage_and_bad_checksums_from_the_sensor():
    w, clock, uart, dev, drv = rig({"garbage_rate": 0.5, "checksum_error_rate": 0.3})
    drv.set_passive()
    ok = 0
    for i in range(40):
        if drv.read():
            ok += 1
            check(drv.decoder.values[6] > 0, "bad values accepted")
        clock.sleep_ms(500)
    check(drv.decoder.checksum_errors > 3, "checksum errors %d" % drv.decoder.checksum_errors)
    check(drv.decoder.frames == ok, "frames")
    check(ok >= 20, "only %d of 40 reads" % ok)


def test_tick_wrap_does_not_break_waits():
    w, clock, uart, dev, drv = rig(ticks_start=(1 << 30) - 1500)
    drv.set_passive()
    for i in range(5):
        t0 = w.now_ms
        check(drv.read(), "read %d across the wrap" % i)
        check(w.now_ms - t0 < 1000, "read %d took %d ms" % (i, w.now_ms - t0))
        clock.sleep_ms(400)
    check(clock.ticks_ms() < 100000, "the tick counter did not wrap")
    drv.sleep()
    t0 = w.now_ms
    check(not drv.read(2500), "frame while asleep")
    check(w.now_ms - t0 <= 2700, "timeout across wrap %d" % (w.now_ms - t0))


if __name__ == "__main__":
    import mptest
    mptest.main(globals())
