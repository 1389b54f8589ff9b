"""A minimal, bounded HTTP/1.1 client (POST/GET, one request per connection).

``request`` is ``start`` (connect, send) then ``finish`` (read the answer); the
delivery loop calls them apart, waits on several started exchanges with
``ready`` (the board's ``select.poll``) and so lets a late answer wait while
the next request goes (``base.Uplinks.exchange``).

Why not ``requests``: on the ESP32 it never verifies TLS certificates and has
no overall deadline. Here the connect, every send and every receive are
bounded by the socket timeout, the whole exchange by ``deadline``, the
response body is capped (``BODY_MAX``) and only the status, ``Retry-After``
and a short body are kept. Headers and body are written exactly as given, so
the payload tests can compare bytes.

Bodies are streamed: ``body`` may be a function ``body(write)`` that calls
``write(piece)`` for each piece (a record's line, say). It is called twice,
once to count the bytes for ``Content-Length`` and once to send them through
one small reused buffer, so a 100-record batch never exists as one string in
the heap (a ~2 KB allocation is what fails first in a fragmented heap).
"""

try:
    from micropython import const
except ImportError:
    def const(v):
        return v

from airkit_fw.uplinks.net import (NetError, OP_TIMEOUT_S, classify, connect, tls_wrap, parse_url, userinfo,
                                   send_all, read_line, read_exact)

BODY_MAX = const(1024)
EXCHANGE_MS = const(15000)
_WAIT_STEP_MS = const(5000)   # longest poll between watchdog feeds (as Board.sleep_ms)
_BUF = const(256)      # small enough for the holes of a fragmented heap (512 B was not, two uplinks)
_buf = None


class _Count:
    def __init__(self):
        self.n = 0

    def __call__(self, piece):
        self.n += len(piece.encode()) if isinstance(piece, str) else len(piece)


class _Writer:
    """Copies pieces into one reused buffer and sends it when full."""

    def __init__(self, sock):
        global _buf
        if _buf is None:
            _buf = bytearray(_BUF)
        self.sock = sock
        self.n = 0

    def __call__(self, piece):
        if isinstance(piece, str):
            piece = piece.encode()
        n = len(piece)
        if self.n + n > _BUF:
            self.flush()
            if n > _BUF:
                send_all(self.sock, piece)
                return
        _buf[self.n:self.n + n] = piece
        self.n += n

    def flush(self):
        if self.n:
            send_all(self.sock, memoryview(_buf)[:self.n])
            self.n = 0


def body_length(body):
    if body is None:
        return None
    if callable(body):
        c = _Count()
        body(c)
        return c.n
    return len(body)


def build_head(method, host, port, path, headers, length, default_port=80):
    """The request head: request line, Host, the given headers in order, Content-Length."""
    hp = host if port == default_port else "%s:%d" % (host, port)
    parts = ["%s %s HTTP/1.1\r\nHost: %s\r\n" % (method, path, hp)]
    for name, value in headers:
        parts.append("%s: %s\r\n" % (name, value))
    if length is not None:
        parts.append("Content-Length: %d\r\n" % length)
    parts.append("Connection: close\r\n\r\n")
    return "".join(parts).encode()


def build_request(method, host, port, path, headers, body, default_port=80):
    """The whole request as bytes (tests and size figures; ``request`` streams it)."""
    if callable(body):
        out = []
        body(lambda p: out.append(p.encode() if isinstance(p, str) else bytes(p)))
        body = b"".join(out)
    head = build_head(method, host, port, path, headers, None if body is None else len(body), default_port)
    return head + body if body else head


class Exchange:
    """One request on its own connection, sent, its answer not yet read. ``raw`` is the
    TCP socket (what is polled: a TLS layer reads nothing before the answer is asked
    for), ``sock`` the stream to read (the same, or its TLS wrapper). ``answer_by``: the
    answer must start before it (the socket timeout after the request went out, as a
    blocking read would wait); ``deadline`` bounds the whole exchange."""

    def __init__(self, sock, raw, deadline, sent, answer_by, err):
        self.sock = sock
        self.raw = raw
        self.deadline = deadline
        self.sent = sent
        self.answer_by = answer_by
        self.err = err          # a failure while sending: the answer (if any) still counts
        self.seq = 0            # the piece it carries (set by the delivery loop)
        self.bit = 0

    def close(self):
        s = self.sock
        if s is not None:
            self.sock = None
            self.raw = None
            s.close()


def start(board, method, url, headers=(), body=None, cadata=None, exchange_ms=EXCHANGE_MS):
    """Connect and send the request: an ``Exchange`` whose answer ``finish`` reads.
    Raises NetError when the request could not be sent."""
    scheme, host, port, path = parse_url(url)
    secure = scheme == "https"
    cred = userinfo(url)
    if cred and not any(h[0] == "Authorization" for h in headers):
        # http://user:pass@host (InfluxDB 1.x, a collector behind a proxy): HTTP Basic, as curl does
        import binascii
        headers = tuple(headers) + (("Authorization", "Basic " + binascii.b2a_base64(
            ("%s:%s" % cred).encode()).strip().decode()),)
    deadline = board.ticks_add(board.ticks_ms(), exchange_ms)
    if isinstance(body, str):
        body = body.encode()
    head = build_head(method, host, port, path, headers, body_length(body), 443 if secure else 80)
    raw = connect(board, host, port)
    s = tls_wrap(board, raw, host, cadata) if secure else raw
    err = None
    try:
        if callable(body):
            send_all(s, head)
            head = None
            w = _Writer(s)
            body(w)
            w.flush()
        else:
            send_all(s, head)        # not head + body: no request-sized copy in the heap
            if body:
                send_all(s, body)
    except NetError as e:
        # a server may answer (401, 413) and close before reading the whole body:
        # its answer is what counts, if it sent one
        if e.kind == "timeout":
            s.close()
            raise
        err = e
    except BaseException:
        s.close()
        raise
    now = board.ticks_ms()
    return Exchange(s, raw, deadline, now, board.ticks_add(now, OP_TIMEOUT_S * 1000), err)


def finish(board, ex):
    """(status, retry_after_s or None, body bytes) of a started exchange; closes it.
    Raises NetError when no (valid) answer comes."""
    s = ex.sock
    deadline = ex.deadline
    try:
        try:
            line = read_line(board, s, deadline)
        except NetError:
            if ex.err is not None:
                raise ex.err
            raise
        try:
            status = int(line.split(None, 2)[1])
        except (IndexError, ValueError):
            raise NetError("protocol", "bad status line")
        length = None
        retry_after = None
        chunked = False
        while True:
            h = read_line(board, s, deadline)
            if h in (b"\r\n", b"\n"):
                break
            k = h.find(b":")
            if k < 0:
                continue
            name = h[:k].strip().lower()
            value = h[k + 1:].strip()
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    raise NetError("protocol", "bad content-length")
            elif name == b"retry-after":
                try:
                    retry_after = int(value)
                except ValueError:
                    retry_after = 60      # an HTTP date: wait a minute rather than parse it
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        resp = b""
        if length is not None and not chunked:
            n = length if length < BODY_MAX else BODY_MAX
            if n:
                resp = read_exact(board, s, n, deadline)
        return status, retry_after, resp
    finally:
        ex.close()


def request(board, method, url, headers=(), body=None, cadata=None, exchange_ms=EXCHANGE_MS):
    """(status, retry_after_s or None, body bytes). Raises NetError on network failure."""
    return finish(board, start(board, method, url, headers, body, cadata, exchange_ms))


def ready(board, poller, exchanges, ms):
    """Wait at most ``ms`` (in watchdog-safe steps) until one of ``exchanges`` (each
    registered with ``poller``, the board's ``select.poll``) has something to read: that
    exchange, or None. A connection the server closed is readable too (its end)."""
    end = board.ticks_add(board.ticks_ms(), ms if ms > 0 else 0)
    while True:
        left = board.ticks_diff(end, board.ticks_ms())
        if left < 0:
            left = 0
        board.feed()
        try:
            got = poller.poll(left if left < _WAIT_STEP_MS else _WAIT_STEP_MS)
        except OSError as e:
            raise NetError(classify(e), "poll")
        for ev in got:
            for ex in exchanges:
                if ex.raw is ev[0]:
                    return ex
        if left == 0 or board.ticks_diff(end, board.ticks_ms()) <= 0:
            return None
