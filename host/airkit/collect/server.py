"""The collector's web service: Starlette under uvicorn.

Write endpoints (byte-compatible with what deployed stations send):

- ``POST /v1/push-sensor-data/`` — the Sensor.Community push API as the real
  server answers it: the node comes from ``X-Sensor`` (or ``Sensor``/``Node``)
  and must be registered (``airkit collect add-node``), else **403** "Node not
  found"; a malformed body, an unknown value type or pin is **400**;
  ``timestamp`` (ISO 8601) is honoured, else the receive time is used. P0/P1/P2
  are stored as PM1/PM10/PM2.5 atmospheric values, ``temperature``/``humidity``
  as temp_c/rh. Success: **201** echoing the body.
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

from airkit.collect.ingest import BATCH_PATH, SC_PATH, Reject, parse_batch, parse_sc
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

    from airkit.collect import api

    async def write(request, kind):
        path = request.url.path
        try:
            hook = coll.fault_hook
            if hook is not None:
                h = _HookHandler(path, request.headers)
                if await run_in_threadpool(hook, h):
                    return h.response()
            body = await read_body(request, coll.max_body, coll.timeout_s)
            status, obj = await run_in_threadpool(coll.ingest, kind, request.headers, body)
            return _json(status, obj)
        except Reject as e:
            return _json(e.status, {"detail": e.detail})

    async def sc(request):
        return await write(request, "sc")

    async def batch(request):
        return await write(request, "batch")

    async def stats(request):
        counts = await run_in_threadpool(coll.store.counts)
        return _json(200, {"devices": counts, "requests": coll.stats})

    routes = [Route(SC_PATH, sc, methods=["POST"]), Route(SC_PATH.rstrip("/"), sc, methods=["POST"]),
              Route(BATCH_PATH, batch, methods=["POST"]), Route("/api/v1/stats", stats, methods=["GET"])]
    from airkit.collect import ota
    routes += ota.routes(coll)          # with --releases DIR: releases, rollout, fleet (airkit.collect.ota)
    routes += api.routes(coll)
    middleware = [Middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET"], allow_headers=["*"])]

    async def not_found(request, exc):
        return _json(getattr(exc, "status_code", 404), {"detail": "Not found."})

    async def server_error(request, exc):
        return _json(500, {"detail": "internal error: %s" % type(exc).__name__})

    return Starlette(routes=routes, middleware=middleware,
                     exception_handlers={404: not_found, 405: not_found, 500: server_error})


def _protocol(request_timeout_s):
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class TimedH11(H11Protocol):
        """h11 with a deadline on the request head: a client that connects and stalls
        (or stalls between requests) is dropped after ``request_timeout_s``."""

        def connection_made(self, transport):
            super().connection_made(transport)
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
                 tls_cert=None, tls_key=None, timeout_s=DEFAULT_TIMEOUT_S, settings=None):
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
        self.stats = {}
        self._lock = threading.Lock()
        self._thread = None
        if not verbose:
            logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
        config = uvicorn.Config(build_app(self), log_level="info" if verbose else "critical", access_log=verbose,
                                http=_protocol(timeout_s), lifespan="off", ws="none", timeout_keep_alive=5,
                                ssl_certfile=tls_cert, ssl_keyfile=tls_key, server_header=False)
        self.server = uvicorn.Server(config)

    @property
    def port(self):
        return self.sock.getsockname()[1]

    @property
    def url(self):
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return "%s://%s:%d/" % (self.scheme, host, self.port)

    def ingest(self, kind, headers, body) -> tuple[int, dict]:
        """Validate and store one request (in a worker thread); (status, answer). Raises Reject."""
        if kind == "sc":
            rows, data = parse_sc(self.store, headers, body)
            new, dup = self.store.put(rows, "sensor_community")
            self.count("sensor_community", new, dup)
            return 201, data
        rows, untimed, meta = parse_batch(self.store, headers, body)
        new, dup = self.store.put(rows, "airkit_json", meta)
        self.count("airkit_json", new, dup)
        return 200, {"accepted": new, "duplicates": dup, "untimed": untimed}

    def count(self, api, new, dup):
        with self._lock:
            s = self.stats.setdefault(api, {"new": 0, "duplicates": 0})
            s["new"] += new
            s["duplicates"] += dup

    def start(self):
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
        asyncio.run(self.server.serve(sockets=[self.sock]))

    def stop(self):
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(15)
        self.sock.close()
