"""OGC SensorThings API (read) on the collector, at ``/sta/v1.1/`` (and ``/sta/v1.0/``).

Why: Taiwan's open air-quality data (AirBox included) are served by the Civil IoT
Taiwan Data Service Platform through SensorThings; its tutorials and the client
libraries (``frost-sta-client``, ``pyCIOT``) read that shape. A school or city
running airkit is readable by the same tools with no adapter.

The entities are views of the collector's tables, nothing is stored twice:

=================  ==================================================  =======================
entity             what it is                                          ``@iot.id``
=================  ==================================================  =======================
Thing              a station                                           ``'<station>'``
Location           where it stands (only stations with a position)     ``'<station>'``
FeatureOfInterest  the same point (what the observations are about)    ``'<station>'``
Datastream         one value type of one station (raw and corrected    ``'<station>:<kind>'``
                   PM2.5 are separate datastreams)
Sensor             PMS5003, DHT22 (with datasheet links)               ``'PMS5003'``, ``'DHT22'``
ObservedProperty   PM1, PM2.5, PM10, relative humidity, temperature    e.g. ``'pm25'``
Observation        one reading's value in one datastream; quality      ``'<station>:<kind>:<epoch>:<n>'``
                   flags in ``resultQuality`` and ``parameters``
=================  ==================================================  =======================

Query options: ``$filter`` (OData comparisons, ``and``/``or``/``not``, arithmetic,
``substringof``/``contains``/``startswith``/``endswith``/``tolower``/``toupper``/
``length``), ``$expand`` (nested, with options in parentheses separated by ``;``),
``$select``, ``$orderby``, ``$top``/``$skip`` with ``@iot.nextLink``, ``$count``.
Pages are bounded (default 100, at most ``MAX_TOP``). Observations are read from the
database page by page (time, value and datastream conditions become SQL); a
``$filter`` on Observations that cannot be turned into SQL is answered 400 with the
supported forms, never by scanning the whole table.

Written here rather than taken from a library: the reference servers (FROST, GOST)
are Java/Go services with their own database; the Python OData parsers on PyPI
target SQLAlchemy models. This module is a read view over two existing tables.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from urllib.parse import quote, urlencode

from airkit.collect.store import epoch_of, iso_of

DEFAULT_TOP = 100
MAX_TOP = 10000          # one datastream-week at 1-minute readings fits one page

# kind -> (name, observed property id, sensor id, unit)
KINDS = {
    "pm25_atm": ("PM2.5 (raw, atmospheric)", "pm25", "PMS5003", ("microgram per cubic meter", "µg/m³",
                                                                    "http://unitsofmeasure.org/ucum.html#para-30")),
    "pm25_cf1": ("PM2.5 (raw, CF=1)", "pm25", "PMS5003", ("microgram per cubic meter", "µg/m³",
                                                           "http://unitsofmeasure.org/ucum.html#para-30")),
    "pm25_corrected": ("PM2.5 (corrected)", "pm25", "PMS5003", ("microgram per cubic meter", "µg/m³",
                                                                 "http://unitsofmeasure.org/ucum.html#para-30")),
    "pm10_atm": ("PM10 (raw, atmospheric)", "pm10", "PMS5003", ("microgram per cubic meter", "µg/m³",
                                                                 "http://unitsofmeasure.org/ucum.html#para-30")),
    "pm1_atm": ("PM1 (raw, atmospheric)", "pm1", "PMS5003", ("microgram per cubic meter", "µg/m³",
                                                              "http://unitsofmeasure.org/ucum.html#para-30")),
    "rh": ("Relative humidity", "rh", "DHT22", ("percent", "%", "http://unitsofmeasure.org/ucum.html#para-29")),
    "temp_c": ("Air temperature", "temperature", "DHT22", ("degree Celsius", "°C",
                                                           "http://unitsofmeasure.org/ucum.html#para-30")),
}
OBSERVED = {
    "pm1": ("PM1", "Mass concentration of particles up to 1 µm", "https://www.wikidata.org/wiki/Q113367296"),
    "pm25": ("PM2.5", "Mass concentration of particles up to 2.5 µm", "https://www.wikidata.org/wiki/Q48035814"),
    "pm10": ("PM10", "Mass concentration of particles up to 10 µm", "https://www.wikidata.org/wiki/Q48035511"),
    "rh": ("Relative humidity", "Relative humidity of the air", "https://www.wikidata.org/wiki/Q2499617"),
    "temperature": ("Air temperature", "Temperature of the air", "https://www.wikidata.org/wiki/Q11466"),
}
SENSORS = {
    "PMS5003": ("PMS5003", "Plantower PMS5003 laser particle counter",
                "https://www.aqmd.gov/docs/default-source/aq-spec/resources-page/plantower-pms5003-manual_v2-3.pdf"),
    "DHT22": ("DHT22", "Aosong DHT22 (AM2302) temperature and humidity sensor",
              "https://www.sparkfun.com/datasheets/Sensors/Temperature/DHT22.pdf"),
}
OBS_TYPE = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"

COLLECTIONS = ["Things", "Locations", "HistoricalLocations", "Datastreams", "Sensors", "ObservedProperties",
               "Observations", "FeaturesOfInterest"]
SINGULAR = {"Thing": "Things", "Location": "Locations", "Datastream": "Datastreams", "Sensor": "Sensors",
            "ObservedProperty": "ObservedProperties", "FeatureOfInterest": "FeaturesOfInterest"}
# entity set -> {navigation property: (target set, is a collection)}
NAV = {
    "Things": {"Locations": ("Locations", True), "Datastreams": ("Datastreams", True),
               "HistoricalLocations": ("HistoricalLocations", True)},
    "Locations": {"Things": ("Things", True), "HistoricalLocations": ("HistoricalLocations", True)},
    "HistoricalLocations": {"Thing": ("Things", False), "Locations": ("Locations", True)},
    "Datastreams": {"Thing": ("Things", False), "Sensor": ("Sensors", False),
                    "ObservedProperty": ("ObservedProperties", False), "Observations": ("Observations", True)},
    "Sensors": {"Datastreams": ("Datastreams", True)},
    "ObservedProperties": {"Datastreams": ("Datastreams", True)},
    "Observations": {"Datastream": ("Datastreams", False), "FeatureOfInterest": ("FeaturesOfInterest", False)},
    "FeaturesOfInterest": {"Observations": ("Observations", True)},
}


class StaError(Exception):
    def __init__(self, msg, status=400):
        super().__init__(msg)
        self.status = status


# --- $filter: an OData expression parser ------------------------------------------------------

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<dt>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)
    | (?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
    | (?P<str>'(?:[^']|'')*')
    | (?P<name>[A-Za-z_@][\w@./]*)
    | (?P<punct>[(),])
    )""", re.X)
_COMPARE = {"eq", "ne", "gt", "ge", "lt", "le"}
_ARITH = {"add", "sub", "mul", "div", "mod"}
_FUNCS = {"substringof": 2, "contains": 2, "startswith": 2, "endswith": 2, "tolower": 1, "toupper": 1,
          "length": 1, "indexof": 2, "trim": 1, "concat": 2, "year": 1, "month": 1, "day": 1, "hour": 1,
          "minute": 1, "second": 1, "round": 1, "floor": 1, "ceiling": 1}


def _tokens(text: str) -> list[tuple[str, object]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise StaError("$filter: cannot read %r" % text[pos:pos + 20])
        pos = m.end()
        kind = m.lastgroup
        v = m.group(kind)
        if kind == "dt":
            try:
                out.append(("lit", _DT(epoch_of(v))))
            except (ValueError, OverflowError):
                raise StaError("$filter: %s is not a valid time" % v)
        elif kind == "num":
            out.append(("lit", float(v) if any(c in v for c in ".eE") else int(v)))
        elif kind == "str":
            out.append(("lit", v[1:-1].replace("''", "'")))
        elif kind == "name":
            low = v.lower()
            if low in ("true", "false"):
                out.append(("lit", low == "true"))
            elif low == "null":
                out.append(("lit", None))
            elif low in _COMPARE or low in _ARITH or low in ("and", "or", "not"):
                out.append(("op", low))
            else:
                out.append(("name", v))
        else:
            out.append(("p", v))
    return out


class _DT(int):
    """A time literal (epoch seconds), so a comparison with a time property compares times."""


class _Parser:
    def __init__(self, text):
        self.t = _tokens(text)
        self.i = 0

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else (None, None)

    def take(self):
        tok = self.peek()
        self.i += 1
        return tok

    def expect(self, kind, value=None):
        k, v = self.take()
        if k != kind or (value is not None and v != value):
            raise StaError("$filter: expected %s" % (value or kind))
        return v

    def parse(self):
        e = self.or_()
        if self.i != len(self.t):
            raise StaError("$filter: unexpected %r" % (self.t[self.i][1],))
        return e

    def or_(self):
        e = self.and_()
        while self.peek() == ("op", "or"):
            self.take()
            e = ("or", e, self.and_())
        return e

    def and_(self):
        e = self.not_()
        while self.peek() == ("op", "and"):
            self.take()
            e = ("and", e, self.not_())
        return e

    def not_(self):
        if self.peek() == ("op", "not"):
            self.take()
            return ("not", self.not_())
        return self.cmp()

    def cmp(self):
        e = self.add()
        k, v = self.peek()
        if k == "op" and v in _COMPARE:
            self.take()
            return ("cmp", v, e, self.add())
        return e

    def add(self):
        e = self.mul()
        while self.peek()[0] == "op" and self.peek()[1] in ("add", "sub"):
            e = ("arith", self.take()[1], e, self.mul())
        return e

    def mul(self):
        e = self.primary()
        while self.peek()[0] == "op" and self.peek()[1] in ("mul", "div", "mod"):
            e = ("arith", self.take()[1], e, self.primary())
        return e

    def primary(self):
        k, v = self.take()
        if k == "lit":
            return ("lit", v)
        if k == "p" and v == "(":
            e = self.or_()
            self.expect("p", ")")
            return e
        if k == "name":
            if self.peek() == ("p", "("):
                fn = v.lower()
                if fn not in _FUNCS:
                    raise StaError("$filter: the function %s() is not supported (supported: %s)"
                                   % (v, ", ".join(sorted(_FUNCS))))
                self.take()
                args = [self.or_()]
                while self.peek() == ("p", ","):
                    self.take()
                    args.append(self.or_())
                self.expect("p", ")")
                if len(args) != _FUNCS[fn]:
                    raise StaError("$filter: %s() takes %d argument(s)" % (fn, _FUNCS[fn]))
                return ("fn", fn, args)
            return ("path", v.split("/"))
        raise StaError("$filter: unexpected %r" % (v,))


def parse_filter(text: str):
    if len(text) > 2000:
        raise StaError("$filter is longer than 2,000 characters")
    return _Parser(text).parse()


def _num(v):
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _compare(op, a, b):
    if isinstance(a, str) and isinstance(b, _DT):
        a = _epoch_or_none(a)
    if isinstance(b, str) and isinstance(a, _DT):
        b = _epoch_or_none(b)
    if op == "eq":
        return a == b
    if op == "ne":
        return a != b
    if a is None or b is None:
        return False
    try:
        return {"gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[op]
    except TypeError:
        return False


def _epoch_or_none(s):
    try:
        return epoch_of(s)
    except (ValueError, OverflowError):
        return None


def evaluate(expr, get):
    """Evaluate a parsed filter against an entity; ``get(segments)`` resolves a property path."""
    kind = expr[0]
    if kind == "lit":
        return expr[1]
    if kind == "path":
        return get(expr[1])
    if kind == "and":
        return bool(evaluate(expr[1], get)) and bool(evaluate(expr[2], get))
    if kind == "or":
        return bool(evaluate(expr[1], get)) or bool(evaluate(expr[2], get))
    if kind == "not":
        return not evaluate(expr[1], get)
    if kind == "cmp":
        return _compare(expr[1], evaluate(expr[2], get), evaluate(expr[3], get))
    if kind == "arith":
        a, b = _num(evaluate(expr[2], get)), _num(evaluate(expr[3], get))
        if a is None or b is None:
            return None
        op = expr[1]
        if op in ("div", "mod") and b == 0:
            return None
        return {"add": a + b, "sub": a - b, "mul": a * b, "div": a / b if b else None, "mod": a % b}[op]
    if kind == "fn":
        args = [evaluate(a, get) for a in expr[2]]
        return _call(expr[1], args)
    raise StaError("$filter: cannot evaluate")


def _call(fn, a):
    s = [x if isinstance(x, str) else ("" if x is None else str(x)) for x in a]
    if fn == "substringof":
        return s[0] in s[1]
    if fn == "contains":
        return s[1] in s[0]
    if fn == "startswith":
        return s[0].startswith(s[1])
    if fn == "endswith":
        return s[0].endswith(s[1])
    if fn == "tolower":
        return s[0].lower()
    if fn == "toupper":
        return s[0].upper()
    if fn == "length":
        return len(s[0])
    if fn == "indexof":
        return s[0].find(s[1])
    if fn == "trim":
        return s[0].strip()
    if fn == "concat":
        return s[0] + s[1]
    if fn in ("round", "floor", "ceiling"):
        import math

        x = _num(a[0])
        return None if x is None else {"round": round, "floor": math.floor, "ceiling": math.ceil}[fn](x)
    ep = a[0] if isinstance(a[0], int) else _epoch_or_none(s[0])
    if ep is None:
        return None
    d = datetime.fromtimestamp(ep, timezone.utc)
    return getattr(d, fn)


# --- $expand / $orderby / $select --------------------------------------------------------------

def _split_top(text, sep):
    """Split at ``sep`` outside parentheses and quotes."""
    out, depth, cur, q = [], 0, [], False
    for ch in text:
        if ch == "'":
            q = not q
        if not q:
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if depth < 0:
                    raise StaError("unbalanced parentheses in %r" % text[:60])
            elif ch == sep and depth == 0:
                out.append("".join(cur))
                cur = []
                continue
        cur.append(ch)
    if depth:
        raise StaError("unbalanced parentheses in %r" % text[:60])
    out.append("".join(cur))
    return [p.strip() for p in out if p.strip()]


def parse_options(q: dict, depth=0) -> dict:
    """The query options of one level: {'filter', 'expand', 'select', 'orderby', 'top', 'skip', 'count'}."""
    if depth > 4:
        raise StaError("$expand is nested more than 4 levels deep")
    known = {"$filter", "$expand", "$select", "$orderby", "$top", "$skip", "$count", "$resultFormat"}
    for k in q:
        if k.startswith("$") and k not in known:
            raise StaError("the query option %s is not supported (supported: %s)" % (k, ", ".join(sorted(known))))
    if q.get("$resultFormat"):
        raise StaError("$resultFormat is not supported; ask without it for the standard JSON")
    o = {"filter": None, "expand": [], "select": None, "orderby": [], "top": DEFAULT_TOP, "skip": 0,
         "count": False}
    if q.get("$filter"):
        o["filter"] = parse_filter(q["$filter"])
    for name in ("$top", "$skip"):
        v = q.get(name)
        if v not in (None, ""):
            try:
                n = int(v)
            except ValueError:
                raise StaError("%s=%s is not a whole number" % (name, v[:20]))
            if n < 0:
                raise StaError("%s cannot be negative" % name)
            if name == "$top" and n > MAX_TOP:
                raise StaError("$top is at most %d; page with $skip or @iot.nextLink" % MAX_TOP)
            if name == "$skip" and n > 10 ** 9:
                raise StaError("$skip is too large")
            o[name[1:]] = n
    if q.get("$count"):
        if q["$count"] not in ("true", "false"):
            raise StaError("$count is true or false")
        o["count"] = q["$count"] == "true"
    if q.get("$select"):
        o["select"] = [s.strip() for s in q["$select"].split(",") if s.strip()]
    if q.get("$orderby"):
        for part in q["$orderby"].split(","):
            words = part.split()
            if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
                raise StaError("$orderby: %r is not 'property [asc|desc]'" % part.strip())
            o["orderby"].append((words[0].split("/"), len(words) == 2 and words[1].lower() == "desc"))
    if q.get("$expand"):
        for item in _split_top(q["$expand"], ","):
            m = re.fullmatch(r"([\w/]+)\s*(?:\((.*)\))?", item, re.S)
            if not m:
                raise StaError("$expand: cannot read %r" % item[:60])
            sub = {}
            for opt in _split_top(m.group(2) or "", ";"):
                if "=" not in opt:
                    raise StaError("$expand: %r is not option=value" % opt[:60])
                k, v = opt.split("=", 1)
                sub[k.strip()] = v.strip()
            path = m.group(1).split("/")
            # Datastreams/Observations is Datastreams($expand=Observations)
            node = {"nav": path[-1], "options": parse_options(sub, depth + 1)}
            for nav in reversed(path[:-1]):
                node = {"nav": nav, "options": dict(parse_options({}, depth + 1), expand=[node])}
            o["expand"].append(node)
    return o


# --- the entities --------------------------------------------------------------------------------

class Service:
    """The SensorThings view of one collector store; ``base`` is the service root URL."""

    def __init__(self, store, base: str):
        self.store = store
        self.base = base.rstrip("/")
        self._stations = None
        self.obs_budget = MAX_TOP

    # station rows, read once per request
    def stations(self) -> list[dict]:
        if self._stations is None:
            self._stations = self.store.stations()
        return self._stations

    def station(self, sid) -> dict | None:
        for s in self.stations():
            if s["id"] == sid:
                return s
        return None

    def link(self, entity_set, eid) -> str:
        return "%s/%s(%s)" % (self.base, entity_set, _lit(eid))

    # -- building entity documents (without navigation expansions) --
    def thing(self, s):
        props = {k: s.get(k) for k in ("fw", "model", "interval_s", "last_seen") if s.get(k) is not None}
        return {"@iot.id": s["id"], "name": s.get("name") or s["id"],
                "description": "airkit air-quality station %s (PMS5003 + DHT22)" % s["id"], "properties": props}

    def location(self, s):
        return {"@iot.id": s["id"], "name": s.get("name") or s["id"], "description": "where station %s stands"
                % s["id"], "encodingType": "application/geo+json",
                "location": {"type": "Point", "coordinates": [s["lon"], s["lat"]]}}

    def feature(self, s):
        return {"@iot.id": s["id"], "name": s.get("name") or s["id"], "description": "the air at station %s"
                % s["id"], "encodingType": "application/geo+json",
                "feature": {"type": "Point", "coordinates": [s["lon"], s["lat"]]}}

    def datastream(self, s, kind):
        name, _, _, (uname, sym, udef) = KINDS[kind]
        doc = {"@iot.id": "%s:%s" % (s["id"], kind), "name": "%s at %s" % (name, s.get("name") or s["id"]),
               "description": "%s measured by airkit station %s" % (name, s["id"]), "observationType": OBS_TYPE,
               "unitOfMeasurement": {"name": uname, "symbol": sym, "definition": udef},
               "properties": {"kind": kind}}
        if s.get("lat") is not None and s.get("lon") is not None:
            doc["observedArea"] = {"type": "Point", "coordinates": [s["lon"], s["lat"]]}
        if kind == "pm25_corrected" and s.get("model"):
            doc["properties"]["correction"] = s["model"]
        return doc

    def sensor(self, sid):
        name, desc, sheet = SENSORS[sid]
        return {"@iot.id": sid, "name": name, "description": desc, "encodingType": "application/pdf",
                "metadata": sheet}

    def observed(self, pid):
        name, desc, definition = OBSERVED[pid]
        return {"@iot.id": pid, "name": name, "description": desc, "definition": definition}

    def observation(self, row, kind):
        flags = [f for f in (row.get("flags") or "").split(";") if f]
        doc = {"@iot.id": "%s:%s:%d:%d" % (row["device"], kind, row["epoch"], row["n"]),
               "phenomenonTime": iso_of(int(row["epoch"])), "resultTime": row.get("received") or
               iso_of(int(row["epoch"])), "result": row["result"],
               "resultQuality": flags or None, "parameters": {"flags": flags}}
        if kind == "pm25_corrected" and row.get("model"):
            doc["parameters"]["model"] = row["model"]
        return doc

    # -- entity sets as lists (everything but Observations) --
    def all(self, entity_set) -> list[tuple[dict, dict]]:
        """[(document, context)] of a small entity set; context lets navigation find related entities."""
        st = self.stations()
        if entity_set == "Things":
            return [(self.thing(s), {"station": s}) for s in st]
        if entity_set in ("Locations", "FeaturesOfInterest"):
            make = self.location if entity_set == "Locations" else self.feature
            return [(make(s), {"station": s}) for s in st if s.get("lat") is not None and s.get("lon") is not None]
        if entity_set == "HistoricalLocations":
            return []
        if entity_set == "Datastreams":
            return [(self.datastream(s, k), {"station": s, "kind": k}) for s in st for k in KINDS]
        if entity_set == "Sensors":
            return [(self.sensor(k), {"sensor": k}) for k in SENSORS]
        if entity_set == "ObservedProperties":
            return [(self.observed(k), {"observed": k}) for k in OBSERVED]
        raise StaError("no such entity set: %s" % entity_set, 404)

    def one(self, entity_set, eid) -> tuple[dict, dict]:
        if entity_set == "Observations":
            return self._observation_by_id(eid)
        if entity_set == "Datastreams":
            sid, _, kind = str(eid).rpartition(":")
            s = self.station(sid)
            if s is None or kind not in KINDS:
                raise StaError("no Datastream %s" % _lit(eid), 404)
            return self.datastream(s, kind), {"station": s, "kind": kind}
        if entity_set in ("Things", "Locations", "FeaturesOfInterest"):
            s = self.station(eid)
            if s is None or (entity_set != "Things" and (s.get("lat") is None or s.get("lon") is None)):
                raise StaError("no %s %s" % (entity_set[:-1], _lit(eid)), 404)
            make = {"Things": self.thing, "Locations": self.location, "FeaturesOfInterest": self.feature}
            return make[entity_set](s), {"station": s}
        if entity_set == "Sensors" and eid in SENSORS:
            return self.sensor(eid), {"sensor": eid}
        if entity_set == "ObservedProperties" and eid in OBSERVED:
            return self.observed(eid), {"observed": eid}
        if entity_set not in COLLECTIONS:
            raise StaError("no such entity set: %s" % entity_set, 404)
        raise StaError("no %s %s" % (entity_set, _lit(eid)), 404)

    def related(self, entity_set, ctx, nav):
        """(target set, is collection, list of (doc, ctx)) or for Observations (target, True, obs-scope)."""
        if nav not in NAV.get(entity_set, {}):
            raise StaError("%s has no navigation property %s" % (entity_set, nav), 404)
        target, many = NAV[entity_set][nav]
        s = ctx.get("station")
        if target == "Observations":
            if entity_set == "Datastreams":
                return target, True, {"streams": [(s["id"], ctx["kind"])]}
            return target, True, {"streams": [(s["id"], k) for k in KINDS]}      # a FeatureOfInterest's
        if entity_set in ("Things", "Locations", "FeaturesOfInterest") and target in ("Locations", "Things"):
            if target == "Locations" and (s.get("lat") is None or s.get("lon") is None):
                return target, many, []
            make = self.location if target == "Locations" else self.thing
            return target, many, [(make(s), {"station": s})]
        if target == "HistoricalLocations":
            return target, many, []
        if entity_set == "Things" and target == "Datastreams":
            return target, many, [(self.datastream(s, k), {"station": s, "kind": k}) for k in KINDS]
        if entity_set == "Datastreams":
            kind = ctx["kind"]
            if target == "Things":
                return target, False, [(self.thing(s), {"station": s})]
            if target == "Sensors":
                return target, False, [(self.sensor(KINDS[kind][2]), {"sensor": KINDS[kind][2]})]
            if target == "ObservedProperties":
                return target, False, [(self.observed(KINDS[kind][1]), {"observed": KINDS[kind][1]})]
        if entity_set in ("Sensors", "ObservedProperties") and target == "Datastreams":
            idx = 2 if entity_set == "Sensors" else 1
            key = ctx.get("sensor") or ctx.get("observed")
            return target, True, [(self.datastream(st, k), {"station": st, "kind": k}) for st in self.stations()
                                  for k in KINDS if KINDS[k][idx] == key]
        if entity_set == "Observations":
            st = self.station(ctx["device"])
            if target == "Datastreams":
                return target, False, [(self.datastream(st, ctx["kind"]), {"station": st, "kind": ctx["kind"]})]
            if st.get("lat") is None or st.get("lon") is None:
                return target, False, []
            return target, False, [(self.feature(st), {"station": st})]
        raise StaError("%s/%s is not available" % (entity_set, nav), 404)

    # -- Observations: SQL, page by page --
    def _observation_by_id(self, eid):
        m = re.fullmatch(r"(.+):([a-z0-9_]+):(-?\d+):(\d+)", str(eid))
        if not m or m.group(2) not in KINDS:
            raise StaError("no Observation %s" % _lit(eid), 404)
        dev, kind, ep, n = m.group(1), m.group(2), int(m.group(3)), int(m.group(4))
        rows = self.store._read("SELECT device, epoch, n, %s AS result, flags, model, received FROM readings "
                                  "WHERE device = ? AND epoch = ? AND n = ? AND %s IS NOT NULL" % (kind, kind),
                                  (dev, ep, n))
        if not rows:
            raise StaError("no Observation %s" % _lit(eid), 404)
        return self.observation(rows[0], kind), {"device": dev, "kind": kind}

    def observations(self, scope, opts) -> tuple[list[tuple[dict, dict]], bool, int | None]:
        """A page of observations of the datastreams in ``scope``: (items, more, total or None)."""
        streams = scope.get("streams")
        where = _obs_sql(opts["filter"])
        order = []
        for path, desc in opts["orderby"] or [(["phenomenonTime"], False)]:
            col = {"phenomenonTime": "epoch", "resultTime": "received", "result": "result",
                   "@iot.id": "epoch", "id": "epoch"}.get("/".join(path))
            if col is None:
                raise StaError("Observations can be ordered by phenomenonTime, resultTime, result or id")
            order.append("%s %s" % (col, "DESC" if desc else "ASC"))
        order.append("device, kind, n")
        parts, pargs = [], []
        if streams is None:
            stream_sets = [(None, k) for k in KINDS]
        else:
            stream_sets = streams
        by_kind = {}
        for dev, kind in stream_sets:
            by_kind.setdefault(kind, []).append(dev)
        for kind, devs in by_kind.items():
            cond = ["%s IS NOT NULL" % kind]
            a = []
            if devs != [None]:
                cond.append("device IN (%s)" % ", ".join("?" * len(devs)))
                a += devs
            w, wa = where(kind)
            if w:
                cond.append(w)
                a += wa
            parts.append("SELECT device, epoch, n, '%s' AS kind, %s AS result, flags, model, received FROM readings "
                         "WHERE %s" % (kind, kind, " AND ".join(cond)))
            pargs += a
        if not parts:
            return [], False, 0 if opts["count"] else None
        union = " UNION ALL ".join(parts)
        if len(parts) == 1:        # one value type: straight down the (device, epoch, n) index
            sql = "%s ORDER BY %s LIMIT ? OFFSET ?" % (parts[0], ", ".join(order[:-1] + ["device, n"]))
        else:
            sql = "SELECT * FROM (%s) o ORDER BY %s LIMIT ? OFFSET ?" % (union, ", ".join(order))
        # one response reads at most MAX_TOP observations, however the $expand multiplies the pages
        # (Things?$expand=Datastreams($expand=Observations($top=10000)) would read millions)
        if self.obs_budget <= 0:
            raise StaError("this query would return more than %d observations in one answer: ask for fewer "
                           "($top inside $expand, or fewer Things with $top/$filter)" % MAX_TOP)
        rows = self.store._read(sql, pargs + [min(opts["top"], self.obs_budget) + 1, opts["skip"]])
        if len(rows) > self.obs_budget and opts["top"] > self.obs_budget:
            raise StaError("this query would return more than %d observations in one answer: ask for fewer "
                           "($top inside $expand, or fewer Things with $top/$filter)" % MAX_TOP)
        self.obs_budget -= min(len(rows), opts["top"])
        more = len(rows) > opts["top"]
        rows = rows[:opts["top"]]
        total = None
        if opts["count"]:
            total = self.store._read("SELECT COUNT(*) AS c FROM (%s) o" % union, pargs)[0]["c"]
        return [(self.observation(r, r["kind"]), {"device": r["device"], "kind": r["kind"]}) for r in rows], \
            more, total


def _obs_sql(expr):
    """A function kind -> (SQL condition or '' or False, args) for an Observation $filter.
    Understood: phenomenonTime/resultTime compared with a time, result compared with a number,
    Datastream/@iot.id and Datastream/Thing/@iot.id (or FeatureOfInterest/@iot.id) compared with eq,
    joined by and/or/not."""
    if expr is None:
        return lambda kind: ("", [])

    def build(e, kind):
        k = e[0]
        if k in ("and", "or"):
            a, aa = build(e[1], kind)
            b, ba = build(e[2], kind)
            return "(%s %s %s)" % (a, k.upper(), b), aa + ba
        if k == "not":
            a, aa = build(e[1], kind)
            return "(NOT %s)" % a, aa
        if k == "cmp":
            op, left, right = e[1], e[2], e[3]
            if left[0] == "lit" and right[0] == "path":
                left, right = right, left
                op = {"gt": "lt", "lt": "gt", "ge": "le", "le": "ge"}.get(op, op)
            if left[0] != "path" or right[0] != "lit":
                raise _unsupported()
            path, v = "/".join(left[1]), right[1]
            sqlop = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}[op]
            if path == "phenomenonTime":
                if isinstance(v, str):
                    v = _epoch_or_none(v)
                if not isinstance(v, int) or isinstance(v, bool):
                    raise StaError("$filter: phenomenonTime is compared with a time, e.g. 2026-01-05T00:00:00Z")
                return "epoch %s ?" % sqlop, [int(v)]
            if path == "resultTime":
                if isinstance(v, int) and not isinstance(v, bool):
                    v = iso_of(int(v))
                if not isinstance(v, str):
                    raise StaError("$filter: resultTime is compared with a time")
                return "received %s ?" % sqlop, [v]
            if path == "result":
                if _num(v) is None:
                    raise StaError("$filter: result is compared with a number")
                return "%s %s ?" % (kind, sqlop), [float(v)]
            if path in ("Datastream/@iot.id", "Datastream/id") and op in ("eq", "ne"):
                dev, _, dk = str(v).rpartition(":")
                same = dk == kind
                if op == "eq":
                    return ("device = ?", [dev]) if same else ("1 = 0", [])
                return ("device <> ?", [dev]) if same else ("1 = 1", [])
            if path in ("Datastream/Thing/@iot.id", "Datastream/Thing/id", "FeatureOfInterest/@iot.id",
                        "FeatureOfInterest/id") and op in ("eq", "ne"):
                return "device %s ?" % sqlop, [str(v)]
            raise _unsupported()
        raise _unsupported()

    def where(kind):
        return build(expr, kind)

    return where


def _unsupported():
    return StaError("$filter on Observations understands phenomenonTime and resultTime (with a time), result "
                    "(with a number), Datastream/@iot.id and Datastream/Thing/@iot.id (eq, ne), joined by and/or/not")


def _lit(eid) -> str:
    if isinstance(eid, int) and not isinstance(eid, bool):
        return str(eid)
    return "'%s'" % str(eid).replace("'", "''")


def _get_path(doc, ctx, svc, entity_set, segs):
    """Resolve a property path for $filter/$orderby on small entity sets (navigation to one entity allowed)."""
    cur, cset, cctx = doc, entity_set, ctx
    for i, seg in enumerate(segs):
        if seg == "id":
            seg = "@iot.id"
        if isinstance(cur, dict) and seg in cur:
            cur = cur[seg]
            continue
        if cset and seg in NAV.get(cset, {}) and not NAV[cset][seg][1]:
            target, _, items = svc.related(cset, cctx, seg)
            if not items:
                return None
            cur, cctx = items[0]
            cset = target
            continue
        return None
    return cur


def _sort_key(v):
    return (v is None, isinstance(v, str), v if v is not None else 0)


# --- answering a request ---------------------------------------------------------------------------

_PATH = re.compile(r"([A-Za-z]+)(?:\(((?:'(?:[^']|'')*')|-?\d+)\))?$")


def _parse_path(rest: str):
    segs = [s for s in re.split(r"/(?=(?:[^']*'[^']*')*[^']*$)", rest) if s]
    out = []
    for s in segs:
        if s in ("$value", "$ref"):
            out.append((s, None))
            continue
        m = _PATH.match(s)
        if not m:
            raise StaError("cannot read the path segment %r" % s[:60], 404)
        name, key = m.group(1), m.group(2)
        if key is not None:
            key = key[1:-1].replace("''", "'") if key.startswith("'") else int(key)
        out.append((name, key))
    return out


class Request:
    """One GET: ``answer()`` -> (status, document)."""

    def __init__(self, svc: Service, rest: str, query: dict):
        self.svc = svc
        self.rest = rest
        self.query = query

    def answer(self):
        svc = self.svc
        path = _parse_path(self.rest)
        if not path:
            return self._root()
        opts = parse_options(self.query)
        name, key = path[0]
        if name not in COLLECTIONS:
            raise StaError("no such entity set: %s (the sets are %s)" % (name, ", ".join(COLLECTIONS)), 404)
        cset = name
        if key is None:
            if len(path) > 1:
                raise StaError("address one %s by its id before navigating: %s('id')/..." % (name[:-1], name), 404)
            return 200, self._collection(cset, None, opts, self._url(name))
        doc, ctx = svc.one(cset, key)
        i = 1
        while i < len(path):
            seg, skey = path[i]
            if seg in ("$value",):
                raise StaError("$value is not supported", 404)
            if seg == "$ref":
                raise StaError("$ref is not supported", 404)
            if seg in doc and seg not in NAV.get(cset, {}):
                if i != len(path) - 1:
                    raise StaError("%s is a property, not a navigation" % seg, 404)
                return 200, {seg: doc[seg]}
            target, many, items = svc.related(cset, ctx, seg)
            if many and skey is None:
                if i != len(path) - 1:
                    raise StaError("address one of %s by its id before navigating further" % seg, 404)
                url = self._url("/".join(_seg(n, k) for n, k in path[:i + 1]))
                return 200, self._collection(target, items, opts, url)
            if many:
                doc, ctx = svc.one(target, skey)
            else:
                if not items:
                    raise StaError("%s has no %s" % (cset[:-1], seg), 404)
                doc, ctx = items[0]
            cset = target
            i += 1
        return 200, self._entity(cset, doc, ctx, opts)

    def _url(self, rest, **params) -> str:
        return "%s/%s%s" % (self.svc.base, rest, ("?" + urlencode(params, quote_via=quote)) if params else "")

    def _root(self):
        return 200, {"value": [{"name": c, "url": "%s/%s" % (self.svc.base, c)} for c in COLLECTIONS],
                     "serverSettings": {"conformance": [
                         "http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel",
                         "http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities",
                         "http://www.opengis.net/spec/iot_sensing/1.1/req/request-data"]}}

    def _collection(self, entity_set, items, opts, url):
        """items: list of (doc, ctx), None for a whole entity set, or an Observations scope dict."""
        svc = self.svc
        total = None
        if entity_set == "Observations":
            scope = items if isinstance(items, dict) else {"streams": None}
            page, more, total = svc.observations(scope, opts)
        else:
            if items is None:
                items = svc.all(entity_set)
            if opts["filter"] is not None:
                f = opts["filter"]
                items = [(d, c) for d, c in items
                         if evaluate(f, lambda segs, d=d, c=c: _get_path(d, c, svc, entity_set, segs))]
            for path, desc in reversed(opts["orderby"]):
                items = sorted(items, key=lambda dc: _sort_key(_get_path(dc[0], dc[1], svc, entity_set, path)),
                               reverse=desc)
            total = len(items) if opts["count"] else None
            page = items[opts["skip"]:opts["skip"] + opts["top"]]
            more = len(items) > opts["skip"] + opts["top"]
        out = {}
        if total is not None:
            out["@iot.count"] = total
        if more:
            q = dict(self.query)
            q["$skip"] = str(opts["skip"] + opts["top"])
            q["$top"] = str(opts["top"])
            out["@iot.nextLink"] = url + "?" + urlencode(q, quote_via=quote, safe="$(),'")
        out["value"] = [self._entity(entity_set, d, c, opts) for d, c in page]
        return out

    def _entity(self, entity_set, doc, ctx, opts):
        svc = self.svc
        doc = dict(doc)
        doc["@iot.selfLink"] = svc.link(entity_set, doc["@iot.id"])
        for nav in NAV.get(entity_set, {}):
            doc["%s@iot.navigationLink" % nav] = "%s/%s" % (doc["@iot.selfLink"], nav)
        for ex in opts["expand"]:
            nav, sub = ex["nav"], ex["options"]
            target, many, items = svc.related(entity_set, ctx, nav)
            if many:
                url = "%s/%s" % (doc["@iot.selfLink"], nav)
                inner = Request(svc, "", _options_query(sub))._collection(target, items, sub, url)
                doc[nav] = inner["value"]
                if "@iot.nextLink" in inner:
                    doc["%s@iot.nextLink" % nav] = inner["@iot.nextLink"]
                if "@iot.count" in inner:
                    doc["%s@iot.count" % nav] = inner["@iot.count"]
            elif items:
                doc[nav] = self._entity(target, items[0][0], items[0][1], sub)
        if opts["select"]:
            keep = set(opts["select"]) | {e["nav"] for e in opts["expand"]}
            keep |= {"%s@iot.nextLink" % e["nav"] for e in opts["expand"]}
            keep |= {"%s@iot.count" % e["nav"] for e in opts["expand"]}
            sel = {k: v for k, v in doc.items() if k in keep or (k == "@iot.id" and "id" in keep)}
            return sel
        return doc


def _seg(name, key):
    return name if key is None else "%s(%s)" % (name, _lit(key))


def _options_query(o) -> dict:
    """The query of an expanded collection, for its own @iot.nextLink (top/skip only: the rest travel as
    the outer request's $expand)."""
    return {"$top": str(o["top"])}


def answer(store, base: str, rest: str, query: dict) -> tuple[int, dict]:
    """Answer one SensorThings GET. Never raises for a client's mistake: 400/404 with a message."""
    try:
        return Request(Service(store, base), rest, query).answer()
    except StaError as e:
        return e.status, {"code": e.status, "type": "error", "message": str(e)}
    except RecursionError:
        return 400, {"code": 400, "type": "error", "message": "$filter is nested too deeply"}


def routes(coll):
    """Starlette routes for the collector."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import Response
    from starlette.routing import Route

    async def handle(request):
        version = request.path_params["version"]
        rest = request.path_params.get("rest", "")
        if version not in ("v1.0", "v1.1"):
            return Response(json.dumps({"code": 404, "type": "error", "message": "SensorThings is served at "
                                        "/sta/v1.1/ (and /sta/v1.0/)"}).encode(), 404, media_type="application/json")
        base = "%s/sta/%s" % (str(request.base_url).rstrip("/"), version)
        # a heavy read: in the read threads, never in the uploads' way (airkit.collect.server)
        run = getattr(coll, "heavy_read", None) or run_in_threadpool
        status, doc = await run(answer, coll.store, base, rest, dict(request.query_params))
        return Response(json.dumps(doc, ensure_ascii=False).encode(), status,
                        media_type="application/json; charset=utf-8",
                        headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "no-cache"})

    return [Route("/sta/{version:str}", handle, methods=["GET"]),
            Route("/sta/{version:str}/", handle, methods=["GET"]),
            Route("/sta/{version:str}/{rest:path}", handle, methods=["GET"])]
