"""The board layer: the only place the firmware touches hardware.

Why this exists: built-in modules cannot be monkey-patched, so every piece of
hardware (UARTs, pins, DHT, watchdog, RTC, clock, network, reset cause, ids)
is reached through one ``Board`` object that is handed the modules it uses.
On an ESP32 those are the real ``machine``/``network``/``dht``/``time``; on the
virtual board (``airkit sim``) they are small stand-ins, and everything above
this layer runs unchanged.

Time rules kept here: ``ticks_*`` wrap (2^30 ms on the ESP32), so all interval
math goes through ``ticks_diff``, which is right only within 2^29 ms (6.2 days)
of its reference: a deadline is always relative to a recent tick, never to
boot (a reference that can grow old is dropped once passed, or checked with
``left_ms``, which bounds the wait). ``sleep_ms`` never sleeps longer than
``SLEEP_MAX_MS`` in one call, so no miscomputed wait can become a multi-day
stop. ``time.time()`` counts from 2000 on the ESP32, so ``unix_time()``
converts with the epoch the clock reports.
"""

try:
    from micropython import const
except ImportError:  # CPython (host tools import the constants)
    def const(value):
        return value

_EPOCH_2000 = const(946684800)   # seconds from 1970-01-01 to 2000-01-01
_TIME_VALID_AFTER = const(1577836800)  # 2020-01-01: anything earlier means "clock not set"
WDT_TIMEOUT_MS = const(60000)
_SLEEP_CHUNK_MS = const(5000)    # longest sleep between watchdog feeds
SLEEP_MAX_MS = const(3600000)    # longest sleep in one call: the longest interval_s (1 h)
_RETRY_MS = const(10000)         # first wait before the reset that retries after a crash
_RETRY_MAX_MS = const(600000)    # the wait doubles per crash in a row, up to 10 minutes
from airkit_fw.console import CRASH as CRASH_PREFIX   # the console line protocol

RESET_CAUSES = {1: "power-on", 2: "hard", 3: "watchdog", 4: "deep-sleep", 5: "soft"}

_current = None


def idf_split():
    """The largest free block of the ESP-IDF heap, which ``gc.mem_free()`` counts as free
    GC memory on an ESP32 (``py/modgc.c`` adds ``max_new_split``; the ESP32 port returns
    ``heap_caps_get_largest_free_block``); 0 where there is no IDF (unix port, the virtual board)."""
    try:
        import esp32
        largest = 0
        for region in esp32.idf_heap_info(esp32.HEAP_DATA):   # (total, free, largest free block, min free)
            if region[2] > largest:
                largest = region[2]
        return largest
    except (ImportError, AttributeError, OSError):
        return 0


def current():
    """The board the firmware runs on (the virtual board registers itself)."""
    global _current
    if _current is None:
        _current = Board()
    return _current


class Board:
    def __init__(self, machine=None, network=None, dht=None, clock=None, fs_root="/", name="esp32"):
        global _current
        if machine is None:
            import machine
        if clock is None:
            import time as clock
        self.machine = machine
        self.clock = clock
        self._network = network
        self._dht = dht
        self.fs_root = fs_root
        self.name = name
        self._wdt = None
        self._rtc = None
        self._wlan = None
        self.long_sleeps = 0           # sleeps cut to SLEEP_MAX_MS (each one a bug somewhere)
        year0 = clock.gmtime(0)[0]
        self._epoch_offset = _EPOCH_2000 if year0 == 2000 else 0
        _current = self

    # --- clock ---------------------------------------------------------------
    def ticks_ms(self):
        return self.clock.ticks_ms()

    def ticks_diff(self, a, b):
        return self.clock.ticks_diff(a, b)

    def ticks_add(self, t, delta):
        return self.clock.ticks_add(t, delta)

    def left_ms(self, t, most):
        """Milliseconds until tick ``t``: 0 once it has come. ``most`` is the longest wait
        the caller ever sets; a tick further ahead than that is a deadline that passed so
        long ago the counter wrapped (``ticks_diff`` turns positive again after 2^29 ms):
        it has come too. So a stale deadline costs at most ``most``, never days."""
        d = self.clock.ticks_diff(t, self.clock.ticks_ms())
        return d if 0 < d <= most else 0

    def sleep_ms(self, ms):
        """Sleep, feeding the watchdog at least every few seconds; never longer than
        ``SLEEP_MAX_MS`` (a wait computed wrong must not stop the station for days)."""
        c = self.clock
        if ms > SLEEP_MAX_MS:
            ms = SLEEP_MAX_MS
            self.long_sleeps += 1
        while ms > 0:
            step = ms if ms < _SLEEP_CHUNK_MS else _SLEEP_CHUNK_MS
            self.feed()
            c.sleep_ms(step)
            ms -= step
        self.feed()

    def unix_time(self):
        """Seconds since 1970 (UTC), or None when the clock was never set."""
        t = self.clock.time() + self._epoch_offset
        return t if t >= _TIME_VALID_AFTER else None

    def set_unix_time(self, t):
        tm = self.clock.gmtime(int(t) - self._epoch_offset)
        self.rtc().datetime((tm[0], tm[1], tm[2], tm[6], tm[3], tm[4], tm[5], 0))

    def iso_utc(self, unix_t):
        tm = self.clock.gmtime(int(unix_t) - self._epoch_offset)
        return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (tm[0], tm[1], tm[2], tm[3], tm[4], tm[5])

    # --- watchdog, reset -------------------------------------------------------
    def start_watchdog(self, timeout_ms=WDT_TIMEOUT_MS):
        """Start the hardware watchdog (cannot be stopped once started)."""
        if self._wdt is None:
            self._wdt = self.machine.WDT(timeout=timeout_ms)

    def feed(self):
        if self._wdt is not None:
            self._wdt.feed()

    def reset_cause(self):
        try:
            return RESET_CAUSES.get(self.machine.reset_cause(), "unknown")
        except AttributeError:
            return "unknown"

    def reset(self):
        self.machine.reset()

    def crash_streak(self, value=None):
        """Crashes in a row, kept in RTC memory (survives the reset that follows a crash)."""
        try:
            mem = self.rtc_memory()
            n = mem[0] if len(mem) == 1 else 0
            if value is not None:
                self.rtc_memory(bytes((value if value < 255 else 255,)))
            return n
        except Exception:
            return 0

    def crashed(self, what):
        """After a crash (a MemoryError, a bug): count it, say so, wait, reset and try again.

        Never a dead station: the wait (10 s, doubling per crash in a row, at most
        10 minutes) keeps a crash from becoming a tight boot loop and leaves the REPL
        reachable (Ctrl-C), while a board that ran short of memory gets a clean heap.
        """
        n = self.crash_streak() + 1
        self.crash_streak(n)
        wait = _RETRY_MS << (n - 1 if n < 7 else 6)
        if wait > _RETRY_MAX_MS:
            wait = _RETRY_MAX_MS
        try:
            print("%scrash %d in a row (%s); resetting in %d s to try again" % (CRASH_PREFIX, n, what, wait // 1000))
        except Exception:     # even printing can fail when the heap is exhausted
            pass
        self.sleep_ms(wait)
        self.reset()

    def rtc(self):
        if self._rtc is None:
            self._rtc = self.machine.RTC()
        return self._rtc

    def rtc_memory(self, data=None):
        """Up to 2 KB that survive soft resets, deep sleep and watchdog resets."""
        rtc = self.rtc()
        if data is None:
            return rtc.memory()
        rtc.memory(data)

    # --- identity ------------------------------------------------------------------
    def unique_id(self):
        return self.machine.unique_id()

    def mac(self):
        """The station MAC (6 bytes); the efuse base MAC on an ESP32."""
        wlan = self.wlan()
        if wlan is not None:
            return wlan.config("mac")
        return self.unique_id()

    # --- peripherals -------------------------------------------------------------
    def pin(self, number, mode=None, value=None):
        m = self.machine
        if mode is None:
            return m.Pin(number)
        if value is None:
            return m.Pin(number, mode)
        return m.Pin(number, mode, value=value)

    def output_pin(self, number, value=1):
        return self.pin(number, self.machine.Pin.OUT, value)

    def uart(self, uart_id, tx, rx, baudrate=9600, rxbuf=512):
        # timeout=0: read()/readinto() return only what is buffered; the drivers
        # accumulate and keep their own deadlines.
        return self.machine.UART(uart_id, baudrate=baudrate, tx=tx, rx=rx, rxbuf=rxbuf,
                                 timeout=0, timeout_char=0)

    def dht22(self, pin_number):
        d = self._dht
        if d is None:
            import dht as d
            self._dht = d
        return d.DHT22(self.machine.Pin(pin_number))

    def network(self):
        n = self._network
        if n is None:
            try:
                import network as n
            except ImportError:
                return None
            self._network = n
        return n

    def wlan(self):
        if self._wlan is None:
            n = self.network()
            if n is None:
                return None
            self._wlan = n.WLAN(n.WLAN.IF_STA)
        return self._wlan

    def socket_module(self):
        """The ``socket`` module for uplinks and NTP. The virtual board's network
        stand-in provides its own (real sockets that fail while the WiFi is down)."""
        n = self.network()
        make = getattr(n, "socket_module", None) if n is not None else None
        if make is not None:
            return make()
        import socket
        return socket

    # --- memory and storage --------------------------------------------------------
    def mem_free(self):
        """Free GC heap, truly: on the ESP32 (v1.22+, split heap) ``gc.mem_free()`` adds the
        largest free block of the IDF heap ("max new split": RAM the GC heap *could* take,
        which WiFi and TLS need); that block is left out here."""
        import gc
        free = gc.mem_free()
        split = idf_split()
        return free - split if split < free else free


    def fs_free(self):
        import os
        st = os.statvfs(self.fs_root)
        return st[0] * st[3]

    def path(self, name):
        """Absolute path of a file on the board's flash filesystem."""
        root = self.fs_root
        if root.endswith("/"):
            return root + name
        return root + "/" + name
