# Journal tests under MicroPython, on a real littlefs2 image (the virtual board's flash device).
# Records are checked field by field against the readings that were stored.
import os
import sys
import vfs

import mptest
from mptest import eq
import vworld
import vclock
import vmachine
import blockdev
from airkit_fw import board as board_mod
from airkit_fw import journal as jmod
from airkit_fw import flags

import time as _time
try:
    os.stat("/dev/shm")
    _TMP = "/dev/shm"
except OSError:
    _TMP = "/tmp"
IMG = "%s/airkit-journal-test-%d.img" % (_TMP, _time.time_ns() % 1000000007)
MNT = "/jflash"


def fresh_board(ticks_start=0):
    try:
        vfs.umount(MNT)
    except OSError:
        pass
    try:
        os.remove(IMG)
    except OSError:
        pass
    return remount(ticks_start)


def remount(ticks_start=0, w=None):
    try:
        vfs.umount(MNT)
    except OSError:
        pass
    dev = blockdev.FileBlockDev(IMG)
    if dev.fresh:
        vfs.VfsLfs2.mkfs(dev)
    vfs.mount(vfs.VfsLfs2(dev), MNT)
    w = w or vworld.world(ticks_start=ticks_start)
    clock = vclock.VirtualClock(w)
    m = vmachine.Machine(w, clock, {}, "power-on", b"\x24\x0a\xc4\x01\x02\x03")
    b = board_mod.Board(machine=m, clock=clock, fs_root=MNT, name="test")
    b.dev = dev
    b.world = w
    return b


def reading(i, t_known=True):
    d = {"ticks": 1000 * i, "flags": ["dht_stuck"] if i % 7 == 0 else [], "frames": 9, "checksum_errors": i % 3,
         "rh": 40.0 + (i % 50) / 10, "temp_c": -5.5 + (i % 30), "pm25_corrected": None}
    keys = ("pm1_cf1", "pm25_cf1", "pm10_cf1", "pm1_atm", "pm25_atm", "pm10_atm",
            "n0_3", "n0_5", "n1_0", "n2_5", "n5_0", "n10")
    for k in range(12):
        d[keys[k]] = (i * 13 + k * 7) % 3000
    return d


def check(rec, d, seq, t):
    eq(rec["seq"], seq, "seq")
    eq(rec["time"], t, "time")
    for k in ("pm1_cf1", "pm25_cf1", "pm10_cf1", "pm1_atm", "pm25_atm", "pm10_atm", "n0_3", "n10"):
        eq(rec[k], d[k], k)
    eq(rec["rh"], round(d["rh"] * 10) / 10, "rh")
    eq(rec["temp_c"], round(d["temp_c"] * 10) / 10, "temp")
    eq(rec["flags_bits"], flags.bits(d["flags"]), "flags")
    eq(rec["checksum_errors"], d["checksum_errors"], "cksum")


T0 = 1767571200


def test_roundtrip_and_reboot():
    b = fresh_board()
    j = jmod.Journal(b, log=lambda m: None)
    for i in range(1, 101):
        eq(j.append(reading(i), T0 + 300 * i, 1000 * i), i)
    recs = j.read_after(0, 1000)
    eq(len(recs), 100)
    for i in range(1, 101):
        check(recs[i - 1], reading(i), i, T0 + 300 * i)
    eq([r["seq"] for r in j.read_after(57, 5)], [58, 59, 60, 61, 62])
    j.ack("up", 60, 60)
    j.save_meta()
    # reboot: a new journal on the same flash continues the sequence and keeps the cursor
    b = remount()
    j = jmod.Journal(b, log=lambda m: None)
    eq(j.last_seq, 100)
    eq(j.cursor("up"), 60)
    eq(j.pending_for("up"), 40)
    eq(j.append(reading(101), T0 + 30300, 101000), 101)
    eq([r["seq"] for r in j.read_after(98, 10)], [99, 100, 101])


def test_iter_after_reuses_one_dict_and_matches_read_after():
    import gc
    b = fresh_board()
    j = jmod.Journal(b, log=lambda m: None)
    for i in range(1, 61):
        d = reading(i)
        if i % 2:                       # every other reading has a second PMS (B keys come and go)
            for k in ("pm1_cf1", "pm25_cf1", "pm10_cf1", "pm1_atm", "pm25_atm", "pm10_atm",
                      "n0_3", "n0_5", "n1_0", "n2_5", "n5_0", "n10"):
                d[k + "_b"] = d[k] + 1
            d["frames_b"] = 7
        j.append(d, T0 + 300 * i, 1000 * i)
    for cursor, limit in ((0, 1000), (20, 7), (47, 30), (59, 5)):
        want = j.read_after(cursor, limit)
        got = []
        same = None
        for r in j.iter_after(cursor, limit):
            same = r if same is None else same
            if r is not same:
                raise AssertionError("iter_after must reuse one dict")
            got.append(dict(r))
        eq([sorted(r.items()) for r in got], [sorted(r.items()) for r in want], "cursor %d" % cursor)
    # nothing kept grows with the batch: 48 records read one by one
    gc.collect()
    before = gc.mem_alloc()
    n = 0
    for r in j.iter_after(0, 48):
        n += 1
    gc.collect()
    eq(n, 48)
    if gc.mem_alloc() - before > 256:
        raise AssertionError("iter_after kept %d bytes" % (gc.mem_alloc() - before))


def test_batch_reads_records_lazily_like_read_after():
    b = fresh_board()
    j = jmod.Journal(b, log=lambda m: None)
    for i in range(1, 61):
        j.append(reading(i), T0 + 300 * i, 1000 * i)
    eq(j.batch(60, 10), None)
    for cursor, limit in ((0, 1000), (20, 7), (47, 30), (58, 5)):
        want = j.read_after(cursor, limit)
        bt = j.batch(cursor, limit)
        eq(len(bt), len(want), "cursor %d" % cursor)
        eq([r["seq"] for r in bt], [r["seq"] for r in want])
        eq(bt[0]["seq"], want[0]["seq"])
        eq(bt[-1]["seq"], want[-1]["seq"])
        eq(sorted(bt[len(want) // 2].items()), sorted(want[len(want) // 2].items()))
        try:
            bt[len(want)]
            raise AssertionError("index past the batch")
        except IndexError:
            pass
    # a 48-record batch kept while it is sent holds no heap that grows with it
    import gc
    for i in range(61, 121):
        j.append(reading(i), T0 + 300 * i, 1000 * i)
    gc.collect()
    before = gc.mem_alloc()
    bt = j.batch(0, 48)
    n = 0
    for r in bt:
        n += 1
    last = bt[-1]["seq"]
    gc.collect()
    eq((n, last), (48, 48))
    if gc.mem_alloc() - before > 512:
        raise AssertionError("a batch of 48 kept %d bytes" % (gc.mem_alloc() - before))


def test_corrupt_record_skipped_never_parsed():
    b = fresh_board()
    j = jmod.Journal(b, log=lambda m: None)
    for i in range(1, 49):
        j.append(reading(i), T0 + 300 * i, 1000 * i)
    seg = "%s/j/s%d" % (MNT, j.segments[0])
    with open(seg, "rb") as f:
        data = bytearray(f.read())
    eq(len(data), 48 * 80)
    data[10 * 80 + 25] ^= 0x40          # one bit flipped inside record 11's values
    with open(seg, "wb") as f:
        f.write(data)
    b = remount()
    j = jmod.Journal(b, log=lambda m: None)
    recs = j.read_after(0, 1000)
    eq([r["seq"] for r in recs], [i for i in range(1, 49) if i != 11])
    for r in recs:
        check(r, reading(r["seq"]), r["seq"], T0 + 300 * r["seq"])
    if j.skipped_corrupt < 1:
        raise AssertionError("the corrupt record was not counted")


def test_torn_tail_and_torn_pending_file():
    b = fresh_board()
    j = jmod.Journal(b, log=lambda m: None)
    for i in range(1, 25):                # exactly one batch: in the segment
        j.append(reading(i), T0 + 300 * i, 1000 * i)
    seg = "%s/j/s%d" % (MNT, j.segments[0])
    with open(seg, "ab") as f:            # half a record appended, as a power cut would leave it
        f.write(bytes(j._rec[:37]))
    for i in range(25, 28):               # three pending records (tiny files)
        j.append(reading(i), T0 + 300 * i, 1000 * i)
    with open("%s/j/p28" % MNT, "wb") as f:  # a torn pending file
        f.write(b"\xa7\x01" + b"\x00" * 30)
    b = remount()
    j = jmod.Journal(b, log=lambda m: None)
    eq(j.last_seq, 27)
    for i in range(28, 60):
        j.append(reading(i), T0 + 300 * i, 1000 * i)
    recs = j.read_after(0, 1000)
    eq([r["seq"] for r in recs], list(range(1, 60)))
    for r in recs:
        check(r, reading(r["seq"]), r["seq"], T0 + 300 * r["seq"])
    eq([r["seq"] for r in j.read_after(30, 3)], [31, 32, 33])


def test_bounded_oldest_dropped_and_counted():
    b = fresh_board()
    jmod.SEG_RECORDS, jmod.MAX_SEGMENTS, jmod.BATCH = 16, 3, 8
    try:
        j = jmod.Journal(b, log=lambda m: None)
        j.cursor("slow")
        j.cursor("fast")
        for i in range(1, 101):
            j.append(reading(i), T0 + 300 * i, 1000 * i)
            j.ack("fast", i, 1)
        eq(len(j.segments), 3)
        recs = j.read_after(0, 1000)
        first = recs[0]["seq"]
        eq([r["seq"] for r in recs], list(range(first, 101)))
        if len(recs) > 16 * 3 + 8:       # full segments plus one batch not yet folded in
            raise AssertionError("more than the bound was kept: %d" % len(recs))
        if len(recs) < 16 * 2:
            raise AssertionError("dropped more than needed: %d kept" % len(recs))
        # the slow uplink never delivered: everything removed was dropped for it
        eq(j.meta["dropped"], first - 1)
        eq(j.cursor("slow"), first - 1)
        eq(j.pending_for("fast"), 0)
    finally:
        jmod.SEG_RECORDS, jmod.MAX_SEGMENTS, jmod.BATCH = 512, 10, 24


def test_capacity_seven_days_at_5_min():
    n = jmod.SEG_RECORDS * jmod.MAX_SEGMENTS
    if n * 300 < 7 * 86400:
        raise AssertionError("bound holds %d readings: less than 7 days at 5 min" % n)
    if n * jmod.REC_SIZE > 1024 * 1024:
        raise AssertionError("bound does not leave half the 2 MiB filesystem free")
    b = fresh_board()
    j = jmod.Journal(b, log=lambda m: None)
    days7 = 7 * 288
    for i in range(1, days7 + 1):
        j.append(reading(i), T0 + 300 * i, 1000 * i)
    j.flush()
    eq(len(j.read_after(0, 10000)), days7)
    eq(j.meta["dropped"], 0)
    st = os.statvfs(MNT)
    if st[0] * st[3] < 1024 * 1024:
        raise AssertionError("less than 1 MiB free after 7 days")


def test_time_fixup_from_ticks_across_wrap():
    period = 1 << 30
    b = fresh_board(ticks_start=period - 150000)
    j = jmod.Journal(b, log=lambda m: None)
    j.untimed_this_boot = True
    t_sample = [period - 120000, period - 10000, 50000]      # the tick counter wraps in between
    for k in range(3):
        j.append(reading(k + 1), None, t_sample[k])
    eq(j.read_after(0, 10)[0]["time"], None)
    eq(j.read_after(0, 10)[0]["flags_bits"] & flags.TIME_UNSYNCED, 0)     # the reading dict had none
    # NTP succeeds at tick 80000 (after the wrap), unix time T0 + 1000
    j.time_synced(80000, T0 + 1000)
    recs = j.read_after(0, 10)
    eq([r["time"] for r in recs], [T0 + 1000 - 200, T0 + 1000 - 90, T0 + 1000 - 30])
    for r in recs:
        eq(r["flags_bits"] & flags.TIME_FIXED, flags.TIME_FIXED, "flag")
        eq("time_fixed" in flags.names(r["flags_bits"]), True, "name")
    # another boot never synced: its readings stay without a time
    b = remount()
    j2 = jmod.Journal(b, log=lambda m: None)
    j2.append(reading(9), None, 5000)
    eq(j2.read_after(3, 10)[0]["time"], None)
    eq(j2.read_after(0, 10)[0]["time"], T0 + 1000 - 200)   # the anchor was kept on flash


def test_time_fixup_for_readings_more_than_6_days_before_the_sync():
    # untimed for 10 days, then NTP: ticks_diff alone would put the oldest readings in the future
    period = 1 << 30
    b = fresh_board()
    j = jmod.Journal(b, log=lambda m: None)
    j.untimed_this_boot = True
    ages_s = [10 * 86400, 7 * 86400, 6 * 86400, 3600, 0]      # seconds before the sync
    sync_ticks = 10 * 86400 * 1000 + 5000
    for k in range(len(ages_s)):
        j.append(reading(k + 1), None, (sync_ticks - ages_s[k] * 1000) % period)
    j.time_synced(sync_ticks % period, T0)
    eq([r["time"] for r in j.read_after(0, 10)], [T0 - a for a in ages_s])


def test_encode_is_allocation_light():
    import gc
    b = fresh_board()
    buf = bytearray(jmod.REC_SIZE)
    d = reading(5)
    jmod.encode(buf, 1, T0, 1, 1, d)
    gc.collect()
    before = gc.mem_free()
    for i in range(50):
        jmod.encode(buf, i, T0, i, 1, d)
    used = (before - gc.mem_free()) / 50
    if used > 1200:
        raise AssertionError("encode allocates %d bytes per record" % used)


try:
    mptest.main(globals())
finally:
    try:
        os.remove(IMG)
    except OSError:
        pass
