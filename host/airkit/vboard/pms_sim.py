"""A simulated Plantower PMS5003 that speaks the real byte protocol.

What it does, as the datasheet and field reports say the real one does:
32-byte frames with checksum; starts in active mode pushing a frame every
~1 s (fast, while readings change after wake) or 2.3 s (stable); passive mode
and passive reads; the 8-byte replies to mode and sleep commands; no frames
while asleep; wake gets no reply, falls back to active mode and gives ~30 s of
unstable data while the fan spins up; up to a few seconds before the first
frame after power-on. Bytes arrive at 9600 baud (about 1 ms each), so a read
can start mid-frame.

Faults on demand (scenario ``pms`` keys, times in hours since the start):
``garbage_rate`` (noise bytes before a frame), ``checksum_error_rate``,
``truncated_rate``, ``silent`` windows (unplugged), ``stuck`` windows (values
frozen), ``no_fan`` windows (the fan does not spin: frames of zeros),
``no_wake`` windows (ignores wake: stays asleep), ``baud`` (the rate it talks
at, 9600 for a real PMS5003: anything else reads as garbage).
"""

from world import in_windows

_FRAME_LEN = 32
_BYTE_US = 1042           # 10 bits at 9600 baud
_ACTIVE_FAST_MS = 1000
_ACTIVE_STABLE_MS = 2300
_WARMUP_MS = 30000


def sensor_reading(ref_pm25, rh):
    """The PMS5003 CF=1 PM2.5 a reference concentration produces at this RH.

    Inverse of the US-wide EPA correction (PM = 0.524 PA - 0.0862 RH + 5.75),
    i.e. the sensor over-reads by about 1.9x and more in humid air, which is
    what co-location studies found.
    """
    pa = (ref_pm25 + 0.0862 * rh - 5.75) / 0.524
    return pa if pa > 0 else 0.0


def frame_values(cf25, noise):
    """All 12 frame values from a CF=1 PM2.5 (ug/m3) and a noise factor."""
    cf25 = cf25 * noise
    cf1 = cf25 * 0.68
    cf10 = cf25 * 1.22
    def atm(v):
        return v if v < 30 else 30 + (v - 30) * 0.66
    n03 = cf1 * 165 + 40
    n05 = n03 * 0.30
    n10 = n05 * 0.22
    n25 = n10 * 0.09
    n50 = n25 * 0.28
    n100 = n50 * 0.35
    vals = (cf1, cf25, cf10, atm(cf1), atm(cf25), atm(cf10), n03, n05, n10, n25, n50, n100)
    return [int(v + 0.5) if v < 65535 else 65535 for v in vals]


def build_frame(values, version=0x97, error=0):
    f = bytearray(_FRAME_LEN)
    f[0] = 0x42
    f[1] = 0x4D
    f[3] = 28
    for k in range(12):
        f[4 + 2 * k] = values[k] >> 8
        f[5 + 2 * k] = values[k] & 0xFF
    f[28] = version
    f[29] = error
    s = sum(f[:30])
    f[30] = s >> 8
    f[31] = s & 0xFF
    return f


def build_reply(cmd, data):
    r = bytearray(b"\x42\x4d\x00\x04\x00\x00\x00\x00")
    r[4] = cmd
    r[5] = data
    s = sum(r[:6])
    r[6] = s >> 8
    r[7] = s & 0xFF
    return r


class PMSDevice:
    def __init__(self, world, faults=None, name="pms"):
        self.world = world
        self.faults = faults or {}
        self.name = name
        now = world.now_ms
        self.awake = True
        self.active = True
        self.woke_ms = now
        self.next_push_ms = now + 2500 + world.randint(0, 2000)
        self.chunks = []            # [arrival_start_ms, bytes, delivered]
        self._cmd = bytearray()
        self.stuck_values = None
        self.powered = True
        self.stats = {"frames": 0, "commands": 0, "bad_commands": 0}
        self.baud = self.faults.get("baud", 9600)   # a sensor (or another device) at another rate

    # --- what the sensor measures -----------------------------------------
    def _values(self, t_ms):
        w = self.world
        hour = w.hour(t_ms)
        if in_windows(self.faults.get("no_fan", []), hour):
            return [0] * 12
        if in_windows(self.faults.get("stuck", []), hour):
            if self.stuck_values is None:
                self.stuck_values = self._fresh(t_ms)
            return self.stuck_values
        self.stuck_values = None
        return self._fresh(t_ms)

    def _fresh(self, t_ms):
        w = self.world
        ref, rh, _ = w.env(t_ms)
        noise = 1 + (w.random() - 0.5) * 0.1
        since_wake = t_ms - self.woke_ms
        if since_wake < _WARMUP_MS:
            # fan spinning up: readings low and jumpy
            noise *= 0.25 + 0.6 * since_wake / _WARMUP_MS + (w.random() - 0.5) * 0.5
        return frame_values(sensor_reading(ref, rh), noise)

    def silent(self, t_ms=None):
        return in_windows(self.faults.get("silent", []), self.world.hour(t_ms))

    # --- bytes on the wire ----------------------------------------------------
    def _emit(self, t_ms, data):
        # One serial line: a chunk starts only after the previous one was sent
        # (a reply never lands in the middle of a data frame).
        if self.chunks:
            last = self.chunks[-1]
            end = last[0] + (len(last[1]) * _BYTE_US + 999) // 1000
            if t_ms < end:
                t_ms = end
        self.chunks.append([t_ms, data, 0])

    def _emit_frame(self, t_ms):
        w = self.world
        f = self.faults
        frame = build_frame(self._values(t_ms))
        self.stats["frames"] += 1
        if f.get("garbage_rate") and w.random() < f["garbage_rate"]:
            g = bytearray(w.randint(1, 24))
            for i in range(len(g)):
                g[i] = w.randint(0, 255)
            if len(g) > 4 and w.random() < 0.5:
                g[1] = 0x42       # a false start inside the noise
                g[2] = 0x4D
            self._emit(t_ms, g)
            t_ms += len(g)
        if f.get("checksum_error_rate") and w.random() < f["checksum_error_rate"]:
            frame[w.randint(4, 29)] ^= 1 << w.randint(0, 7)
        if f.get("truncated_rate") and w.random() < f["truncated_rate"]:
            frame = frame[:w.randint(2, 31)]
        self._emit(t_ms, frame)

    def _run_until(self, now):
        if not self.awake or not self.active or self.silent(now):
            if self.next_push_ms < now:
                self.next_push_ms = now
            return
        while self.next_push_ms <= now:
            t = self.next_push_ms
            self._emit_frame(t)
            fast = t - self.woke_ms < _WARMUP_MS
            self.next_push_ms = t + (_ACTIVE_FAST_MS if fast else _ACTIVE_STABLE_MS)

    def take(self, now, room):
        """Bytes that have arrived by ``now`` (at most ``room``; the rest stays queued).

        Bytes beyond what the caller's receive buffer holds are lost, as on a
        UART whose FIFO overflows: ``room`` is the free space there.
        """
        self._run_until(now)
        out = bytearray()
        keep = []
        for c in self.chunks:
            t0, data, done = c
            if t0 > now:
                keep.append(c)
                continue
            arrived = (now - t0) * 1000 // _BYTE_US + 1
            if arrived > len(data):
                arrived = len(data)
            if arrived > done:
                out += data[done:arrived]
                c[2] = arrived
            if c[2] < len(data):
                keep.append(c)
        self.chunks = keep
        if len(out) > room:
            self.world.count("uart_overflow_bytes", len(out) - room)
            out = out[:room]
        return out

    # --- commands from the board --------------------------------------------------
    def write(self, data):
        now = self.world.now_ms
        if self.silent(now) or not self.powered:
            return
        self._cmd += data
        while len(self._cmd) >= 7:
            c = self._cmd
            if c[0] != 0x42 or c[1] != 0x4D:
                self._cmd = c[1:]
                continue
            if (c[5] << 8 | c[6]) != (sum(c[:5]) & 0xFFFF):
                self.stats["bad_commands"] += 1
                self._cmd = c[1:]
                continue
            self._command(c[2], c[4], now)
            self._cmd = c[7:]

    def _command(self, cmd, data, now):
        self.stats["commands"] += 1
        hour = self.world.hour(now)
        if cmd == 0xE4:                      # sleep / wake
            if data == 0:
                # frames not yet started are never sent; the reply still is
                self.chunks = [c for c in self.chunks if c[0] <= now]
                if self.awake:
                    self._emit(now + 5, build_reply(0xE4, 0))
                self.awake = False
            elif not self.awake and not in_windows(self.faults.get("no_wake", []), hour):
                self.awake = True
                self.active = True           # falls back to active mode after wake
                self.woke_ms = now
                self.next_push_ms = now + 1500 + self.world.randint(0, 1000)
            return
        if not self.awake:
            return
        if cmd == 0xE1:                      # mode: 0 passive, 1 active
            self.active = data == 1
            self._emit(now + 5, build_reply(0xE1, data))
            if self.active and self.next_push_ms < now:
                self.next_push_ms = now + 200
        elif cmd == 0xE2 and not self.active:   # passive read
            self._emit_frame(now + 20)

    def set_pin(self, value):
        """SET pin: low = sleep, high = normal."""
        if value:
            if not self.awake:
                self.awake = True
                self.active = True
                self.woke_ms = self.world.now_ms
                self.next_push_ms = self.woke_ms + 1500
        else:
            self.awake = False
