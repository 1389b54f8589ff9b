"""A minimal, bounded MQTT 3.1.1 publisher (CONNECT, PUBLISH QoS 0/1, DISCONNECT).

Why not ``umqtt.robust``: it loops forever (``while 1`` with 2 s sleeps) on
reconnect and publish, which starves the hardware watchdog; ``umqtt.simple``
has no deadline on waiting for PUBACK. Every read here is bounded by the
socket timeout and the session's deadline; a QoS 1 publish counts as
delivered only when its PUBACK with the same packet id arrived.
"""

try:
    from micropython import const
except ImportError:
    def const(v):
        return v

from airkit_fw.uplinks.net import NetError, open_conn, send_all, read_exact

KEEPALIVE_S = const(60)


def _varlen(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def _str(s):
    if isinstance(s, str):
        s = s.encode()
    return bytes((len(s) >> 8, len(s) & 0xFF)) + s


def connect_packet(client_id, username=None, password=None, keepalive=KEEPALIVE_S, clean=True):
    flags = 0x02 if clean else 0       # clean session (or a session the broker keeps)
    payload = _str(client_id)
    if username:
        flags |= 0x80
        payload += _str(username)
        if password:
            flags |= 0x40
            payload += _str(password)
    var = _str("MQTT") + bytes((4, flags, keepalive >> 8, keepalive & 0xFF))
    body = var + payload
    return b"\x10" + _varlen(len(body)) + body


def publish_head(topic, payload_len, qos=0, retain=False, pid=0):
    """Fixed header, topic and packet id of a PUBLISH (the payload is written after it)."""
    if isinstance(topic, str):
        topic = topic.encode()
    n = 2 + len(topic) + (2 if qos else 0)
    head = bytes((0x30 | (qos << 1) | (1 if retain else 0),)) + _varlen(n + payload_len) + \
        bytes((len(topic) >> 8, len(topic) & 0xFF)) + topic
    if qos:
        head += bytes((pid >> 8, pid & 0xFF))
    return head


def publish_packet(topic, payload, qos=0, retain=False, pid=0):
    if isinstance(payload, str):
        payload = payload.encode()
    return publish_head(topic, len(payload), qos, retain, pid) + payload


class Session:
    """One connection; use ``publish`` then ``close``. Raises NetError on failure."""

    def __init__(self, board, host, port, client_id, username=None, password=None,
                 secure=False, cadata=None, exchange_ms=20000, clean=True):
        self.board = board
        self.deadline = board.ticks_add(board.ticks_ms(), exchange_ms)
        self.pid = 0
        self.session_present = False
        self.sock = open_conn(board, host, port, secure, cadata)
        try:
            send_all(self.sock, connect_packet(client_id, username, password, clean=clean))
            typ, body = self._read_packet()
            if typ != 0x20 or len(body) < 2:
                raise NetError("protocol", "no CONNACK")
            if body[1] != 0:
                # 4 bad user name or password, 5 not authorised: a configuration problem
                raise NetError("auth" if body[1] in (4, 5) else "protocol",
                               "the broker refused the user name or password (CONNACK %d)" % body[1]
                               if body[1] in (4, 5) else "CONNACK %d" % body[1])
            # a broker that lost its state (restarted without persistence) has no session for us
            self.session_present = bool(body[0] & 1)
        except Exception:
            self.sock.close()
            raise

    def extend(self, ms):
        b = self.board
        self.deadline = b.ticks_add(b.ticks_ms(), ms)

    def _read_packet(self):
        b = self.board
        hdr = read_exact(b, self.sock, 1, self.deadline)[0]
        n = 0
        shift = 0
        while True:
            c = read_exact(b, self.sock, 1, self.deadline)[0]
            n |= (c & 0x7F) << shift
            shift += 7
            if not c & 0x80:
                break
            if shift > 21:
                raise NetError("protocol", "bad length")
        body = read_exact(b, self.sock, n, self.deadline) if n else b""
        return hdr & 0xF0, body

    def publish(self, topic, payload, qos=0, retain=False):
        if qos:
            self.pid = self.pid + 1 if self.pid < 65535 else 1
        if isinstance(payload, str):
            payload = payload.encode()
        # fixed header + topic, then the payload: nothing joined just to be sent (as umqtt does)
        send_all(self.sock, publish_head(topic, len(payload), qos, retain, self.pid))
        send_all(self.sock, payload)
        if qos:
            while True:
                typ, body = self._read_packet()
                if typ == 0x40 and len(body) >= 2 and (body[0] << 8 | body[1]) == self.pid:
                    return
                # anything else (a stray packet) is ignored; the deadline bounds the wait

    def close(self):
        try:
            send_all(self.sock, b"\xe0\x00")
        except NetError:
            pass
        self.sock.close()
