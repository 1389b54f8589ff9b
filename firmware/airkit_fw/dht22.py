"""DHT22 / AM2302 temperature and humidity, read the way the datasheet asks.

Why this exists: the bare ``dht`` module will happily be read too fast, too
soon after power-up, and hand back 99.9 % humidity for days. This wrapper keeps
>= 2 s between reads and >= 1 s after power-up, retries timeouts (compared by
errno *name*: 116 on the ESP32, 110 on Linux) and checksum errors a bounded
number of times (once when the last read failed: a dead sensor costs ~0.3 s), rejects physically impossible values, and reports humidity
stuck at 99.9 % or 1 % as a fault.
"""

import errno

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

_MIN_GAP_MS = const(2000)
_POWER_UP_MS = const(1000)
_RETRIES = const(3)
_STUCK_READS = const(6)   # this many identical extreme humidity readings in a row = stuck

OK = const(0)
FAILED = const(1)
STUCK = const(2)
IMPLAUSIBLE = const(3)


class DHT22:
    """``sensor``: a ``dht.DHT22`` object from the board layer; ``clock``: ticks/sleeps."""

    def __init__(self, sensor, clock, feed_wdt=None):
        self._s = sensor
        self._clock = clock
        self._feed = feed_wdt
        self._powered = clock.ticks_ms()
        self._last = clock.ticks_add(self._powered, -_MIN_GAP_MS)
        self.temp_c = None
        self.rh = None
        self.status = FAILED
        self._tried = False      # status FAILED is only a verdict after a first read
        self.timeouts = 0
        self.checksum_errors = 0
        self.implausible = 0
        self._extreme_run = 0
        self._extreme_value = None

    def _wait_allowed(self):
        # Every reference tick here is recent or dropped: ``ticks_diff`` is only right
        # within 2^29 ms (6.2 days) of its reference, so the power-up tick (taken once,
        # at boot) is forgotten as soon as that second has passed, and a wait longer
        # than the rule can ask for means a stale reference (no wait at all).
        c = self._clock
        now = c.ticks_ms()
        wait = 0
        if self._powered is not None:
            wait = _POWER_UP_MS - c.ticks_diff(now, self._powered)
            if wait <= 0 or wait > _POWER_UP_MS:
                self._powered = None
                wait = 0
        gap = _MIN_GAP_MS - c.ticks_diff(now, self._last)
        if gap > _MIN_GAP_MS:        # the last read is older than the tick counter can tell
            gap = 0
        if gap > wait:
            wait = gap
        if wait > 0:
            c.sleep_ms(wait)

    def read(self):
        """Measure. Returns OK, FAILED, STUCK or IMPLAUSIBLE; values in temp_c / rh.

        A sensor whose last read failed (unplugged, dead) gets one try, not ``_RETRIES``:
        at short intervals its retries would eat the time the uploads need."""
        for _ in range(1 if self.status == FAILED and self._tried else _RETRIES):
            self._tried = True
            self._wait_allowed()
            if self._feed:
                self._feed()
            self._last = self._clock.ticks_ms()
            try:
                self._s.measure()
            except OSError as e:
                if e.args and e.args[0] == errno.ETIMEDOUT:
                    self.timeouts += 1
                    continue
                raise
            except Exception as e:  # the dht module raises a plain Exception on a bad checksum
                if "checksum" in str(e):
                    self.checksum_errors += 1
                    continue
                raise
            t = self._s.temperature()
            h = self._s.humidity()
            if t is None or h is None or not (-40 <= t <= 80) or not (0 <= h <= 100):
                self.implausible += 1
                self.temp_c = None
                self.rh = None
                self.status = IMPLAUSIBLE
                return IMPLAUSIBLE
            self.temp_c = t
            self.rh = h
            if h >= 99.9 or h <= 1.0:
                if self._extreme_value == h:
                    self._extreme_run += 1
                else:
                    self._extreme_value = h
                    self._extreme_run = 1
            else:
                self._extreme_run = 0
                self._extreme_value = None
            self.status = STUCK if self._extreme_run >= _STUCK_READS else OK
            return self.status
        self.temp_c = None
        self.rh = None
        self.status = FAILED
        return FAILED
