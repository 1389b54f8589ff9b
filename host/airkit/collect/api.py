"""The open data API (read-only, no key, CORS on) and the dashboard's files.

- ``GET /api/v1/latest`` — the latest reading of every station in one document
  (like LASS "last-all" and Sensor.Community ``data.json``), JSON or ``?format=csv``.
- ``GET /api/v1/stations/{id}`` — one station: where, firmware, correction, last seen,
  backlog, health.
- ``GET /api/v1/stations/{id}/history?from=&to=&every=raw|hourly|daily&format=json|csv``
  — a time range (ISO 8601; default: the 24 h up to the station's latest reading).
- ``GET /api/v1/health?silent_after=N`` — silent stations, A/B disagreement, uncorrected.
- ``GET /api/openapi.json`` (OpenAPI 3.1) and ``GET /api/docs`` (the same, readable).
- ``GET /`` the dashboard (``static/``: Leaflet from npm, our own JS and SVG charts).

Every document carries the licence and attribution configured with
``airkit collect --licence/--attribution``.
"""

from __future__ import annotations

import csv
import html
import io
import json
import time
from pathlib import Path

from airkit.collect.store import VALUE_COLUMNS, csv_cell, epoch_of, iso_of
from airkit_fw.flags import AB_DISAGREE, bits as _flag_bits

EARLIEST_DATA = 1420070400  # 2015-01-01: no reading is older (the ingest refuses them)

STATIC = Path(__file__).resolve().parent / "static"
DEFAULT_SETTINGS = {
    "licence": "ODbL-1.0",
    "licence_url": "https://opendatacommons.org/licenses/odbl/1-0/",
    "attribution": "airkit collect (station owners)",
    "tiles": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
    "tiles_attribution": "\u00a9 OpenStreetMap contributors",      # plain text: the page escapes it
    "silent_after": 3,
    "title": "airkit stations",
}
CHART_COLUMNS = ["pm25_atm", "pm25_cf1", "pm25_corrected", "pm10_atm", "rh", "temp_c"]
EVERY = ("raw", "hourly", "daily", "auto")
PAGE_ROWS = 10000           # rows per history answer by default; ``limit`` up to MAX_PAGE_ROWS
MAX_PAGE_ROWS = 50000
AUTO_RAW_S = 3 * 86400      # every=auto: raw up to 3 days, hourly up to 90 days, daily beyond
AUTO_HOURLY_S = 90 * 86400
LATEST_TTL_S = 10.0         # /api/v1/latest is built at most once per this many seconds


class BadQuery(Exception):
    def __init__(self, msg, status=400):
        super().__init__(msg)
        self.status = status


def settings(coll) -> dict:
    s = dict(DEFAULT_SETTINGS)
    s.update({k: v for k, v in coll.settings.items() if v is not None})
    if not safe_url(s["licence_url"]):
        s["licence_url"] = ""                   # never a javascript: or data: link on the page
    if s["tiles"] and not safe_url(s["tiles"]):
        s["tiles"] = ""
    return s


def safe_url(u) -> bool:
    """An absolute http(s) URL (what operator settings that become links or tile sources may be)."""
    from urllib.parse import urlsplit

    if not isinstance(u, str) or any(c in u for c in "\"'<>\\ \t\r\n") or len(u) > 2000:
        return False
    try:
        p = urlsplit(u)
    except ValueError:
        return False
    return p.scheme in ("http", "https") and bool(p.netloc)


def attachment(name: str) -> str:
    """Content-Disposition for a download named ``name`` (any Unicode): an ASCII fallback in a quoted
    ``filename`` and the real name in ``filename*`` (RFC 6266 / RFC 5987)."""
    from urllib.parse import quote

    ascii_name = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in name) or "download"
    return "attachment; filename=\"%s\"; filename*=UTF-8''%s" % (ascii_name, quote(name, safe=""))


def _epoch_param(q, name):
    v = q.get(name)
    if v is None or v == "":
        return None
    try:
        return epoch_of(v)
    except (ValueError, OverflowError):
        raise BadQuery("%s=%s is not an ISO 8601 time (e.g. 2026-01-05T00:00:00Z)" % (name, v[:40]))


def station_health(s: dict, now: float, silent_after: int) -> dict:
    interval = s.get("interval_s") or 300
    last_seen = epoch_of(s["last_seen"]) if s.get("last_seen") else None
    silent = last_seen is None or now - last_seen > silent_after * interval
    flags = s["flags"].split(";") if s.get("flags") else []
    latest = s.get("epoch")
    if s.get("pending") is not None:
        backlog, how = s["pending"], "reported by the station"
    elif latest is not None:
        backlog, how = max(0, int((now - latest) // interval) - 1), "estimated from the last reading time"
    else:
        backlog, how = None, "unknown"
    age = None if latest is None else max(0, int(now - latest))
    return {"silent": silent, "silent_for_s": None if last_seen is None else max(0, int(now - last_seen)),
            # the newest reading is older than the silence limit although the station was heard:
            # a backlog is arriving, the value is not "now"
            "reading_age_s": age, "stale": age is not None and not silent and age > silent_after * interval,
            "ab_disagree": bool(_flag_bits(flags) & AB_DISAGREE),
            # a station with a known correction is corrected even when its newest row is the
            # Sensor.Community copy (which carries no corrected value)
            "uncorrected": s.get("pm25_corrected") is None and not s.get("model"),
            "flags": flags, "backlog": backlog, "backlog_source": how, "interval_s": interval}


def latest_doc(coll, silent_after=None, only=None) -> dict:
    """Every station's latest reading and health (or only station ``only``); empty values are left out."""
    st = settings(coll)
    n = silent_after or st["silent_after"]
    now = time.time()
    out = []
    for s in coll.store.stations(only):
        s["health"] = station_health(s, now, n)
        del s["epoch"]
        out.append({k: v for k, v in s.items() if v is not None})
    return {"licence": st["licence"], "licence_url": st["licence_url"], "attribution": st["attribution"],
            "generated": iso_of(int(now)), "silent_after_intervals": n, "stations": out}


def _csv(rows, columns) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow(["" if r.get(c) is None else (round(r[c], 3) if isinstance(r[c], float) else csv_cell(r[c]))
                    for c in columns])
    return buf.getvalue()


def history_doc(coll, station, q) -> tuple[dict, list[str]]:
    every = q.get("every", "raw")
    if every not in EVERY:
        raise BadQuery("every must be raw, hourly, daily or auto")
    try:
        limit = int(q.get("limit") or PAGE_ROWS)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_PAGE_ROWS:
        raise BadQuery("limit must be a whole number from 1 to %d (rows per page; follow 'next' for more)"
                       % MAX_PAGE_ROWS)
    after = None
    if q.get("cursor"):
        try:
            after = tuple(int(x) for x in q["cursor"].split(".", 1))
            if len(after) != 2 or not 0 <= after[0] <= 1 << 40 or not 0 <= after[1] < 1 << 31:
                raise ValueError
        except ValueError:
            raise BadQuery("cursor must be the value given in 'next' (e.g. 1767225600.0)")
    start, end = _epoch_param(q, "from"), _epoch_param(q, "to")
    if start is not None and end is not None and start >= end:
        raise BadQuery("from=%s is not before to=%s: swap them" % (q.get("from")[:40], q.get("to")[:40]))
    last = coll.store.last_epoch(station)
    if last is None and coll.store.station(station) is None:
        raise BadQuery("no station %s (the ids are in /api/v1/latest)" % station[:60], 404)
    if start is None and end is None:
        span = {"raw": 86400, "hourly": 7 * 86400, "daily": 30 * 86400, "auto": 86400}[every]
        if q.get("span"):
            try:
                span = int(q["span"])
            except ValueError:
                span = 0
            if not 0 < span <= 10 * 366 * 86400:
                raise BadQuery("span must be a number of seconds, at most 10 years")
        end = (last or int(time.time())) + 1
        start = end - span
    cols = q.get("columns")
    columns = VALUE_COLUMNS if not cols else [c for c in cols.split(",") if c in VALUE_COLUMNS]
    if cols and not columns:
        raise BadQuery("columns: none of %s is a reading column" % cols[:60])
    if every == "auto":              # server-side downsampling: a long range is never millions of raw rows
        length = (end if end is not None else (last or int(time.time())) + 1) - \
            (start if start is not None else EARLIEST_DATA)
        every = "raw" if length <= AUTO_RAW_S else "hourly" if length <= AUTO_HOURLY_S else "daily"
    rows, key = coll.store.history_page(station, start, end, every, columns, limit, after)
    if getattr(coll, "qc", None) is not None and every != "daily":
        if hasattr(coll, "qc_drain"):
            coll.qc_drain()                                  # judged up to the last acknowledged upload
        coll.qc.annotate(station, rows, start, end)          # network QC flags beside the raw values
    st = settings(coll)
    doc = {"station": station, "every": every, "from": iso_of(start) if start is not None else None,
           "to": iso_of(end) if end is not None else None, "licence": st["licence"],
           "attribution": st["attribution"], "readings": rows, "next": None}
    if key is not None:
        from urllib.parse import quote, urlencode

        nq = {k: v for k, v in q.items() if k not in ("cursor", "from", "to", "span", "every")}
        nq.update({"every": every, "cursor": "%d.%d" % key})
        if start is not None:
            nq["from"] = iso_of(start)
        if end is not None:
            nq["to"] = iso_of(end)
        doc["next"] = "/api/v1/stations/%s/history?%s" % (quote(station, safe=""), urlencode(nq))
    head = ["time"] + (["readings", "flagged"] if every != "raw" else []) + columns + \
        (["flags", "model"] if every == "raw" else []) + (["qc"] if getattr(coll, "qc", None) is not None and
                                                          every != "daily" else [])
    return doc, head


ARCHIVE_COLUMNS = ["time", "station", "lat", "lon"] + VALUE_COLUMNS + ["flags"]
ARCHIVE_DAYS = 60           # days listed in /api/v1/archive


def archive_file(coll, day: str) -> Path:
    """The gzip CSV of every station's readings on one UTC day (a finished day only), built once and
    kept in the collector's archive folder. Its first line is a comment with the licence."""
    import gzip
    import os
    import re

    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day or ""):
        raise BadQuery("the day must look like 2026-01-05 (UTC)")
    try:
        start = epoch_of(day + "T00:00:00Z")
    except ValueError:
        raise BadQuery("%s is not a day" % day)
    if start + 86400 > time.time():
        raise BadQuery("%s is not over yet (UTC): a day's archive exists from the next day on; until then use "
                       "/api/v1/latest and each station's history" % day, 404)
    folder = Path(coll.archive_dir)
    path = folder / ("airkit-%s.csv.gz" % day)
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    st = settings(coll)
    tmp = folder / (path.name + ".%d.part" % os.getpid())
    with gzip.open(tmp, "wt", encoding="utf-8", newline="", compresslevel=6) as f:
        f.write("# airkit collect daily archive %s (UTC). Licence: %s %s; attribution: %s. Times UTC ISO 8601; "
                "PM in ug/m3 (atm = atmospheric, cf1 = CF=1); rh %%; temp_c degC.\n"
                % (day, st["licence"], st["licence_url"], st["attribution"].replace("\n", " ")))
        w = csv.writer(f, lineterminator="\n")
        w.writerow(ARCHIVE_COLUMNS)
        for r in coll.store.day_rows(start, start + 86400):
            w.writerow([iso_of(int(r["epoch"])), csv_cell(r["device"]), r["lat"], r["lon"]] +
                       ["" if r[c] is None else r[c] for c in VALUE_COLUMNS] + [csv_cell(r["flags"] or "")])
    os.replace(tmp, path)
    return path


def openapi(coll) -> dict:
    st = settings(coll)
    fmt = {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json", "csv"]},
           "description": "json (default) or csv"}
    sid = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}, "description": "station id"}
    ok = {"200": {"description": "OK", "content": {"application/json": {}, "text/csv": {}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "airkit collect open data API", "version": "1",
                 "description": "Air-quality readings from citizen stations (PMS5003 + DHT22). Read endpoints "
                                "need no key. Data licence: %s (%s); attribution: %s. Times are UTC ISO 8601; "
                                "PM in ug/m3 (atm = atmospheric, cf1 = CF=1), RH in %%, temperature in degC; "
                                "flags are the station's quality flags plus range:<column>=<value> for values "
                                "the collector refused as physically impossible."
                                % (st["licence"], st["licence_url"], st["attribution"]),
                 "license": {"name": st["licence"], "url": st["licence_url"]}},
        "paths": {
            "/api/v1/latest": {"get": {"summary": "Latest reading of every station (one document)",
                                       "parameters": [fmt, {"name": "silent_after", "in": "query",
                                                            "schema": {"type": "integer"},
                                                            "description": "silent after N missed intervals"}],
                                       "responses": ok}},
            "/api/v1/stations/{id}": {"get": {"summary": "One station: position, firmware, correction, last seen, "
                                                         "backlog, health", "parameters": [sid],
                                              "responses": {"200": {"description": "OK"},
                                                            "404": {"description": "no such station"}}}},
            "/api/v1/stations/{id}/history": {"get": {
                "summary": "Readings of one station over a time range, raw or averaged",
                "parameters": [sid,
                               {"name": "from", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                               {"name": "to", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                               {"name": "every", "in": "query",
                                "schema": {"type": "string", "enum": list(EVERY)},
                                "description": "auto: raw up to 3 days, hourly up to 90 days, daily beyond"},
                               {"name": "span", "in": "query", "schema": {"type": "integer"},
                                "description": "seconds before the latest reading when from/to are absent"},
                               {"name": "columns", "in": "query", "schema": {"type": "string"},
                                "description": "comma-separated: " + ",".join(VALUE_COLUMNS)},
                               {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": MAX_PAGE_ROWS},
                                "description": "rows per page (default %d); the answer's 'next' (and the Link "
                                               "header) gives the next page" % PAGE_ROWS},
                               {"name": "cursor", "in": "query", "schema": {"type": "string"},
                                "description": "where a page continues (taken from 'next')"}, fmt],
                "responses": ok}},
            "/api/v1/archive": {"get": {"summary": "The days with a daily archive (the last %d UTC days)" % ARCHIVE_DAYS,
                                        "responses": {"200": {"description": "OK"}}}},
            "/api/v1/archive/{day}.csv.gz": {"get": {
                "summary": "Every station's readings of one finished UTC day, gzip CSV, the licence on its first "
                           "line (a # comment: pandas.read_csv(url, comment='#'))",
                "parameters": [{"name": "day", "in": "path", "required": True, "schema": {"type": "string",
                                                                                           "format": "date"}}],
                "responses": {"200": {"description": "application/gzip"},
                              "404": {"description": "the day is not over yet"}}}},
            "/api/v1/health": {"get": {"summary": "Network health: silent, A/B disagreement, uncorrected",
                                       "parameters": [{"name": "silent_after", "in": "query",
                                                       "schema": {"type": "integer"}}], "responses": ok}},
            "/v1/push-sensor-data/": {"post": {
                "summary": "Sensor.Community push (write; node registered with airkit collect add-node, its "
                           "secret in X-Airkit-Token)",
                "parameters": [{"name": "X-Sensor", "in": "header", "required": True, "schema": {"type": "string"}},
                               {"name": "X-Airkit-Token", "in": "header", "required": True,
                                "schema": {"type": "string"}},
                               {"name": "X-PIN", "in": "header", "schema": {"type": "string"}}],
                "responses": {"201": {"description": "stored"}, "400": {"description": "malformed"},
                              "403": {"description": "unknown node, or missing/wrong secret (one answer)"},
                              "429": {"description": "too many failed authentications from this address"}}}},
            "/api/v1/batch": {"post": {
                "summary": "airkit JSON batch (write; Authorization: Bearer <device token>)",
                "responses": {"200": {"description": "accepted/duplicates/untimed"},
                              "400": {"description": "malformed"},
                              "401": {"description": "unknown device, or missing/wrong token (one answer)"},
                              "429": {"description": "too many failed authentications from this address"}}}},
        },
    }


def docs_html(spec) -> str:
    parts = ["<!doctype html><html><head><meta charset='utf-8'><meta name='viewport' "
             "content='width=device-width,initial-scale=1'><title>%s</title>"
             "<link rel='stylesheet' href='/static/app.css'></head><body class='docs'><h1>%s</h1><p>%s</p>"
             "<p><a href='/api/openapi.json'>OpenAPI document</a> &middot; <a href='/'>dashboard</a></p>"
             % (html.escape(spec["info"]["title"]), html.escape(spec["info"]["title"]),
                html.escape(spec["info"]["description"]))]
    parts.append("<h2>Examples</h2><ul>"
                 "<li>every station now: <a href='/api/v1/latest'>/api/v1/latest</a> "
                 "(<a href='/api/v1/latest?format=csv'>CSV</a>)</li>"
                 "<li>hourly means of one station for a week, as CSV: <code>/api/v1/stations/ID/history?"
                 "from=2026-01-05T00:00:00Z&amp;to=2026-01-12T00:00:00Z&amp;every=hourly&amp;format=csv</code> "
                 "(ID from /api/v1/latest; times in ISO 8601 with a zone, from before to)</li>"
                 "<li>Python: <code>pandas.read_csv(URL + '/api/v1/latest?format=csv')</code>; "
                 "curl: <code>curl -s URL/api/v1/latest</code></li></ul>")
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            parts.append("<h2><code>%s %s</code></h2><p>%s</p>" % (method.upper(), html.escape(path),
                                                                 html.escape(op["summary"])))
            if op.get("parameters"):
                parts.append("<ul>%s</ul>" % "".join(
                    "<li><code>%s</code> (%s) %s</li>" % (html.escape(p["name"]), p["in"],
                                                          html.escape(p.get("description", "")))
                    for p in op["parameters"]))
    parts.append("</body></html>")
    return "".join(parts)


def routes(coll):
    from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response

    async def run_in_threadpool(fn, *a):
        return await coll.heavy_read(fn, *a)
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    def bad(msg, status=400):
        return JSONResponse({"detail": msg}, status)

    def out(doc, rows, head, q, name):
        nxt = {"Link": '<%s>; rel="next"' % doc["next"]} if doc.get("next") else {}
        if q.get("format", "json") == "csv":
            # bom=1: a UTF-8 byte order mark first, which Excel (zh-TW Windows) needs to read UTF-8
            text = ("\ufeff" if q.get("bom") == "1" else "") + _csv(rows, head)
            return Response(text, media_type="text/csv; charset=utf-8",
                            headers=dict(nxt, **{"Content-Disposition": attachment(name + ".csv")}))
        if q.get("format", "json") != "json":
            return bad("format must be json or csv")
        return JSONResponse(doc, headers=nxt)

    cache = {}

    async def latest_cached(n):
        """(JSON, gzip of it, ETag) of the latest document, built at most once per LATEST_TTL_S
        (every open dashboard polls it; a city has thousands of stations)."""
        import asyncio

        key = n or 0
        hit = cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < LATEST_TTL_S:
            return hit[1]
        lock = cache.setdefault(("lock", key), asyncio.Lock())
        async with lock:                     # one build at a time; the others take its result
            hit = cache.get(key)
            if hit is not None and time.monotonic() - hit[0] < LATEST_TTL_S:
                return hit[1]

            def build():
                import gzip
                import hashlib

                body = json.dumps(latest_doc(coll, n), separators=(",", ":"), check_circular=False).encode()
                return body, gzip.compress(body, 6), '"%s"' % hashlib.sha256(body).hexdigest()[:32]

            val = await run_in_threadpool(build)
            cache[key] = (time.monotonic(), val)
            return val

    def silent_after(q):
        try:
            n = int(q["silent_after"]) if q.get("silent_after") else None
        except ValueError:
            n = 0
        if n is not None and n < 1:
            raise BadQuery("silent_after must be a whole number of intervals (1 or more)")
        return n

    async def latest(request):
        q = request.query_params
        try:
            n = silent_after(q)
        except BadQuery as e:
            return bad(str(e))
        if q.get("format", "json") == "json":
            body, gz, etag = await latest_cached(n)
            h = {"ETag": etag, "Cache-Control": "public, max-age=%d" % LATEST_TTL_S, "Vary": "Accept-Encoding"}
            if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
                return Response(b"", 304, headers=h)
            if "gzip" in request.headers.get("accept-encoding", ""):
                return Response(gz, media_type="application/json", headers=dict(h, **{"Content-Encoding": "gzip"}))
            return Response(body, media_type="application/json", headers=h)
        doc = await run_in_threadpool(latest_doc, coll, n)
        head = ["id", "name", "lat", "lon", "time", "last_seen", "fw", "model", "flags"] + VALUE_COLUMNS
        return out(doc, doc["stations"], head, q, "latest")

    async def station(request):
        sid = request.path_params["id"]
        doc = await run_in_threadpool(latest_doc, coll, None, sid)
        for s in doc["stations"]:
            if s["id"] == sid:
                return JSONResponse(dict(s, licence=doc["licence"], attribution=doc["attribution"]))
        return bad("no station %s" % sid[:60], 404)

    async def history(request):
        sid = request.path_params["id"]

        def answer():                 # the whole answer (query and encoding) off the event loop
            try:
                doc, head = history_doc(coll, sid, request.query_params)
            except BadQuery as e:
                return bad(str(e), e.status)
            return out(doc, doc["readings"], head, request.query_params, "%s-%s" % (sid, doc["every"]))

        return await run_in_threadpool(answer)

    async def health(request):
        try:
            n = silent_after(request.query_params)
        except BadQuery as e:
            return bad(str(e))
        doc = await run_in_threadpool(latest_doc, coll, n)
        pick = lambda key: [s["id"] for s in doc["stations"] if s["health"][key]]  # noqa: E731
        return JSONResponse({"generated": doc["generated"], "silent_after_intervals": doc["silent_after_intervals"],
                             "stations": len(doc["stations"]), "silent": pick("silent"),
                             "ab_disagree": pick("ab_disagree"), "uncorrected": pick("uncorrected")})

    async def archive_index(request):
        today = int(time.time()) // 86400 * 86400
        days = [iso_of(today - k * 86400)[:10] for k in range(1, ARCHIVE_DAYS + 1)]
        st = settings(coll)
        return JSONResponse({"licence": st["licence"], "licence_url": st["licence_url"],
                             "attribution": st["attribution"], "format": "gzip CSV, one line per reading, UTC day",
                             "days": [{"day": d, "url": "/api/v1/archive/%s.csv.gz" % d} for d in days]})

    async def archive(request):
        day = request.path_params["day"]
        try:
            path = await run_in_threadpool(archive_file, coll, day)
        except BadQuery as e:
            return bad(str(e), e.status)
        return FileResponse(path, media_type="application/gzip", filename=path.name,
                            headers={"Cache-Control": "public, max-age=86400"})

    async def config(request):
        return JSONResponse(settings(coll))

    async def spec(request):
        return JSONResponse(openapi(coll))

    async def docs(request):
        return HTMLResponse(docs_html(openapi(coll)))

    async def info(request):
        return JSONResponse({"service": "airkit collect", "push": "/v1/push-sensor-data/", "batch": "/api/v1/batch",
                             "openapi": "/api/openapi.json", "docs": "/api/docs", "dashboard": "/"})

    async def index(request):
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    return [Route("/", index), Route("/api/v1", info), Route("/api/v1/", info), Route("/api/v1/latest", latest),
            # {id:path}: a station id may hold "/" (sent as %2F); the history route is tried first
            Route("/api/v1/stations/{id:path}/history", history), Route("/api/v1/stations/{id:path}", station),
            Route("/api/v1/health", health), Route("/api/v1/archive", archive_index),
            Route("/api/v1/archive/{day}.csv.gz", archive), Route("/api/v1/config", config), Route("/api/openapi.json", spec),
            Route("/api/docs", docs), Mount("/static", StaticFiles(directory=STATIC), name="static")]


