"""Network-level data quality: every station judged against its neighbours and its own past.

Why: one low-cost station cannot see that it sits indoors, beside a constant source,
or that its laser ages; its neighbours can. This follows the Anomaly Detection
Framework of the AirBox network (Chen et al., "ADF: An Anomaly Detection Framework
for Large-Scale PM2.5 Sensing Systems", IEEE IoT Journal 5(2):559-570, 2018), whose
four modules are kept:

1. **Time-sliced anomaly detection** (TSAD): in each closed time slice (default one
   hour) a station's mean PM2.5 is compared with the median of its neighbours
   (within ``radius_km``; robust z with the neighbours' MAD) - a *spatial* anomaly -
   and with its own last 24 slices - a *temporal* anomaly. A station that rises
   together with at least half of its neighbours is a *spatio-temporal* event (a real
   local event), never a fault.
2. **Real-time emission detection** (RED): connected groups of at least
   ``event_min_stations`` neighbouring stations in an event in the same slice are a
   regional emission event, listed with place (centroid) and time.
3. **Device ranking** (DR): a trust score per station, 1 minus an exponentially
   weighted share of slices (half-life ``trust_half_life_h``) in which the station
   was a spatial anomaly outside any event; stations are ranked by it.
4. **Malfunction detection** (MD), re-evaluated every ``md_every_slices`` over the
   last ``md_window_h`` hours: *stuck* (the same raw values reading after reading
   while the air around changes), *indoor* (the station follows little of what its
   neighbours see: slope of its hourly means on theirs below ``indoor_slope``),
   *local source* (above its neighbours by a steady margin most of the time while
   following them), and *drift* (the ratio to the neighbours changes steadily over
   ``drift_window_d`` days: laser ageing or a clogging fan).

Where this departs from the paper, and why: ADF's TSAD clusters devices per slice
with DBSCAN-like grouping; here neighbours are a fixed radius around each station
(cost per reading is bounded and known); the indoor rule uses the regression slope
on the neighbours instead of ADF's event-reach ratio alone (the slope is the same
idea - outdoor events that do not reach the station - measured on every hour, so it
needs less data); drift is not in ADF (it is what co-location studies of PMS5003s
report) and is added here.

Every result is a flag beside the raw data (per station-slice and per station),
never a deletion. Cost: ``add`` is O(1) per reading; closing a slice is O(stations x
neighbours); the malfunction pass is O(stations x window) every few slices.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass, field

FAULTS = ("stuck", "indoor", "local_source", "drift")
SENTENCES = {
    "stuck": "The sensor has sent the same values reading after reading while the air around it changed: "
             "it is stuck (restart the station; if it stays, replace the PMS5003).",
    "indoor": "The station follows little of what its neighbours measure outdoors: it is probably indoors or "
              "sheltered (mount it outside, under a rain shield, with free air flow).",
    "local_source": "The station reads well above its neighbours most of the time while following their ups and "
                    "downs: a constant source is close by (kitchen vent, exhaust, smoking area); move it away "
                    "or note it.",
    "drift": "The station's readings drift steadily against its neighbours: the laser may be ageing or the fan "
             "clogging (clean the inlet, co-locate it again, or replace the PMS5003).",
    "spatial_high": "Higher than its neighbours in this hour, and not part of a shared event.",
    "spatial_low": "Lower than its neighbours in this hour, and not part of a shared event.",
    "event": "Rose together with its neighbours: a real local event, not a fault.",
}


@dataclass
class QCParams:
    slice_s: int = 3600
    radius_km: float = 3.0
    min_neighbours: int = 2
    max_neighbours: int = 12
    spatial_z: float = 3.5
    temporal_z: float = 4.0
    rise_z: float = 2.0
    sigma_floor: float = 3.0             # µg/m³: below this spread nothing is an anomaly
    sigma_rel: float = 0.25              # ... or this share of the neighbours' median
    event_min_stations: int = 3
    trust_half_life_h: float = 7 * 24
    md_every_slices: int = 6
    md_window_h: int = 36
    md_min_hours: int = 24
    stuck_hours: int = 2
    indoor_slope: float = 0.35
    indoor_min_spread: float = 1.5       # µg/m³ (std of the neighbours' hourly median) for a verdict
    source_margin: float = 8.0           # µg/m³
    source_rel: float = 0.5
    source_share: float = 0.75
    source_min_slope: float = 0.5
    drift_window_d: int = 10
    drift_min_days: int = 6
    drift_total: float = 0.25            # |change| of the ratio over the window (log scale ~ 25 %)
    drift_r2: float = 0.6
    clear_after: int = 4                 # evaluations without the symptom before a fault flag clears


def _km(a, b):
    (la1, lo1), (la2, lo2) = a, b
    x = math.radians(lo2 - lo1) * math.cos(math.radians((la1 + la2) / 2))
    y = math.radians(la2 - la1)
    return 6371.0 * math.hypot(x, y)


def _median(v):
    s = sorted(v)
    n = len(s)
    if not n:
        return None
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def _mad(v, med):
    return _median([abs(x - med) for x in v])


def _step_sse(v):
    """Squared error of the best single step (two flat levels) through v."""
    best = None
    for k in range(2, len(v) - 1):
        a, b = v[:k], v[k:]
        ma, mb = sum(a) / len(a), sum(b) / len(b)
        e = sum((x - ma) ** 2 for x in a) + sum((x - mb) ** 2 for x in b)
        best = e if best is None or e < best else best
    return best if best is not None else float("inf")


def _std(v):
    m = sum(v) / len(v)
    return math.sqrt(sum((a - m) ** 2 for a in v) / len(v))


def _linfit(x, y):
    """slope, intercept, r^2 of y on x (None when x has no spread)."""
    n = len(x)
    if n < 3:
        return None
    mx, my = sum(x) / n, sum(y) / n
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    if sxx <= 0:
        return None
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    b = sxy / sxx
    r2 = (sxy * sxy) / (sxx * syy) if syy > 0 else 0.0
    return b, my - b * mx, r2


@dataclass
class _Station:
    id: str
    pos: tuple | None
    neighbours: list = field(default_factory=list)
    # the open slices: slice epoch -> [sum, count, stuck-reading count]
    acc: dict = field(default_factory=dict)
    last_vals: tuple | None = None
    hourly: deque = field(default_factory=lambda: deque(maxlen=24 * 16))   # (slice, mean, nbr median, stuck)
    ewma: float = 0.0
    slices: int = 0
    faults: dict = field(default_factory=dict)       # kind -> {"since", "detail", "quiet"}
    last_flags: tuple = ()


class NetworkQC:
    """The four ADF modules over a stream of readings. Thread-safe; ``add`` then ``advance``."""

    def __init__(self, params: QCParams | None = None):
        self.p = params or QCParams()
        self.st: dict[str, _Station] = {}
        self.events: list[dict] = []           # regional events, newest last (bounded)
        self.slice_flags: deque = deque(maxlen=200000)   # (station, slice, flags) for the store
        self.closed_until = None               # every slice before this is closed
        self.max_epoch = None
        self.lock = threading.RLock()
        self._n_closed = 0
        self._listeners = []
        self.raised: deque = deque(maxlen=100000)       # (station, fault, epoch) each time a fault is raised

    # --- stations ---------------------------------------------------------------------
    def set_station(self, sid, lat=None, lon=None):
        with self.lock:
            s = self.st.get(sid)
            pos = (lat, lon) if lat is not None and lon is not None else None
            if s is None:
                s = self.st[sid] = _Station(sid, pos)
            elif s.pos == pos:
                return
            s.pos = pos
            self._neighbours()

    def _neighbours(self):
        """Neighbours within the radius (nearest first, at most max_neighbours); with fewer than
        min_neighbours inside, the nearest within twice the radius. A grid keeps this O(n)."""
        p = self.p
        cell = p.radius_km * 2 / 111.0
        grid = {}
        for s in self.st.values():
            if s.pos:
                grid.setdefault((int(s.pos[0] // cell), int(s.pos[1] // cell)), []).append(s)
        for s in self.st.values():
            s.neighbours = []
            if not s.pos:
                continue
            gx, gy = int(s.pos[0] // cell), int(s.pos[1] // cell)
            near = []
            for dx in (-1, 0, 1):
                for dy in (-1, 0, 1):
                    for o in grid.get((gx + dx, gy + dy), ()):
                        if o is not s:
                            d = _km(s.pos, o.pos)
                            if d <= 2 * p.radius_km:
                                near.append((d, o.id))
            near.sort()
            inside = [i for d, i in near if d <= p.radius_km]
            if len(inside) < p.min_neighbours:
                inside = [i for d, i in near]
            s.neighbours = inside[:p.max_neighbours]

    # --- readings ---------------------------------------------------------------------
    def add(self, sid, epoch, pm25, raw=None):
        """One reading: ``pm25`` the raw PM2.5 (µg/m³), ``raw`` the tuple of raw values the
        stuck check compares (default: ``(pm25,)``). O(1)."""
        if pm25 is None or not math.isfinite(pm25):
            return
        with self.lock:
            s = self.st.get(sid)
            if s is None:
                s = self.st[sid] = _Station(sid, None)
            sl = int(epoch) // self.p.slice_s * self.p.slice_s
            if self.closed_until is not None and sl < self.closed_until:
                return                          # arrived after its slice was judged: stored, not judged
            a = s.acc.get(sl)
            if a is None:
                a = s.acc[sl] = [0.0, 0, 0]
            a[0] += pm25
            a[1] += 1
            vals = raw if raw is not None else (pm25,)
            if s.last_vals == vals:
                a[2] += 1
            s.last_vals = vals
            if self.max_epoch is None or epoch > self.max_epoch:
                self.max_epoch = int(epoch)

    def advance(self, now=None, grace_s=600):
        """Close every slice that ended ``grace_s`` before ``now`` (default: the newest reading's
        time); returns the number of slices closed."""
        with self.lock:
            t = self.max_epoch if now is None else now
            if t is None:
                return 0
            last = (int(t) - grace_s) // self.p.slice_s * self.p.slice_s      # slices before this are done
            if self.closed_until is None:
                starts = [sl for s in self.st.values() for sl in s.acc]
                if not starts:
                    return 0
                self.closed_until = min(starts)
            n = 0
            while self.closed_until < last:
                self._close(self.closed_until)
                self.closed_until += self.p.slice_s
                n += 1
            return n

    # --- one slice: TSAD, RED, DR -----------------------------------------------------------
    def _close(self, sl):
        p = self.p
        mean = {}
        stuck = {}
        for s in self.st.values():
            a = s.acc.pop(sl, None)
            if a and a[1]:
                mean[s.id] = a[0] / a[1]
                # every reading of the slice but the first repeated the one before
                stuck[s.id] = a[1] >= 3 and a[2] >= a[1] - 1
        flags = {}
        nbr_med = {}
        rising = {}
        for sid, x in mean.items():
            s = self.st[sid]
            past = [h[1] for h in list(s.hourly)[-24:]]
            if len(past) >= 12:
                med = _median(past)
                sig = max(1.4826 * _mad(past, med), p.sigma_floor, p.sigma_rel * med)
                rising[sid] = (x - med) / sig
            nv = self._nbr_values(s, mean)
            if len(nv) >= p.min_neighbours:
                nbr_med[sid] = _median(nv)
        event = set()
        for sid, z in rising.items():
            if z <= p.rise_z:
                continue
            nb = [n for n in self.st[sid].neighbours if n in rising]
            up = [n for n in nb if rising[n] > p.rise_z]
            if len(nb) >= p.min_neighbours and len(up) * 2 >= len(nb):
                event.add(sid)
        for sid, x in mean.items():
            s = self.st[sid]
            f = []
            if sid in event:
                f.append("event")
            if sid in nbr_med:
                nv = self._nbr_values(s, mean)
                med = nbr_med[sid]
                sig = max(1.4826 * _mad(nv, med), p.sigma_floor, p.sigma_rel * med)
                z = (x - med) / sig
                if abs(z) > p.spatial_z and sid not in event:
                    f.append("spatial_high" if z > 0 else "spatial_low")
            if sid in rising and abs(rising[sid]) > p.temporal_z and sid not in event:
                f.append("temporal")
            if stuck.get(sid):
                f.append("stuck_slice")
            flags[sid] = f
            near_event = sid in event or any(n in event for n in s.neighbours)
            s.hourly.append((sl, x, nbr_med.get(sid), bool(stuck.get(sid)), near_event))
            # device ranking: share of slices as a spatial outlier outside events
            bad = 1.0 if ("spatial_high" in f or "spatial_low" in f) else 0.0
            alpha = 1 - 0.5 ** (p.slice_s / 3600.0 / p.trust_half_life_h)
            s.ewma = s.ewma + alpha * (bad - s.ewma) if s.slices else bad * alpha
            s.slices += 1
            s.last_flags = tuple(f)
            if f:
                self.slice_flags.append((sid, sl, ";".join("qc_" + x for x in f)))
        self._regional(sl, event, len(mean))
        self._n_closed += 1
        if self._n_closed % p.md_every_slices == 0:
            self._malfunctions(sl)
        for fn in self._listeners:
            fn(sl, flags)

    def _nbr_values(self, s, mean):
        """The neighbours' means of this slice, leaving out neighbours with a known fault (as long
        as enough are left): a stuck or indoor neighbour must not drag the reference."""
        nv = [mean[n] for n in s.neighbours if n in mean and not self.st[n].faults]
        if len(nv) < self.p.min_neighbours:
            nv = [mean[n] for n in s.neighbours if n in mean]
        return nv

    def _regional(self, sl, event, judged):
        """Connected groups of neighbouring stations in an event = a regional emission event."""
        seen = set()
        for sid in sorted(event):
            if sid in seen:
                continue
            group, todo = [], [sid]
            seen.add(sid)
            while todo:
                cur = todo.pop()
                group.append(cur)
                for n in self.st[cur].neighbours:
                    if n in event and n not in seen:
                        seen.add(n)
                        todo.append(n)
            if len(group) < self.p.event_min_stations:
                continue
            pos = [self.st[g].pos for g in group if self.st[g].pos]
            lat = sum(q[0] for q in pos) / len(pos) if pos else None
            lon = sum(q[1] for q in pos) / len(pos) if pos else None
            # an event continuing from the previous slice with shared stations is the same event
            for ev in reversed(self.events[-20:]):
                if ev["end"] == sl and set(ev["stations"]) & set(group):
                    ev["end"] = sl + self.p.slice_s
                    ev["stations"] = sorted(set(ev["stations"]) | set(group))
                    ev["lat"], ev["lon"] = lat, lon
                    break
            else:
                self.events.append({"start": sl, "end": sl + self.p.slice_s, "stations": sorted(group),
                                    "lat": lat, "lon": lon, "judged": judged})
                del self.events[:-500]

    # --- MD ---------------------------------------------------------------------------------
    def _malfunctions(self, sl):
        p = self.p
        for s in self.st.values():
            found = {}
            h = [r for r in s.hourly if r[0] > sl - p.md_window_h * 3600]
            # stuck: consecutive stuck slices, while the air around changed
            run = 0
            for r in h[::-1]:
                if not r[3]:
                    break
                run += 1
            if run >= p.stuck_hours:
                recent = [r for r in h[-run - 1:]]
                nb = [r[2] for r in recent if r[2] is not None]
                moving = len(nb) < 2 or max(nb) - min(nb) > 1.0 or (h[-1][1] > 0.5)
                if moving:
                    found["stuck"] = "the same values for %d h" % run
            # indoor and local source: the hours with a reference, outside events near the station
            # (a plume that reaches the neighbours but not this station is not a sign of a roof)
            pairs = [(r[2], r[1]) for r in h if r[2] is not None and not r[3] and not r[4]]
            if len(pairs) >= p.md_min_hours:
                xs = [a for a, b in pairs]
                ys = [b for a, b in pairs]
                sx, sy = _std(xs), _std(ys)
                fit = _linfit(xs, ys)
                judged = fit is not None and sx >= p.indoor_min_spread
                if judged and fit[0] < p.indoor_slope and sy < 0.5 * sx:
                    found["indoor"] = "follows %.0f %% of its neighbours' changes over %d h" % (
                        100 * max(fit[0], 0), len(pairs))
                elif not judged or fit[0] >= p.source_min_slope:
                    # above by a steady margin (and following the neighbours where they moved)
                    diffs = [b - a for a, b in pairs]
                    margin = [d > max(p.source_margin, p.source_rel * a) for (a, b), d in zip(pairs, diffs)]
                    if sum(margin) >= p.source_share * len(margin):
                        found["local_source"] = "%.0f µg/m³ above its neighbours in %d %% of %d h" % (
                            _median(diffs), 100 * sum(margin) / len(margin), len(margin))
            # drift: the station's daily gain against its neighbours (sum over sum, hours with air
            # to measure, outside events) changes steadily over the window
            if not (found.keys() & {"indoor", "local_source", "stuck"}) and \
                    not (s.faults.keys() & {"indoor", "local_source", "stuck"}):
                days = {}
                for r in s.hourly:
                    if r[2] is not None and r[2] > 5.0 and not r[3] and not r[4] and \
                            r[0] > sl - p.drift_window_d * 86400:
                        d = days.setdefault(r[0] // 86400, [0.0, 0.0, 0])
                        d[0] += r[1]
                        d[1] += r[2]
                        d[2] += 1
                dd = sorted((d, math.log(v[0] / v[1])) for d, v in days.items() if v[2] >= 12 and v[0] > 0)
                if len(dd) >= p.drift_min_days:
                    xs, ys = [float(d) for d, _ in dd], [v for _, v in dd]
                    fit = _linfit(xs, ys)
                    if fit:
                        slope, icpt, r2 = fit
                        total = slope * (dd[-1][0] - dd[0][0])
                        line = sum((y - icpt - slope * x) ** 2 for x, y in zip(xs, ys))
                        # a steady ramp, not a step (a station moved, a source switched on)
                        if abs(total) >= p.drift_total and r2 >= p.drift_r2 and line < _step_sse(ys):
                            found["drift"] = "%+.0f %% against its neighbours over %d days" % (
                                100 * (math.exp(total) - 1), dd[-1][0] - dd[0][0])
            for kind in FAULTS:
                cur = s.faults.get(kind)
                if kind in found:
                    if cur is None:
                        s.faults[kind] = {"since": sl + p.slice_s, "detail": found[kind], "quiet": 0}
                        self.raised.append((s.id, kind, sl + p.slice_s))
                    else:
                        cur["detail"], cur["quiet"] = found[kind], 0
                elif cur is not None:
                    cur["quiet"] += 1
                    if cur["quiet"] >= p.clear_after:
                        del s.faults[kind]

    # --- results ----------------------------------------------------------------------------
    def ranking(self) -> list[dict]:
        """Stations by trust (highest first), with their current faults."""
        with self.lock:
            out = [self.station_doc(s.id) for s in self.st.values() if s.slices]
        return sorted(out, key=lambda d: (-d["trust"], d["id"]))

    def station_doc(self, sid) -> dict:
        from airkit.collect.store import iso_of

        with self.lock:
            s = self.st[sid]
            faults = [{"kind": k, "since": iso_of(v["since"]), "detail": v["detail"], "sentence": SENTENCES[k]}
                      for k, v in sorted(s.faults.items())]
            return {"id": sid, "trust": round(1.0 - s.ewma, 3), "slices": s.slices,
                    "neighbours": len(s.neighbours), "faults": faults, "last_slice_flags": list(s.last_flags)}

    def faults_active(self, sid) -> set:
        with self.lock:
            s = self.st.get(sid)
            return set(s.faults) if s else set()

    def events_doc(self, limit=50) -> list[dict]:
        from airkit.collect.store import iso_of

        with self.lock:
            out = []
            for e in self.events[-limit:]:
                wide = len(e["stations"]) * 2 > e.get("judged", 0)
                out.append({"start": iso_of(e["start"]), "end": iso_of(e["end"]), "stations": list(e["stations"]),
                            "lat": e["lat"], "lon": e["lon"], "kind": "network-wide" if wide else "regional",
                            "sentence": ("%d stations, most of the network, rose together: the whole area's air "
                                         "changed (weather, a haze episode), not a fault." if wide else
                                         "%d neighbouring stations rose together: a regional emission event, "
                                         "not a fault.") % len(e["stations"])})
            return out[::-1]


class Runner:
    """Network QC inside the collector: fed by every stored batch, judged as slices close.

    Readings are fed in each station's time order (a retried or backfilled reading older than
    what was fed is stored but not judged); stations' positions are re-read from the store
    when a slice closes. Per-slice flags go to the ``qc_flags`` table beside the readings
    (never changing them). On start the last ``warm_hours`` of readings are replayed, so a
    restarted collector judges again within the hour (drift, which needs days, starts over)."""

    def __init__(self, store, params: QCParams | None = None, warm_hours: int | None = None, warm: bool = True):
        self.store = store
        self.qc = NetworkQC(params)
        self.qc._listeners.append(self._save)
        self._last = {}
        self._positions_at = None
        with store.lock:
            store._exec("CREATE TABLE IF NOT EXISTS qc_flags (device TEXT NOT NULL, slice %s NOT NULL, "
                        "flags TEXT, PRIMARY KEY (device, slice))" % store.bigint)
            store.db.commit()
        self._positions()
        self.warm_hours = warm_hours if warm_hours is not None else self.qc.p.md_window_h + 24
        if warm:
            self.warm()

    def _positions(self):
        for s in self.store.stations():
            if s.get("lat") is not None and s.get("lon") is not None:
                self.qc.set_station(s["id"], s["lat"], s["lon"])

    def warm(self):
        """Replay the last ``warm_hours`` of stored readings, an hour at a time (the store's lock is
        held for one hour's rows only, so uploads go on meanwhile)."""
        hours = self.warm_hours
        last = self.store._select("SELECT MAX(epoch) AS m FROM readings")
        if not last or last[0]["m"] is None or hours <= 0:
            return
        end = int(last[0]["m"]) + 1
        t = (end - hours * 3600) // 3600 * 3600
        while t < end:
            rows = self.store._select("SELECT device, epoch, pm25_atm, pm25_cf1, pm10_atm FROM readings WHERE "
                                      "epoch >= ? AND epoch < ? ORDER BY epoch, device, n", (t, t + 3600))
            self.feed(rows, advance=False)
            self.qc.advance()
            t += 3600

    def feed(self, rows, advance=True):
        """Rows as stored (dicts with device, epoch or time, pm25_atm/pm25_cf1)."""
        from airkit.collect.store import epoch_of

        qc = self.qc
        closed_before = qc.closed_until
        for r in sorted(rows, key=lambda r: (r.get("epoch") or epoch_of(r["time"]))):
            pm = r.get("pm25_atm")
            if pm is None:
                pm = r.get("pm25_cf1")
            if pm is None:
                continue
            ep = r.get("epoch") or epoch_of(r["time"])
            dev = r["device"]
            if ep <= self._last.get(dev, -1):
                continue
            self._last[dev] = ep
            qc.add(dev, ep, float(pm), (pm, r.get("pm25_cf1"), r.get("pm10_atm")))
        if advance and qc.max_epoch is not None:
            sl = qc.p.slice_s
            if closed_before is None or (qc.max_epoch - 600) // sl * sl > closed_before:
                self._positions()
                import time

                qc.advance(now=min(qc.max_epoch, int(time.time()) + 600))

    def _save(self, sl, flags):
        rows = [(sid, sl, ";".join("qc_" + x for x in f)) for sid, f in flags.items() if f]
        if not rows:
            return
        st = self.store
        with st.lock:
            try:
                for sid, s, f in rows:
                    st._exec("DELETE FROM qc_flags WHERE device = ? AND slice = ?", (sid, s))
                    st._exec("INSERT INTO qc_flags (device, slice, flags) VALUES (?, ?, ?)", (sid, s, f))
                st.db.commit()
            except Exception:
                st._rollback()

    def flags(self, station, start, end) -> dict:
        """{slice epoch: 'qc_...;qc_...'} of one station in [start, end)."""
        rows = self.store._select("SELECT slice, flags FROM qc_flags WHERE device = ? AND slice >= ? AND slice < ?",
                                  (station, (start or 0) - self.qc.p.slice_s, end if end is not None else 2 ** 62))
        return {int(r["slice"]): r["flags"] for r in rows}

    def doc(self) -> dict:
        q = self.qc
        return {"method": "ADF (Chen et al., IEEE IoT Journal 5(2):559-570, 2018): time-sliced anomalies, regional "
                          "emission events, device ranking, malfunction detection; see the README",
                "slice_s": q.p.slice_s, "radius_km": q.p.radius_km, "stations": q.ranking(),
                "events": q.events_doc(), "judged_until": None if q.closed_until is None else
                __import__("airkit.collect.store", fromlist=["iso_of"]).iso_of(q.closed_until)}

    def annotate(self, station, rows, start, end):
        """Add ``qc`` (the slice's network flags, '' when none) to history rows (raw or hourly)."""
        from airkit.collect.store import epoch_of

        if not rows:
            return
        fl = self.flags(station, start, end)
        sl = self.qc.p.slice_s
        for r in rows:
            r["qc"] = fl.get(epoch_of(r["time"]) // sl * sl, "")


def routes(coll):
    """``GET /api/v1/qc`` (ranking, faults with a sentence each, regional events) and
    ``GET /api/v1/qc/stations/{id}``."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    def off():
        return JSONResponse({"detail": "network QC is off on this collector (started with --no-qc)"}, 404)

    async def caught_up():
        """Let the collector's QC worker judge what was acknowledged before (bounded wait)."""
        drain = getattr(coll, "qc_drain", None)
        if drain is not None:
            await run_in_threadpool(drain)

    async def all_(request):
        if coll.qc is None:
            return off()
        await caught_up()
        return JSONResponse(await run_in_threadpool(coll.qc.doc))

    async def one(request):
        if coll.qc is None:
            return off()
        await caught_up()
        sid = request.path_params["id"]
        with coll.qc.qc.lock:
            known = sid in coll.qc.qc.st and coll.qc.qc.st[sid].slices
        if not known:
            return JSONResponse({"detail": "station %s has not been judged yet (it needs a closed hour of "
                                           "readings)" % sid[:60]}, 404)
        return JSONResponse(coll.qc.qc.station_doc(sid))

    return [Route("/api/v1/qc", all_), Route("/api/v1/qc/stations/{id}", one)]
