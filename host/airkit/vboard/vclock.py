"""Stand-in for the ESP32's ``time`` module, driven by the world's virtual clock.

Why: the firmware's sleeps must advance simulated time instantly, and ticks must
wrap at 2^30 ms exactly as on an ESP32 so wrap-around bugs show up on the desk.
``time()`` counts from 2000 (the ESP32 epoch), starting at 2000-01-01 after a
power cut until the firmware sets the RTC.
"""

import time as _host_time

from world import PERIOD

_HALF = PERIOD // 2
_EPOCH_2000 = 946684800


class VirtualClock:
    def __init__(self, world, rtc_base=None):
        self.world = world
        # rtc_base: (virtual unix ms when set, seconds since 2000 set) or None
        self.rtc_base = rtc_base

    def ticks_ms(self):
        w = self.world
        return (w.ticks_start + (w.now_ms - w.boot_ms)) & (PERIOD - 1)

    def ticks_us(self):
        w = self.world
        return ((w.ticks_start + (w.now_ms - w.boot_ms)) * 1000) & (PERIOD - 1)

    def ticks_add(self, t, delta):
        return (t + delta) & (PERIOD - 1)

    def ticks_diff(self, a, b):
        d = (a - b) & (PERIOD - 1)
        if d >= _HALF:
            d -= PERIOD
        return d

    def sleep_ms(self, ms):
        self.world.advance(ms)

    def sleep_us(self, us):
        self.world.advance(us // 1000)

    def sleep(self, s):
        self.world.advance(int(s * 1000))

    def time(self):
        w = self.world
        if self.rtc_base is None:
            return (w.now_ms - w.boot_ms) // 1000          # ESP32: 2000-01-01 + uptime
        set_ms, set_s = self.rtc_base
        return set_s + (w.now_ms - set_ms) // 1000

    def time_ns(self):
        return self.time() * 1000000000

    def set_time(self, secs_2000):
        self.rtc_base = (self.world.now_ms, int(secs_2000))

    def gmtime(self, secs=None):
        if secs is None:
            secs = self.time()
        return tuple(_host_time.gmtime(int(secs) + _EPOCH_2000)[:8])

    localtime = gmtime

    def mktime(self, tm):
        return int(_host_time.mktime(tuple(tm[:8]) + (0,) * (9 - len(tm[:8])))) - _EPOCH_2000
