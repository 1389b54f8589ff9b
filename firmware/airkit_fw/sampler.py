"""One reading: wake the PMS5003, warm up, read, aggregate, sleep; read the DHT22.

Why this exists: a PMS5003 left running wears out its laser and fan (MTTF ~3
years) and gives unstable data for 30 s after wake. The cycle here keeps the
laser on about 40 s out of 300 s (13 %), discards the warm-up, takes several
passive reads and aggregates them with the **median**: a single glitched frame
(a passing insect, a large particle, a bit error the checksum missed) cannot
move a median of 9 reads, while it drags a mean; a trimmed mean would work too
but needs float arithmetic, which allocates on the ESP32's heap.

Every reading carries its quality: frames used, checksum failures, whether the
warm-up was honoured, missing/stuck sensors, the A/B agreement when a second
PMS5003 is fitted, and the laser-on seconds counter. Buffers are allocated
once; aggregation allocates nothing per reading.
"""

from array import array

from airkit_fw import pms5003
from airkit_fw import dht22
from airkit_fw.common import get

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

# Quality flag bits: one module for them (flags.py); names only at the edges
from airkit_fw.flags import (PMS_MISSING, PMS_FEW_FRAMES, WARMUP_SHORT, DHT_FAILED, DHT_STUCK,  # noqa: F401
                             DHT_IMPLAUSIBLE, PMS_B_MISSING, AB_DISAGREE, PMS_UNSUPPORTED, PMS_STUCK,
                             TIME_UNSYNCED, CORRECTION_OUT_OF_RANGE, names as flag_names)

_N = const(12)
_PM25_CF1 = const(1)
_STUCK_READINGS = const(3)   # readings in a row identical to the one before = stuck sensor
_UNKNOWN_HEADERS = const(3)  # headers of unknown length in a reading without any valid frame
_SILENT_READS = const(2)     # reads without a single byte after which a reading stops asking that sensor


def median_into(col, n):
    """In-place insertion sort of col[:n]; returns the (lower) median. No allocation."""
    for i in range(1, n):
        v = col[i]
        j = i - 1
        while j >= 0 and col[j] > v:
            col[j + 1] = col[j]
            j -= 1
        col[j + 1] = v
    return col[(n - 1) // 2]


def ab_disagree(a, b):
    """PurpleAir hourly rule: |A-B| > 5 ug/m3 and 2|A-B|/(A+B) > 70 %."""
    d = a - b if a > b else b - a
    return d > 5 and d * 200 > 70 * (a + b)


class Reading:
    """The latest reading, updated in place (one object for the life of the station)."""

    def __init__(self):
        self.values = [0] * _N          # median of each PMS value (channel A)
        self.values_b = [0] * _N        # channel B, when fitted
        self.has_b = False
        self.frames = 0
        self.frames_b = 0
        self.checksum_errors = 0
        self.bytes_skipped = 0
        self.warmup_ok = False
        self.temp_c = None
        self.rh = None
        self.flags = 0
        self.ticks = 0
        self.laser_on_s = 0
        self.seq = 0


class Channel:
    """One PMS5003 and its per-reading frame store."""

    def __init__(self, driver, reads):
        self.pms = driver
        self.store = array("H", bytes(2 * _N * reads))
        self.col = array("H", bytes(2 * reads))
        self.n = 0
        self.silent = 0          # reads in a row of this reading that got not a single byte
        self.last = [0] * _N
        self.same = 0

    def keep(self, reads):
        vals = self.pms.decoder.values
        base = self.n * _N
        if self.n >= reads:
            return
        for k in range(_N):
            self.store[base + k] = vals[k]
        self.n += 1

    def aggregate(self, out):
        n = self.n
        for k in range(_N):
            col = self.col
            for i in range(n):
                col[i] = self.store[i * _N + k]
            out[k] = median_into(col, n) if n else 0
        # stuck: the very same 12 values reading after reading
        same = n > 0
        for k in range(_N):
            if out[k] != self.last[k]:
                same = False
            self.last[k] = out[k]
        self.same = self.same + 1 if same else 0


class Sampler:
    def __init__(self, board, cfg):
        self.board = board
        self.mode = get(cfg, "pms.mode", "cycle")
        self.warmup_ms = get(cfg, "pms.warmup_s", 30) * 1000
        self.reads = get(cfg, "pms.reads", 9)
        self.gap_ms = get(cfg, "pms.read_gap_ms", 1000)
        self.reading = Reading()
        self.channels = []
        clock = board
        feed = board.feed
        if get(cfg, "pms.enabled", True):
            self.channels.append(self._channel(cfg, "pms", clock, feed))
        if get(cfg, "pms_b.enabled", False):
            self.channels.append(self._channel(cfg, "pms_b", clock, feed))
        self.dht = None
        if get(cfg, "dht.enabled", True):
            self.dht = dht22.DHT22(board.dht22(get(cfg, "dht.pin")), clock, feed)
        self.laser_on_ms = 0
        self._started = False

    def _channel(self, cfg, key, clock, feed):
        b = self.board
        uart = b.uart(get(cfg, key + ".uart"), get(cfg, key + ".tx"), get(cfg, key + ".rx"))
        set_no = get(cfg, key + ".set")
        set_pin = b.output_pin(set_no, 1) if set_no is not None else None
        return Channel(pms5003.PMS5003(uart, clock, set_pin, feed), self.reads)

    def sample(self):
        """Take one reading; returns the (reused) Reading object."""
        b = self.board
        r = self.reading
        r.flags = 0
        chans = self.channels
        cycle = self.mode == "cycle"
        woke = b.ticks_ms()
        for ch in chans:
            ch.n = 0
            ch.silent = 0
            ch.pms.decoder.reset_counters()
            if cycle or not self._started:
                ch.pms.wake()
            else:
                ch.pms.set_passive()
        self._started = True
        if self.dht is not None:
            self.dht.read()            # starts a fresh conversion; we keep the second read
        # Warm-up: the fan needs >= 30 s before data is stable (datasheet).
        left = 0
        for ch in chans:
            w = ch.pms.warm_ms_left(self.warmup_ms)
            if w > left:
                left = w
        if left:
            b.sleep_ms(left)
        for ch in chans:
            ch.pms.drain()
            ch.pms.decoder.reset_counters()
        warm_ok = True
        for ch in chans:
            if ch.pms.warm_ms_left(self.warmup_ms):
                warm_ok = False
        for i in range(self.reads):
            asked = False
            for ch in chans:
                if i >= _SILENT_READS and ch.n == 0 and ch.silent >= _SILENT_READS:
                    continue           # not a byte in its first reads: unplugged, stop spending time on it
                asked = True
                if ch.pms.read(2500):
                    ch.keep(self.reads)
                    ch.silent = 0
                elif ch.pms.silent:
                    ch.silent += 1
            if not asked:
                break
            if i + 1 < self.reads:
                b.sleep_ms(self.gap_ms)
        if cycle:
            for ch in chans:
                ch.pms.sleep()
        now = b.ticks_ms()
        if chans:
            self.laser_on_ms += b.ticks_diff(now, woke)
        r.ticks = now
        r.warmup_ok = warm_ok
        if not warm_ok:
            r.flags |= WARMUP_SHORT
        self._finish_pms(r)
        self._finish_dht(r)
        r.laser_on_s = self.laser_on_ms // 1000
        r.seq += 1
        return r

    def _finish_pms(self, r):
        chans = self.channels
        r.has_b = len(chans) > 1
        r.checksum_errors = 0
        r.bytes_skipped = 0
        for idx in range(len(chans)):
            ch = chans[idx]
            dec = ch.pms.decoder
            r.checksum_errors += dec.checksum_errors
            r.bytes_skipped += dec.bytes_skipped
            if dec.unsupported_frames or (ch.n == 0 and dec.unknown_lengths >= _UNKNOWN_HEADERS):
                r.flags |= PMS_UNSUPPORTED
            out = r.values if idx == 0 else r.values_b
            ch.aggregate(out)
            if idx == 0:
                r.frames = ch.n
                if ch.n == 0:
                    r.flags |= PMS_MISSING
                elif ch.n * 2 < self.reads:
                    r.flags |= PMS_FEW_FRAMES
            else:
                r.frames_b = ch.n
                if ch.n == 0:
                    r.flags |= PMS_B_MISSING
            if ch.same >= _STUCK_READINGS:
                r.flags |= PMS_STUCK
        if not chans:
            r.frames = 0
        if r.has_b and r.frames and r.frames_b and ab_disagree(r.values[_PM25_CF1], r.values_b[_PM25_CF1]):
            r.flags |= AB_DISAGREE

    def _finish_dht(self, r):
        d = self.dht
        if d is None:
            r.temp_c = None
            r.rh = None
            return
        status = d.read()
        r.temp_c = d.temp_c
        r.rh = d.rh
        if status == dht22.FAILED:
            r.flags |= DHT_FAILED
        elif status == dht22.STUCK:
            r.flags |= DHT_STUCK
        elif status == dht22.IMPLAUSIBLE:
            r.flags |= DHT_IMPLAUSIBLE

    def duty_cycle(self, interval_s):
        """Expected laser-on fraction of the default cycle (for documentation and benchmarks)."""
        if self.mode != "cycle":
            return 1.0
        on_ms = self.warmup_ms + self.reads * self.gap_ms
        return on_ms / (interval_s * 1000)
