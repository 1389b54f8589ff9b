"""Clean, average and pair sensor and reference data; check the time lag.

Why this exists: a fit is only as good as its pairs. Every step here says how
many rows it removed, so a volunteer can see where their data went:
impossible values, averages failing the >= 75 % completeness rule, A/B
channel disagreement, hours without a reference value. The lag check catches
the most common silent error, a mislabelled time zone.
"""

from dataclasses import dataclass, field

import os

import numpy as np
import pandas as pd

from airkit.errors import UserError

COMPLETENESS = 0.75
AB_RECOVERY = 0.90          # PurpleAir practice: a channel needs >= 90 % of its points in the hour

# Physically possible ranges: PMS5003 reports 0..1000 ug/m3 (CF=1 can exceed it
# slightly in smoke), DHT22 -40..80 C and 0..100 % RH; reference monitors may
# read slightly negative near zero.
LIMITS = {"pm25_cf1": (0.0, 1500.0), "pm25_cf1_a": (0.0, 1500.0), "pm25_cf1_b": (0.0, 1500.0),
          "rh": (0.0, 100.0), "temp_c": (-40.0, 80.0), "pm25": (-10.0, 1000.0), "ref_pm25": (-10.0, 1000.0),
          "pm10_cf1": (0.0, 2000.0), "pm10_atm": (0.0, 2000.0), "pm10": (-10.0, 2000.0)}


@dataclass
class Step:
    name: str
    removed: int
    remaining: int
    reasons: dict = None     # e.g. {"rh above 100": 3, "pm25_cf1 infinite": 1}

    def as_dict(self):
        d = {"step": self.name, "removed": self.removed, "remaining": self.remaining}
        if self.reasons:
            d["reasons"] = dict(self.reasons)
        return d


@dataclass
class Pairs:
    frame: pd.DataFrame          # index time (UTC, interval start); device, pm, rh, t, ref
    freq: str                    # "1h" or "24h"
    steps: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    lag: dict = None             # {"lags": [...], "r": [...], "best": k, "applied": k}
    tz: str = None               # the station's time zone for 24-h means (None: UTC days)
    pm10: pd.DataFrame = None    # hourly PM10 pairs (device, pm10, ref10) when both sides carry PM10
    pm10_field: str = None       # the sensor column used for PM10 (pm10_cf1 or pm10_atm)
    pm10_note: str = None        # why there are no PM10 pairs

    @property
    def devices(self):
        return sorted(self.frame["device"].unique())


def drop_impossible(frame, steps, what):
    """Impossible values become NaN; count the rows touched."""
    frame = frame.copy()
    touched = np.zeros(len(frame), dtype=bool)
    reasons = {}
    for col, (lo, hi) in LIMITS.items():
        if col in frame:
            v = frame[col].to_numpy(dtype=float)
            inf = np.isinf(v)
            with np.errstate(invalid="ignore"):
                low = (v < lo) & ~inf
                high = (v > hi) & ~inf
            for why, m in (("infinite", inf), ("below %g" % lo, low), ("above %g" % hi, high)):
                if m.any():
                    reasons["%s %s" % (col, why)] = int(m.sum())
            bad = inf | low | high
            touched |= bad
            frame.loc[bad, col] = np.nan
    steps.append(Step("%s: physically impossible values set missing" % what, int(touched.sum()), len(frame), reasons))
    return frame


def average(frame, freq, interval_s, completeness=COMPLETENESS, per_column=None, failed=None):
    """Mean per ``freq`` bin, kept only where a column has >= ``completeness``
    of its expected points (expected = bin length / native interval)."""
    per_column = per_column or {}
    bin_s = pd.Timedelta(freq).total_seconds()
    num = frame.select_dtypes("number")
    grouper = pd.Grouper(freq=freq)
    keys = [frame["device"]] if "device" in frame else []
    g = num.groupby(keys + [grouper]) if keys else num.groupby(grouper)
    mean, count = g.mean(), g.count()
    if interval_s and interval_s < bin_s:
        need_default = np.ceil(completeness * bin_s / interval_s - 1e-9)
        for c in mean.columns:
            need = np.ceil(per_column.get(c, completeness) * bin_s / interval_s - 1e-9) if c in per_column else need_default
            short = (count[c] < need) & (count[c] > 0)
            if failed is not None:
                failed[c] = int(short.sum())
            mean.loc[count[c] < need, c] = np.nan
    mean = mean.dropna(how="all")
    if keys:
        mean = mean.reset_index(level=0)
    return mean


def dead_channel(a, b, share=0.5):
    """'; channel B dead (...)' when one PM channel reads 0 or nothing in at
    least ``share`` of the rows in which the other reads (a stuck or
    unplugged PMS5003), else ''."""
    for name, x, other in (("A", a, b), ("B", b, a)):
        live = np.isfinite(other) & (other > 1.0)
        if live.sum() < 10:
            continue
        with np.errstate(invalid="ignore"):
            frac = float(np.mean(~np.isfinite(x[live]) | (x[live] <= 0.01)))
        if frac >= share:
            return "; channel %s dead (reads 0 or nothing in %.0f %% of the rows where channel %s reads)" % (
                name, frac * 100, "B" if name == "A" else "A")
    return ""


def ab_clean(frame, steps, daily=False):
    """Invalidate the PM value where the two channels disagree."""
    if not ("pm25_cf1_a" in frame and "pm25_cf1_b" in frame):
        return frame
    a, b = frame["pm25_cf1_a"].to_numpy(float), frame["pm25_cf1_b"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = np.abs(a - b)
        pct = 2 * diff / (a + b)
        limit = 2 * np.nanstd(pct) if daily else 0.70
        bad = (diff > 5.0) & (pct > limit)
        missing = np.isnan(a) | np.isnan(b)
    frame = frame.copy()
    frame["pm25_cf1"] = np.where(bad | missing, np.nan, (a + b) / 2)
    rule = "> 5 ug/m3 and > 2 SD percent difference" if daily else "> 5 ug/m3 and > 70 %"
    steps.append(Step("A/B channels disagree (%s) or one channel missing%s" % (rule, dead_channel(a, b)),
                      int((bad | missing).sum()), len(frame)))
    return frame


def check_magnitude(sensor_pm, ref_pm, ref_path, ratio=200.0):
    """A reference in mg/m3 (values ~1000x smaller than the sensor's) is refused before a model is
    fitted on it (that model would be 1000x off with a tiny error, as the error is in mg/m3 too)."""
    s_med = float(np.nanmedian(sensor_pm)) if len(sensor_pm) else float("nan")
    r_med = float(np.nanmedian(ref_pm)) if len(ref_pm) else float("nan")
    if s_med == s_med and r_med == r_med and s_med >= 2.0 and 0 < r_med and s_med / r_med >= ratio:
        raise UserError("%s: the reference PM2.5 values are about %.0f times smaller than the sensor's (median "
                        "%.4g vs %.4g): they look like mg/m3; give them in ug/m3, or label the column "
                        "'pm25 (mg/m3)' so they are converted." % (os.path.basename(str(ref_path)).split(",")[0],
                                                                   s_med / r_med, r_med, s_med))


def lag_curve(sensor, ref, lags=range(-6, 7)):
    """Pearson r between hourly sensor PM and the reference moved by k hours
    (k > 0: the reference clock is k hours behind UTC)."""
    rs = []
    for k in lags:
        moved = ref.copy()
        moved.index = moved.index + pd.Timedelta(hours=k)
        j = sensor.to_frame("s").join(moved.to_frame("r"), how="inner").dropna()
        rs.append(float(np.corrcoef(j["s"], j["r"])[0, 1]) if len(j) > 10 else float("nan"))
    return list(lags), rs


def pair(sensor, reference, lag=0, max_lag=6, completeness=COMPLETENESS):
    """Pair a sensor Table with a reference Table (or a paired daily Table).

    ``lag``: hours added to the reference times, or "auto" to use the lag with
    the best correlation. Returns ``Pairs``."""
    steps, notes = [], []
    if sensor.role == "paired":
        return _pair_daily(sensor, steps, notes)
    s = sensor.frame
    if "device" not in s:
        s = s.assign(device="sensor")
    s = s.copy()
    s["device"] = s["device"].astype(str)
    steps.append(Step("sensor readings read", 0, len(s)))
    s = drop_impossible(s, steps, "sensor")
    two = "pm25_cf1_a" in s and "pm25_cf1_b" in s
    per_col = {"pm25_cf1_a": AB_RECOVERY, "pm25_cf1_b": AB_RECOVERY} if two else {}
    failed = {}
    sh = average(s, "1h", sensor.interval_s, completeness, per_col, failed)
    steps.append(Step("sensor hours with < %d %% of their readings" % round(completeness * 100),
                      failed.get("pm25_cf1", 0), int(sh["pm25_cf1"].notna().sum())))
    if two:
        sh = ab_clean(sh, steps)
    r = reference.frame[["pm25"] + (["pm10"] if "pm10" in reference.frame else [])].copy()
    steps.append(Step("reference values read", 0, len(r)))
    r = drop_impossible(r, steps, "reference")
    failed = {}
    rh_ = average(r, "1h", reference.interval_s, completeness, failed=failed)
    steps.append(Step("reference hours with < %d %% of their readings" % round(completeness * 100),
                      failed.get("pm25", 0), int(rh_["pm25"].notna().sum())))
    ref = rh_["pm25"].dropna()
    pooled = sh["pm25_cf1"].dropna()
    pooled = pooled.groupby(level=0).mean()
    check_magnitude(pooled, ref, reference.path)
    lags, rs = lag_curve(pooled, ref, range(-max_lag, max_lag + 1))
    finite = [(v, k) for k, v in zip(lags, rs) if v == v]
    if not finite:
        raise UserError("the sensor and reference files do not overlap in time (sensor %s .. %s, reference %s .. %s, UTC); "
                        "check that they cover the same period and time zone."
                        % (_span(sensor.frame.index) + _span(reference.frame.index)))
    best = max(finite)[1]
    r0 = rs[lags.index(0)]
    applied = best if lag == "auto" else int(lag or 0)
    info = {"lags": lags, "r": rs, "best": best, "applied": applied, "r_at_0": r0, "r_best": rs[lags.index(best)]}
    if best != 0:
        naive_ref = "assumed" in (reference.time_note or "")
        notes.append("time check: the sensor agrees best with the reference moved by %+d h (r %.3f vs %.3f at 0 h); "
                     "a mislabelled time zone is likely. %s"
                     % (best, info["r_best"], r0,
                        "Applied, as asked (--lag auto)." if applied == best else
                        "Not applied: the reference times carry no zone and look like local time (UTC%+d): pass "
                        "--reference-tz with its zone (e.g. --reference-tz Etc/GMT%+d, or a name like "
                        "Europe/Berlin)." % (-best, best) if naive_ref else
                        "Not applied: check the time zones, or pass --lag %d (or --lag auto)." % best))
    if applied:
        ref.index = ref.index + pd.Timedelta(hours=applied)
    pm10, field10, note10 = _pm10_pairs(sh, rh_, applied)
    sh = sh.join(ref.rename("ref"), how="left")
    frame = pd.DataFrame({"device": sh["device"], "pm": sh["pm25_cf1"], "rh": sh.get("rh"), "t": sh.get("temp_c"),
                          "ref": sh["ref"]}, index=sh.index)
    before = len(frame)
    frame = frame.dropna(subset=["pm", "ref"])
    steps.append(Step("hours without both a sensor and a reference value", before - len(frame), len(frame)))
    out = _finish(frame, "1h", steps, notes, info)
    out.pm10, out.pm10_field, out.pm10_note = pm10, field10, note10
    return out


def _pm10_pairs(sh, rh_, lag):
    """Hourly PM10 pairs (device, pm10, ref10), or (None, None, why not).

    The sensor's CF=1 PM10 is preferred (as CF=1 is for PM2.5); the
    atmospheric one is used when it is all the sensor has."""
    field10 = next((c for c in ("pm10_cf1", "pm10_atm") if c in sh and sh[c].notna().any()), None)
    has_ref = "pm10" in rh_ and rh_["pm10"].notna().any()
    if field10 is None or not has_ref:
        side = " or ".join(x for x, miss in (("the sensor (pm10_cf1 / pm10_atm)", field10 is None),
                                              ("the reference", not has_ref)) if miss)
        return None, None, "PM10 targets skipped: no PM10 in %s." % side
    ref10 = rh_["pm10"].dropna()
    if lag:
        ref10.index = ref10.index + pd.Timedelta(hours=lag)
    j = sh[["device", field10]].join(ref10.rename("ref10"), how="inner")
    j = pd.DataFrame({"device": j["device"], "pm10": j[field10], "ref10": j["ref10"]}, index=j.index).dropna()
    if j.empty:
        return None, None, "PM10 targets skipped: no hour with both a sensor and a reference PM10 value."
    j.index.name = "time"
    return j.sort_index(kind="stable"), field10, None


def _span(index):
    if len(index) == 0:
        return ("-", "-")
    return (str(index.min())[:16], str(index.max())[:16])


def _pair_daily(table, steps, notes):
    f = table.frame.copy()
    steps.append(Step("daily pairs read", 0, len(f)))
    if "n_hours" in f:
        low = f["n_hours"] < np.ceil(COMPLETENESS * 24)
        f = f[~low]
        steps.append(Step("days with fewer than 18 hours (75 %)", int(low.sum()), len(f)))
    f = drop_impossible(f, steps, "pairs")
    if "pm25_cf1_a" in f and "pm25_cf1_b" in f:
        f = ab_clean(f, steps, daily=True)
    frame = pd.DataFrame({"device": f["device"].astype(str), "pm": f["pm25_cf1"], "rh": f.get("rh"),
                          "t": f.get("temp_c"), "ref": f["ref_pm25"]}, index=f.index)
    before = len(frame)
    frame = frame.dropna(subset=["pm", "ref"])
    steps.append(Step("days without both a sensor and a reference value", before - len(frame), len(frame)))
    notes.append("lag check skipped: the file already pairs daily means")
    out = _finish(frame, "24h", steps, notes, None)
    out.pm10_note = "PM10 targets skipped: the daily paired file carries no PM10."
    return out


def _finish(frame, freq, steps, notes, lag):
    if frame.empty:
        raise UserError("no time when both the sensor and the reference have valid values; check the files "
                        "cover the same period and that the time zones are right.")
    frame.index.name = "time"
    return Pairs(frame.sort_index(kind="stable"), freq, steps, notes, lag)


def daily(frame, cols=("pm", "ref"), completeness=COMPLETENESS, tz=None):
    """24-h means of hourly pairs (per device), valid with >= 18 hours.

    ``tz``: the station's time zone: days run from local midnight to local
    midnight (a day of 23 or 25 hours at a daylight-saving change needs 18
    of its hours either way); None or "UTC": UTC days."""
    if tz and str(tz).upper() != "UTC" and len(frame):
        frame = frame.copy()
        frame.index = pd.DatetimeIndex(frame.index).tz_convert(tz)
    g = frame.groupby(["device", pd.Grouper(freq="1D")])
    mean = g[list(cols)].mean()
    n = g[list(cols)].count()
    ok = (n >= np.ceil(completeness * 24)).all(axis=1)
    out = mean[ok].reset_index(level=0)
    return out
