"""The on-flash journal: every reading is stored before any upload is tried.

Why this exists: the top complaint against existing stations is data lost
while offline. Here each reading becomes one fixed-size, CRC-protected record
on flash; uplinks read from the journal with their own cursors and
acknowledge what they delivered, so a long WiFi outage or a reboot costs no
data, and backfilled readings keep their original timestamps.

Record (80 bytes, little-endian)::

    0  magic 0xA7, 1 version 1, 2 flags u16 (flags.py bits; bit 15 = time fixed up)
    4  seq u32 (journal sequence, never reused)   8  UTC unix time u32 (0 = unknown)
    12 ticks_ms u32 at sampling                   16 boot number u16
    18 present bits u8 (1 PMS A, 2 PMS B, 4 rh, 8 temp, 16 corrected PM2.5)
    19 frames u8      20 12 x u16 PMS A (pms5003.KEYS order)   44 12 x u16 PMS B
    68 rh x10 i16     70 temp x10 i16     72 corrected PM2.5 x10 u16
    74 checksum errors u8, 75 frames B u8, 76 CRC-32 of bytes 0..75

A record whose magic, version or CRC does not match (a torn write after a
power cut) is skipped and counted, never parsed as data.

How it is written (flash wear, measured on the virtual board's littlefs):
appending one record per reading to a file (open-append-close) rewrote a
whole 4 KB block each time: ~2,100 bytes written and ~1 erase per reading.
Instead each reading is first written as its own tiny file ``j/p<seq>``
(littlefs keeps files this small inline in the directory's metadata log: an
append to that log, no data block erased), so a power cut loses at most the
reading being written; every ``BATCH`` readings the pending records are
appended to the current segment in one write and the tiny files removed.
That costs about a quarter of the bytes and a sixth of the erases
(``make bench`` reports ``journal_write_bytes_per_reading``).

Size bound and policy when full: segments ``j/s<n>`` of ``SEG_RECORDS``
records; at most ``MAX_SEGMENTS`` segments (5,120 readings, 400 KB: 17.7 days
at 5-minute readings, 3.5 days at 1-minute). When a new segment would exceed
that, the **oldest segment is deleted**; records in it that some uplink had
not yet delivered are counted in ``dropped`` (reported by ``airkit sim`` and
the status line).

Cursors: each uplink acknowledges the last journal seq it delivered; cursors,
counters and time anchors are kept in ``j/meta`` (write-then-rename), written
at most every ``META_EVERY_MS`` and at every batch, so after a reboot an
uplink may resend a few readings: delivery is at-least-once, and receivers
de-duplicate by (device, timestamp).

Readings taken before the clock was ever set store time 0 with their ticks
and boot number; when NTP succeeds later in the same boot, an anchor
(boot, ticks, unix) is saved and readers compute the time from the ticks
(``ticks_diff``; those readings were all taken before the anchor, so a
positive difference means the counter wrapped once: valid up to one tick
period, 12.4 days on the ESP32, before the clock was set). Readings whose boot
never got a time stay flagged ``time_unsynced`` with no time.
"""

import json
import os
import struct

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

try:
    from binascii import crc32
except ImportError:  # pragma: no cover
    from zlib import crc32

from airkit_fw.pms5003 import KEYS
from airkit_fw import flags as flags_mod
from airkit_fw.flags import TIME_FIXED, TIME_UNSYNCED

REC_SIZE = const(80)
_BODY = const(76)
MAGIC = const(0xA7)
VERSION = const(1)
BATCH = 24                 # readings per segment append
SEG_RECORDS = 512          # records per segment file
MAX_SEGMENTS = 10          # bound: 5,120 records
META_EVERY_MS = const(600000)      # cursor saves at most every 10 min (a power cut re-sends <= 10 min: de-duplicated)
DIR = "j"
_FMT = "<BBHIIIHBB12H12HhhHBBI"

P_PMS_A = const(1)
P_PMS_B = const(2)
P_RH = const(4)
P_TEMP = const(8)
P_CORR = const(16)


def _u16(v):
    if v is None:
        return 0
    v = int(v)
    return 0 if v < 0 else (65535 if v > 65535 else v)


def _i16x10(v):
    v = int(round(v * 10))
    return -32768 if v < -32768 else (32767 if v > 32767 else v)


def encode(buf, seq, unix_t, ticks, boot, d):
    """Pack reading dict ``d`` into ``buf`` (a bytearray of REC_SIZE). Returns buf."""
    present = 0
    a = [0] * 12
    b = [0] * 12
    if d.get(KEYS[0]) is not None:
        present |= P_PMS_A
        for k in range(12):
            a[k] = _u16(d.get(KEYS[k]))
    if d.get(KEYS[0] + "_b") is not None:
        present |= P_PMS_B
        for k in range(12):
            b[k] = _u16(d.get(KEYS[k] + "_b"))
    rh = d.get("rh")
    tc = d.get("temp_c")
    corr = d.get("pm25_corrected")
    if rh is not None:
        present |= P_RH
    if tc is not None:
        present |= P_TEMP
    if corr is not None:
        present |= P_CORR
    flags = d.get("flags_bits")
    if flags is None:                       # a dict from elsewhere (names: an edge)
        flags = flags_mod.bits(d.get("flags", ()))
    struct.pack_into(_FMT, buf, 0, MAGIC, VERSION, flags & 0xFFFF, seq & 0xFFFFFFFF,
                     (unix_t or 0) & 0xFFFFFFFF, ticks & 0xFFFFFFFF, boot & 0xFFFF, present,
                     min(int(d.get("frames") or 0), 255),
                     a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11],
                     b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
                     _i16x10(rh) if rh is not None else 0, _i16x10(tc) if tc is not None else 0,
                     _u16(round(corr * 10)) if corr is not None else 0,
                     min(int(d.get("checksum_errors") or 0), 255), min(int(d.get("frames_b") or 0), 255), 0)
    struct.pack_into("<I", buf, _BODY, crc32(memoryview(buf)[:_BODY]) & 0xFFFFFFFF)
    return buf


def valid(buf, off=0):
    """True when the record at ``off`` has the right magic, version and CRC."""
    if buf[off] != MAGIC or buf[off + 1] != VERSION:
        return False
    c = buf[off + 76] | (buf[off + 77] << 8) | (buf[off + 78] << 16) | (buf[off + 79] << 24)
    return (crc32(memoryview(buf)[off:off + _BODY]) & 0xFFFFFFFF) == c


def rec_seq(buf, off=0):
    return buf[off + 4] | (buf[off + 5] << 8) | (buf[off + 6] << 16) | (buf[off + 7] << 24)


def decode(buf, off=0, into=None):
    """A valid record as a dict (caller checked ``valid``); ``into``: fill that dict instead
    of a new one (its table is reused)."""
    v = struct.unpack_from(_FMT, buf, off)
    present = v[7]
    d = {} if into is None else into
    d["seq"] = v[3]
    d["time"] = v[4] or None
    d["ticks"] = v[5]
    d["boot"] = v[6]
    d["flags_bits"] = v[2]
    d["frames"] = v[8]
    for k in range(12):
        d[KEYS[k]] = v[9 + k] if present & P_PMS_A else None
    if present & P_PMS_B:
        for k in range(12):
            d[KEYS[k] + "_b"] = v[21 + k]
        d["frames_b"] = v[37]
    elif "frames_b" in d:
        for k in range(12):
            d.pop(KEYS[k] + "_b", None)
        del d["frames_b"]
    d["rh"] = v[33] / 10 if present & P_RH else None
    d["temp_c"] = v[34] / 10 if present & P_TEMP else None
    d["pm25_corrected"] = v[35] / 10 if present & P_CORR else None
    d["checksum_errors"] = v[36]
    return d


def _listdir(path):
    try:
        return os.listdir(path)
    except OSError:
        return []


class Journal:
    """The station's journal service (``on_reading`` stores, ``poll`` does nothing)."""

    def __init__(self, board, log=print):
        self.board = board
        self.log = log
        self.dir = board.path(DIR)
        try:
            os.mkdir(self.dir)
        except OSError:
            pass
        self._rec = bytearray(REC_SIZE)
        self._chunk = bytearray(REC_SIZE * 4)      # reads: 4 records per call, one buffer
        # records written as tiny files, not yet in a segment: one buffer allocated here,
        # while the heap is still whole, instead of a bytes object per reading and a
        # join of them (which needs ~2 KB contiguous in a fragmented heap)
        self._pend = bytearray(REC_SIZE * BATCH)
        self.n_pending = 0
        self.segments = []         # segment numbers, oldest first
        self.seg_first = {}        # segment number -> first seq in it (cached)
        self.last_seq = 0
        self.skipped_corrupt = 0
        self.meta = {"cursors": {}, "delivered": {}, "dropped": 0, "boot": 0, "anchors": {}}
        self._meta_dirty = False
        self._meta_at = board.ticks_ms()
        self._load_meta()
        self.meta["boot"] = (self.meta.get("boot", 0) + 1) & 0xFFFF
        self.boot = self.meta["boot"]
        self.untimed_this_boot = False
        self._recover()
        self.save_meta()

    # --- start-up ------------------------------------------------------------------
    def _load_meta(self):
        for name in ("meta", "meta.tmp"):
            try:
                with open(self.dir + "/" + name) as f:
                    m = json.loads(f.read())
                if isinstance(m, dict) and isinstance(m.get("cursors"), dict):
                    for k in self.meta:
                        m.setdefault(k, self.meta[k])
                    self.meta = m
                    return
            except (OSError, ValueError):
                pass

    def _recover(self):
        """Find segments and pending records; skip torn records; fold pending into a segment."""
        segs = []
        pend = []
        for name in _listdir(self.dir):
            try:
                if name[0] == "s":
                    segs.append(int(name[1:]))
                elif name[0] == "p":
                    pend.append(int(name[1:]))
            except ValueError:
                pass
        segs.sort()
        pend.sort()
        self.segments = segs
        last = 0
        if segs:
            last = self._scan_last(segs[-1])
            if last == 0 and len(segs) > 1:
                last = self._scan_last(segs[-2])
        buf = self._rec
        for seq in pend:
            path = "%s/p%d" % (self.dir, seq)
            ok = False
            n = 0
            try:
                with open(path, "rb") as f:
                    n = f.readinto(buf)
                ok = n == REC_SIZE and valid(buf) and rec_seq(buf) > last
            except OSError:
                pass
            if ok:
                if self.n_pending >= BATCH:
                    self.last_seq = last
                    self.flush()
                self._pend[self.n_pending * REC_SIZE:(self.n_pending + 1) * REC_SIZE] = buf
                self.n_pending += 1
                last = rec_seq(buf)
            else:
                if n and (n != REC_SIZE or not valid(buf)):
                    self.skipped_corrupt += 1
                try:
                    os.remove(path)
                except OSError:
                    pass
        self.last_seq = max(last, self.meta.get("last_seq", 0))
        if self.n_pending:
            self.flush()

    def _scan_last(self, seg):
        """Highest valid seq in a segment (torn records skipped and counted)."""
        last = 0
        for off_buf, n in self._iter_chunks(seg):
            for off in range(0, n - REC_SIZE + 1, REC_SIZE):
                if valid(off_buf, off):
                    s = rec_seq(off_buf, off)
                    if s > last:
                        last = s
                else:
                    self.skipped_corrupt += 1
        return last

    def _iter_chunks(self, seg, start=0):
        buf = self._chunk
        try:
            f = open("%s/s%d" % (self.dir, seg), "rb")
        except OSError:
            return
        try:
            if start:
                f.seek(start)
            while True:
                n = f.readinto(buf)
                if not n:
                    break
                yield buf, n - n % REC_SIZE
                if n < len(buf):
                    break
        finally:
            f.close()

    # --- writing ------------------------------------------------------------------
    def on_reading(self, d):
        b = self.board
        t = b.unix_time()
        if t is None:
            self.untimed_this_boot = True
        self.append(d, t, d.get("ticks", b.ticks_ms()))

    def append(self, d, unix_t, ticks):
        seq = self.last_seq + 1
        rec = encode(self._rec, seq, unix_t, ticks, self.boot, d)
        path = "%s/p%d" % (self.dir, seq)
        with open(path, "wb") as f:
            f.write(rec)
        self.last_seq = seq
        i = self.n_pending * REC_SIZE
        self._pend[i:i + REC_SIZE] = rec
        self.n_pending += 1
        if self.n_pending >= BATCH:
            self.flush()
        return seq

    def flush(self):
        """Append the pending records to the current segment in one write."""
        n = self.n_pending
        if not n:
            return
        pend = self._pend
        seg = self.segments[-1] if self.segments else 0
        size = 0
        if self.segments:
            try:
                size = os.stat("%s/s%d" % (self.dir, seg))[6]
            except OSError:
                size = 0
        if not self.segments or size // REC_SIZE + n > SEG_RECORDS:
            seg = seg + 1 if self.segments else 1
            self.segments.append(seg)
            self.seg_first[seg] = rec_seq(pend)
            size = 0
        if size % REC_SIZE:
            # a torn tail (power cut mid-append): pad to a record boundary; the
            # padding fails its CRC and is skipped by readers
            pad = REC_SIZE - size % REC_SIZE
        else:
            pad = 0
        with open("%s/s%d" % (self.dir, seg), "ab") as f:
            if pad:
                f.write(bytes(pad))
            f.write(memoryview(pend)[:n * REC_SIZE])
        for off in range(0, n * REC_SIZE, REC_SIZE):
            try:
                os.remove("%s/p%d" % (self.dir, rec_seq(pend, off)))
            except OSError:
                pass
        self.n_pending = 0
        self._enforce_bound()
        self.meta["last_seq"] = self.last_seq
        self.save_meta()

    def _enforce_bound(self):
        while len(self.segments) > MAX_SEGMENTS:
            seg = self.segments.pop(0)
            cursors = self.meta["cursors"]
            lowest = None
            for k in cursors:
                if lowest is None or cursors[k] < lowest:
                    lowest = cursors[k]
            lost = 0
            for buf, n in self._iter_chunks(seg):
                for off in range(0, n - REC_SIZE + 1, REC_SIZE):
                    if valid(buf, off) and (lowest is None or rec_seq(buf, off) > lowest):
                        lost += 1
            if cursors:
                self.meta["dropped"] = self.meta.get("dropped", 0) + lost
            try:
                os.remove("%s/s%d" % (self.dir, seg))
            except OSError:
                pass
            self.seg_first.pop(seg, None)
            oldest = self.oldest_seq() - 1
            for k in cursors:
                if cursors[k] < oldest:
                    cursors[k] = oldest
            if lost and cursors:
                self.log("journal full: dropped %d undelivered readings (oldest first)" % lost)

    # --- time fix-up ---------------------------------------------------------------
    def time_synced(self, ticks, unix_t):
        """Called by timesync when the clock is set: anchor this boot's untimed readings."""
        if self.untimed_this_boot:
            self.meta["anchors"][str(self.boot)] = [ticks, int(unix_t)]
            anchors = self.meta["anchors"]
            if len(anchors) > 8:
                keys = sorted(anchors, key=lambda k: int(k))
                for k in keys[:-8]:
                    del anchors[k]
            self.untimed_this_boot = False
            self.save_meta()

    def _fix_time(self, d):
        if d["time"] is None:
            a = self.meta["anchors"].get(str(d["boot"]))
            if a is not None:
                b = self.board
                dt = b.ticks_diff(d["ticks"], a[0])
                if dt > 0:
                    # an untimed reading precedes the anchor: "after" means the ticks wrapped
                    dt -= b.ticks_add(0, -1) + 1
                d["time"] = a[1] + dt // 1000
                d["flags_bits"] = (d["flags_bits"] & ~TIME_UNSYNCED) | TIME_FIXED
        return d

    # --- reading --------------------------------------------------------------------
    def read_after(self, cursor, limit):
        """Up to ``limit`` decoded records with seq > cursor, oldest first (a list of dicts:
        ``iter_after`` needs no heap per record kept)."""
        out = []
        for buf, off in self._records_after(cursor, limit):
            out.append(self._fix_time(decode(buf, off)))
        return out

    def iter_after(self, cursor, limit):
        """The same records one by one, each decoded into the same dict (valid until the
        next: copy what you keep), so sending a batch record by record needs no heap
        that grows with the batch."""
        d = {}
        for buf, off in self._records_after(cursor, limit):
            yield self._fix_time(decode(buf, off, d))

    def batch(self, cursor, limit):
        """``Batch`` of up to ``limit`` records with seq > cursor, or None when there is none."""
        b = Batch(self, cursor, limit)
        return b if b.n else None

    def _records_after(self, cursor, limit):
        """(buffer, offset) of up to ``limit`` valid records with seq > cursor, oldest
        first; the buffer is the journal's own, reused: each pair is valid until the next."""
        n = 0
        for seg in self.segments:
            first = self._first_seq(seg)
            nxt = self._next_first(seg)
            if nxt is not None and nxt <= cursor + 1:
                continue
            start = 0
            if first is not None and cursor >= first:
                # records are in seq order, one per seq; torn-tail padding only moves
                # them later, so this offset is never past the wanted record
                start = (cursor - first + 1) * REC_SIZE
            while True:
                gap = False
                checked = start == 0
                for buf, got in self._iter_chunks(seg, start):
                    for off in range(0, got - REC_SIZE + 1, REC_SIZE):
                        if valid(buf, off):
                            s = rec_seq(buf, off)
                            if not checked:
                                checked = True
                                if s > cursor + 1:      # a gap: read the segment from its start
                                    gap = True
                                    break
                            if s > cursor:
                                yield buf, off
                                n += 1
                                if n >= limit:
                                    return
                    if gap:
                        break
                if not gap:
                    break
                start = 0
        pend = self._pend
        for off in range(0, self.n_pending * REC_SIZE, REC_SIZE):
            if rec_seq(pend, off) > cursor:
                yield pend, off
                n += 1
                if n >= limit:
                    return

    def _first_seq(self, seg):
        s = self.seg_first.get(seg)
        if s is None:
            for buf, n in self._iter_chunks(seg):
                for off in range(0, n - REC_SIZE + 1, REC_SIZE):
                    if valid(buf, off):
                        s = rec_seq(buf, off)
                        break
                break
            if s is not None:
                self.seg_first[seg] = s
        return s

    def _next_first(self, seg):
        i = self.segments.index(seg)
        if i + 1 < len(self.segments):
            return self._first_seq(self.segments[i + 1])
        if self.n_pending:
            return rec_seq(self._pend)
        return None

    # --- cursors ---------------------------------------------------------------------
    def cursor(self, name):
        c = self.meta["cursors"].get(name)
        if c is None:
            # a new uplink starts with what is still in the journal
            c = self.oldest_seq() - 1
            self.meta["cursors"][name] = c
            self._meta_dirty = True
        return c

    def oldest_seq(self):
        for seg in self.segments:
            s = self._first_seq(seg)
            if s is not None:
                return s
        if self.n_pending:
            return rec_seq(self._pend)
        return self.last_seq + 1

    def ack(self, name, seq, count):
        self.meta["cursors"][name] = seq
        dl = self.meta["delivered"]
        dl[name] = dl.get(name, 0) + count
        self._meta_dirty = True
        if self._meta_due():
            self.save_meta()

    def _meta_due(self):
        age = self.board.ticks_diff(self.board.ticks_ms(), self._meta_at)
        return age >= META_EVERY_MS or age < 0     # < 0: older than the ticks can tell

    def pending_for(self, name):
        return self.last_seq - self.cursor(name)

    def save_meta(self):
        self.meta["last_seq"] = self.last_seq
        tmp = self.dir + "/meta.tmp"
        with open(tmp, "w") as f:
            f.write(json.dumps(self.meta))
        os.rename(tmp, self.dir + "/meta")
        self._meta_dirty = False
        self._meta_at = self.board.ticks_ms()

    def poll(self, deadline):
        if self._meta_dirty and self._meta_due():
            self.save_meta()

    def status(self):
        return {"last_seq": self.last_seq, "dropped": self.meta.get("dropped", 0),
                "corrupt_skipped": self.skipped_corrupt, "boot": self.boot}


class Batch:
    """Up to ``limit`` records with seq > cursor, read from the journal only when used:
    ``len``, iteration (``iter_after``: one reused dict) and ``batch[i]``. An uplink
    sends a backfill batch record by record without the batch ever being in the heap
    as dicts (48 of them take ~20 KB on a 32-bit board). A record from it is valid
    until the next one is read: copy what you keep. The journal must not change
    while a batch is in use (the station appends only between uplink polls)."""

    def __init__(self, journal, cursor, limit):
        self.j = journal
        self.cursor = cursor
        n = 0
        for _ in journal._records_after(cursor, limit):
            n += 1
        self.n = n

    def __len__(self):
        return self.n

    def __iter__(self):
        return self.j.iter_after(self.cursor, self.n)

    def __getitem__(self, i):
        if i < 0:
            i += self.n
        if i < 0 or i >= self.n:
            raise IndexError
        for r in self.j.iter_after(self.cursor, i + 1):
            pass
        return r
