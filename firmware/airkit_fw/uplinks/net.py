"""Bounded network primitives shared by the uplinks: URL parsing, connect, TLS.

Why this exists (and why not the stock clients): ``requests`` on the ESP32
sets ``CERT_NONE`` for https, so it never verifies certificates, and has no
overall deadline; ``umqtt.robust`` loops forever on reconnect and publish,
which starves a hardware watchdog. airkit's own minimal HTTP/1.1 and MQTT
3.1.1 clients sit on these helpers: every socket operation has a timeout
(``OP_TIMEOUT_S``, well below the watchdog) and every exchange an overall
deadline, and TLS is verified with ``tls.SSLContext`` + the uplink's CA data
+ ``server_hostname`` (the clock must be set first: certificates have dates).

Failures are raised as ``NetError(kind, detail)`` with a kind the back-off
understands: ``dns``, ``refused``, ``unreachable``, ``timeout``, ``tls``,
``reset``, ``http``, ``protocol``. errno values are compared by name.
"""

import errno

try:
    from micropython import const
except ImportError:
    def const(v):
        return v

OP_TIMEOUT_S = const(5)


class NetError(Exception):
    def __init__(self, kind, detail="", retry_after_s=None, status=None, body=b""):
        super().__init__(kind, detail)
        self.kind = kind
        self.detail = detail
        self.retry_after_s = retry_after_s
        self.status = status
        self.body = body


def _errno(e):
    if getattr(e, "errno", None) is not None:
        return e.errno
    return e.args[0] if e.args and isinstance(e.args[0], int) else None


def classify(e):
    """The kind of an OSError, compared by errno name."""
    code = _errno(e)
    if code in (errno.ETIMEDOUT, errno.EAGAIN):
        return "timeout"
    if code == errno.ECONNREFUSED:
        return "refused"
    if code in (errno.EHOSTUNREACH, getattr(errno, "ENETUNREACH", -1), getattr(errno, "ENOTCONN", -1)):
        return "unreachable"
    if code in (errno.ECONNRESET, getattr(errno, "EPIPE", -1), getattr(errno, "ECONNABORTED", -1)):
        return "reset"
    if code == errno.ENOMEM:
        return "nomem"
    return "error"


def parse_url(url):
    """(scheme, host, port, path) of http(s)://[user:pass@]host[:port]/path or mqtt(s)://...
    (the credentials are never part of the host: see ``userinfo``)."""
    i = url.find("://")
    if i < 0:
        raise ValueError("no scheme in URL")
    scheme = url[:i]
    rest = url[i + 3:]
    j = rest.find("/")
    hostport = rest if j < 0 else rest[:j]
    hostport = hostport[hostport.rfind("@") + 1:]
    path = "/" if j < 0 else rest[j:]
    port = {"http": 80, "https": 443, "mqtt": 1883, "mqtts": 8883}.get(scheme)
    if port is None:
        raise ValueError("unsupported scheme")
    k = hostport.rfind(":")
    host = hostport
    if k > 0:
        host = hostport[:k]
        port = int(hostport[k + 1:])
    return scheme, host, port, path


def userinfo(url):
    """(user, password) written into a URL as ``scheme://user:password@host``, or None."""
    i = url.find("://") + 3
    j = url.find("/", i)
    at = url.rfind("@", i, len(url) if j < 0 else j)
    if at < 0:
        return None
    u = url[i:at]
    k = u.find(":")
    return (u, "") if k < 0 else (u[:k], u[k + 1:])


def open_conn(board, host, port, secure, cadata=None, timeout_s=OP_TIMEOUT_S):
    """A connected (and, when ``secure``, verified TLS) socket. Raises NetError."""
    s = connect(board, host, port, timeout_s)
    return tls_wrap(board, s, host, cadata) if secure else s


def connect(board, host, port, timeout_s=OP_TIMEOUT_S):
    """A connected TCP socket (every operation bounded by ``timeout_s``). Raises NetError."""
    sockmod = board.socket_module()
    board.feed()
    try:
        ai = sockmod.getaddrinfo(host, port, 0, sockmod.SOCK_STREAM)
    except OSError as e:
        k = classify(e)
        raise NetError("unreachable" if k == "unreachable" else "dns", host)
    if not ai:
        raise NetError("dns", host)
    af, addr = ai[0][0], ai[0][-1]
    try:
        s = sockmod.socket(af, sockmod.SOCK_STREAM)
    except OSError as e:
        raise NetError(classify(e), "socket")
    try:
        s.settimeout(timeout_s)
        s.connect(addr)
    except OSError as e:
        s.close()
        raise NetError(classify(e), "connect")
    return s


def tls_wrap(board, s, host, cadata):
    """``s`` wrapped in verified TLS (closed on failure). Raises NetError."""
    if board.unix_time() is None:
        s.close()
        raise NetError("tls", "clock not set")
    try:
        import tls
        ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
        ctx.verify_mode = tls.CERT_REQUIRED
        for der in ca_certificates(cadata):
            ctx.load_verify_locations(der)     # the tls module takes DER, one certificate per call
        return ctx.wrap_socket(s, server_hostname=host)
    except Exception as e:  # ValueError (bad chain, wrong host), OSError, TypeError: all a TLS failure
        s.close()
        raise NetError("tls", type(e).__name__)


def ca_certificates(cadata):
    """DER certificates from CA data: PEM text (one or more certificates, as pasted
    into the config's ``ca``) or DER bytes. No CA means nothing can be verified."""
    if not cadata:
        raise ValueError("no CA certificate for an https/mqtts uplink")
    if isinstance(cadata, (bytes, bytearray)) and not cadata.startswith(b"-----"):
        return [bytes(cadata)]
    import binascii
    text = cadata.decode() if isinstance(cadata, (bytes, bytearray)) else cadata
    out = []
    begin = "-----BEGIN CERTIFICATE-----"
    end = "-----END CERTIFICATE-----"
    i = text.find(begin)
    while i >= 0:
        j = text.find(end, i)
        if j < 0:
            break
        out.append(binascii.a2b_base64("".join(text[i + len(begin):j].split())))
        i = text.find(begin, j)
    if not out:
        raise ValueError("the CA data holds no PEM certificate")
    return out


def send_all(sock, data):
    mv = memoryview(data)
    while len(mv):
        try:
            n = sock.write(mv)
        except OSError as e:
            raise NetError(classify(e), "send")
        if n is None:
            raise NetError("timeout", "send")
        if n <= 0:
            raise NetError("reset", "send")
        mv = mv[n:]


def _check(board, deadline):
    if board.ticks_diff(deadline, board.ticks_ms()) <= 0:
        raise NetError("timeout", "deadline")
    board.feed()


def read_exact(board, sock, n, deadline):
    """Exactly n bytes (each wait bounded by the socket timeout, all by ``deadline``)."""
    _check(board, deadline)
    try:
        data = sock.read(n)
    except OSError as e:
        raise NetError(classify(e), "recv")
    if data is None:
        raise NetError("timeout", "recv")
    if len(data) < n:
        raise NetError("reset", "short read")
    return data


def read_line(board, sock, deadline, limit=512):
    """One CRLF-terminated line (bounded length and time)."""
    _check(board, deadline)
    try:
        line = sock.readline()
    except OSError as e:
        raise NetError(classify(e), "recv")
    if line is None:
        raise NetError("timeout", "recv")
    if not line:
        raise NetError("reset", "closed")
    if len(line) > limit:
        raise NetError("protocol", "line too long")
    return line
