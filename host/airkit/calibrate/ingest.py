"""Read sensor and reference files into one shape, with times in UTC.

Why this exists: volunteers bring whatever their sensor and their reference
station export. Every format here states its time convention; each reader
converts to UTC and labels every value by the *start* of its interval
(hour-beginning). Flags and missing markers become NaN, never numbers. A bad
file raises one ``UserError`` naming the file, the row and the problem.

Result: a ``Table``: ``frame`` indexed by UTC interval start (sorted,
tz-aware), with canonical columns

* sensor: ``pm25_cf1`` (mean of ``pm25_cf1_a``/``pm25_cf1_b`` when both
  exist), ``rh`` (%), ``temp_c``, optional ``pm25_atm``, ``pm10_cf1``,
  ``pm10_atm``, ``device``;
* reference: ``pm25``, optional ``pm10`` where the format carries PM10;
* paired (a file that already pairs both, e.g. daily PurpleAir + AQS):
  the sensor columns plus ``ref_pm25``.

The format definitions for users are in ``calibration/FORMATS.md``.
"""

import csv
import io
import json
import os
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from airkit.errors import UserError


@dataclass
class Table:
    frame: pd.DataFrame
    fmt: str
    role: str            # "sensor", "reference" or "paired"
    path: str
    time_note: str       # the convention assumed, shown to the user
    notes: list = field(default_factory=list)
    interval_s: float = None   # native sampling interval, seconds
    local_tz: str = None       # the station's own time zone when the format states it (for local-day means)

    @property
    def label(self):
        return "%s (%s; %s)" % (os.path.basename(self.path), self.fmt, self.time_note)


SENSOR_FORMATS = ("airkit", "purpleair", "sensor_community", "instrument_export", "paired_daily")
REFERENCE_FORMATS = ("plain", "airnow_dat", "airnow_api", "aqs_hourly", "airnowtech", "moenv_realtime",
                     "moenv_hourly", "moenv_yearly", "eea", "eea_legacy", "openaq_v3", "deq_minute",
                     "paired_daily")

MOENV_MARKERS = ("#", "*", "x", "A", "NR")


# --------------------------------------------------------------------------- helpers

def _fail(path, problem, row=None):
    where = os.path.basename(str(path))
    if row is not None:
        where += ", row %d" % row
    raise UserError("%s: %s" % (where, problem))


XLSX_MAGIC = b"PK\x03\x04"            # .xlsx/.xlsm are zip files
XLS_MAGIC = b"\xd0\xcf\x11\xe0"       # the old binary .xls (OLE2)
_xlsx_cache = {}


def _excel_text(path, head):
    """The first sheet of an Excel workbook as CSV text (pandas + openpyxl), or one sentence why not."""
    if head.startswith(XLS_MAGIC):
        _fail(path, "this is an old Excel .xls workbook; save it as .xlsx or as CSV (UTF-8) and run again.")
    if not str(path).lower().endswith((".xlsx", ".xlsm")):
        _fail(path, "this is a zip archive, not a data file; unpack it, or save the sheet as CSV.")
    key = (str(path), os.path.getmtime(path))
    if key not in _xlsx_cache:
        try:
            import openpyxl  # noqa: F401  (pandas reads .xlsx through it)
        except ImportError:
            _fail(path, "reading .xlsx needs the openpyxl package (pip install openpyxl); or save the sheet as "
                        "CSV (UTF-8) and run again.")
        try:
            sheet = pd.read_excel(path, sheet_name=0, header=None, dtype=str, keep_default_na=False)
        except Exception as e:         # a damaged or password-protected workbook
            _fail(path, "cannot read this Excel workbook (%s); save the sheet as CSV (UTF-8) and run again."
                  % str(e).splitlines()[0][:80])
        sheet = sheet.loc[:, (sheet != "").any(axis=0)]
        _xlsx_cache.clear()
        _xlsx_cache[key] = sheet.to_csv(index=False, header=False, lineterminator="\n")
    return _xlsx_cache[key]


def _read_text(path):
    if not os.path.exists(path):
        raise UserError("%s: file not found; check the path." % path)
    if os.path.isdir(path):
        raise UserError("%s: is a folder, not a data file." % path)
    with open(path, "rb") as f:
        raw = f.read()
    if raw.startswith((XLSX_MAGIC, XLS_MAGIC)):
        return _excel_text(path, raw[:8])
    if not raw.strip():
        _fail(path, "the file is empty; export the data again.")
    if b"\x00" in raw[:4096]:
        _fail(path, "this is a binary file, not a text data file (use --reference-format eea for Parquet).")
    for enc in ("utf-8-sig", "cp950", "latin-1"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def _num(s):
    """Numbers stay numbers; flags, markers, blanks and text become NaN."""
    if s.dtype.kind in "fi":
        return s.astype(float)
    return pd.to_numeric(s.astype(str).str.strip(), errors="coerce")


def _find(columns, *names):
    """The first column whose name matches one of ``names`` (case-insensitive)."""
    low = {str(c).strip().lower(): c for c in columns}
    for n in names:
        if n.lower() in low:
            return low[n.lower()]
    return None


def _require(path, columns, *names):
    col = _find(columns, *names)
    if col is None:
        _fail(path, "missing column '%s' (found: %s); is this the right file and format?"
              % (names[0], ", ".join(map(str, list(columns)[:12]))))
    return col


def _rows(idx, first_row, most=5):
    """'rows 2, 5, 9 and 3 more': file row numbers of positions ``idx``."""
    shown = ", ".join(str(int(i) + first_row) for i in idx[:most])
    return ("row " if len(idx) == 1 else "rows ") + shown + (" and %d more" % (len(idx) - most) if len(idx) > most
                                                               else "")


def _parse_times(path, raw, first_row, fmt=None, utc=True, offset=None, dayfirst=False):
    """Parse a text time column; a value that is not a time names its row."""
    raw = pd.Series(raw).astype(str).str.strip()
    try:
        if fmt is None:
            t = pd.to_datetime(raw, errors="coerce", utc=utc, format="mixed", dayfirst=dayfirst)
        else:
            t = pd.to_datetime(raw, errors="coerce", utc=utc, format=fmt)
    except ValueError as e:   # pandas: "Mixed timezones detected" (some rows with a zone, some without)
        zoned = np.flatnonzero(raw.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True).to_numpy())
        naive = np.setdiff1d(np.arange(len(raw)), zoned)
        _fail(path, "the times mix zones (%s): %s without a zone; give every time the same convention."
              % (str(e).splitlines()[0][:60], _rows(naive, first_row) if len(naive) else _rows(zoned, first_row)))
    bad = t.isna() & (raw != "") & (raw.str.lower() != "nan")
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        _fail(path, "'%s' is not a date/time I can read." % raw.iloc[i], first_row + i)
    if offset is not None:
        if getattr(t.dt, "tz", None) is not None:
            t = t.dt.tz_localize(None)
        t = (t - pd.Timedelta(hours=offset)).dt.tz_localize("UTC")
    return t


_DECIMAL_COMMA = r"^\s*([-+]?\d+),(\d+)\s*$"


def _semicolons(header):
    """Excel's ';'-separated CSV (decimal-comma locales), where a header may hold commas too ('PM2,5')."""
    return header.count(";") >= max(1, header.count(","))


def _read_csv(path, text, sep=",", skip=0, **kw):
    excel = False
    if sep == ",":
        # Excel in a decimal-comma locale saves "CSV" with ';' between fields and '5,241' for numbers
        first = next((ln for ln in text.splitlines()[skip:] if ln.strip()), "")
        if _semicolons(first):
            sep, excel = ";", True
    try:
        df = pd.read_csv(io.StringIO(text), sep=sep, skiprows=skip, dtype=str, keep_default_na=False,
                         skipinitialspace=True, **kw)
    except pd.errors.ParserError as e:
        m = re.search(r"line (\d+)", str(e))
        _fail(path, "not a well-formed table (%s); check the delimiter and quoting."
              % str(e).strip().splitlines()[-1], int(m.group(1)) if m else None)
    except pd.errors.EmptyDataError:
        _fail(path, "no data rows found; export the data again.")
    df.columns = [str(c).strip() for c in df.columns]
    if len(df) == 0:
        _fail(path, "the file has a header but no data rows.")
    if excel:
        df = df.apply(lambda c: c.str.replace(_DECIMAL_COMMA, r"\1.\2", regex=True))
    return _units(path, df)


# Units, as spreadsheets and station networks write them in a header ("PM2.5 (µg/m³)") or in a
# row of their own under it. PM must end in ug/m3; a gas unit (ppb) for PM is refused; mg/m3 is
# converted; relative humidity as a 0-1 fraction is converted in ``_finish_sensor``.
_UNIT_WORDS = {
    "ug/m3": "ug/m3", "µg/m3": "ug/m3", "μg/m3": "ug/m3", "ug m-3": "ug/m3", "microg/m3": "ug/m3",
    "mg/m3": "mg/m3", "ppb": "ppb", "ppm": "ppm", "ppt": "ppt", "%": "%", "% rh": "%", "%rh": "%",
    "fraction": "fraction", "0-1": "fraction", "1": "fraction", "°c": "degC", "degc": "degC", "c": "degC",
    "°f": "degF", "degf": "degF", "f": "degF", "#/0.1l": "count", "count": "count",
    "#/dl": "count", "hpa": "hPa",
}
_GERMAN = {"datum": "date", "zeit": "time", "uhrzeit": "time", "datum/zeit": "time", "zeitstempel": "time",
           "feuchte": "rh", "luftfeuchte": "rh", "temperatur": "temp_c"}


def _unit_word(text):
    t = str(text).strip().lower().replace("³", "3").replace(" ", "").replace("_", "")
    t = t.replace("μ", "µ").replace("mikrog", "µg")
    return _UNIT_WORDS.get(t) or _UNIT_WORDS.get(t.replace("µ", "u"))


def _is_pm_name(name):
    n = str(name).strip().lower().replace(" ", "").replace(",", ".")
    return n.startswith(("pm", "pm_", "sample", "value", "conc")) or "pm2" in n or "pm10" in n or "pm1." in n


def _units(path, df):
    """Strip units from header names (``PM2.5 (µg/m³)`` -> ``PM2.5``), read a units row under the
    header, then act on them: mg/m3 -> ug/m3, ppb/ppm for PM refused (one sentence)."""
    units, names = {}, []
    for c in df.columns:
        m = re.fullmatch(r"(.*?)\s*[\(\[]\s*([^\)\]]*?)\s*[\)\]]\s*", c)
        name, unit = (m.group(1), _unit_word(m.group(2))) if m and _unit_word(m.group(2)) else (c, None)
        name = re.sub(r"(?i)^pm\s*2,5", "PM2.5", name.strip())        # German: PM2,5
        name = _GERMAN.get(name.lower(), name)
        if unit:
            units[name] = unit
        names.append(name)
    df.columns = names
    if len(df) > 1:
        row = [str(v).strip() for v in df.iloc[0]]
        filled = [v for v in row if v]
        worded = [v for v in filled if _unit_word(v) or v.lower() in ("utc", "gmt", "mez", "cet", "local")]
        numeric = [v for v in filled if re.fullmatch(r"[-+]?\d+(\.\d*)?([eE][-+]?\d+)?", v)]
        if worded and not numeric and len(worded) * 2 >= len(filled):
            for c, v in zip(df.columns, row):
                if _unit_word(v):
                    units.setdefault(c, _unit_word(v))
            df = df.iloc[1:].reset_index(drop=True)
            _csv_notes.setdefault(str(path), []).append("a units row under the header was read (%s)" % ", ".join(
                "%s %s" % (c, u) for c, u in units.items()))
    for c, u in units.items():
        if not _is_pm_name(c):
            continue
        if u in ("ppb", "ppm", "ppt"):
            _fail(path, "column '%s' is in %s, a unit for gases; particulate matter is a mass per volume: give "
                        "it in ug/m3 (µg/m³)." % (c, u))
        if u == "mg/m3":
            v = pd.to_numeric(df[c].astype(str).str.strip(), errors="coerce") * 1000.0
            df[c] = v.map(lambda x: "" if x != x else repr(float(x)))
            _csv_notes.setdefault(str(path), []).append("column '%s' converted from mg/m3 to ug/m3 (x 1000)" % c)
    df.attrs["units"] = units
    return df


_csv_notes = {}      # notes from reading a file's table (units), added to its Table by load_*


def _interval(index):
    if len(index) < 3:
        return None
    v = index.tz_convert(None).to_numpy() if index.tz is not None else index.to_numpy()
    d = np.diff(v) / np.timedelta64(1, "s")
    d = d[d > 0]
    return float(np.median(d)) if len(d) else None


def _tidy(path, frame, time, notes, value_cols, keys=()):
    """Sort, de-duplicate, and check that something numeric is left."""
    frame = frame.copy()
    frame.index = pd.DatetimeIndex(time, name="time")
    frame = frame[~frame.index.isna()]
    if not frame.index.is_monotonic_increasing:
        notes.append("time was not in order; rows were sorted")
        frame = frame.sort_index(kind="stable")
    group = [frame.index] + [frame[k] for k in keys if k in frame]
    dup = frame.reset_index().duplicated(subset=["time"] + [k for k in keys if k in frame])
    if dup.any():
        ndup = int(dup.sum())
        num = frame[[c for c in frame.columns if c not in keys]]
        conflict = int((num.groupby(group).nunique(dropna=True).max(axis=1) > 1).sum()) if len(num.columns) else 0
        agg = num.groupby(group).mean()
        if keys and any(k in frame for k in keys):
            agg = agg.reset_index(level=list(range(1, len(group))))
        agg.index.name = "time"
        frame = agg
        if conflict:
            notes.append("WARNING: %d timestamps appear more than once with different values (conflicting duplicate "
                         "rows); they were averaged: check the file (two exports or two devices merged?)" % conflict)
        else:
            notes.append("%d duplicated timestamps (identical values) were merged" % ndup)
    present = [c for c in value_cols if c in frame]
    if not present or frame[present].notna().sum().sum() == 0:
        _fail(path, "no usable %s values (all missing or flagged)." % "/".join(value_cols))
    return frame


def _offset_from_text(s):
    m = re.search(r"UTC\s*([+-])\s*(\d{1,2}):?(\d{2})?", s)
    if not m:
        return None
    h = int(m.group(2)) + int(m.group(3) or 0) / 60.0
    return h if m.group(1) == "+" else -h


# --------------------------------------------------------------------------- detection

def _sniff(path):
    """(kind, header text) for detection; kind is 'parquet', 'json' or 'text'."""
    if not os.path.exists(path):
        raise UserError("%s: file not found; check the path." % path)
    with open(path, "rb") as f:
        head = f.read(8192)
    if head[:4] == b"PAR1":
        return "parquet", ""
    if head.startswith((XLSX_MAGIC, XLS_MAGIC)):
        return "text", _excel_text(path, head[:8])[:8192]
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        try:
            text = head[:e.start].decode("utf-8-sig") if e.start > len(head) - 4 else head.decode("cp950")
        except UnicodeDecodeError:
            text = head.decode("latin-1")
    if text.lstrip()[:1] in ("{", "["):
        return "json", text
    return "text", text


def detect(path, role):
    """Guess the format of ``path`` for ``role`` ('sensor' or 'reference')."""
    kind, text = _sniff(path)
    if kind == "parquet":
        return "eea"
    if kind == "json":
        if '"airkit-calibration-model"' in text:
            _fail(path, "this is a correction model (from 'airkit calibrate fit'), not a %s file; pass it with "
                        "--model." % role)
        if '"results"' in text and ("datetimeFrom" in text or '"period"' in text):
            return "openaq_v3"
        low = text.lower()
        if "publishtime" in low or "monitordate" in low:
            return "moenv_hourly" if "monitordate" in low else "moenv_realtime"
        if role == "sensor":
            return "airkit"
        _fail(path, "JSON file of unknown layout; pass --reference-format (see calibration/FORMATS.md).")
    if not text.strip():
        _fail(path, "the file is empty; export the data again.")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    first = lines[0]
    low = first.lower()
    if low.startswith("serial id") or "data export" in text.lower()[:400] and "Time," in text:
        return "instrument_export"
    if "sensor_index" in low and "a_b_avg" in low and "conc" in low:
        return "paired_daily"
    if "sensor_id;sensor_type" in low.replace(" ", ""):
        return "sensor_community"
    if "time_stamp" in low and "pm2.5_cf_1" in low:
        return "purpleair"
    if "sample measurement" in low and "date gmt" in low:
        return "aqs_hourly"
    if "date (utc)" in low and "param" in low:
        return "airnowtech"
    if "publishtime" in low:
        return "moenv_realtime"
    if "monitordate" in low:
        return "moenv_hourly"
    if ("日期" in first or "date" in low) and ("測項" in first or "item" in low) and re.search(r"\b(00|0)\b", first):
        return "moenv_yearly"
    if "samplingpoint" in low and "start" in low:
        return "eea"
    if "datetimebegin" in low:
        return "eea_legacy"
    if "rawconcentration" in low or ("utc" in low.split(",") and "parameter" in low):
        return "airnow_api"
    if low.startswith("time,") and "pm25" in low and "time_stamp" in low:
        return "deq_minute"
    if first.count("|") >= 7 and re.match(r"\d{2}/\d{2}/\d{2}\|", first):
        return "airnow_dat"
    sep = ";" if _semicolons(first) else "\t" if first.count("\t") > first.count(",") else ","
    cols = [re.sub(r"\s*[\(\[][^\)\]]*[\)\]]\s*$", "", c.strip().strip('"')).strip().lower().replace(" ", "")
            for c in first.split(sep)]
    cols = [_GERMAN.get(c, c).replace("pm2,5", "pm2.5") for c in cols]
    if "pm25_cf1" in cols or "pm25_cf1_a" in cols:
        return "airkit"
    if ("pm25" in cols or "pm2.5" in cols) and (cols[0] in ("time", "timestamp", "datetime", "date")):
        return "plain"
    _fail(path, "cannot tell the file format from its first line ('%s'); pass --%s-format "
          "(formats are listed in calibration/FORMATS.md)." % (first[:60], role))


# --------------------------------------------------------------------------- sensor readers

def _tz_times(path, raw, first_row, tz, notes):
    """Times with an explicit offset are honoured; naive ones are taken in ``tz``."""
    raw = pd.Series(raw).astype(str).str.strip()
    if raw.str.fullmatch(r"\d{9,11}(\.\d*)?").all():
        return pd.to_datetime(raw.astype(float), unit="s", utc=True), "Unix seconds (UTC)"
    has_zone = raw.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True)
    if has_zone.all():
        return _parse_times(path, raw, first_row), "UTC (offset in the file)"
    if has_zone.any():
        naive = np.flatnonzero(~has_zone.to_numpy())
        for part in (has_zone.to_numpy(), ~has_zone.to_numpy()):   # an unreadable time is named first
            t = pd.to_datetime(raw[part], errors="coerce", utc=True, format="mixed")
            bad = np.flatnonzero(part)[(t.isna() & (raw[part] != "") & (raw[part].str.lower() != "nan")).to_numpy()]
            if len(bad):
                _fail(path, "'%s' is not a date/time I can read." % raw.iloc[bad[0]], first_row + int(bad[0]))
        if tz is None:
            _fail(path, "some times carry a time zone and %d do not (%s); add the zone to those rows, or pass "
                  "--sensor-tz ZONE to read the ones without a zone in that zone."
                  % (len(naive), _rows(naive, first_row)))
        zoned = _parse_times(path, raw[has_zone.to_numpy()], first_row)
        local = _parse_times(path, raw[~has_zone.to_numpy()], first_row, utc=False)
        if getattr(local.dt, "tz", None) is not None:
            local = local.dt.tz_localize(None)
        try:
            local = local.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
        except Exception:
            raise UserError("unknown time zone '%s'; use a name like Europe/Berlin or Etc/GMT+5." % tz)
        notes.append("%d times without a zone read as %s; the others carry their own offset" % (len(naive), tz))
        return pd.concat([zoned, local]).sort_index(), "offset in the file, else local time %s" % tz
    t = _parse_times(path, raw, first_row, utc=False)
    if getattr(t.dt, "tz", None) is not None:
        t = t.dt.tz_localize(None)
    if tz is None:
        notes.append("times carry no time zone: taken as UTC (pass --sensor-tz to change)")
        return t.dt.tz_localize("UTC"), "UTC (assumed: no zone in the file)"
    try:
        return t.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC"), "local time %s" % tz
    except Exception:
        raise UserError("unknown time zone '%s'; use a name like Europe/Berlin or Etc/GMT+5." % tz)


def _read_airkit(path, tz=None):
    notes = []
    if path.endswith((".jsonl", ".json")):
        rows = []
        with open(path, encoding="utf-8") as f:
            for i, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    _fail(path, "not a JSON record.", i)
        if not rows:
            _fail(path, "the file is empty; export the data again.")
        df = pd.DataFrame(rows).astype(str)
        first = 1
    else:
        df = _read_csv(path, _read_text(path))
        first = 2
    tcol = _require(path, df.columns, "time", "timestamp", "ts", "datetime")
    pcol = _find(df.columns, "pm25_cf1", "pm2_5_cf1", "pm25")
    pa, pb = _find(df.columns, "pm25_cf1_a"), _find(df.columns, "pm25_cf1_b")
    if pcol is None and pa is None:
        _fail(path, "missing column 'pm25_cf1' (found: %s); is this a sensor file?" % ", ".join(df.columns[:12]))
    out = pd.DataFrame(index=df.index)
    if pa is not None and pcol is None:
        out["pm25_cf1_a"] = _num(df[pa])
    elif pcol is not None:
        out["pm25_cf1_a" if pb is not None else "pm25_cf1"] = _num(df[pcol])
    if pb is not None:
        out["pm25_cf1_b"] = _num(df[pb])
    for canon, names in (("rh", ("rh", "humidity")), ("pm25_atm", ("pm25_atm",)), ("pm10_cf1", ("pm10_cf1",)),
                         ("pm10_atm", ("pm10_atm",)), ("device", ("device", "device_id", "station"))):
        c = _find(df.columns, *names)
        if c is not None:
            out[canon] = df[c].astype(str) if canon == "device" else _num(df[c])
    tc = _find(df.columns, "temp_c", "temperature_c", "temp")
    tf = _find(df.columns, "temp_f", "temperature_f")
    if tc is not None:
        out["temp_c"] = _num(df[tc])
        med = out["temp_c"].median()
        if med == med and med > 45:
            _fail(path, "column '%s' has a median of %.0f, which looks like degrees F; rename it to temp_f "
                  "so it is converted." % (tc, med))
    elif tf is not None:
        out["temp_c"] = (_num(df[tf]) - 32.0) * 5.0 / 9.0
        notes.append("temperature converted from deg F")
    cf1 = [c for c in ("pm25_cf1", "pm25_cf1_a") if c in out]
    if cf1 and out[cf1].notna().sum().sum() == 0 and "pm25_atm" in out and out["pm25_atm"].notna().any():
        # a collector files a Sensor.Community push under the PM kind it carries: atm is not CF=1
        _fail(path, "pm25_cf1 is empty but pm25_atm has values: this station sent atmospheric PM (a "
              "Sensor.Community uplink sends atm unless its \"pm\" is \"cf1\"); the corrections need CF=1: set "
              "\"pm\": \"cf1\" on that uplink or add an airkit_json uplink, and collect again.")
    times, conv = _tz_times(path, df[tcol], first, tz, notes)
    fcol = _find(df.columns, "flags")
    if fcol is not None:
        keep = _drop_flagged(df[fcol], notes)
        out, times = out[keep], pd.Series(times)[keep]
    return Table(_tidy(path, out, times, notes, ["pm25_cf1", "pm25_cf1_a"], keys=("device",)), "airkit",
                 "sensor", path, conv + ", reading time", notes)


# Readings a calibration must not learn from, by the station's own quality flags (airkit_fw.flags):
# the PMS5003 read before its fan warm-up was honoured, and the two channels of a dual sensor
# disagreeing (their mean is then no measurement of anything).
CALIBRATION_DROPS = (("warm-up not honoured", "WARMUP_SHORT"), ("A/B channels disagree", "AB_DISAGREE"))


def _flag_names(cell):
    """A flags cell as names: ``a;b`` (collector CSV), ``a,b`` or a JSON list."""
    if isinstance(cell, list):
        return [str(x) for x in cell]
    text = str(cell or "").strip()
    if text.startswith("["):
        try:
            v = json.loads(text.replace("'", '"'))
            return [str(x) for x in v] if isinstance(v, list) else []
        except ValueError:
            return []
    return [n.strip() for n in re.split(r"[;,|]", text) if n.strip()]


def _drop_flagged(col, notes):
    """A mask of the rows to keep; says in ``notes`` how many were dropped and why."""
    from airkit_fw import flags

    bits = np.array([flags.bits(_flag_names(c)) for c in col], dtype=np.int64)
    keep = np.ones(len(bits), dtype=bool)
    for why, name in CALIBRATION_DROPS:
        hit = (bits & getattr(flags, name)) != 0
        n = int((hit & keep).sum())
        if n:
            notes.append("%d readings dropped: %s (flag %s)" % (n, why, flags.names(getattr(flags, name))[0]))
        keep &= ~hit
    return keep


def _read_purpleair(path, tz=None):
    notes = ["temperature converted from deg F (PurpleAir reports deg F)"]
    df = _read_csv(path, _read_text(path))
    tcol = _require(path, df.columns, "time_stamp")
    out = pd.DataFrame(index=df.index)
    a = _find(df.columns, "pm2.5_cf_1_a")
    b = _find(df.columns, "pm2.5_cf_1_b")
    if a is not None:
        out["pm25_cf1_a"] = _num(df[a])
        if b is not None:
            out["pm25_cf1_b"] = _num(df[b])
    else:
        out["pm25_cf1"] = _num(df[_require(path, df.columns, "pm2.5_cf_1")])
        notes.append("one PM channel in the file (A/B already averaged by PurpleAir): no A/B cleaning")
    for canon, names in (("rh", ("humidity", "humidity_a")), ("pm25_atm", ("pm2.5_atm", "pm2.5_atm_a")),
                         ("pm10_cf1", ("pm10.0_cf_1", "pm10.0_cf_1_a")), ("pm10_atm", ("pm10.0_atm", "pm10.0_atm_a")),
                         ("device", ("sensor_index",))):
        c = _find(df.columns, *names)
        if c is not None:
            out[canon] = df[c].astype(str) if canon == "device" else _num(df[c])
    tcf = _find(df.columns, "temperature", "temperature_a")
    if tcf is not None:
        out["temp_c"] = (_num(df[tcf]) - 32.0) * 5.0 / 9.0
    times, conv = _tz_times(path, df[tcol], 2, tz, notes)
    if "device" not in out:
        m = re.search(r"purpleair_(\d+)", os.path.basename(path))
        if m:
            out["device"] = m.group(1)
    return Table(_tidy(path, out, times, notes, ["pm25_cf1", "pm25_cf1_a"], keys=("device",)), "purpleair",
                 "sensor", path, conv + ", interval start", notes)


def _read_sensor_community(path, tz=None):
    notes = []
    df = _read_csv(path, _read_text(path), sep=";")
    tcol = _require(path, df.columns, "timestamp")
    out = pd.DataFrame(index=df.index)
    if _find(df.columns, "P2") is not None:
        out["pm25_cf1"] = _num(df[_find(df.columns, "P2")])
        notes.append("Sensor.Community P2 is the sensor's own PM2.5 output (for a PMS5003 the firmware "
                     "reports the atmospheric value, not CF=1): EPA baselines are only indicative")
        if _find(df.columns, "P1") is not None:
            out["pm10_cf1"] = _num(df[_find(df.columns, "P1")])
    if _find(df.columns, "humidity") is not None:
        out["rh"] = _num(df[_find(df.columns, "humidity")])
    if _find(df.columns, "temperature") is not None:
        out["temp_c"] = _num(df[_find(df.columns, "temperature")])
    if out.shape[1] == 0:
        _fail(path, "neither P2 (PM2.5) nor temperature/humidity columns found; is this a Sensor.Community archive CSV?")
    out["device"] = df[_require(path, df.columns, "sensor_id")].astype(str)
    times = _parse_times(path, df[tcol], 2)
    table = _tidy(path, out, times, notes, ["pm25_cf1", "rh", "temp_c"])
    table = table.drop(columns=["device"], errors="ignore")
    return Table(table, "sensor_community", "sensor", path, "UTC, reading time", notes)


def _read_instrument_export(path, tz=None):
    """An instrument's own export with a preamble (the sensortoolkit example RT01)."""
    text = _read_text(path)
    lines = text.splitlines()
    hdr = next((i for i, ln in enumerate(lines[:30]) if ln.lower().startswith("time,")), None)
    if hdr is None:
        _fail(path, "no 'Time,' header line in the first 30 lines.")
    preamble = "\n".join(lines[:hdr])
    notes = []
    offset = _offset_from_text(preamble)
    df = _read_csv(path, "\n".join(lines[hdr:]))
    out = pd.DataFrame(index=df.index)
    pcol = next((c for c in df.columns if c.lower().startswith("pm2.5")), None)
    if pcol is None:
        _fail(path, "no 'PM2.5' column after the preamble.")
    out["pm25_cf1"] = _num(df[pcol])
    notes.append("the instrument's PM2.5 output is used as-is (its CF=1 status is unknown)")
    for canon, prefix in (("rh", "rh"), ("temp_c", "temp")):
        c = next((c for c in df.columns if c.lower().startswith(prefix)), None)
        if c is not None:
            out[canon] = _num(df[c])
    if offset is None and tz is None:
        notes.append("no UTC offset in the preamble: times taken as UTC")
        offset = 0.0
    if tz is not None:
        times, conv = _tz_times(path, df["Time"], hdr + 2, tz, notes)
    else:
        times = _parse_times(path, df[_require(path, df.columns, "Time")], hdr + 2, utc=False, offset=offset)
        conv = "fixed offset UTC%+g h from the preamble (no daylight saving), reading time" % offset
    t = Table(_tidy(path, out, times, notes, ["pm25_cf1"]), "instrument_export", "sensor", path, conv, notes)
    if offset and float(offset).is_integer():
        t.local_tz = "Etc/GMT%+d" % -int(offset)    # POSIX sign: UTC-5 is Etc/GMT+5
    return t


def _read_paired_daily(path, tz=None, site=None):
    df = _read_csv(path, _read_text(path))
    out = pd.DataFrame(index=df.index)
    out["device"] = df[_require(path, df.columns, "sensor_index")].astype(str)
    out["ref_pm25"] = _num(df[_require(path, df.columns, "conc")])
    a, b = _find(df.columns, "pm2.5_cf_1_a"), _find(df.columns, "pm2.5_cf_1_b")
    if a is not None and b is not None:
        out["pm25_cf1_a"] = _num(df[a])
        out["pm25_cf1_b"] = _num(df[b])
    else:
        out["pm25_cf1"] = _num(df[_require(path, df.columns, "A_B_Avg")])
    out["rh"] = _num(df[_require(path, df.columns, "humidity_a", "humidity")])
    t = _find(df.columns, "temp_Celsius", "temp_c")
    if t is not None:
        out["temp_c"] = _num(df[t])
    n = _find(df.columns, "n")
    if n is not None:
        out["n_hours"] = _num(df[n])
    times = _parse_times(path, df[_require(path, df.columns, "DAILY", "date")], 2, fmt="%Y-%m-%d")
    notes = ["daily pairs: the day is taken as a UTC day (the source does not state its day boundary)"]
    frame = _tidy(path, out, times, notes, ["ref_pm25"], keys=("device",))
    return Table(frame, "paired_daily", "paired", path, "calendar day (24-h means)", notes, 86400.0)


# --------------------------------------------------------------------------- reference readers

def _one_site(path, df, col, site):
    """Keep one station: the one asked for, or the only one in the file."""
    if col is None:
        return df
    names = df[col].astype(str).str.strip()
    if site is not None:
        keep = names.str.lower() == str(site).strip().lower()
        if not keep.any():
            _fail(path, "no rows for site '%s' (sites in the file: %s)." % (site, ", ".join(sorted(names.unique())[:8])))
        return df[keep]
    uniq = names.unique()
    if len(uniq) > 1:
        _fail(path, "the file holds %d sites (%s); choose one with --reference-site."
              % (len(uniq), ", ".join(sorted(uniq)[:6])))
    return df


def _ref_table(path, fmt, values, times, conv, notes, interval=None, pm10=None):
    """``pm10``: optional (values, times) of the same station's PM10; kept
    as column ``pm10`` when any of it is a number."""
    frame = pd.DataFrame({"pm25": np.asarray(values, dtype=float)})
    frame = _tidy(path, frame, times, notes, ["pm25"])
    interval = interval or _interval(frame.index)
    if pm10 is not None:
        v10 = np.asarray(pm10[0], dtype=float)
        if np.isfinite(v10).any():
            f10 = pd.DataFrame({"pm10": v10})
            f10.index = pd.DatetimeIndex(pm10[1], name="time")
            f10 = f10[~f10.index.isna()]
            f10 = f10.groupby(level=0).mean()
            frame = frame.join(f10, how="outer")
            frame.index.name = "time"
    return Table(frame, fmt, "reference", path, conv, notes, interval)


def _is_pm25(s):
    s = s.astype(str).str.strip().str.lower().str.replace(" ", "", regex=False)
    return s.isin(["pm2.5", "pm25", "88101", "88502", "6001", "pm2.5-88101", "pm2.5-88502"]) | s.str.startswith("pm2.5")


def _is_pm10(s):
    s = s.astype(str).str.strip().str.lower().str.replace(" ", "", regex=False)
    return s.isin(["pm10", "81102"])


def _read_plain(path, tz=None, site=None):
    notes = []
    df = _read_csv(path, _read_text(path))
    tcol = _require(path, df.columns, "time", "timestamp", "datetime", "date")
    vcol = _require(path, df.columns, "pm25", "pm2.5", "value")
    times, conv = _tz_times(path, df[tcol], 2, tz, notes)
    c10 = _find(df.columns, "pm10")
    return _ref_table(path, "plain", _num(df[vcol]), times, conv + ", interval start", notes,
                      pm10=(_num(df[c10]), times) if c10 is not None else None)


def _read_airnow_dat(path, tz=None, site=None):
    text = _read_text(path)
    rows = list(csv.reader(io.StringIO(text), delimiter="|"))
    rows = [r for r in rows if r]
    for i, r in enumerate(rows, 1):
        if len(r) < 8:
            _fail(path, "expected 9 '|'-separated fields, found %d." % len(r), i)
    df = pd.DataFrame([r[:9] + [""] * (9 - len(r)) for r in rows],
                      columns=["date", "time", "aqsid", "site", "gmt_offset", "param", "unit", "value", "source"])
    df = df[_is_pm25(df["param"])]
    if df.empty:
        _fail(path, "no PM2.5 rows in this AirNow file.")
    df = _one_site(path, df, "site" if site is not None and not str(site).isdigit() else "aqsid", site)
    times = _parse_times(path, df["date"] + " " + df["time"], 1, fmt="%m/%d/%y %H:%M")
    vals = _num(df["value"]).where(lambda v: v > -999)
    return _ref_table(path, "airnow_dat", vals, times, "UTC, hour-beginning (ValidDate/ValidTime)", [])


def _read_airnow_api(path, tz=None, site=None):
    df = _read_csv(path, _read_text(path))
    tcol = _require(path, df.columns, "UTC", "DateTime", "utc")
    pcol = _find(df.columns, "Parameter", "parameter")
    if pcol is not None:
        df = df[_is_pm25(df[pcol])]
        if df.empty:
            _fail(path, "no PM2.5 rows in this AirNow API file.")
    df = _one_site(path, df, _find(df.columns, "FullAQSCode", "FullAQSID", "AQSID", "IntlAQSCode", "SiteName"), site)
    vcol = _find(df.columns, "RawConcentration")
    notes = []
    if vcol is None:
        vcol = _require(path, df.columns, "Value", "Concentration")
        notes.append("no RawConcentration column: 'Value' used (for PM this may be a NowCast, not the hourly mean)")
    vals = _num(df[vcol]).where(lambda v: v > -999)
    times = _parse_times(path, df[tcol].str.replace("T", " ", regex=False), 2)
    return _ref_table(path, "airnow_api", vals, times, "UTC, hour-beginning", notes)


def _read_aqs_hourly(path, tz=None, site=None):
    df = _read_csv(path, _read_text(path))
    for c in ("Date GMT", "Time GMT", "Sample Measurement"):
        _require(path, df.columns, c)
    pc = _find(df.columns, "Parameter Code")
    d10 = None
    if pc is not None:
        d10 = df[df[pc].str.strip() == "81102"]
        df = df[df[pc].str.strip().isin(["88101", "88502"])]
        if df.empty:
            _fail(path, "no PM2.5 (parameter 88101/88502) rows in this AQS file.")
    sid = None
    if all(_find(df.columns, c) for c in ("State Code", "County Code", "Site Num")):
        df = df.assign(_site=df["State Code"].str.zfill(2) + df["County Code"].str.zfill(3) + df["Site Num"].str.zfill(4))
        sid = "_site"
    df = _one_site(path, df, sid, site)
    notes = []
    if _find(df.columns, "POC") is not None and df["POC"].nunique() > 1:
        notes.append("%d instruments (POCs) at the site: averaged per hour" % df["POC"].nunique())
    times = _parse_times(path, df["Date GMT"] + " " + df["Time GMT"], 2, fmt="%Y-%m-%d %H:%M")
    pm10 = None
    if d10 is not None and len(d10):
        if sid is not None:
            d10 = d10.assign(_site=d10["State Code"].str.zfill(2) + d10["County Code"].str.zfill(3)
                             + d10["Site Num"].str.zfill(4))
            d10 = d10[d10["_site"].isin(set(df["_site"]))]
        pm10 = (_num(d10["Sample Measurement"]),
                _parse_times(path, d10["Date GMT"] + " " + d10["Time GMT"], 2, fmt="%Y-%m-%d %H:%M"))
    return _ref_table(path, "aqs_hourly", _num(df["Sample Measurement"]), times,
                      "UTC (Date/Time GMT), hour-beginning; missing hours have no row", notes, pm10=pm10)


def _read_airnowtech(path, tz=None, site=None):
    df = _read_csv(path, _read_text(path))
    for c in ("Date (UTC)", "Time (UTC)", "Value"):
        _require(path, df.columns, c)
    par = _require(path, df.columns, "Param")
    aqs = _find(df.columns, "Param AQS")
    is10 = (df[par].astype(str).str.strip().str.upper().str.startswith("PM10")
            | (df[aqs].str.strip().isin(["81102"]) if aqs else False))
    d10 = df[is10]
    df = df[~is10 & (_is_pm25(df[par]) | (df[aqs].str.strip().isin(["88101", "88502"]) if aqs else False))]
    if df.empty:
        _fail(path, "no PM2.5 rows in this AirNow-Tech export.")
    scol = _find(df.columns, "Site AQS", "Site")
    df = _one_site(path, df, scol, site)
    if scol is not None:
        d10 = d10[d10[scol].astype(str).str.strip().isin(set(df[scol].astype(str).str.strip()))]
    qc = _find(df.columns, "QC Code")
    notes = []

    def values(d):
        v = _num(d["Value"]).where(lambda v: v > -999)
        bad = (_num(d[qc]).fillna(0) != 0) if qc is not None else pd.Series(False, index=d.index)
        return v.where(~bad), int(bad.sum())
    vals, nbad = values(df)
    if nbad:
        notes.append("%d values with a non-zero QC code treated as missing" % nbad)
    times = _parse_times(path, df["Date (UTC)"] + " " + df["Time (UTC)"], 2, fmt="%m/%d/%Y %H:%M")
    pm10 = None
    if len(d10):
        v10, nbad10 = values(d10)
        if nbad10:
            notes.append("%d PM10 values with a non-zero QC code treated as missing" % nbad10)
        pm10 = (v10, _parse_times(path, d10["Date (UTC)"] + " " + d10["Time (UTC)"], 2, fmt="%m/%d/%Y %H:%M"))
    return _ref_table(path, "airnowtech", vals, times, "UTC (Date/Time (UTC) columns), hour-beginning", notes,
                      pm10=pm10)


def _moenv_values(s):
    s = s.astype(str).str.strip()
    flagged = s.str.contains(r"[#*xA]", regex=True) | s.str.upper().isin(["NR", "ND", "-", "--", "NA"])
    return _num(s.where(~flagged, "")), int(flagged.sum())


def _json_records(path):
    try:
        with open(path, encoding="utf-8-sig") as f:
            data = json.load(f)
    except ValueError as e:
        _fail(path, "not valid JSON (%s)." % e)
    if isinstance(data, dict):
        data = data.get("records") or data.get("results") or data.get("data") or []
    if not isinstance(data, list) or not data:
        _fail(path, "no records in the JSON file.")
    return pd.DataFrame(data).astype(str)


def _read_moenv_realtime(path, tz=None, site=None):
    """MOENV aqx_p_432 (JSON or CSV): publishtime is local UTC+8, hour-ending."""
    df = _json_records(path) if _sniff(path)[0] == "json" else _read_csv(path, _read_text(path))
    tcol = _require(path, df.columns, "publishtime", "PublishTime")
    vcol = _require(path, df.columns, "pm2.5", "PM2.5", "pm25")
    df = _one_site(path, df, _find(df.columns, "sitename", "SiteName"), site)
    vals, nflag = _moenv_values(df[vcol])
    times = _parse_times(path, df[tcol].str.replace("/", "-", regex=False), 2, utc=False, offset=8) - pd.Timedelta(hours=1)
    notes = ["%d flagged/missing values" % nflag] if nflag else []
    c10 = _find(df.columns, "pm10", "PM10")
    pm10 = (_moenv_values(df[c10])[0], times) if c10 is not None else None
    t = _ref_table(path, "moenv_realtime", vals, times, "local UTC+8, hour-ending (publishtime)", notes, pm10=pm10)
    t.local_tz = "Asia/Taipei"
    return t


def _read_moenv_hourly(path, tz=None, site=None):
    df = _json_records(path) if _sniff(path)[0] == "json" else _read_csv(path, _read_text(path))
    item = _require(path, df.columns, "itemengname", "itemname")
    d10 = df[_is_pm10(df[item])]
    df = df[_is_pm25(df[item])]
    if df.empty:
        _fail(path, "no PM2.5 rows (itemengname) in this MOENV file.")
    df = _one_site(path, df, _find(df.columns, "siteid", "sitename"), site)
    vals, nflag = _moenv_values(df[_require(path, df.columns, "concentration")])

    def when(d):
        return _parse_times(path, d[_require(path, d.columns, "monitordate")].str.replace("/", "-", regex=False), 2,
                            utc=False, offset=8) - pd.Timedelta(hours=1)
    times = when(df)
    notes = ["%d flagged/missing values" % nflag] if nflag else []
    scol = _find(df.columns, "siteid", "sitename")
    if scol is not None and len(d10):
        d10 = d10[d10[scol].isin(set(df[scol]))]
    pm10 = (_moenv_values(d10["concentration"])[0], when(d10)) if len(d10) else None
    t = _ref_table(path, "moenv_hourly", vals, times, "local UTC+8, hour-ending (monitordate)", notes, pm10=pm10)
    t.local_tz = "Asia/Taipei"
    return t


def _read_moenv_yearly(path, tz=None, site=None):
    """Wide yearly station file: date, station, item, 00..23 (local UTC+8)."""
    df = _read_csv(path, _read_text(path))
    dcol = _require(path, df.columns, "日期", "date")
    icol = _require(path, df.columns, "測項", "item")
    scol = _find(df.columns, "測站", "station")
    hours = [c for c in df.columns if re.fullmatch(r"\d{1,2}", c)]
    if len(hours) != 24:
        _fail(path, "expected 24 hour columns 00..23, found %d." % len(hours))
    d10 = df[_is_pm10(df[icol])]
    df = df[_is_pm25(df[icol])]
    if df.empty:
        _fail(path, "no PM2.5 rows (item column) in this yearly file.")
    df = _one_site(path, df, scol, site)
    if scol is not None and len(d10):
        d10 = d10[d10[scol].isin(set(df[scol]))]

    def long_values(d):
        long = d.melt(id_vars=[dcol], value_vars=hours, var_name="hour", value_name="v")
        vals, nflag = _moenv_values(long["v"])
        day = _parse_times(path, long[dcol].str.replace("/", "-", regex=False), 2, utc=False)
        local = day + pd.to_timedelta(long["hour"].astype(int), unit="h")
        return vals, nflag, (local - pd.Timedelta(hours=8)).dt.tz_localize("UTC")
    vals, nflag, times = long_values(df)
    pm10 = long_values(d10)[::2] if len(d10) else None
    notes = ["%d values with invalid markers (# * x A NR) or blank treated as missing" % nflag] if nflag else []
    t = _ref_table(path, "moenv_yearly", vals, times, "local UTC+8, hour-beginning (column HH = HH:00-HH+1:00)", notes,
                   pm10=pm10)
    t.local_tz = "Asia/Taipei"
    return t


def _eea_frame(path, df):
    pol = _find(df.columns, "Pollutant")
    if pol is not None:
        df = df[df[pol].astype(str).str.strip().isin(["6001", "6001.0", "PM2.5"])]
        if df.empty:
            _fail(path, "no PM2.5 (pollutant 6001) rows in this EEA file.")
    agg = _find(df.columns, "AggType")
    if agg is not None:
        df = df[df[agg].astype(str).str.lower().str.startswith(("hour", "var"))]
    return df


def _read_eea(path, tz=None, site=None):
    """EEA download service (Parquet, or the same columns as CSV): Start is UTC+1."""
    if _sniff(path)[0] == "parquet":
        try:
            df = pd.read_parquet(path)
        except Exception as e:
            _fail(path, "cannot read this Parquet file (%s)." % str(e).splitlines()[0])
        df = df.astype({c: str for c in df.columns if df[c].dtype == object})
    else:
        df = _read_csv(path, _read_text(path))
    _require(path, df.columns, "Start")
    _require(path, df.columns, "Value")
    df = _eea_frame(path, df)
    df = _one_site(path, df, _find(df.columns, "Samplingpoint"), site)
    vals = _num(df["Value"])
    notes = []
    v = _find(df.columns, "Validity")
    if v is not None:
        ok = _num(df[v]).isin([1, 2, 3])
        notes.append("%d values with Validity not in (1, 2, 3) treated as missing" % int((~ok).sum())) if (~ok).any() else None
        vals = vals.where(ok.to_numpy())
    start = df["Start"]
    if pd.api.types.is_datetime64_any_dtype(start.dtype):
        t = pd.Series(pd.DatetimeIndex(start))
        t = t.dt.tz_convert("UTC") if t.dt.tz is not None else (t - pd.Timedelta(hours=1)).dt.tz_localize("UTC")
    else:
        t = _parse_times(path, start, 2, utc=False, offset=1)
    return _ref_table(path, "eea", vals.to_numpy(), t.to_numpy() if hasattr(t, "to_numpy") else t,
                      "UTC+1 (no daylight saving), interval start (Start)", [x for x in notes if x])


def _read_eea_legacy(path, tz=None, site=None):
    df = _read_csv(path, _read_text(path))
    bcol = _require(path, df.columns, "DatetimeBegin")
    vcol = _require(path, df.columns, "Concentration")
    pol = _find(df.columns, "AirPollutant")
    if pol is not None:
        df = df[df[pol].str.strip().isin(["PM2.5", "6001"])]
        if df.empty:
            _fail(path, "no PM2.5 rows in this EEA file.")
    df = _one_site(path, df, _find(df.columns, "SamplingPoint", "AirQualityStation"), site)
    vals = _num(df[vcol])
    v = _find(df.columns, "Validity")
    if v is not None:
        vals = vals.where(_num(df[v]) > 0)
    times = _parse_times(path, df[bcol], 2)
    return _ref_table(path, "eea_legacy", vals, times, "offset in the file (usually +01:00), interval start", [])


def _read_openaq(path, tz=None, site=None):
    try:
        with open(path, encoding="utf-8-sig") as f:
            data = json.load(f)
    except ValueError as e:
        _fail(path, "not valid JSON (%s)." % e)
    res = data.get("results") if isinstance(data, dict) else data
    if not res:
        _fail(path, "no results in this OpenAQ file.")
    times, vals, nlow = [], [], 0
    for i, r in enumerate(res, 1):
        try:
            p = r.get("parameter") or {}
            if p and str(p.get("name", "pm25")).lower() not in ("pm25", "pm2.5"):
                continue
            times.append(r["period"]["datetimeFrom"]["utc"])
            v = r.get("value")
            cov = (r.get("coverage") or {}).get("percentComplete")
            if cov is not None and cov < 75:
                v, nlow = None, nlow + 1
            vals.append(np.nan if v is None else float(v))
        except (KeyError, TypeError, ValueError):
            _fail(path, "result without period.datetimeFrom.utc or a numeric value.", i)
    if not times:
        _fail(path, "no PM2.5 results in this OpenAQ file.")
    notes = ["%d hours under 75 %% coverage treated as missing" % nlow] if nlow else []
    return _ref_table(path, "openaq_v3", vals, _parse_times(path, times, 1), "UTC, interval start (period.datetimeFrom)", notes)


def _read_deq_minute(path, tz=None, site=None):
    df = _read_csv(path, _read_text(path))
    vals = _num(df[_require(path, df.columns, "PM25")])
    nflag = int((vals.isna() & (df["PM25"].str.strip() != "")).sum())
    notes = ["%d flagged values (P, <, D, NA) treated as missing" % nflag] if nflag else []
    notes.append("the 'Z' on these timestamps is taken at its word (UTC); regulatory monitors often log local "
                 "standard time: check the lag curve")
    times = _parse_times(path, df[_require(path, df.columns, "time_stamp")], 2)
    c10 = _find(df.columns, "PM10")
    return _ref_table(path, "deq_minute", vals, times, "as written (Z = UTC), minute start", notes,
                      pm10=(_num(df[c10]), times) if c10 is not None else None)


SENSOR_READERS = {
    "airkit": _read_airkit, "plain": _read_airkit, "purpleair": _read_purpleair,
    "sensor_community": _read_sensor_community, "instrument_export": _read_instrument_export,
    "paired_daily": _read_paired_daily,
}
REFERENCE_READERS = {
    "plain": _read_plain, "airnow_dat": _read_airnow_dat, "airnow_api": _read_airnow_api,
    "aqs_hourly": _read_aqs_hourly, "airnowtech": _read_airnowtech, "moenv_realtime": _read_moenv_realtime,
    "moenv_hourly": _read_moenv_hourly, "moenv_yearly": _read_moenv_yearly, "eea": _read_eea,
    "eea_legacy": _read_eea_legacy, "openaq_v3": _read_openaq, "deq_minute": _read_deq_minute,
    "paired_daily": _read_paired_daily,
}


def _finish_sensor(table):
    f = table.frame
    if "rh" in f:
        rh = f["rh"].to_numpy(dtype=float)
        ok = rh[np.isfinite(rh)]
        if len(ok) >= 10 and ok.max() <= 1.0 and np.median(ok) > 0.02:
            f["rh"] = f["rh"] * 100.0
            table.notes.append("relative humidity was given as a 0-1 fraction (largest %.2f): converted to %%"
                               % ok.max())
    if "pm25_cf1_a" in f and "pm25_cf1_b" in f:
        f["pm25_cf1"] = f[["pm25_cf1_a", "pm25_cf1_b"]].mean(axis=1, skipna=False)
    elif "pm25_cf1_a" in f and "pm25_cf1" not in f:
        f["pm25_cf1"] = f["pm25_cf1_a"]
    if table.interval_s is None:
        table.interval_s = _interval(f.index)
    return table


def load_sensor(paths, fmt=None, tz=None):
    """Read one or more sensor files (e.g. a Sensor.Community PM file plus its
    DHT22 file) into one sensor Table."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    tables = []
    for p in paths:
        p = str(p)
        f = fmt or detect(p, "sensor")
        if f not in SENSOR_READERS:
            if f in REFERENCE_READERS:
                raise UserError("%s looks like a reference file (%s), not a sensor file; pass it with --reference."
                                % (os.path.basename(p), f))
            raise UserError("unknown sensor format '%s'; choose one of: %s." % (f, ", ".join(SENSOR_READERS)))
        _csv_notes.pop(p, None)
        t = SENSOR_READERS[f](p, tz=tz)
        t.notes[:0] = _csv_notes.pop(p, [])
        tables.append(_finish_sensor(t))
    if len(tables) == 1:
        return tables[0]
    frame = pd.concat([t.frame for t in tables]).sort_index(kind="stable")
    if "pm25_cf1" not in frame:
        raise UserError("none of the sensor files holds PM2.5 values.")
    notes = sum((t.notes for t in tables), [])
    merged = Table(frame, "+".join(sorted({t.fmt for t in tables})), "sensor", ", ".join(t.path for t in tables),
                   tables[0].time_note, notes)
    merged.interval_s = min(t.interval_s or 1e9 for t in tables)
    return merged


def load_reference(path, fmt=None, tz=None, site=None):
    path = str(path)
    f = fmt or detect(path, "reference")
    if f not in REFERENCE_READERS:
        if f in SENSOR_READERS:
            raise UserError("%s looks like a sensor file (%s), not a reference file; pass it with --sensor."
                            % (os.path.basename(path), f))
        raise UserError("unknown reference format '%s'; choose one of: %s." % (f, ", ".join(REFERENCE_READERS)))
    _csv_notes.pop(path, None)
    t = REFERENCE_READERS[f](path, tz=tz, site=site)
    t.notes[:0] = _csv_notes.pop(path, [])
    if t.role == "paired":
        _finish_sensor(t)
    else:     # the option that sets a reference file's zone is --reference-tz
        t.notes = [n.replace("--sensor-tz", "--reference-tz") for n in t.notes]
    return t
