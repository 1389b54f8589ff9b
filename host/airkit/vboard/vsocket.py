"""The virtual board's ``socket`` module: real unix-port sockets, in virtual time.

Why this exists: uplink code must meet a dead network exactly as on an
ESP32. While the virtual WiFi is down (not associated, or inside a scenario
``wifi.down`` window) every operation fails with ``OSError(EHOSTUNREACH)``.
Otherwise the firmware talks through the unix port's real sockets to real
servers on loopback (the collector, Mosquitto, an InfluxDB receiver).

Time: successful operations advance virtual time by their real duration.
A blocked socket wait towards a loopback test server is real but shortened
(``net_time_scale`` in sim.json, default 0.02), never below
``net_min_wait_s`` (default 1 s) unless the firmware asked for less: a 5 s
firmware timeout waits 1 s of wall time, far longer than any loopback
server takes to answer (the faithful stand-ins answer in 60-175 ms, as the
real servers do), so an answer is never cut off after the server stored
the data. Towards an **outside endpoint** (any address that is not loopback,
or a ``host:port`` listed in ``net_outside``, as ``airkit sim --endpoint``
does) timeouts are not shortened at all: the firmware waits exactly as long
as on a board. When a wait times out, virtual time moves on by the full
timeout the firmware asked for, so the watchdog sees exactly what a board
would. Timeouts are raised as ``OSError(ETIMEDOUT)``, as the ESP32 port does
(the unix port says EAGAIN).

NTP: UDP to port 123 is answered by the simulated world itself (an NTP
server inside the virtual network whose clock is the world's true UTC time),
so the firmware's real NTP client (request packet, bounded wait, parsing,
setting the RTC) runs unchanged. It is unreachable while the WiFi is down.
"""

import errno
import io
import socket as _s
import struct
import time as _t

import vnetwork

AF_INET = _s.AF_INET
SOCK_STREAM = _s.SOCK_STREAM
SOCK_DGRAM = _s.SOCK_DGRAM
IPPROTO_TCP = getattr(_s, "IPPROTO_TCP", 6)
IPPROTO_UDP = getattr(_s, "IPPROTO_UDP", 17)
SOL_SOCKET = _s.SOL_SOCKET
SO_REUSEADDR = _s.SO_REUSEADDR

_NTP_ADDR = ("ntp.virtual", 123)
_names = {}          # (ip, port) -> the host name the firmware resolved
_NTP_DELTA = 2208988800


def _world():
    return vnetwork._world


def _wall_timeout(t, outside):
    """Wall-clock seconds a firmware timeout of ``t`` seconds waits."""
    if outside:
        return t
    opts = _world().opts
    rt = t * opts.get("net_time_scale", 0.02)
    floor = opts.get("net_min_wait_s", 1.0)
    if rt < floor:
        rt = t if t < floor else floor
    return rt if rt > 0.01 else 0.01


def _is_outside(host, port):
    listed = _world().opts.get("net_outside") or ()
    if ("%s:%d" % (host, port)) in listed:
        return True
    return not (host in ("localhost", "::1") or host.startswith("127."))


def _check_link(local=False):
    if not (vnetwork.link_up() or (local and vnetwork.ap_up())):
        _world().advance(20)
        raise OSError(errno.EHOSTUNREACH)


# Servers on the board (the web page on port 80, the portal's DNS on 53) listen on a
# loopback port of the host instead: "web_port" / "dns_port" in sim.json, else any free one.
_SERVER_PORTS = {80: "web_port", 53: "dns_port"}


def getaddrinfo(host, port, af=0, type=0, proto=0, flags=0):
    if host == "0.0.0.0":         # an address to listen on: no network needed
        return _s.getaddrinfo("127.0.0.1", port, af, type, proto, flags)
    _check_link()
    if port == 123:
        return [(AF_INET, SOCK_DGRAM, IPPROTO_UDP, "", _NTP_ADDR)]
    t0 = _t.ticks_ms()
    try:
        res = _s.getaddrinfo(host, port, af, type, proto, flags)
    finally:
        _world().advance(_t.ticks_diff(_t.ticks_ms(), t0))
    for r in res:
        a = r[-1]
        try:
            _names[(_s.inet_ntop(_s.AF_INET, a[4:8]), a[2] << 8 | a[3])] = host
        except Exception:
            pass
    return res


class socket(io.IOBase):
    # io.IOBase: a Python stream that C code (tls.wrap_socket) can read and write.
    def __init__(self, af=AF_INET, type=SOCK_STREAM, proto=0, _wrap=None):
        self._local = _wrap is not None      # a server's socket: works on the board's own AP too
        _check_link(True)
        self._type = type
        self._timeout = None
        self._ntp_reply = None
        self._outside = False
        self._listening = False
        self._s = _wrap if _wrap is not None else _s.socket(af, type, proto)

    # --- servers on the board ------------------------------------------------------------
    def bind(self, addr):
        port = addr[2] << 8 | addr[3]
        key = _SERVER_PORTS.get(port)
        real = _world().opts.get(key, 0) if key else 0
        self._local = True
        self._s.bind(_s.getaddrinfo("127.0.0.1", real)[0][-1])
        if real:
            print("virtual board: port %d is 127.0.0.1:%d" % (port, real))

    def listen(self, n=1):
        self._listening = True
        self._s.listen(n)
        self._s.setblocking(False)     # accept() waits in virtual time (below)

    def accept(self):
        _check_link(True)
        try:
            c, a = self._s.accept()
        except OSError as e:
            code = e.errno if hasattr(e, "errno") else (e.args[0] if e.args else 0)
            if code != errno.EAGAIN:
                raise
            # nobody is connecting: the wait the firmware asked for passes in virtual time
            _world().advance(int((self._timeout or 0) * 1000))
            raise OSError(errno.ETIMEDOUT if self._timeout else errno.EAGAIN)
        return socket(type=SOCK_STREAM, _wrap=c), a

    def settimeout(self, t):
        self._timeout = t
        if self._listening:
            return
        if t == 0:                    # non-blocking (the portal's DNS socket): no wait at all
            self._s.settimeout(0)
            return
        if t is None:
            self._s.settimeout(None)
        else:
            self._s.settimeout(_wall_timeout(t, self._outside))

    def setblocking(self, flag):
        self.settimeout(None if flag else 0)

    def setsockopt(self, *a):
        self._s.setsockopt(*a)

    def _op(self, fn, *args):
        _check_link(self._local)
        t0 = _t.ticks_ms()
        try:
            r = fn(*args)
        except OSError as e:
            code = e.errno if hasattr(e, "errno") else (e.args[0] if e.args else 0)
            if code in (errno.EAGAIN, errno.ETIMEDOUT) and self._timeout:
                spent = _t.ticks_diff(_t.ticks_ms(), t0)
                _world().advance(spent, False)      # that much really passed: not paced again
                _world().advance(int(self._timeout * 1000) - spent)
                raise OSError(errno.ETIMEDOUT)
            _world().advance(_t.ticks_diff(_t.ticks_ms(), t0), False)
            raise
        _world().advance(_t.ticks_diff(_t.ticks_ms(), t0), False)
        _check_link(self._local)
        return r

    def connect(self, addr):
        try:
            host, port = _s.inet_ntop(_s.AF_INET, addr[4:8]), addr[2] << 8 | addr[3]
        except Exception:       # not a packed IPv4 sockaddr: take it as outside
            host, port = "", 0
        name = _names.get((host, port))
        self._outside = _is_outside(host, port) or (name is not None and _is_outside(name, port)
                                                     and not name.startswith("127.") and name != "localhost") \
            or ("%s:%d" % (name, port)) in (_world().opts.get("net_outside") or ())
        if self._timeout is not None:
            self.settimeout(self._timeout)
        return self._op(self._s.connect, addr)

    def send(self, data):
        return self._op(self._s.send, data)

    def write(self, data):
        return self._op(self._s.write, data)

    def sendall(self, data):
        mv = memoryview(data)
        while len(mv):
            n = self.send(mv)
            mv = mv[n:]

    def recv(self, n):
        if self._ntp_reply is not None:
            return self.recvfrom(n)[0]
        return self._op(self._s.recv, n)

    def read(self, n=-1):
        return self._op(self._s.read, n)

    def readline(self):
        return self._op(self._s.readline)

    def readinto(self, buf, n=-1):
        if n < 0:
            return self._op(self._s.readinto, buf)
        return self._op(self._s.readinto, buf, n)

    # --- UDP (NTP answered by the world) --------------------------------------------
    def sendto(self, data, addr):
        _check_link(self._local)
        if addr == _NTP_ADDR or (isinstance(addr, tuple) and addr[1] == 123):
            now_ms = _world().now_ms
            _world().advance(15)         # a realistic round trip
            secs = now_ms // 1000 + _NTP_DELTA
            frac = ((now_ms % 1000) << 32) // 1000
            r = bytearray(48)
            r[0] = 0x24                  # LI 0, version 4, mode 4 (server)
            r[1] = 2                     # stratum
            struct.pack_into(">II", r, 32, secs, frac)   # receive timestamp
            struct.pack_into(">II", r, 40, secs, frac)   # transmit timestamp
            self._ntp_reply = bytes(r)
            return len(data)
        return self._op(self._s.sendto, data, addr)

    def recvfrom(self, n):
        if self._ntp_reply is not None:
            _check_link()
            r = self._ntp_reply
            self._ntp_reply = None
            return r[:n], _NTP_ADDR
        return self._op(self._s.recvfrom, n)

    def close(self):
        self._s.close()

    def ioctl(self, req, arg):
        if req == 4:        # MP_STREAM_CLOSE
            self._s.close()
        return 0

    def fileno(self):
        return self._s.fileno()
