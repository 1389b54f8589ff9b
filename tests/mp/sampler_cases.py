# The sampling cycle on the board layer with the virtual board's stand-ins:
# warm-up honoured, passive reads, median, sleep afterwards. MicroPython.
from vworld import pms_rig
import vdht
from airkit_fw import board as board_mod
from airkit_fw import config, sampler
from airkit_fw.sampler import median_into, Sampler


def check(cond, msg=""):
    if not cond:
        raise AssertionError(msg)


def station(faults=None, user=None):
    w, clock, uart, dev, m = pms_rig(faults)
    vdht.attach(w, 15, {})
    b = board_mod.Board(machine=m, network=None, dht=vdht, clock=clock, fs_root="/tmp", name="test")
    cfg = config.merged(user or {})
    return w, b, dev, Sampler(b, cfg)


def test_median():
    from array import array
    check(median_into(array("H", [5, 1, 9]), 3) == 5, "odd")
    check(median_into(array("H", [7, 7, 7, 7, 900, 7, 0, 7, 7]), 9) == 7, "outliers do not move it")
    check(median_into(array("H", [4, 1, 3, 2]), 4) == 2, "lower median")
    check(median_into(array("H", [3]), 1) == 3, "one")


def test_cycle_discards_warm_up_and_sleeps():
    w, b, dev, s = station()
    t0 = w.now_ms
    r = s.sample()
    cmds = dev.log
    wake = [t for (t, c, d) in cmds if (c, d) == (0xE4, 1)]
    reads = [t for (t, c, d) in cmds if c == 0xE2]
    sleeps = [t for (t, c, d) in cmds if (c, d) == (0xE4, 0)]
    check(len(wake) == 1 and len(reads) == 9 and len(sleeps) == 1, "commands %r" % (cmds,))
    check(reads[0] - wake[0] >= 30000, "first read %d ms after wake" % (reads[0] - wake[0]))
    check(sleeps[0] > reads[-1], "not put back to sleep")
    check(not dev.awake, "the PMS is left running")
    check(r.frames == 9 and r.warmup_ok and r.flags == 0, "frames %d flags %d" % (r.frames, r.flags))
    on = r.laser_on_s
    check(30 <= on <= 45, "laser on %d s" % on)
    check(s.duty_cycle(300) <= 0.15, "duty %r" % s.duty_cycle(300))


def test_median_of_the_reads_is_reported():
    w, b, dev, s = station()
    r = s.sample()
    ch = s.channels[0]
    for k in range(12):
        col = sorted(ch.store[i * 12 + k] for i in range(ch.n))
        check(r.values[k] == col[(ch.n - 1) // 2], "value %d: %d not the median of %r" % (k, r.values[k], col))


def test_silent_pms_flags_missing():
    w, b, dev, s = station({"silent": [[0, 10]]})
    r = s.sample()
    check(r.frames == 0 and r.flags & sampler.PMS_MISSING, "flags %d" % r.flags)
    check("pms_missing" in sampler.flag_names(r.flags), "names")


if __name__ == "__main__":
    import mptest
    mptest.main(globals())
