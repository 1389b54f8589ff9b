"""A minimal, bounded HTTP/1.1 client (POST/GET, one request per connection).

Why not ``requests``: on the ESP32 it never verifies TLS certificates and has
no overall deadline. Here the connect, every send and every receive are
bounded by the socket timeout, the whole exchange by ``deadline``, the
response body is capped (``BODY_MAX``) and only the status, ``Retry-After``
and a short body are kept. Headers and body are written exactly as given, so
the payload tests can compare bytes.
"""

from airkit_fw.uplinks.net import NetError, open_conn, parse_url, send_all, read_line, read_exact

BODY_MAX = 1024
EXCHANGE_MS = 15000


def build_request(method, host, port, path, headers, body, default_port=80):
    """The request bytes: request line, Host, the given headers in order, Content-Length, body."""
    hp = host if port == default_port else "%s:%d" % (host, port)
    parts = ["%s %s HTTP/1.1\r\nHost: %s\r\n" % (method, path, hp)]
    for name, value in headers:
        parts.append("%s: %s\r\n" % (name, value))
    if body is not None:
        parts.append("Content-Length: %d\r\n" % len(body))
    parts.append("Connection: close\r\n\r\n")
    head = "".join(parts).encode()
    return head + body if body else head


def request(board, method, url, headers=(), body=None, cadata=None, exchange_ms=EXCHANGE_MS):
    """(status, retry_after_s or None, body bytes). Raises NetError on network failure."""
    scheme, host, port, path = parse_url(url)
    secure = scheme == "https"
    deadline = board.ticks_add(board.ticks_ms(), exchange_ms)
    if isinstance(body, str):
        body = body.encode()
    data = build_request(method, host, port, path, headers, body, 443 if secure else 80)
    s = open_conn(board, host, port, secure, cadata)
    try:
        send_all(s, data)
        line = read_line(board, s, deadline)
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
        s.close()
