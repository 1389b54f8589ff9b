"""The collector's SQLite store: devices, readings, de-duplication, CSV export.

Why SQLite (stdlib ``sqlite3``): a school's server is one laptop or Raspberry
Pi; one file, no daemon, safe under concurrent requests with one writer
lock. Readings are keyed by (device, UTC time): a reading delivered twice
(at-least-once delivery after a reboot) is stored once; a later delivery of
the same reading from another uplink fills in columns that were still empty.
"""

from __future__ import annotations

import csv
import hashlib
import sqlite3
import threading
from datetime import datetime, timezone

VALUE_COLUMNS = ["pm1_cf1", "pm25_cf1", "pm10_cf1", "pm1_atm", "pm25_atm", "pm10_atm",
                 "n0_3", "n0_5", "n1_0", "n2_5", "n5_0", "n10", "rh", "temp_c", "pm25_corrected"]
EXPORT_COLUMNS = ["time", "device", "pm25_cf1", "pm25_atm", "pm10_cf1", "pm10_atm", "pm1_cf1", "pm1_atm",
                  "n0_3", "n0_5", "n1_0", "n2_5", "n5_0", "n10", "rh", "temp_c", "flags",
                  "pm25_corrected", "model"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS devices (id TEXT PRIMARY KEY, kind TEXT NOT NULL, token_sha256 TEXT, added TEXT,
  station TEXT);
CREATE TABLE IF NOT EXISTS readings (
  device TEXT NOT NULL, time TEXT NOT NULL, source TEXT, seq INTEGER, %s, flags TEXT, received TEXT, model TEXT,
  PRIMARY KEY (device, time));
""" % ", ".join("%s REAL" % c for c in VALUE_COLUMNS)


def utc_iso(value: str) -> str:
    """Normalise an ISO 8601 time to UTC 'YYYY-MM-DDTHH:MM:SSZ'; raises ValueError."""
    dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Store:
    def __init__(self, path):
        self.path = str(path)
        self.lock = threading.Lock()
        self.db = sqlite3.connect(self.path, check_same_thread=False)
        self.db.executescript(_SCHEMA)
        cols = [row[1] for row in self.db.execute("PRAGMA table_info(readings)")]
        if "model" not in cols:                   # a store made by an older collector
            self.db.execute("ALTER TABLE readings ADD COLUMN model TEXT")
        cols = [row[1] for row in self.db.execute("PRAGMA table_info(devices)")]
        if "station" not in cols:
            self.db.execute("ALTER TABLE devices ADD COLUMN station TEXT")
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.commit()

    def close(self):
        with self.lock:
            self.db.close()

    # --- devices --------------------------------------------------------------------
    def add_device(self, device_id: str, kind: str, token: str | None = None, station: str | None = None):
        """Register a device. ``station``: for a Sensor.Community node, the station id its
        pushes are filed under, so they merge with the same readings from other uplinks."""
        with self.lock:
            self.db.execute("INSERT OR REPLACE INTO devices (id, kind, token_sha256, added, station) "
                            "VALUES (?, ?, ?, ?, ?)",
                            (device_id, kind, token_hash(token) if token else None, now_iso(), station))
            self.db.commit()

    def device(self, device_id: str):
        """(id, kind, token_sha256, station) or None."""
        with self.lock:
            return self.db.execute("SELECT id, kind, token_sha256, station FROM devices WHERE id = ?",
                                   (device_id,)).fetchone()

    # --- readings -------------------------------------------------------------------
    def put(self, rows: list[dict], source: str) -> tuple[int, int]:
        """Store rows (dicts with device, time and any VALUE_COLUMNS, flags, seq). (new, duplicates)."""
        new = dup = 0
        recv = now_iso()
        cols = ["device", "time", "source", "seq"] + VALUE_COLUMNS + ["flags", "received", "model"]
        ins = "INSERT INTO readings (%s) VALUES (%s)" % (", ".join(cols), ", ".join("?" * len(cols)))
        upd = "UPDATE readings SET %s WHERE device = ? AND time = ?" % ", ".join(
            "%s = COALESCE(%s, ?)" % (c, c) for c in VALUE_COLUMNS + ["model", "seq", "flags"])
        with self.lock:
            for r in rows:
                vals = [r["device"], r["time"], source, r.get("seq")] + [r.get(c) for c in VALUE_COLUMNS] + \
                       [r.get("flags"), recv, r.get("model")]
                try:
                    self.db.execute(ins, vals)
                    new += 1
                except sqlite3.IntegrityError:
                    self.db.execute(upd, [r.get(c) for c in VALUE_COLUMNS] +
                                    [r.get("model"), r.get("seq"), r.get("flags"), r["device"], r["time"]])
                    dup += 1
            self.db.commit()
        return new, dup

    def count(self, device: str | None = None) -> int:
        with self.lock:
            if device:
                return self.db.execute("SELECT COUNT(*) FROM readings WHERE device = ?", (device,)).fetchone()[0]
            return self.db.execute("SELECT COUNT(*) FROM readings").fetchone()[0]

    def rows(self, device: str | None = None) -> list[dict]:
        q = "SELECT * FROM readings" + (" WHERE device = ?" if device else "") + " ORDER BY device, time"
        with self.lock:
            cur = self.db.execute(q, (device,) if device else ())
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]

    def export_csv(self, out, device: str | None = None) -> int:
        """Write the calibration-ready CSV to a text stream; returns the number of rows."""
        w = csv.writer(out, lineterminator="\n")
        w.writerow(EXPORT_COLUMNS)
        n = 0
        for r in self.rows(device):
            w.writerow([_fmt(r.get(c)) for c in EXPORT_COLUMNS])
            n += 1
        return n


def _fmt(v):
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)
