"""Plantower PMS5003 (and PMS7003/PMSA003) driver: frame decoder and command driver.

Why this exists: every other air-quality firmware either trusts whatever the UART
hands it or drops whole buffers when a frame is cut. This decoder resynchronises
on ``42 4D`` byte by byte, never accepts a bad checksum, never loses an intact
frame hidden behind noise, tells an unsupported model (unknown frame length)
apart from noise, and allocates nothing per frame. It runs unchanged under
MicroPython (on the board) and CPython (``airkit pms decode`` on the host).

Protocol facts: 32-byte frames ``42 4D 00 1C`` + 13 big-endian words + 16-bit
sum of bytes 0..29; 7-byte host commands ``42 4D CMD DH DL LRCH LRCL``; 8-byte
command replies ``42 4D 00 04 CMD DATA CKH CKL``.
"""

try:
    from micropython import const
except ImportError:  # CPython
    def const(value):
        return value

# The 12 concentration/count values of a data frame, in frame order.
KEYS = (
    "pm1_cf1", "pm25_cf1", "pm10_cf1",
    "pm1_atm", "pm25_atm", "pm10_atm",
    "n0_3", "n0_5", "n1_0", "n2_5", "n5_0", "n10",
)
N_VALUES = const(12)

_START1 = const(0x42)
_START2 = const(0x4D)
_LEN_PMS5003 = const(28)     # 32-byte frame
_LEN_REPLY = const(4)        # 8-byte command reply
_LEN_PMS3003 = const(20)     # 24-byte frame (no passive mode): unsupported
_LEN_PMS5003ST = const(36)   # 40-byte frame (T/RH/HCHO variant): unsupported
_BUF_SIZE = const(40)        # longest frame we recognise

CMD_MODE = const(0xE1)
CMD_READ = const(0xE2)
CMD_SLEEP = const(0xE4)
# Minimum pause between two commands (field reports: < 50 ms upsets the sensor).
COMMAND_GAP_MS = const(100)
WARMUP_MS = const(30000)     # datasheet: stable data >= 30 s after wake


def _frame_total(length):
    # Total bytes of a frame with this length field, or 0 when we do not know it.
    if length == _LEN_PMS5003 or length == _LEN_REPLY or length == _LEN_PMS3003 or length == _LEN_PMS5003ST:
        return length + 4
    return 0


class FrameDecoder:
    """Streaming decoder. Feed it any bytes; read ``values`` when ``ready``.

    Usage (allocation-free)::

        pos = 0
        while pos < n:
            pos = dec.feed(buf, pos, n)
            if dec.ready:
                use(dec.values)

    Counters: ``frames`` accepted, ``checksum_errors``, ``bytes_skipped``
    (noise), ``unsupported_frames`` (valid frames of another model, with
    ``unsupported_length``), ``unknown_lengths`` (headers ``42 4D`` with a
    length no known model uses, last one in ``unknown_length``: noise now and
    then, an unsupported model when nothing else arrives), ``replies`` (command replies, last one in
    ``reply_cmd``/``reply_data``).
    """

    def __init__(self):
        self._buf = bytearray(_BUF_SIZE)
        self._n = 0            # bytes held in _buf
        self._need = 0         # total length of the frame being collected, 0 = unknown yet
        self._inner = 0        # index of a later 42 4D start inside the candidate, 0 = none
        self.values = [0] * N_VALUES
        self.version = 0
        self.error_code = 0
        self.ready = False
        self.frames = 0
        self.checksum_errors = 0
        self.bytes_skipped = 0
        self.unsupported_frames = 0
        self.unsupported_length = 0
        self.unknown_lengths = 0
        self.unknown_length = 0
        self.replies = 0
        self.reply_cmd = 0
        self.reply_data = 0

    def reset_counters(self):
        self.frames = 0
        self.checksum_errors = 0
        self.bytes_skipped = 0
        self.unsupported_frames = 0
        self.unknown_lengths = 0
        self.replies = 0

    def clear(self):
        """Forget a partially received frame (e.g. after the sensor slept)."""
        self.bytes_skipped += self._n
        self._n = 0
        self._need = 0
        self._inner = 0

    def feed(self, data, start=0, end=-1):
        """Consume ``data[start:end]`` until one data frame completes.

        Returns the index of the first byte not consumed. ``ready`` tells
        whether a data frame was completed by this call.
        """
        if end < 0:
            end = len(data)
        buf = self._buf
        self.ready = False
        i = start
        while i < end:
            b = data[i]
            i += 1
            n = self._n
            if n == 0:
                if b == _START1:
                    buf[0] = b
                    self._n = 1
                else:
                    self.bytes_skipped += 1
                continue
            if n == 1:
                if b == _START2:
                    buf[1] = b
                    self._n = 2
                elif b == _START1:
                    self.bytes_skipped += 1      # previous 0x42 was noise; this one may start a frame
                else:
                    self.bytes_skipped += 2
                    self._n = 0
                continue
            buf[n] = b
            n += 1
            self._n = n
            if n == 4:
                self._need = _frame_total((buf[2] << 8) | buf[3])
                if self._need == 0:
                    # Reported, not silently dropped: a stream of these with no
                    # valid frame means a Plantower model we do not decode.
                    self.unknown_lengths += 1
                    self.unknown_length = (buf[2] << 8) | buf[3]
                    self._resync()
                    if self.ready:
                        return i
                continue
            if n < 4:
                continue
            if n < self._need:
                # Noise that looks like a header (e.g. 42 4D 00 24) can swallow a
                # shorter intact frame that follows it: accept that frame as soon as
                # it is complete instead of waiting for bytes that may never come.
                if b == _START2 and self._inner == 0 and n > 5 and buf[n - 2] == _START1:
                    self._inner = n - 2
                if self._inner and self._inner_check(n):
                    if self.ready:
                        return i
                continue
            if self._complete() or self.ready:
                return i
        return i

    def _complete(self):
        # A whole frame of self._need bytes is in the buffer. Returns True for a data frame.
        buf = self._buf
        total = self._need
        s = 0
        for k in range(total - 2):
            s += buf[k]
        if (s & 0xFFFF) != ((buf[total - 2] << 8) | buf[total - 1]):
            self.checksum_errors += 1
            self._resync()
            return False
        self._n = 0
        self._need = 0
        self._inner = 0
        if total == 32:
            vals = self.values
            for k in range(N_VALUES):
                vals[k] = (buf[4 + 2 * k] << 8) | buf[5 + 2 * k]
            self.version = buf[28]
            self.error_code = buf[29]
            self.frames += 1
            self.ready = True
            return True
        if total == 8:
            self.replies += 1
            self.reply_cmd = buf[4]
            self.reply_data = buf[5]
            return False
        self.unsupported_frames += 1
        self.unsupported_length = total
        return False

    def _inner_check(self, n):
        # The candidate holds a later 42 4D start at self._inner. True when the
        # frame starting there is complete and valid (then it has been taken and
        # the bytes before it counted as skipped).
        buf = self._buf
        j = self._inner
        m = n - j
        if m < 4:
            return False
        t = _frame_total((buf[j + 2] << 8) | buf[j + 3])
        if t and m < t:
            return False
        if t == m:
            s = 0
            for k in range(j, n - 2):
                s += buf[k]
            if (s & 0xFFFF) == ((buf[n - 2] << 8) | buf[n - 1]):
                self.bytes_skipped += j
                for k in range(m):
                    buf[k] = buf[j + k]
                self._n = m
                self._need = t
                self._complete()
                return True
        # unknown length or bad checksum: watch the next 42 4D start, if any
        k = j + 1
        self._inner = 0
        while k < n - 1:
            if buf[k] == _START1 and buf[k + 1] == _START2:
                self._inner = k
                break
            k += 1
        return False

    def _resync(self):
        # Drop the first byte of the held bytes and look for the next start inside
        # them, so an intact frame that began inside rejected bytes is not lost.
        buf = self._buf
        n = self._n
        j = 1
        while j < n and buf[j] != _START1:
            j += 1
        self.bytes_skipped += j
        k = 0
        while j < n:
            buf[k] = buf[j]
            k += 1
            j += 1
        self._n = 0
        self._need = 0
        self._inner = 0
        if k:
            # Re-run the held bytes through the state machine (they hold no
            # complete frame: they are shorter than the one we just rejected).
            held = bytes(buf[:k])
            pos = 0
            while pos < k:
                pos = self.feed_inner(held, pos, k)

    def feed_inner(self, data, start, end):
        # feed() without clearing ``ready`` (used while re-scanning held bytes).
        ready = self.ready
        pos = self.feed(data, start, end)
        self.ready = self.ready or ready
        return pos


def iter_frames(data, decoder=None):
    """Yield a dict per accepted data frame in ``data`` (host-side convenience)."""
    dec = decoder or FrameDecoder()
    pos = 0
    n = len(data)
    while pos < n:
        pos = dec.feed(data, pos, n)
        if dec.ready:
            d = {}
            for k in range(N_VALUES):
                d[KEYS[k]] = dec.values[k]
            d["version"] = dec.version
            d["error_code"] = dec.error_code
            yield d


def command(cmd, data, out=None):
    """The 7-byte command ``42 4D cmd 00 data LRCH LRCL`` (into ``out`` if given)."""
    buf = out if out is not None else bytearray(7)
    buf[0] = _START1
    buf[1] = _START2
    buf[2] = cmd
    buf[3] = 0
    buf[4] = data
    s = _START1 + _START2 + cmd + data
    buf[5] = (s >> 8) & 0xFF
    buf[6] = s & 0xFF
    return buf


class PMSError(Exception):
    pass


class PMS5003:
    """Command driver over a UART (9600 8N1) handed in by the board layer.

    ``clock`` supplies ``ticks_ms``, ``ticks_diff`` and ``sleep_ms``; every wait
    is bounded by a deadline well below the watchdog. ``feed_wdt`` (optional)
    is called while waiting.
    """

    def __init__(self, uart, clock, set_pin=None, feed_wdt=None, rxbuf=64):
        self._uart = uart
        self._clock = clock
        self._set_pin = set_pin
        self._feed = feed_wdt
        self._rx = bytearray(rxbuf)
        self._cmd = bytearray(7)
        self.decoder = FrameDecoder()
        self._last_cmd = clock.ticks_add(clock.ticks_ms(), -COMMAND_GAP_MS)
        self.awake = True
        self.passive = False
        self.woke_at = clock.ticks_ms()
        self._warm = False
        self.silent = False    # the last wait ended without a single byte (unplugged, no power)

    # --- low level -------------------------------------------------------
    def _send(self, cmd, data):
        c = self._clock
        wait = COMMAND_GAP_MS - c.ticks_diff(c.ticks_ms(), self._last_cmd)
        if 0 < wait <= COMMAND_GAP_MS:   # longer: a last command too old for the ticks to tell
            c.sleep_ms(wait)
        command(cmd, data, self._cmd)
        self._uart.write(self._cmd)
        self._last_cmd = c.ticks_ms()

    def drain(self):
        """Discard whatever sits in the UART receive buffer."""
        uart = self._uart
        for _ in range(64):  # bounded: 64 * rxbuf bytes at most
            if not uart.any():
                break
            uart.readinto(self._rx)
        self.decoder.clear()

    def _pump(self, timeout_ms, want_reply=-1):
        """Read until a data frame (or, with want_reply, that command's reply) arrives.

        Returns True on success, False when the deadline passed.
        """
        c = self._clock
        dec = self.decoder
        start = c.ticks_ms()
        replies = dec.replies
        rx = self._rx
        self.silent = True
        while True:
            n = self._uart.readinto(rx) if self._uart.any() else 0
            if n:
                self.silent = False
                pos = 0
                while pos < n:
                    pos = dec.feed(rx, pos, n)
                    if want_reply < 0 and dec.ready:
                        # bytes after the frame stay for the next read
                        if pos < n:
                            self._unread(pos, n)
                        return True
                if want_reply >= 0 and dec.replies != replies and dec.reply_cmd == want_reply:
                    return True
            if c.ticks_diff(c.ticks_ms(), start) >= timeout_ms:
                return False
            if self._feed:
                self._feed()
            if not n:
                c.sleep_ms(10)

    def _unread(self, pos, n):
        # Keep the tail of the read chunk inside the decoder (it is the start of
        # the next frame); feeding it now cannot complete another full frame
        # unless two frames arrived in one read, in which case we keep the newest.
        dec = self.decoder
        while pos < n:
            pos = dec.feed(self._rx, pos, n)

    # --- commands ----------------------------------------------------------
    def set_passive(self, timeout_ms=1000):
        """Passive mode; True when the sensor confirmed it."""
        self._send(CMD_MODE, 0)
        self.passive = True
        return self._pump(timeout_ms, CMD_MODE)

    def set_active(self, timeout_ms=1000):
        self._send(CMD_MODE, 1)
        self.passive = False
        return self._pump(timeout_ms, CMD_MODE)

    def sleep(self, timeout_ms=1000):
        """Stop fan and laser (UART command; SET pin too when wired)."""
        self._send(CMD_SLEEP, 0)
        ok = self._pump(timeout_ms, CMD_SLEEP)
        if self._set_pin is not None:
            self._set_pin.value(0)
        self.awake = False
        self.decoder.clear()
        return ok

    def wake(self):
        """Start fan and laser. The sensor returns in active mode: passive is re-sent."""
        if self._set_pin is not None:
            self._set_pin.value(1)
        self._send(CMD_SLEEP, 1)
        self.awake = True
        self.woke_at = self._clock.ticks_ms()
        self._warm = False
        self.decoder.clear()
        # wake gets no reply; the sensor falls back to active mode, so ask again.
        return self.set_passive()

    def warm_ms_left(self, warmup_ms=WARMUP_MS):
        # The wake tick is consulted only until the warm-up has passed: in continuous
        # mode it dates from boot, and ``ticks_diff`` from it wraps after 2^29 ms.
        if self._warm:
            return 0
        c = self._clock
        left = warmup_ms - c.ticks_diff(c.ticks_ms(), self.woke_at)
        if left <= 0 or left > warmup_ms:
            self._warm = True
            return 0
        return left

    def read(self, timeout_ms=2500):
        """One data frame: a passive read request in passive mode, else the next pushed frame.

        True when ``decoder.values`` holds a fresh, checksum-valid frame.
        """
        if self.passive:
            self.drain()
            self._send(CMD_READ, 0)
        return self._pump(timeout_ms)
