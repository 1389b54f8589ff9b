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

from airkit.collect.store import VALUE_COLUMNS, epoch_of, iso_of
from airkit_fw.flags import AB_DISAGREE, bits as _flag_bits

STATIC = Path(__file__).resolve().parent / "static"
DEFAULT_SETTINGS = {
    "licence": "ODbL-1.0",
    "licence_url": "https://opendatacommons.org/licenses/odbl/1-0/",
    "attribution": "airkit collect (station owners)",
    "tiles": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
    "tiles_attribution": "&copy; OpenStreetMap contributors",
    "silent_after": 3,
    "title": "airkit stations",
}
CHART_COLUMNS = ["pm25_atm", "pm25_cf1", "pm25_corrected", "pm10_atm", "rh", "temp_c"]
EVERY = ("raw", "hourly", "daily")


class BadQuery(Exception):
    def __init__(self, msg, status=400):
        super().__init__(msg)
        self.status = status


def settings(coll) -> dict:
    s = dict(DEFAULT_SETTINGS)
    s.update({k: v for k, v in coll.settings.items() if v is not None})
    return s


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


def latest_doc(coll, silent_after=None) -> dict:
    """Every station's latest reading and health; empty values are left out of each station."""
    st = settings(coll)
    n = silent_after or st["silent_after"]
    now = time.time()
    out = []
    for s in coll.store.stations():
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
        w.writerow(["" if r.get(c) is None else (round(r[c], 3) if isinstance(r[c], float) else r[c])
                    for c in columns])
    return buf.getvalue()


def history_doc(coll, station, q) -> tuple[dict, list[str]]:
    every = q.get("every", "raw")
    if every not in EVERY:
        raise BadQuery("every must be raw, hourly or daily")
    start, end = _epoch_param(q, "from"), _epoch_param(q, "to")
    if start is not None and end is not None and start >= end:
        raise BadQuery("from=%s is not before to=%s: swap them" % (q.get("from")[:40], q.get("to")[:40]))
    last = coll.store.last_epoch(station)
    if last is None and coll.store.station(station) is None:
        raise BadQuery("no station %s (the ids are in /api/v1/latest)" % station[:60], 404)
    if start is None and end is None:
        span = {"raw": 86400, "hourly": 7 * 86400, "daily": 30 * 86400}[every]
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
    rows = coll.store.history(station, start, end, every, columns)
    if getattr(coll, "qc", None) is not None and every != "daily":
        coll.qc.annotate(station, rows, start, end)          # network QC flags beside the raw values
    st = settings(coll)
    doc = {"station": station, "every": every, "from": iso_of(start) if start is not None else None,
           "to": iso_of(end) if end is not None else None, "licence": st["licence"],
           "attribution": st["attribution"], "readings": rows}
    head = ["time"] + (["readings", "flagged"] if every != "raw" else []) + columns + \
        (["flags", "model"] if every == "raw" else []) + (["qc"] if getattr(coll, "qc", None) is not None and
                                                          every != "daily" else [])
    return doc, head


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
                                "schema": {"type": "string", "enum": list(EVERY)}},
                               {"name": "span", "in": "query", "schema": {"type": "integer"},
                                "description": "seconds before the latest reading when from/to are absent"},
                               {"name": "columns", "in": "query", "schema": {"type": "string"},
                                "description": "comma-separated: " + ",".join(VALUE_COLUMNS)}, fmt],
                "responses": ok}},
            "/api/v1/health": {"get": {"summary": "Network health: silent, A/B disagreement, uncorrected",
                                       "parameters": [{"name": "silent_after", "in": "query",
                                                       "schema": {"type": "integer"}}], "responses": ok}},
            "/v1/push-sensor-data/": {"post": {
                "summary": "Sensor.Community push (write; node registered with airkit collect add-node)",
                "parameters": [{"name": "X-Sensor", "in": "header", "required": True, "schema": {"type": "string"}},
                               {"name": "X-PIN", "in": "header", "schema": {"type": "string"}}],
                "responses": {"201": {"description": "stored"}, "400": {"description": "malformed"},
                              "403": {"description": "node not found"}}}},
            "/api/v1/batch": {"post": {
                "summary": "airkit JSON batch (write; Authorization: Bearer <device token>)",
                "responses": {"200": {"description": "accepted/duplicates/untimed"},
                              "400": {"description": "malformed"}, "401": {"description": "token"},
                              "403": {"description": "unknown device"}}}},
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
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    def bad(msg, status=400):
        return JSONResponse({"detail": msg}, status)

    def out(doc, rows, head, q, name):
        if q.get("format", "json") == "csv":
            return Response(_csv(rows, head), media_type="text/csv",
                            headers={"Content-Disposition": "attachment; filename=%s.csv" % name})
        if q.get("format", "json") != "json":
            return bad("format must be json or csv")
        return JSONResponse(doc)

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
            body = await run_in_threadpool(lambda: json.dumps(latest_doc(coll, n), separators=(",", ":"),
                                                              check_circular=False).encode())
            return Response(body, media_type="application/json")
        doc = await run_in_threadpool(latest_doc, coll, n)
        head = ["id", "name", "lat", "lon", "time", "last_seen", "fw", "model", "flags"] + VALUE_COLUMNS
        return out(doc, doc["stations"], head, q, "latest")

    async def station(request):
        sid = request.path_params["id"]
        doc = await run_in_threadpool(latest_doc, coll)
        for s in doc["stations"]:
            if s["id"] == sid:
                return JSONResponse(dict(s, licence=doc["licence"], attribution=doc["attribution"]))
        return bad("no station %s" % sid[:60], 404)

    async def history(request):
        sid = request.path_params["id"]
        try:
            doc, head = await run_in_threadpool(history_doc, coll, sid, request.query_params)
        except BadQuery as e:
            return bad(str(e), e.status)
        return out(doc, doc["readings"], head, request.query_params, "%s-%s" % (sid, doc["every"]))

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
            Route("/api/v1/stations/{id}", station), Route("/api/v1/stations/{id}/history", history),
            Route("/api/v1/health", health), Route("/api/v1/config", config), Route("/api/openapi.json", spec),
            Route("/api/docs", docs), Mount("/static", StaticFiles(directory=STATIC), name="static")]


