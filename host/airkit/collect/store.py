"""The collector's store: SQLite by default, PostgreSQL by URL (TimescaleDB when present).

``open_store("airkit-collect.sqlite")`` or ``open_store("postgresql://user@host/db")``.
Both backends run the same SQL (the standard library's ``sqlite3`` and psycopg 3),
the same migrations (a ``schema_version`` table) and the same test suite.

Why these: a school's server is one laptop (SQLite: one file, nothing to install);
a city's is PostgreSQL, several collector processes writing to one database.

De-duplication rule (what "the same reading" means): same station, same reading
time (to the second) and the same content. A delivery whose values agree with a
stored reading at that time (within the 2-decimal rounding of the
Sensor.Community format) is a duplicate; it only fills columns that were still
empty (e.g. the DHT22 push after the PMS push, or the Sensor.Community copy of an
airkit JSON reading). A delivery whose values differ is a different reading and
is kept beside it (``n`` = 1, 2, ...): untimed pushes received in the same second
are never merged into one.
"""

from __future__ import annotations

import csv
import hashlib
import math
import secrets
import threading
import time
from datetime import datetime, timezone

VALUE_COLUMNS = ["pm1_cf1", "pm25_cf1", "pm10_cf1", "pm1_atm", "pm25_atm", "pm10_atm",
                 "n0_3", "n0_5", "n1_0", "n2_5", "n5_0", "n10", "rh", "temp_c", "pm25_corrected"]
EXPORT_COLUMNS = ["time", "device", "pm25_cf1", "pm25_atm", "pm10_cf1", "pm10_atm", "pm1_cf1", "pm1_atm",
                  "n0_3", "n0_5", "n1_0", "n2_5", "n5_0", "n10", "rh", "temp_c", "flags",
                  "pm25_corrected", "model"]
STATION_COLUMNS = ["id", "name", "lat", "lon", "fw", "model", "last_seen", "pending", "interval_s"]
SCHEMA_VERSION = 3
SAME = 0.0051          # values closer than this are the same (Sensor.Community sends 2 decimals)


def utc_iso(value: str) -> str:
    """Normalise an ISO 8601 time to UTC 'YYYY-MM-DDTHH:MM:SSZ'; raises ValueError."""
    return iso_of(epoch_of(value))


LAST_EPOCH = 253402214400          # 9999-12-31T00:00:00Z: every epoch up to it has an ISO 8601 form


def epoch_of(value: str) -> int:
    """Seconds since 1970 of an ISO 8601 time (no zone: UTC); ValueError for anything else,
    including times before 1970 or after 9999-12-31 (``0001-01-01T00:00:00+14:00`` is year 0 in UTC)."""
    dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    try:
        ep = int(dt.timestamp())
    except (OverflowError, OSError):
        raise ValueError("%s is out of range" % value)
    if not 0 <= ep <= LAST_EPOCH:
        raise ValueError("%s is before 1970 or after 9999" % value)
    return ep


def iso_of(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_alias() -> str:
    """A random public station id for a Sensor.Community node registered without a station."""
    return "sc-" + secrets.token_hex(4)


def _ddl(real: str, bigint: str) -> list[str]:
    vals = ", ".join("%s %s" % (c, real) for c in VALUE_COLUMNS)
    return [
        "CREATE TABLE IF NOT EXISTS devices (id TEXT PRIMARY KEY, kind TEXT NOT NULL, token_sha256 TEXT, "
        "added TEXT, station TEXT)",
        "CREATE TABLE IF NOT EXISTS readings (device TEXT NOT NULL, time TEXT NOT NULL, epoch %s NOT NULL, "
        "n INTEGER NOT NULL DEFAULT 0, source TEXT, seq %s, %s, flags TEXT, received TEXT, model TEXT, "
        "PRIMARY KEY (device, epoch, n))" % (bigint, bigint, vals),
        "CREATE TABLE IF NOT EXISTS latest (device TEXT PRIMARY KEY, epoch %s NOT NULL, n INTEGER NOT NULL, "
        "time TEXT, flags TEXT, model TEXT, %s)" % (bigint, vals),
        "CREATE TABLE IF NOT EXISTS stations (id TEXT PRIMARY KEY, name TEXT, lat %s, lon %s, fw TEXT, model TEXT, "
        "last_seen TEXT, pending INTEGER, interval_s INTEGER)" % (real, real),
    ]


_COL_INDEX = {c: i for i, c in enumerate(VALUE_COLUMNS)}


class Store:
    """SQLite store (``Store(path)``); :class:`PostgresStore` shares every query."""

    kind = "sqlite"
    real, bigint = "REAL", "INTEGER"

    def __init__(self, path):
        import sqlite3

        self.url = self.path = str(path)
        self.lock = threading.RLock()
        self._rlock = threading.Lock()          # the read connection (open data API)
        self._rdb = None
        self.IntegrityError = sqlite3.IntegrityError
        self.db = sqlite3.connect(self.path, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")     # WAL + NORMAL: durable across a crash of the process
        self.migrate()

    # --- plumbing -------------------------------------------------------------------
    def q(self, sql: str) -> str:
        return sql

    def _exec(self, sql, args=()):
        return self.db.execute(self.q(sql), args)

    def _tables(self) -> set[str]:
        return {r[0] for r in self._exec("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def _columns(self, table) -> list[str]:
        return [r[1] for r in self._exec("PRAGMA table_info(%s)" % table)]

    def close(self):
        with self.lock:
            self.db.close()
        with self._rlock:
            if self._rdb is not None:
                self._rdb.close()
                self._rdb = None

    def _rollback(self):
        try:
            self.db.rollback()
        except Exception:      # a broken connection: the next statement reconnects (PostgreSQL)
            pass

    # --- migrations -------------------------------------------------------------------
    def migrate(self):
        """Bring any earlier schema to SCHEMA_VERSION (version 0: the http.server collector's tables)."""
        with self.lock:
            tables = self._tables()
            version = 0
            if "schema_version" in tables:
                version = self._exec("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0
            else:
                self._exec("CREATE TABLE schema_version (version INTEGER NOT NULL, applied TEXT)")
            if version >= SCHEMA_VERSION:
                self.db.commit()
                return
            legacy = "readings" in tables and "epoch" not in self._columns("readings")
            if legacy:
                self._exec("ALTER TABLE readings RENAME TO readings_v0")
            if "devices" in tables and "station" not in self._columns("devices"):
                self._exec("ALTER TABLE devices ADD COLUMN station TEXT")
            for stmt in _ddl(self.real, self.bigint):
                self._exec(stmt)
            if legacy:
                old = self._columns("readings_v0")
                keep = [c for c in ["device", "time", "source", "seq"] + VALUE_COLUMNS + ["flags", "received",
                                                                                           "model"] if c in old]
                rows = self._exec("SELECT %s FROM readings_v0" % ", ".join(keep)).fetchall()
                ins = "INSERT INTO readings (epoch, %s) VALUES (?, %s)" % (", ".join(keep), ", ".join("?" * len(keep)))
                for r in rows:
                    self._exec(ins, (epoch_of(r[1]),) + tuple(r))
                self._exec("DROP TABLE readings_v0")
                self.rebuild_latest(commit=False)
                self._exec("INSERT INTO stations (id, last_seen) SELECT device, MAX(received) FROM readings "
                           "GROUP BY device")
            if version < 3:
                self._exec("CREATE INDEX IF NOT EXISTS readings_epoch ON readings (epoch)")   # day archives
                self._hide_node_ids()
                self.rebuild_latest(commit=False)        # "latest" is never a reading time-stamped ahead of now
            self.after_create()
            self._exec("INSERT INTO schema_version (version, applied) VALUES (?, ?)", (SCHEMA_VERSION, now_iso()))
            self.db.commit()

    def after_create(self):
        pass

    def _hide_node_ids(self):
        """Version 3: a Sensor.Community node registered without a station was filed (and published)
        under its node id, which is all a stranger needed to push as that node. Each such node gets a
        random public station id; its readings and station row move there."""
        nodes = [r[0] for r in self._exec("SELECT id FROM devices WHERE kind = 'sc' AND station IS NULL").fetchall()]
        for node in nodes:
            alias = new_alias()
            self._exec("UPDATE devices SET station = ? WHERE id = ?", (alias, node))
            for table, col in (("readings", "device"), ("latest", "device"), ("stations", "id")):
                self._exec("UPDATE %s SET %s = ? WHERE %s = ?" % (table, col, col), (alias, node))

    _LATEST = ["device", "epoch", "n", "time", "flags", "model"] + VALUE_COLUMNS

    def _refresh_latest(self, device):
        """Copy the station's newest reading into ``latest`` (one row per station, so the
        latest-of-all document is one small scan)."""
        cols = ", ".join(self._LATEST)
        self._exec("DELETE FROM latest WHERE device = ?", (device,))
        self._exec("INSERT INTO latest (%s) SELECT %s FROM readings WHERE device = ? AND epoch <= ? "
                   "ORDER BY epoch DESC, n DESC LIMIT 1" % (cols, cols), (device, int(time.time())))

    def rebuild_latest(self, commit=True):
        with self.lock:
            devices = [r[0] for r in self._exec("SELECT DISTINCT device FROM readings").fetchall()]
            for d in devices:
                self._refresh_latest(d)
            if commit:
                self.db.commit()

    # --- devices --------------------------------------------------------------------
    def add_device(self, device_id: str, kind: str, token: str | None = None, station: str | None = None):
        """Register a device. ``station``: for a Sensor.Community node, the station id its
        pushes are filed under, so they merge with the same readings from other uplinks; without
        one the node gets a random public station id (a node id is never published: it is
        derived from the board's MAC). A node's ``token`` is its own secret; without one the
        station's airkit JSON token is the secret its pushes must carry."""
        with self.lock:
            if kind == "sc" and station is None:
                old = self._exec("SELECT station FROM devices WHERE id = ?", (device_id,)).fetchone()
                station = old[0] if old and old[0] else new_alias()
            self._exec("DELETE FROM devices WHERE id = ?", (device_id,))
            self._exec("INSERT INTO devices (id, kind, token_sha256, added, station) VALUES (?, ?, ?, ?, ?)",
                       (device_id, kind, token_hash(token) if token else None, now_iso(), station))
            self.db.commit()

    def device(self, device_id: str):
        """(id, kind, token_sha256, station) or None."""
        with self.lock:
            row = self._exec("SELECT id, kind, token_sha256, station FROM devices WHERE id = ?",
                             (device_id,)).fetchone()
            self.db.commit()
            return tuple(row) if row else None

    def set_secret_hash(self, device_id: str, sha256_hex: str):
        with self.lock:
            self._exec("UPDATE devices SET token_sha256 = ? WHERE id = ?", (sha256_hex, device_id))
            self.db.commit()

    def secret_hash(self, device_id: str) -> str | None:
        """The SHA-256 of the secret a write as this device must carry (a node without a token of
        its own: its station's airkit JSON token); None when it has none (every write refused)."""
        d = self.device(device_id)
        if d is None:
            return None
        if d[2] or d[1] != "sc" or not d[3]:
            return d[2]
        st = self.device(d[3])
        return st[2] if st and st[1] == "json" else None

    def set_station(self, station: str, name=None, lat=None, lon=None):
        """Where a station stands and what it is called (shown on the map)."""
        with self.lock:
            self._ensure_station(station)
            for col, v in (("name", name), ("lat", lat), ("lon", lon)):
                if v is not None:
                    self._exec("UPDATE stations SET %s = ? WHERE id = ?" % col, (v, station))
            self.db.commit()

    def _ensure_station(self, station):
        if self._exec("SELECT 1 FROM stations WHERE id = ?", (station,)).fetchone() is None:
            self._exec("INSERT INTO stations (id) VALUES (?)", (station,))

    # --- readings -------------------------------------------------------------------
    def put(self, rows: list[dict], source: str, meta: dict | None = None, received: str | None = None) \
            -> tuple[int, int]:
        """Store rows (dicts with device, time and any VALUE_COLUMNS, flags, seq, model).
        Returns (new, duplicates). ``meta`` (fw, model, pending) describes the sending station."""
        new = dup = 0
        recv = received or now_iso()
        cols = ["device", "time", "epoch", "n", "source", "seq"] + VALUE_COLUMNS + ["flags", "received", "model"]
        ins = "INSERT INTO readings (%s) VALUES (%s)" % (", ".join(cols), ", ".join("?" * len(cols)))
        sel = "SELECT n, flags, %s FROM readings WHERE device = ? AND epoch = ?" % ", ".join(VALUE_COLUMNS)
        fill = "UPDATE readings SET %s WHERE device = ? AND epoch = ? AND n = ?" % ", ".join(
            "%s = COALESCE(%s, ?)" % (c, c) for c in VALUE_COLUMNS + ["model", "seq", "flags"])
        with self.lock:
            for attempt in range(3):
                new = dup = 0
                try:
                    self._lock_devices({r["device"] for r in rows})
                    for r in rows:
                        ep = r.get("epoch")
                        if ep is None:
                            ep = epoch_of(r["time"])
                        vals = [r.get(c) for c in VALUE_COLUMNS]
                        n = self._match(sel, r["device"], ep, vals, r.get("flags"))
                        if n is None or n < 0:
                            n = 0 if n is None else -n
                            self._exec(ins, [r["device"], r.get("time") or iso_of(ep), ep, n, source, r.get("seq")] +
                                       vals + [r.get("flags") or None, recv, r.get("model")])
                            new += 1
                        else:
                            self._exec(fill, vals + [r.get("model"), r.get("seq"), r.get("flags") or None,
                                                     r["device"], ep, n])
                            dup += 1
                    for dev in {r["device"] for r in rows}:
                        self._refresh_latest(dev)
                        self._touch(dev, recv, meta, rows)
                    self.db.commit()
                    break
                except self.IntegrityError:
                    # another collector process stored the same reading meanwhile: look again
                    self.db.rollback()
                    if attempt == 2:
                        raise
                except BaseException:
                    self._rollback()
                    raise
        return new, dup

    def _lock_devices(self, devices):
        """Serialise writers of the same stations across collector processes for this transaction
        (SQLite already has one writer at a time; a lost race ends in IntegrityError and a retry)."""

    def _match(self, sel, device, ep, vals, flags=None):
        """n of a stored reading with the same content (None: nothing stored at that time;
        negative: -(next free n), the content differs from every stored reading). Values the
        collector refused as out of range are content too (kept in ``range:`` flags): a reading
        that says pm25_atm=1e308 where the stored one holds a valid pm25_atm is a different
        reading (a refused value for an empty column still merges, e.g. a broken DHT22's push)."""
        stored = self._exec(sel, (device, ep)).fetchall()
        if not stored:
            return None
        refused = [f for f in (flags or "").split(";") if f.startswith("range:")]
        for row in stored:
            have = set((row[1] or "").split(";"))
            if any(f not in have and f[6:].split("=")[0] in _COL_INDEX and
                   row[2 + _COL_INDEX[f[6:].split("=")[0]]] is not None for f in refused):
                continue
            if all(a is None or b is None or abs(a - b) < SAME for a, b in zip(vals, row[2:])):
                return row[0]
        return -(max(row[0] for row in stored) + 1)

    def _touch(self, dev, recv, meta, rows):
        self._ensure_station(dev)
        meta = meta or {}
        eps = sorted({r.get("epoch") or epoch_of(r["time"]) for r in rows if r["device"] == dev})
        gaps = [b - a for a, b in zip(eps, eps[1:]) if b > a]
        self._exec("UPDATE stations SET last_seen = ?, fw = COALESCE(?, fw), model = COALESCE(?, model), "
                   "pending = ?, interval_s = COALESCE(?, interval_s) WHERE id = ?",
                   (recv, meta.get("fw"), meta.get("model"), meta.get("pending"), min(gaps) if gaps else None, dev))

    def count(self, device: str | None = None) -> int:
        with self.lock:
            if device:
                r = self._exec("SELECT COUNT(*) FROM readings WHERE device = ?", (device,)).fetchone()[0]
            else:
                r = self._exec("SELECT COUNT(*) FROM readings").fetchone()[0]
            self.db.commit()
            return r

    def counts(self) -> dict:
        with self.lock:
            r = dict(self._exec("SELECT device, COUNT(*) FROM readings GROUP BY device").fetchall())
            self.db.commit()
            return r

    def _select(self, sql, args=()) -> list[dict]:
        with self.lock:
            cur = self._exec(sql, args)
            names = [d[0] for d in cur.description]
            out = [dict(zip(names, row)) for row in cur.fetchall()]
            self.db.commit()
            return out

    # --- reads for the open data API: their own connection, so a long read never holds a write ----
    def _read_connect(self):
        import sqlite3

        c = sqlite3.connect(self.path, check_same_thread=False)
        c.execute("PRAGMA query_only = 1")
        return c

    def _read(self, sql, args=()) -> list[dict]:
        """A query on the read connection (SQLite WAL: readers never block the writer, nor it them)."""
        with self._rlock:
            if getattr(self, "_rdb", None) is None:
                self._rdb = self._read_connect()
            cur = self._rdb.execute(self.q(sql), args)
            names = [d[0] for d in cur.description]
            out = [dict(zip(names, row)) for row in cur.fetchall()]
            self._rdb.commit()
            return out

    def rows(self, device: str | None = None) -> list[dict]:
        q = "SELECT * FROM readings" + (" WHERE device = ?" if device else "") + " ORDER BY device, epoch, n"
        return self._select(q, (device,) if device else ())

    # --- open data queries ----------------------------------------------------------------
    def stations(self, only: str | None = None) -> list[dict]:
        """Every station (or only one) with its latest reading (one query; the latest table points at it)."""
        cols = ", ".join("l.%s" % c for c in ["time", "epoch", "flags"] + VALUE_COLUMNS)
        sql = ("SELECT s.id, s.name, s.lat, s.lon, s.fw, s.model, s.last_seen, s.pending, s.interval_s, %s "
               "FROM stations s LEFT JOIN latest l ON l.device = s.id%s ORDER BY s.id"
               % (cols, "" if only is None else " WHERE s.id = ?"))
        return self._read(sql, () if only is None else (only,))

    def station(self, station: str) -> dict | None:
        rows = [s for s in self._read("SELECT %s FROM stations WHERE id = ?" % ", ".join(STATION_COLUMNS),
                                        (station,))]
        return rows[0] if rows else None

    def history(self, station: str, start: int | None = None, end: int | None = None, every: str = "raw",
                columns=None) -> list[dict]:
        """Readings of one station in [start, end) (epoch seconds), raw or averaged by hour/day."""
        return self.history_page(station, start, end, every, columns)[0]

    def history_page(self, station: str, start: int | None = None, end: int | None = None, every: str = "raw",
                     columns=None, limit: int | None = None, after: tuple | None = None) -> tuple[list[dict], tuple]:
        """At most ``limit`` rows of :meth:`history` after the key ``after`` (raw: (epoch, n); averaged:
        (bucket,)); returns (rows, the key to continue after, or None when this was the last page)."""
        columns = columns or VALUE_COLUMNS
        where = "device = ?"
        args = [station]
        if start is not None:
            where += " AND epoch >= ?"
            args.append(start)
        if end is not None:
            where += " AND epoch < ?"
            args.append(end)
        lim = "" if limit is None else " LIMIT %d" % (int(limit) + 1)
        if every == "raw":
            if after is not None:
                where += " AND (epoch > ? OR (epoch = ? AND n > ?))"
                args += [int(after[0]), int(after[0]), int(after[1])]
            sql = "SELECT epoch, n AS key_n, %s, flags, model FROM readings WHERE %s ORDER BY epoch, n%s" % (
                ", ".join(columns), where, lim)
            out = self._read(sql, args)
        else:
            size = {"hourly": 3600, "daily": 86400}[every]
            if after is not None:
                where += " AND epoch >= ?"
                args.append((int(after[0]) // size + 1) * size)
            sql = ("SELECT (epoch / %d) * %d AS bucket, COUNT(*) AS readings, "
                   "SUM(CASE WHEN flags IS NULL OR flags = '' THEN 0 ELSE 1 END) AS flagged, %s "
                   "FROM readings WHERE %s GROUP BY 1 ORDER BY 1%s"
                   % (size, size, ", ".join("AVG(%s) AS %s" % (c, c) for c in columns), where, lim))
            out = self._read(sql, args)
            for r in out:
                r["epoch"] = r.pop("bucket")
                r["flagged"] = int(r["flagged"] or 0)
        more = limit is not None and len(out) > limit
        if more:
            del out[limit:]
        key = None
        if more and out:
            key = (int(out[-1]["epoch"]), int(out[-1].get("key_n", 0)))
        for r in out:
            r.pop("key_n", None)
            r["time"] = iso_of(int(r.pop("epoch")))
        return out, key

    def day_rows(self, start: int, end: int):
        """Every station's readings in [start, end) with the station's position, in time order
        (the daily archive), fetched in chunks on the read connection."""
        cols = ", ".join("r.%s" % c for c in VALUE_COLUMNS)
        sql = ("SELECT r.epoch, r.device, s.lat, s.lon, %s, r.flags FROM readings r LEFT JOIN stations s "
               "ON s.id = r.device WHERE r.epoch >= ? AND r.epoch < ? ORDER BY r.epoch, r.device, r.n" % cols)
        return self._read(sql, (start, end))

    def last_epoch(self, station: str) -> int | None:
        r = self._read("SELECT epoch FROM latest WHERE device = ?", (station,))
        return int(r[0]["epoch"]) if r else None

    def export_csv(self, out, device: str | None = None) -> int:
        """Write the calibration-ready CSV to a text stream; returns the number of rows."""
        w = csv.writer(out, lineterminator="\n")
        w.writerow(EXPORT_COLUMNS)
        n = 0
        for r in self.rows(device):
            w.writerow([_fmt(r.get(c)) for c in EXPORT_COLUMNS])
            n += 1
        return n


class PostgresStore(Store):
    """PostgreSQL through psycopg 3; TimescaleDB hypertable when the extension is available."""

    kind = "postgresql"
    real, bigint = "DOUBLE PRECISION", "BIGINT"

    def __init__(self, url: str):
        import psycopg

        self.url = self.path = url
        self.lock = threading.RLock()
        self._rlock = threading.Lock()
        self._rdb = None
        self.IntegrityError = psycopg.IntegrityError
        self.db = psycopg.connect(url, connect_timeout=10)
        self.timescale = False
        self.migrate()

    def q(self, sql: str) -> str:
        return sql.replace("?", "%s")

    def _again(self, fn, *a, **k):
        """Run a whole transaction; when the server went away (restart, failover, an idle connection
        cut), once more on a new connection (``_exec`` opens it). Safe for writes: a reading stored
        before the connection broke is found again as a duplicate, never stored twice."""
        import psycopg

        try:
            return fn(*a, **k)
        except psycopg.OperationalError:
            if not (self.db.broken or self.db.closed):
                raise
            return fn(*a, **k)

    def put(self, *a, **k):
        return self._again(super().put, *a, **k)

    def _select(self, *a, **k):
        return self._again(super()._select, *a, **k)

    def device(self, *a, **k):
        return self._again(super().device, *a, **k)

    def count(self, *a, **k):
        return self._again(super().count, *a, **k)

    def _read_connect(self):
        import psycopg

        return psycopg.connect(self.url, connect_timeout=10, autocommit=True)

    def _read(self, sql, args=()):
        import psycopg

        try:
            return super()._read(sql, args)
        except psycopg.OperationalError:
            with self._rlock:
                broken = self._rdb is not None and (self._rdb.broken or self._rdb.closed)
                if broken:
                    self._rdb = None            # the next try opens a new one
            if not broken:
                raise
            return super()._read(sql, args)

    def counts(self, *a, **k):
        return self._again(super().counts, *a, **k)

    def _lock_devices(self, devices):
        # Two collectors behind a proxy may get the same reading at once: without this, both see
        # "not stored yet" and one insert fails. Transaction-scoped, taken in a fixed order (no deadlock).
        for d in sorted(devices):
            self._exec("SELECT pg_advisory_xact_lock(hashtext(?))", (d,))

    def _exec(self, sql, args=()):
        if self.db.broken or self.db.closed:          # the server restarted: a new session
            import psycopg

            self.db = psycopg.connect(self.url, connect_timeout=10)
        return self.db.execute(self.q(sql), args)

    def _tables(self) -> set[str]:
        return {r[0] for r in self._exec("SELECT table_name FROM information_schema.tables "
                                         "WHERE table_schema = current_schema()")}

    def _columns(self, table) -> list[str]:
        return [r[0] for r in self._exec("SELECT column_name FROM information_schema.columns WHERE "
                                         "table_schema = current_schema() AND table_name = ?", (table,))]

    def after_create(self):
        ok = self._exec("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'").fetchone()
        if ok:
            self._exec("CREATE EXTENSION IF NOT EXISTS timescaledb")
            self._exec("SELECT create_hypertable('readings', 'epoch', chunk_time_interval => 604800, "
                       "if_not_exists => TRUE, migrate_data => TRUE)")
            self.timescale = True


def open_store(url) -> Store:
    """A store from a path (SQLite) or a ``postgresql://`` URL."""
    s = str(url)
    if s.startswith(("postgresql://", "postgres://")):
        return PostgresStore(s)
    if s.startswith("sqlite:///"):
        s = s[len("sqlite:///"):]
    return Store(s)


def redact_url(url: str) -> str:
    """The URL without its password, fit to print."""
    from urllib.parse import urlsplit, urlunsplit

    u = urlsplit(str(url))
    if u.password is None:
        return str(url)
    netloc = "%s:***@%s" % (u.username or "", u.hostname or "") + (":%d" % u.port if u.port else "")
    return urlunsplit((u.scheme, netloc, u.path, u.query, u.fragment))


CSV_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")


def csv_cell(v):
    """A CSV cell a spreadsheet will not run (OWASP "CSV Injection"): text starting with = + - @ tab or
    a line break gets a leading apostrophe; numbers stay numbers (a negative temperature is data)."""
    if isinstance(v, str) and v.startswith(CSV_TRIGGERS):
        return "'" + v
    return v


def _fmt(v):
    if v is None:
        return ""
    if isinstance(v, str):
        return csv_cell(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return ""
        if v.is_integer():
            return str(int(v))
    return str(v)
