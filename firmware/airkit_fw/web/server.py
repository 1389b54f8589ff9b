"""A tiny HTTP/1.0-style server for the setup portal and the status page.

Why our own: MicroPython has no HTTP server built in, and the ones on mip
(microdot, tinyweb) run on asyncio with unbounded header reads; a station
needs the opposite: one connection at a time, every wait bounded below the
watchdog, fixed buffers, nothing a stranger can grow.

Rules kept here (a hostile client cannot break the station):
- the request line and headers must fit in ``_HEAD`` bytes (else 431), a
  form body in ``_BODY`` bytes (else 413);
- a connection gets ``CONN_MS`` in total, whatever it does (a slow sender is
  dropped with 408), and ``_FIRST_MS`` to start talking (browsers open spare
  connections that never do); each socket wait is at most ``_STEP_S``;
- one connection at a time, a listen backlog of 2: many connections wait or
  are refused by the network stack, never queued in our heap;
- the path is matched against a fixed table (``/``, ``/save``, ...):
  nothing is ever read from the filesystem by path, so ``/../config.json``
  is just a 404;
- answers are written in pieces (``w``), never joined into one string.
"""

try:
    from micropython import const
except ImportError:  # CPython
    def const(value):
        return value

import errno

CONN_MS = const(3000)        # the whole of one connection
_FIRST_MS = const(1000)      # a connection that sends nothing this long is closed
_STEP_S = 0.5                # one socket wait
_HEAD = const(1536)          # request line + headers
_BODY = const(1536)          # a form
_TIMEOUTS = (errno.ETIMEDOUT, errno.EAGAIN)


def html_escape(s):
    """Text shown inside HTML (text or a quoted attribute): & < > " ' escaped."""
    if not s:
        return ""
    for a, b in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&#39;")):
        if a in s:
            s = s.replace(a, b)
    return s


def unquote(s):
    """application/x-www-form-urlencoded value -> text (UTF-8; bad bytes dropped)."""
    if "%" not in s and "+" not in s:
        return s
    b = bytearray()
    i = 0
    n = len(s)
    while i < n:
        c = s[i]
        if c == "+":
            b.append(32)
        elif c == "%" and i + 2 < n:
            try:
                b.append(int(s[i + 1:i + 3], 16))
                i += 2
            except ValueError:
                b.append(37)
        else:
            b.extend(c.encode())
        i += 1
    try:
        return bytes(b).decode()
    except UnicodeError:
        return "".join(chr(x) if x < 128 else "" for x in b)


def parse_form(body):
    """{name: value} of a urlencoded form (bytes); at most 24 fields."""
    out = {}
    try:
        text = body.decode()
    except UnicodeError:
        return out
    for part in text.split("&")[:24]:
        if "=" in part:
            k, v = part.split("=", 1)
            out[unquote(k)] = unquote(v)
    return out


class Request:
    def __init__(self):
        self.method = ""
        self.path = ""
        self.query = ""
        self.host = ""
        self.lang = ""
        self.cookie = ""
        self.auth = ""
        self.length = 0
        self.body = b""

    def arg(self, name):
        """A query-string value, or None."""
        for part in self.query.split("&"):
            if part.startswith(name + "="):
                return unquote(part[len(name) + 1:])
        return None


class Server:
    """``serve(deadline, handler)``: answer connections until the deadline (ticks).
    ``handler(req, out)`` writes the answer with ``out.start(...)`` / ``out.w(text)``."""

    def __init__(self, board, port=80, accept_ms=1000):
        self.board = board
        self.port = port
        self.accept_ms = accept_ms
        self.sock = None
        self.sm = board.socket_module()
        self._buf = bytearray(_HEAD)
        self.served = 0
        self.refused = 0

    def open(self):
        sm = self.sm
        s = sm.socket(sm.AF_INET, sm.SOCK_STREAM)
        try:
            s.setsockopt(sm.SOL_SOCKET, sm.SO_REUSEADDR, 1)
            s.bind(sm.getaddrinfo("0.0.0.0", self.port)[0][-1])
            s.listen(2)
        except Exception:
            s.close()
            raise
        self.sock = s

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    def serve_once(self, wait_ms, handler):
        """Wait up to wait_ms for one connection and answer it. True if one came."""
        if self.sock is None:
            self.open()
        self.sock.settimeout(wait_ms / 1000)
        try:
            conn, _ = self.sock.accept()
        except OSError as e:
            if e.errno in _TIMEOUTS or (e.args and e.args[0] in _TIMEOUTS):
                return False
            raise
        try:
            self._handle(conn, handler)
        except OSError:
            pass                     # the client went away: nothing to do
        finally:
            try:
                conn.close()
            except OSError:
                pass
        return True

    def _handle(self, conn, handler):
        b = self.board
        deadline = b.ticks_add(b.ticks_ms(), CONN_MS)
        conn.settimeout(_STEP_S)
        buf = self._buf
        n = 0
        end = -1
        mv = memoryview(buf)
        first = b.ticks_add(b.ticks_ms(), _FIRST_MS)
        while end < 0:
            if n == 0 and b.ticks_diff(first, b.ticks_ms()) <= 0:
                return                   # a connection that says nothing (a browser's spare one)
            if b.ticks_diff(deadline, b.ticks_ms()) <= 0:
                return _simple(conn, "408 Request Timeout")
            if n >= _HEAD:
                _simple(conn, "431 Request Header Fields Too Large")
                return _drain(conn, b, deadline, 16384)
            try:
                chunk = conn.recv(_HEAD - n)     # what has arrived (a stream readinto waits for all)
            except OSError as e:
                if e.errno in _TIMEOUTS or (e.args and e.args[0] in _TIMEOUTS):
                    continue
                raise
            if not chunk:
                return                   # closed before a whole request
            k = len(chunk)
            mv[n:n + k] = chunk
            n += k
            chunk = None
            end = bytes(mv[:n]).find(b"\r\n\r\n")
        req = _parse(bytes(mv[:end]))
        if req is None:
            return _simple(conn, "400 Bad Request")
        if req.method == "POST":
            if req.length > _BODY:
                _simple(conn, "413 Payload Too Large")
                return _drain(conn, b, deadline, req.length)
            body = bytearray(bytes(mv[end + 4:n]))
            while len(body) < req.length:
                if b.ticks_diff(deadline, b.ticks_ms()) <= 0:
                    return _simple(conn, "408 Request Timeout")
                try:
                    chunk = conn.recv(req.length - len(body))
                except OSError as e:
                    if e.errno in _TIMEOUTS or (e.args and e.args[0] in _TIMEOUTS):
                        continue
                    raise
                if not chunk:
                    return
                body.extend(chunk)
            req.body = bytes(body[:req.length])
        self.served += 1
        conn.settimeout(2)
        handler(req, Out(conn))


class Out:
    """The answer, written in pieces."""

    def __init__(self, conn):
        self.conn = conn

    def start(self, status="200 OK", ctype="text/html; charset=utf-8", extra=None):
        c = self.conn
        c.write(b"HTTP/1.0 ")
        c.write(status.encode())
        c.write(b"\r\nContent-Type: ")
        c.write(ctype.encode())
        c.write(b"\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n")
        if extra:
            c.write(extra.encode())
        c.write(b"\r\n")

    def w(self, text):
        if text:
            self.conn.write(text.encode() if isinstance(text, str) else text)

    def e(self, text):
        """Untrusted text (a scanned network name, a field the user typed), escaped."""
        self.w(html_escape(text))


def _simple(conn, status):
    try:
        conn.write(b"HTTP/1.0 " + status.encode() + b"\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
                   + status.encode() + b"\n")
    except OSError:
        pass


def _drain(conn, b, deadline, n):
    """Read and drop what the client still sends (at most n bytes, until the deadline),
    so that closing does not reset the connection before it has read the answer."""
    n = min(n, 16384)
    while n > 0 and b.ticks_diff(deadline, b.ticks_ms()) > 0:
        try:
            chunk = conn.recv(512)
        except OSError:
            return
        if not chunk:
            return
        n -= len(chunk)


def _parse(head):
    try:
        text = head.decode()
    except UnicodeError:
        return None
    lines = text.split("\r\n")
    first = lines[0].split(" ")
    if len(first) != 3 or not first[2].startswith("HTTP/"):
        return None
    r = Request()
    r.method = first[0]
    target = first[1]
    if "?" in target:
        r.path, r.query = target.split("?", 1)
    else:
        r.path = target
    for line in lines[1:]:
        i = line.find(":")
        if i <= 0:
            continue
        name = line[:i].strip().lower()
        v = line[i + 1:].strip()
        if name == "host":
            r.host = v[:100]
        elif name == "accept-language":
            r.lang = v[:100]
        elif name == "cookie":
            r.cookie = v[:200]
        elif name == "authorization":
            r.auth = v[:200]
        elif name == "content-length":
            try:
                r.length = int(v)
            except ValueError:
                return None
            if r.length < 0:
                return None
    return r


LANGS = ("en", "zh-TW")


def pick_lang(req):
    """The page's language: ?lang=, then the lang cookie, then Accept-Language."""
    v = req.arg("lang")
    if v in LANGS:
        return v
    c = req.cookie
    i = c.find("lang=")
    if i >= 0:
        v = c[i + 5:].split(";", 1)[0].strip()
        if v in LANGS:
            return v
    al = req.lang.lower()
    # the first language the browser lists that we have; any Chinese -> Traditional
    for part in al.split(","):
        tag = part.split(";", 1)[0].strip()
        if tag.startswith("zh"):
            return "zh-TW"
        if tag.startswith("en"):
            return "en"
    return "en"


def text_dir():
    here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    if here.startswith(".frozen"):      # frozen code: the texts are on the filesystem
        return "/lib/airkit_fw/web"
    return here


class Texts:
    """The texts of one language, read from a small file on flash line by line
    (``key<TAB>text``), never held in RAM as a whole. Pages ask for keys in file
    order, so reading only moves forward; an out-of-order key rewinds once."""

    def __init__(self, lang, name=None):
        self.f = open(text_dir() + "/" + (name or (lang if lang in LANGS else "en")) + ".txt", "r")
        self.lang = lang

    def t(self, key):
        f = self.f
        for rewound in (False, True):
            while True:
                line = f.readline()
                if not line:
                    break
                if line.startswith(key) and line[len(key):len(key) + 1] == "\t":
                    return line[len(key) + 1:].rstrip("\n")
            if not rewound:
                f.seek(0)
        return key

    def close(self):
        self.f.close()


def static(out, key):
    """Write one piece of the pages' style or script (``static.txt`` on flash, not RAM)."""
    s = Texts("", "static")
    try:
        out.w(s.t(key))
    finally:
        s.close()
