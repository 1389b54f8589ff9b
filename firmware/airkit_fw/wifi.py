"""WiFi station with its own deadlines and back-off.

Why this exists: the ESP32 stack retries forever by default, and stations
that lose their access point often never come back without a power cycle.
Here every connection attempt has a deadline (``CONNECT_MS``), failures back
off exponentially (5 s doubling to 10 min) so the sensing loop keeps its
schedule, and a lost link is re-established by ``disconnect()`` +
``connect()`` without a reboot. ``status()`` is compared with the
``network.STAT_*`` constants by name, never by number.

A reboot is the last resort, taken only when the access point is visible in
a scan but ``WEDGED_ATTEMPTS`` connection attempts in a row failed (a stuck
WiFi stack), at most once per ``REBOOT_MIN_MS``; it is counted in the
journal's meta (``wifi_reboots``). A network that is simply gone (an outage,
the AP switched off) never causes a reboot.
"""

try:
    from micropython import const
except ImportError:  # CPython (host tools import the constants)
    def const(value):
        return value

CONNECT_MS = const(15000)
BACKOFF_MIN_MS = const(5000)
BACKOFF_MAX_MS = const(600000)
WEDGED_ATTEMPTS = const(12)
REBOOT_MIN_MS = const(6 * 3600 * 1000)
_STEP_MS = const(250)


class WiFi:
    def __init__(self, board, ssid, password, journal=None, log=print, hostname=None):
        self.board = board
        self.ssid = ssid
        self._password = password       # never printed
        self.journal = journal
        self.log = log
        self.net = board.network()
        self.wlan = board.wlan()
        self.hostname = hostname
        self.failures = 0
        self.next_try = board.ticks_ms()
        self.connected_once = False
        self.started_ms = board.ticks_ms()
        self.last_reason = None
        self._was_up = False
        self.reconnects = 0

    def _stat(self, name):
        return getattr(self.net, name, None)

    def isconnected(self):
        w = self.wlan
        if w is None:
            return False
        try:
            return w.status() == self._stat("STAT_GOT_IP")
        except OSError:
            return False

    def connect(self, budget_ms=CONNECT_MS):
        """One bounded attempt. Returns True when connected."""
        b = self.board
        w = self.wlan
        if w is None or not self.ssid:
            return False
        if self.isconnected():
            return True
        try:
            if not w.active():
                w.active(True)
            if self.hostname:
                try:
                    w.config(hostname=self.hostname)
                except (OSError, ValueError, TypeError):
                    pass
            try:
                w.disconnect()       # clear a half-dead association before retrying
            except OSError:
                pass
            w.connect(self.ssid, self._password)
        except OSError as e:
            self._failed("connect error %s" % e)
            return False
        deadline = b.ticks_add(b.ticks_ms(), budget_ms)
        got = self._stat("STAT_GOT_IP")
        final = (self._stat("STAT_WRONG_PASSWORD"), self._stat("STAT_NO_AP_FOUND"),
                 self._stat("STAT_ASSOC_FAIL"), self._stat("STAT_HANDSHAKE_TIMEOUT"))
        while b.ticks_diff(deadline, b.ticks_ms()) > 0:
            st = w.status()
            if st == got:
                self.failures = 0
                if self.connected_once:
                    self.reconnects += 1
                self.connected_once = True
                self.log("wifi: connected to %s" % self.ssid)
                return True
            if st in final:
                break
            b.sleep_ms(_STEP_MS)
        st = w.status()
        self._failed(self._reason(st))
        try:
            w.disconnect()           # stop the stack's own endless retries
        except OSError:
            pass
        return False

    def _reason(self, st):
        for name in ("STAT_WRONG_PASSWORD", "STAT_NO_AP_FOUND", "STAT_ASSOC_FAIL",
                     "STAT_HANDSHAKE_TIMEOUT", "STAT_BEACON_TIMEOUT", "STAT_CONNECTING", "STAT_IDLE"):
            if st == self._stat(name):
                return name[5:].lower()
        return "status %s" % st

    def _failed(self, reason):
        b = self.board
        self.failures += 1
        delay = BACKOFF_MIN_MS << min(self.failures - 1, 7)
        if delay > BACKOFF_MAX_MS:
            delay = BACKOFF_MAX_MS
        self.next_try = b.ticks_add(b.ticks_ms(), delay)
        if reason != self.last_reason or self.failures in (1, 3, 10) or self.failures % 50 == 0:
            self.log("wifi: not connected (%s), attempt %d, next in %d s" % (reason, self.failures, delay // 1000))
        self.last_reason = reason
        if self.failures >= WEDGED_ATTEMPTS and reason != "no_ap_found" and reason != "wrong_password":
            self._maybe_reboot()

    def _maybe_reboot(self):
        b = self.board
        if self.started_ms is not None:
            # consulted only until it has passed (ticks_diff from boot wraps after 6.2 days)
            up = b.ticks_diff(b.ticks_ms(), self.started_ms)
            if 0 <= up < REBOOT_MIN_MS:
                return
            self.started_ms = None
        try:
            seen = any(net[0] == self.ssid.encode() for net in self.wlan.scan())
        except OSError:
            seen = False
        if not seen:
            return
        j = self.journal
        if j is not None:
            j.meta["wifi_reboots"] = j.meta.get("wifi_reboots", 0) + 1
            j.flush()
            j.save_meta()
        self.log("wifi: the access point is visible but %d attempts failed; rebooting (last resort)" % self.failures)
        b.reset()

    def poll(self, deadline):
        b = self.board
        if self.wlan is None or not self.ssid:
            return
        up = self.isconnected()
        if self._was_up and not up:
            self.log("wifi: link lost (%s)" % self._reason(self.wlan.status()))
            self.next_try = b.ticks_ms()
        self._was_up = up
        if up or b.left_ms(self.next_try, BACKOFF_MAX_MS):
            return
        left = b.ticks_diff(deadline, b.ticks_ms())
        if left < 3000:
            return
        self._was_up = self.connect(min(CONNECT_MS, left - 1000))

    def on_reading(self, d):
        pass
