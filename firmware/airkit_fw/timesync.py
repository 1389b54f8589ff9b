"""UTC time from NTP, with bounded waits, and the fix-up of early readings.

Why this exists: every journal record needs a UTC timestamp, and TLS needs a
set clock. ``ntptime`` is not on every port and has no back-off; this client
sends one SNTP request over UDP with a 2 s timeout (``NTP_TIMEOUT_S``) per
server, sets the RTC through the board layer (which knows the ESP32's 2000
epoch), and re-syncs every 6 h. Readings taken before the first sync carry
their tick count; when sync succeeds the journal stores an anchor so their
time is computed from the ticks (``ticks_diff``); readings of a boot that
never synced stay flagged ``time_unsynced``.

On the virtual board the NTP server is part of the simulated network and
answers with the world's true time (see the virtual board's socket module).
"""

import errno
import struct

try:
    from micropython import const
except ImportError:  # CPython (host tools import the constants)
    def const(value):
        return value

NTP_TIMEOUT_S = const(2)
_NTP_DELTA = 2208988800          # above a small int: kept as a global
RESYNC_MS = const(6 * 3600 * 1000)
RETRY_MIN_MS = const(30000)
RETRY_MAX_MS = const(1800000)


def ntp_query(sockmod, host, timeout_s=NTP_TIMEOUT_S):
    """Unix time (float seconds) from one NTP server, or raises OSError."""
    addr = sockmod.getaddrinfo(host, 123)[0][-1]
    s = sockmod.socket(sockmod.AF_INET, sockmod.SOCK_DGRAM)
    try:
        s.settimeout(timeout_s)
        pkt = bytearray(48)
        pkt[0] = 0x1B            # LI 0, version 3, mode 3 (client)
        s.sendto(pkt, addr)
        msg = s.recv(48)
    finally:
        s.close()
    if len(msg) < 48 or (msg[0] & 7) != 4:
        raise OSError(errno.EIO)
    secs, frac = struct.unpack_from(">II", msg, 40)
    if secs == 0:
        raise OSError(errno.EIO)       # "kiss of death" / unsynchronised server
    return secs - _NTP_DELTA + frac / 4294967296


class TimeSync:
    def __init__(self, board, wifi, journal=None, servers=("pool.ntp.org",), log=print):
        self.board = board
        self.wifi = wifi
        self.journal = journal
        self.servers = servers
        self.log = log
        self.synced_at = None
        self.failures = 0
        self.next_try = board.ticks_ms()
        self.syncs = 0

    def sync(self):
        b = self.board
        sockmod = b.socket_module()
        last = None
        for host in self.servers:
            b.feed()
            try:
                t = ntp_query(sockmod, host)
            except (OSError, IndexError) as e:
                last = e
                continue
            ticks = b.ticks_ms()
            b.set_unix_time(int(t))
            self.synced_at = ticks
            self.failures = 0
            self.syncs += 1
            self.next_try = b.ticks_add(ticks, RESYNC_MS)
            if self.journal is not None:
                self.journal.time_synced(ticks, int(t))
            if self.syncs == 1:
                self.log("time: set from NTP, %s" % b.iso_utc(b.unix_time() or int(t)))
            return True
        self.failures += 1
        delay = RETRY_MIN_MS << min(self.failures - 1, 6)
        self.next_try = b.ticks_add(b.ticks_ms(), delay if delay < RETRY_MAX_MS else RETRY_MAX_MS)
        if self.failures in (1, 5) or self.failures % 50 == 0:
            self.log("time: NTP failed (%s), attempt %d" % (_name(last), self.failures))
        return False

    def poll(self, deadline):
        b = self.board
        if b.left_ms(self.next_try, RESYNC_MS):
            return
        if b.ticks_diff(deadline, b.ticks_ms()) < 3000:
            return
        if self.wifi is not None and not self.wifi.isconnected():
            return
        self.sync()

    def on_reading(self, d):
        pass


def _name(e):
    code = e.args[0] if getattr(e, "args", None) else None
    for n in ("ETIMEDOUT", "EAGAIN", "EHOSTUNREACH", "ECONNREFUSED", "EIO"):
        if code == getattr(errno, n, None):
            return n
    return "%s %s" % (type(e).__name__, code)
