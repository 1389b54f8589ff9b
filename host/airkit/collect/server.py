"""The collector's web service: Starlette under uvicorn.

Write endpoints (byte-compatible with what deployed stations send):

- ``POST /v1/push-sensor-data/`` — the Sensor.Community push API as the real
  server answers it: the node comes from ``X-Sensor`` (or ``Sensor``/``Node``)
  and must be registered (``airkit collect add-node``), else **403** "Node not
  found"; a malformed body, an unknown value type or pin is **400**;
  ``timestamp`` (ISO 8601) is honoured, else the receive time is used. P0/P1/P2
  are stored as PM1/PM10/PM2.5 atmospheric values, or CF=1 values when the push
  says so (``X-Airkit-PM: cf1``, sent by an airkit station whose uplink has
  ``"pm": "cf1"``), ``temperature``/``humidity`` as temp_c/rh. Success: **201** echoing the body.
- ``POST /api/v1/batch`` — the airkit JSON batch: ``Authorization: Bearer
  <token>`` checked against the device's stored token hash (401 wrong/missing,
  403 unknown device), 400 malformed, 200 ``{"accepted", "duplicates",
  "untimed"}``. Readings with no time are counted, not stored.

Validation rules are in :mod:`airkit.collect.ingest`, the open data API and the
dashboard in :mod:`airkit.collect.api`. Every body is limited (``max_body``):
a larger ``Content-Length`` gets **413** without the body being read, a missing
one **411**; a client that stalls for ``timeout_s`` while sending its request is
disconnected (408 when it stalled inside the body). A reading is acknowledged
(2xx) only after it is committed to the store.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading

from airkit.collect.ingest import BATCH_PATH, SC_PATH, FailedAuth, Reject, parse_batch, parse_sc
from airkit.collect.store import Store

DEFAULT_MAX_BODY = 1 << 20
DEFAULT_TIMEOUT_S = 10.0


def _json(status, obj, headers=None):
    from starlette.responses import Response

    h = {"Connection": "close"}
    h.update(headers or {})
    return Response(json.dumps(obj).encode(), status, headers=h, media_type="application/json")


class _HookHandler:
    """What a test's ``fault_hook`` sees: the few ``BaseHTTPRequestHandler`` verbs it uses."""

    def __init__(self, path, headers):
        self.path = path
        self.headers = headers
        self.status = None
        self.out_headers = {}
        self.body = b""
        self.close_connection = False

    def send_response(self, status, message=None):
        self.status = status

    def send_header(self, name, value):
        self.out_headers[name] = value

    def end_headers(self):
        pass

    def _send(self, status, obj):
        self.status = status
        self.body = json.dumps(obj).encode()

    def response(self):
        from starlette.responses import Response

        self.out_headers.pop("Content-Length", None)
        return Response(self.body, self.status or 500, headers=self.out_headers, media_type="application/json")


async def read_body(request, max_body: int, timeout_s: float) -> bytes:
    n = request.headers.get("content-length")
    if n is None:
        raise Reject(411, "Content-Length is required")
    try:
        n = int(n)
    except ValueError:
        raise Reject(400, "bad Content-Length")
    if n < 0:
        raise Reject(400, "bad Content-Length")
    if n > max_body:
        raise Reject(413, "request body over %d bytes" % max_body)
    chunks = []
    got = 0
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                got += len(chunk)
                if got > max_body:
                    raise Reject(413, "request body over %d bytes" % max_body)
                chunks.append(chunk)
    except TimeoutError:
        raise Reject(408, "the request body did not arrive within %g s" % timeout_s)
    except Exception as e:           # the client went away mid-body
        if isinstance(e, Reject):
            raise
        raise Reject(400, "the request body was cut off")
    return b"".join(chunks)


def build_app(coll: "Collector"):
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.middleware import Middleware
    from starlette.middleware.cors import CORSMiddleware
    from starlette.routing import Route

    from airkit.collect import api, qc, sta

    async def write(request, kind):
        path = request.url.path
        client = request.client.host if request.client else "?"
        try:
            wait = coll.failed_auth.retry_after(client)
            if wait:
                return _json(429, {"detail": "too many failed authentications from this address: try again in "
                                             "%d s" % wait}, {"Retry-After": str(wait)})
            hook = coll.fault_hook
            if hook is not None:
                h = _HookHandler(path, request.headers)
                if await run_in_threadpool(hook, h):
                    return h.response()
            body = await read_body(request, coll.max_body, coll.timeout_s)
            status, obj = await coll.write_slot(coll.ingest, kind, request.headers, body)
            return _json(status, obj)
        except Reject as e:
            if e.status in (401, 403):
                coll.failed_auth.failed(client)
            return _json(e.status, {"detail": e.detail})

    async def sc(request):
        return await write(request, "sc")

    async def batch(request):
        return await write(request, "batch")

    async def stats(request):
        counts = await coll.heavy_read(coll.store.counts)
        return _json(200, {"devices": counts, "requests": coll.stats})

    routes = [Route(SC_PATH, sc, methods=["POST"]), Route(SC_PATH.rstrip("/"), sc, methods=["POST"]),
              Route(BATCH_PATH, batch, methods=["POST"]), Route("/api/v1/stats", stats, methods=["GET"])]
    from airkit.collect import ota
    routes += ota.routes(coll)          # with --releases DIR: releases, rollout, fleet (airkit.collect.ota)
    routes += api.routes(coll)
    routes += sta.routes(coll)
    routes += qc.routes(coll)
    middleware = [Middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET"], allow_headers=["*"])]

    async def not_found(request, exc):
        return _json(getattr(exc, "status_code", 404), {"detail": "Not found."})

    async def not_allowed(request, exc):
        allow = (getattr(exc, "headers", None) or {}).get("Allow", "")
        return _json(405, {"detail": "method %s is not allowed here: use %s" % (request.method[:10], allow or "GET")},
                     {"Allow": allow} if allow else None)

    async def busy(request, exc):
        return _json(503, {"detail": getattr(exc, "detail", "busy")}, getattr(exc, "headers", None))

    async def server_error(request, exc):
        return _json(500, {"detail": "internal error: %s" % type(exc).__name__})

    app = Starlette(routes=routes, middleware=middleware,
                    exception_handlers={404: not_found, 405: not_allowed, 503: busy, 500: server_error})
    return SecurityHeaders(app, coll)


class SecurityHeaders:
    """Headers on every answer (pure ASGI, no buffering): a Content-Security-Policy that allows only
    this server's own scripts and styles (and the configured tile server's images), no framing
    except by the operator's ``--frame-ancestors``, no MIME sniffing, no referrer to other sites."""

    def __init__(self, app, coll):
        self.app = app
        self.coll = coll
        self._headers = None

    def headers(self):
        if self._headers is None:
            from airkit.collect.api import settings

            img = "'self' data:"
            tiles = settings(self.coll)["tiles"]
            if tiles:
                from urllib.parse import urlsplit

                u = urlsplit(tiles.replace("{s}", "a"))
                host = u.hostname or ""
                if "{s}" in tiles:
                    host = "*." + host.split(".", 1)[1] if "." in host else host
                img += " %s://%s%s" % (u.scheme, host, ":%d" % u.port if u.port else "")
            csp = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src %s; "
                   "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
                   "frame-ancestors 'none'" % img)
            self._headers = [(b"content-security-policy", csp.encode()), (b"x-content-type-options", b"nosniff"),
                             (b"x-frame-options", b"DENY"), (b"referrer-policy", b"strict-origin-when-cross-origin")]
        return self._headers

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        extra = self.headers()

        async def send_with(message):
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with)


def raise_fd_limit() -> int:
    """Raise this process's soft limit of open files to its hard limit (allowed without privileges);
    returns the soft limit in force. Every connection is a file: at Linux's default 1,024 a crowd of
    idle clients would exhaust it."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = hard if hard != resource.RLIM_INFINITY else 1 << 20
        if soft == resource.RLIM_INFINITY or soft >= want:
            return soft if soft != resource.RLIM_INFINITY else 1 << 20
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        return want
    except (ImportError, ValueError, OSError):
        return 1024


_BUSY_BODY = b'{"detail": "too many connections: try again in a few seconds"}'
_TOO_MANY = (b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nConnection: close\r\nContent-Type: "
             b"application/json\r\nContent-Length: %d\r\n\r\n" % len(_BUSY_BODY)) + _BUSY_BODY
FD_RESERVE = 64          # files kept free for the database, static files and the log


class _QuietAccept:
    """asyncio logs a traceback each time accept() fails for lack of file descriptors; this
    filter turns them into one line a minute (the server keeps running and accepts again)."""

    def __init__(self):
        self.last = 0.0

    def filter(self, record):
        import time

        msg = record.getMessage()
        if "_start_serving" in msg:
            return False              # the retry of accept() after such a failure, met by the server's stop
        if "accept" not in msg and "out of system resource" not in msg:
            return True
        now = time.monotonic()
        if now - self.last < 60:
            return False
        self.last = now
        record.msg, record.args, record.exc_info, record.exc_text = (
            "airkit collect: out of file descriptors: new connections wait (raise 'ulimit -n' or put a proxy "
            "in front)", None, None, None)
        return True


def _protocol(request_timeout_s, max_connections=None):
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class TimedH11(H11Protocol):
        """h11 with a deadline on the request head: a client that connects and stalls
        (or stalls between requests) is dropped after ``request_timeout_s``; beyond
        ``max_connections`` open connections a new one is answered 503 and closed at once."""

        def connection_made(self, transport):
            super().connection_made(transport)
            if max_connections and len(self.server_state.connections) > max_connections:
                transport.write(_TOO_MANY)
                transport.close()
                self._head_timer = self.loop.call_later(0, lambda: None)
                return
            self._arm()

        def _arm(self):
            self._head_timer = self.loop.call_later(request_timeout_s, self._stalled)

        def _stalled(self):
            if self.transport.is_closing():
                return
            if self.cycle is None or self.cycle.response_complete:
                self.transport.close()
            else:
                self._arm()                     # the app is working on it; the app has its own body timeout

        def on_response_complete(self):
            super().on_response_complete()
            if not self.transport.is_closing():
                self._head_timer.cancel()
                self._arm()

        def connection_lost(self, exc):
            self._head_timer.cancel()
            super().connection_lost(exc)

    return TimedH11


class Collector:
    """The collector server; ``start()`` runs uvicorn in a background thread."""

    def __init__(self, store: Store, host="127.0.0.1", port=8000, max_body=DEFAULT_MAX_BODY, verbose=False,
                 tls_cert=None, tls_key=None, timeout_s=DEFAULT_TIMEOUT_S, settings=None, qc=True,
                 qc_warm_hours=None, archive_dir=None):
        import logging

        import uvicorn

        if tls_cert:
            # https for stations that upload over the internet; the station verifies
            # this certificate against the CA pasted into its uplink's "ca".
            import ssl

            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(tls_cert, tls_key)   # fail here, clearly
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((host, port))
            self.sock.listen(512)
        except OSError:
            self.sock.close()
            raise
        self.host = host
        self.scheme = "https" if tls_cert else "http"
        self.store = store
        self.max_body = max_body
        self.timeout_s = timeout_s
        self.verbose = verbose
        self.settings = dict(settings or {})
        self.fault_hook = None          # tests: callable(handler) -> True when it answered itself
        self.failed_auth = FailedAuth()
        # daily archives are built once and kept: beside a SQLite file, else in a folder of this process
        self.archive_dir = archive_dir or (
            str(store.path) + ".archive" if getattr(store, "kind", "") == "sqlite" else None)
        if not self.archive_dir:
            import tempfile

            self.archive_dir = tempfile.mkdtemp(prefix="airkit-archive-")
        self._read_limiter = self._write_limiter = None
        self._qc_q = None
        self.qc_dropped = 0
        self.stats = {}
        self.qc = None
        if qc:          # network data quality (airkit.collect.qc): judged as readings arrive
            from airkit.collect.qc import Runner

            # the stored hours are replayed on the QC worker, not here: the server starts listening at once
            self.qc = Runner(store, warm_hours=qc_warm_hours, warm=False)
        self._lock = threading.Lock()
        self._thread = None
        if not verbose:
            logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
        logging.getLogger("asyncio").addFilter(_QuietAccept())
        self.fd_limit = raise_fd_limit()
        self.max_connections = max(16, self.fd_limit - FD_RESERVE)
        config = uvicorn.Config(build_app(self), log_level="info" if verbose else "critical", access_log=verbose,
                                http=_protocol(timeout_s, self.max_connections), lifespan="off", ws="none", timeout_keep_alive=5,
                                ssl_certfile=tls_cert, ssl_keyfile=tls_key, server_header=False)
        self.server = uvicorn.Server(config)

    @property
    def port(self):
        return self.sock.getsockname()[1]

    @property
    def url(self):
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return "%s://%s:%d/" % (self.scheme, host, self.port)

    # --- load isolation: uploads never wait behind heavy reads -------------------------------------
    # Reads of the open data API (history, latest, health) run in at most READ_SLOTS threads, on
    # the store's own read connection; uploads have WRITE_SLOTS threads of their own and the write
    # connection. A read that would wait behind more than MAX_READ_QUEUE others is answered 503
    # (Retry-After) at once, so a crowd of readers costs memory for nothing.
    READ_SLOTS = 2
    WRITE_SLOTS = 16
    MAX_READ_QUEUE = 64

    def _limiters(self):
        if self._read_limiter is None:
            import anyio

            self._read_limiter = anyio.CapacityLimiter(self.READ_SLOTS)
            self._write_limiter = anyio.CapacityLimiter(self.WRITE_SLOTS)
        return self._read_limiter, self._write_limiter

    async def heavy_read(self, fn, *args):
        import anyio.to_thread

        limiter = self._limiters()[0]
        if limiter.statistics().tasks_waiting >= self.MAX_READ_QUEUE:
            from starlette.exceptions import HTTPException

            raise HTTPException(503, "too many reads at once: try again in a few seconds",
                                headers={"Retry-After": "5"})
        return await anyio.to_thread.run_sync(fn, *args, limiter=limiter)

    async def write_slot(self, fn, *args):
        import anyio.to_thread

        return await anyio.to_thread.run_sync(fn, *args, limiter=self._limiters()[1])

    def ingest(self, kind, headers, body) -> tuple[int, dict]:
        """Validate and store one request (in a worker thread); (status, answer). Raises Reject."""
        if kind == "sc":
            rows, data = parse_sc(self.store, headers, body)
            new, dup = self.store.put(rows, "sensor_community")
            self.count("sensor_community", new, dup)
            self._judge(rows)
            return 201, data
        rows, untimed, meta = parse_batch(self.store, headers, body)
        new, dup = self.store.put(rows, "airkit_json", meta)
        self.count("airkit_json", new, dup)
        self._judge(rows)
        return 200, {"accepted": new, "duplicates": dup, "untimed": untimed}

    # Network QC is judged in a worker thread of its own, after the upload is answered: closing an
    # hour judges every station (seconds at 2,000 stations), which no upload may wait for. Readers
    # of QC results (/api/v1/qc, history's qc column) first let the worker catch up (bounded).
    QC_QUEUE = 10000

    def _judge(self, rows):
        if self.qc is None or not rows:
            return
        import queue

        with self._lock:
            self._qc_start()
            try:
                self._qc_q.put_nowait(rows)
                self._qc_busy += 1
            except queue.Full:
                self.qc_dropped += 1         # QC is best effort; the readings are stored and answered

    def _qc_start(self):
        """The QC worker, started once (under self._lock); its first job replays the stored hours."""
        import queue

        if self._qc_q is None:
            self._qc_q = queue.Queue(self.QC_QUEUE)
            self._qc_busy = 1
            self._qc_idle = threading.Condition(self._lock)
            self._qc_q.put_nowait("warm")
            threading.Thread(target=self._qc_worker, name="airkit-qc", daemon=True).start()

    def _qc_worker(self):
        import logging

        while True:
            rows = self._qc_q.get()
            if rows is None:
                return
            try:
                if rows == "warm":
                    self.qc.warm()
                else:
                    self.qc.feed(rows)
            except Exception:          # quality control must never cost a reading its acknowledgement
                logging.getLogger("airkit.collect").exception("network QC failed on a batch")
            finally:
                with self._lock:
                    self._qc_busy -= 1
                    if self._qc_busy == 0:
                        self._qc_idle.notify_all()

    def qc_drain(self, timeout: float = 10.0) -> bool:
        """Wait (at most ``timeout`` s) until network QC has judged every acknowledged batch."""
        import time

        deadline = time.monotonic() + timeout
        with self._lock:
            while self._qc_q is not None and self._qc_busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._qc_idle.wait(left)
        return True

    def count(self, api, new, dup):
        with self._lock:
            s = self.stats.setdefault(api, {"new": 0, "duplicates": 0})
            s["new"] += new
            s["duplicates"] += dup

    def _qc_begin(self):
        if self.qc is not None:
            with self._lock:
                self._qc_start()

    def start(self):
        self._qc_begin()
        self._thread = threading.Thread(target=lambda: asyncio.run(self.server.serve(sockets=[self.sock])),
                                        name="airkit-collect", daemon=True)
        self._thread.start()
        for _ in range(400):                 # bounded: 20 s
            if self.server.started or not self._thread.is_alive():
                break
            self._thread.join(0.05)
        if not self.server.started:
            raise RuntimeError("the collector's web server did not start")
        return self

    def serve_forever(self):
        """Run in the calling thread until stop() (used by ``airkit collect``)."""
        self._qc_begin()
        asyncio.run(self.server.serve(sockets=[self.sock]))

    def stop(self):
        if self._qc_q is not None:
            self.qc_drain(5.0)
            try:
                self._qc_q.put_nowait(None)
            except Exception:
                pass
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(15)
        self.sock.close()
