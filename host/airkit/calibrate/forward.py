"""Forward validation: fit on the past, predict the future, as the correction
will be used.

Why this exists: blocked cross-validation predicts each block with a model
fitted on the blocks before *and after* it, so it never measures how the
error grows once the co-location has ended. Here every origin ``o`` is the
end of a co-location window of ``W`` days (sliding: days ``o-W .. o``); the
model fitted on that window predicts every later day, and each error is
labelled with its horizon (days after the end of the window). Scores are on
24-h means (days with >= 18 valid hours) or on the daily input.

Errors are kept for hourly values (hourly input: ``run(..., hourly_out=)``)
and for 24-h means. ``interval`` states the RMSE over the next H days of use
on either scale: the forward mean squared error as measured, with a
log-normal interval (the record's estimate and the period of use each add
log(1 + CV^2 tau / n)); the error's growth within each fitted correction
(``growth_fit``, every horizon, with its interval) applied when it is clear
over >= 28 days of horizon; the gain of the final fit's length measured apart
from the horizon (``training_length``; the confounded learning-curve step of
earlier versions is gone); and, for a period of use far beyond the horizons
the record holds, how later periods compared with the first weeks on other
devices (``later_period``, learnt on the design split of the shared data,
calibration/SPLIT.md). ``advice`` gives the recalibration range of days and
the error expected then. All of it is computed from the co-location record
and those stated constants.
"""

import numpy as np
import pandas as pd
from scipy.stats import norm

# EPA 2021 24-h error target: RMSE <= 7 ug/m3 or NRMSE <= 30 %.
RMSE_TARGET = 7.0
NRMSE_TARGET = 30.0
HORIZON_BINS = [(0, 3), (3, 7), (7, 14), (14, 28), (28, 56), (56, 112), (112, 224), (224, 100000)]
BLOCK_DAYS = 7
MIN_GROWTH_SPAN = 28    # days of horizon before a record's own growth of the error is believed


def _day_index(times, tz=None):
    """Day numbers from the first day (local days in ``tz``, else UTC days)."""
    t = pd.DatetimeIndex(times)
    if t.tz is not None:
        t = t.tz_convert(tz if tz else "UTC").tz_localize(None)
    return ((t.normalize() - t.normalize().min()) / pd.Timedelta("1D")).to_numpy().astype(int)


def window_days(n_days):
    """The shortest co-location a forward fit uses (the first origin): half
    the record, between 7 and 28 days; later origins use everything before
    them (expanding windows), as the final fit does."""
    return int(np.clip(n_days // 2, 7, 28))


def origins(n_days, w, max_origins=12):
    """Ends of the sliding windows (device-relative day numbers)."""
    last = n_days - 1
    if last <= w:
        return []
    o = np.unique(np.linspace(w, last, min(max_origins, last - w + 1)).round().astype(int))
    return [int(v) for v in o if v < n_days]


def _daily_errors(pred, ref, day, hourly, rh=None):
    """(day, prediction, reference, humidity) 24-h means; hourly needs >= 18 valid hours."""
    rh = np.full(len(pred), np.nan) if rh is None else rh
    ok = np.isfinite(pred) & np.isfinite(ref)
    if not ok.any():
        return np.array([], int), np.array([]), np.array([]), np.array([])
    d, p, r, h = day[ok], pred[ok], ref[ok], rh[ok]
    if not hourly:
        return d, p, r, h
    n = np.bincount(d)
    sp = np.bincount(d, weights=p)
    sr = np.bincount(d, weights=r)
    sh = np.bincount(d, weights=np.nan_to_num(h))
    keep = np.flatnonzero(n >= 18)
    return keep, sp[keep] / n[keep], sr[keep] / n[keep], sh[keep] / n[keep]


def run(make_models, X, y, times, groups, hourly, fallback_min=None, notes=None, tz=None, progress=None,
        sparse=None, hourly_out=None):
    """Sliding-window forward validation for several models.

    ``make_models``: {name: callable returning an unfitted estimator}
    (baselines too: their fit does nothing). ``sparse``: {name: n} fits that
    model at only n of the origins (slow comparison models). Returns a dict of per-model
    residual records: {name: DataFrame(device, origin, day, horizon, pred, ref)}
    and the window length used. ``hourly_out``: a dict filled, for hourly
    input, with the same records per hour (plus ``rh``): the errors of the
    hourly values the station shows."""
    y = np.asarray(y, dtype=float)
    rh_all = np.asarray(X["rh"], dtype=float) if "rh" in X else np.full(len(y), np.nan)
    hrecs = {n: [] for n in make_models}
    groups = np.asarray(groups)
    recs = {n: [] for n in make_models}
    failed = {}
    w_used = None
    for g in np.unique(groups):
        sel = np.flatnonzero(groups == g)
        day = _day_index(times[sel], tz)
        n_days = int(day.max()) + 1
        w = window_days(n_days)
        w_used = w if w_used is None else max(w_used, w)
        if progress:
            progress("forward validation: device %s" % g)
        ors = origins(n_days, w)
        for o in ors:
            tr = sel[day < o]
            te_mask = day >= o
            te = sel[te_mask]
            if len(tr) < (fallback_min or 3) or len(te) == 0:
                continue
            for name, make in make_models.items():
                n_sp = (sparse or {}).get(name)
                if n_sp and o not in set(np.asarray(ors)[np.unique(np.linspace(0, len(ors) - 1, n_sp).round()
                                                                  .astype(int))]):
                    continue
                try:
                    m = make().fit(X.iloc[tr], y[tr])
                    p = np.asarray(m.predict(X.iloc[te]), dtype=float)
                except Exception as e:  # a failed fit is dropped, with a note
                    failed.setdefault(name, "%s: %s" % (type(e).__name__, str(e).splitlines()[0][:120]
                                                         if str(e) else ""))
                    continue
                d, pp, rr, hh = _daily_errors(p, y[te], day[te_mask], hourly, rh_all[te])
                if len(d):
                    recs[name].append(pd.DataFrame({"device": g, "origin": o, "day": d, "horizon": d - o,
                                                    "pred": pp, "ref": rr, "rh": hh}))
                if hourly and hourly_out is not None:
                    dt = day[te_mask]
                    ok = np.isfinite(p) & np.isfinite(y[te])
                    hrecs[name].append(pd.DataFrame({"device": g, "origin": o, "row": te[ok], "day": dt[ok],
                                                     "horizon": dt[ok] - o,
                                                     "pred": p[ok], "ref": y[te][ok], "rh": rh_all[te][ok]}))
    out = {n: (pd.concat(v, ignore_index=True) if v else None) for n, v in recs.items()}
    if hourly and hourly_out is not None:
        hourly_out.update({n: (pd.concat(v, ignore_index=True) if v else None) for n, v in hrecs.items()})
    if notes is not None:
        for n, why in failed.items():
            notes.append("forward validation: some %s fits failed and were left out (%s)." % (n, why))
    return out, w_used


def training_length(make, X, y, times, groups, hourly, tz=None, max_origins=6):
    """How much the error shrinks with more days of training, measured without
    the horizon getting in the way: at each origin the model is fitted twice,
    on all the days before it (L days) and on the most recent half of them
    (L/2 days); both predict the same later days at the same horizons, so only
    the training length differs. With MSE(n) = a + b/n, the paired difference
    of the days' mean squared errors is b/L. Returns (b, [lo, hi] from a
    bootstrap over 7-day blocks of the predicted days, pairs used), or None.
    The half window is the more recent one, so drift, if any, favours it and
    b errs small (the correction to the final fit's length errs on the safe
    side)."""
    y = np.asarray(y, dtype=float)
    groups = np.asarray(groups)
    rows = {"daily": [], "hourly": []}
    for g in np.unique(groups):
        sel = np.flatnonzero(groups == g)
        day = _day_index(times[sel], tz)
        n_days = int(day.max()) + 1
        ors = origins(n_days, window_days(n_days), max_origins=max_origins)
        for o in ors:
            full = sel[day < o]
            half = sel[(day < o) & (day >= o - o // 2)]
            te_mask = day >= o
            te = sel[te_mask]
            if len(half) < 10 or not len(te):
                continue
            try:
                pf = np.asarray(make().fit(X.iloc[full], y[full]).predict(X.iloc[te]), float)
                ph = np.asarray(make().fit(X.iloc[half], y[half]).predict(X.iloc[te]), float)
            except Exception:
                continue
            ok = np.isfinite(pf) & np.isfinite(ph) & np.isfinite(y[te])
            if not ok.any():
                continue
            dd = day[te_mask][ok]
            yt = y[te][ok]
            c = np.bincount(dd)
            if hourly:
                dh = np.bincount(dd, weights=(ph[ok] - yt) ** 2 - (pf[ok] - yt) ** 2)
                for k in np.flatnonzero(c):
                    rows["hourly"].append((str(g), k, o, dh[k] / c[k], 1.0 / o))
            sf, sh, sy = (np.bincount(dd, weights=v) for v in (pf[ok], ph[ok], yt))
            for k in np.flatnonzero(c >= (18 if hourly else 1)):
                rows["daily"].append((str(g), k, o, (sh[k] / c[k] - sy[k] / c[k]) ** 2 - (sf[k] / c[k] - sy[k] / c[k]) ** 2,
                                      1.0 / o))
    return {sc: _b_fit(r) for sc, r in rows.items() if len(r) >= 5}


def _block(n_days):
    """Bootstrap block length in days: 7, shorter on a short record (at least 6 blocks, at least 2 days)."""
    return int(max(2, min(BLOCK_DAYS, n_days // 6)))


def _b_fit(rows):
    f = pd.DataFrame(rows, columns=["device", "day", "origin", "diff", "x"])
    blk = pd.factorize(f["device"] + ":" + (f["day"] // _block(f["day"].nunique())).astype(str))[0]
    sd, sx = np.bincount(blk, weights=f["diff"]), np.bincount(blk, weights=f["x"])
    b = float(sd.sum() / sx.sum())
    rng = np.random.default_rng(0)
    w = rng.multinomial(len(sd), np.full(len(sd), 1.0 / len(sd)), size=300)
    bs = (w @ sd) / np.maximum(w @ sx, 1e-12)
    return b, [float(np.quantile(bs, 0.025)), float(np.quantile(bs, 0.975))], int(len(f))


def rmse(e):
    e = np.asarray(e, float)
    e = e[np.isfinite(e)]
    return float(np.sqrt(np.mean(e * e))) if len(e) else None


def horizon_curve(rec):
    """RMSE of 24-h means per horizon bin (days after the window's end)."""
    rows = []
    if rec is None:
        return rows
    e = (rec["pred"] - rec["ref"]).to_numpy()
    h = rec["horizon"].to_numpy()
    r = rec["ref"].to_numpy()
    for lo, hi in HORIZON_BINS:
        s = (h >= lo) & (h < hi)
        if s.sum() >= 3:
            rm = rmse(e[s])
            mean_ref = float(np.mean(r[s]))
            rows.append({"from_day": lo, "to_day": int(min(hi, h.max() + 1)), "n": int(s.sum()), "rmse": rm,
                         "nrmse": rm / mean_ref * 100 if mean_ref > 0 else None, "bias": float(np.mean(e[s]))})
    return rows


def day_ms(rec):
    """One row per fitted model (device, origin) and day: the mean squared
    error of that day's values (hourly records: the hours of the day; daily
    records: the day's one error squared), with its horizon."""
    e2 = (rec["pred"].to_numpy(float) - rec["ref"].to_numpy(float)) ** 2
    f = pd.DataFrame({"device": rec["device"].astype(str).to_numpy(), "origin": rec["origin"].to_numpy(),
                      "day": rec["day"].to_numpy(), "horizon": rec["horizon"].to_numpy(), "e2": e2,
                      "ref": rec["ref"].to_numpy(float)})
    f = f[np.isfinite(f["e2"])]
    return f.groupby(["device", "origin", "day"], sort=True, as_index=False).agg(
        ms=("e2", "mean"), horizon=("horizon", "first"), ref=("ref", "mean"))


def growth_fit(rec, n_boot=300, seed=0):
    """How fast the mean squared error of one fitted correction grows with the
    horizon, from every horizon the record holds (no single bin decides): the
    slope q of the day's mean squared error on the horizon within each fitted
    model's own sequence of days (fixed effects per device and origin: the
    same correction followed through time, as in use), with a 95 % interval
    from a bootstrap over 7-day blocks of days (ug^2/m^6 per day). Pairing on
    the same day instead would compare fits of different lengths (horizon and
    training length move together on one record) and measure the gain of
    fitting longer, not drift. Returns (q, [lo, hi], longest horizon)."""
    if rec is None or len(rec) < 10:
        return 0.0, [0.0, 0.0], 0
    d = day_ms(rec)
    h_max = int(d["horizon"].max()) if len(d) else 0
    key = d["device"] + ":" + d["origin"].astype(str)
    x = d["horizon"].to_numpy(float)
    y = d["ms"].to_numpy(float)
    xd = x - pd.Series(x).groupby(key.to_numpy()).transform("mean").to_numpy()
    yd = y - pd.Series(y).groupby(key.to_numpy()).transform("mean").to_numpy()
    if float(np.sum(xd * xd)) <= 0:
        return 0.0, [0.0, 0.0], h_max
    blk = pd.factorize(d["device"] + ":" + (d["day"] // _block(d["day"].nunique())).astype(str))[0]
    sxy = np.bincount(blk, weights=xd * yd)
    sxx = np.bincount(blk, weights=xd * xd)
    q = float(sxy.sum() / sxx.sum())
    rng = np.random.default_rng(seed)
    w = rng.multinomial(len(sxy), np.full(len(sxy), 1.0 / len(sxy)), size=n_boot)
    den = w @ sxx
    qs = (w @ sxy)[den > 0] / den[den > 0]
    lo, hi = (np.quantile(qs, [0.025, 0.975]) if len(qs) else (q, q))
    return q, [float(lo), float(hi)], h_max


def _tau(d, mean, max_lag=14):
    """Integrated autocorrelation time (in days) of the daily mean squared
    errors within each fitted model's sequence, deviations taken from the
    pooled mean (so a fit that is off for all its days counts as correlated),
    summed until the first lag whose correlation is not positive."""
    num = np.zeros(max_lag + 1)
    cnt = np.zeros(max_lag + 1)
    den = 0.0
    nd = 0
    for _, s in d.groupby(["device", "origin"], sort=False):
        dd = s["day"].to_numpy()
        full = np.full(int(dd.max() - dd.min()) + 1, np.nan)
        full[dd - dd.min()] = s["ms"].to_numpy() - mean
        ok = np.isfinite(full)
        den += float(np.nansum(full * full))
        nd += int(ok.sum())
        for k in range(1, min(max_lag, len(full) - 1) + 1):
            p = full[k:] * full[:-k]
            p = p[np.isfinite(p)]
            num[k] += float(p.sum())
            cnt[k] += len(p)
    if den <= 0 or nd < 3:
        return 1.0
    var = den / nd
    tau = 1.0
    for k in range(1, max_lag + 1):
        if cnt[k] < 5:
            break
        r = num[k] / cnt[k] / var
        if r <= 0:
            break
        tau += 2 * min(r, 0.99)
    return float(tau)


# How the mean squared error over the next H days of use compared with the forward mean squared error of a
# 28-day record, learnt on the DESIGN split (calibration/SPLIT.md; 9 long daily records, a 28-day fit every 60
# days, 115 periods): log of the ratio of the summed mean squared errors 0.85 (H = 90), 1.27 (180), 1.51 (365),
# i.e. about 0.30 + 0.47 ln(H / 28); the single periods' log ratios scatter with SD 1.18 (28 days) .. 0.9 (>= 180).
LATER_PERIOD = (0.30, 0.47)


def later_period(h):
    """(mean, SD) of log(MSE over the next h days / the record's forward MSE), from the design split."""
    r = np.log(max(float(h), 28.0) / 28.0)
    return LATER_PERIOD[0] + LATER_PERIOD[1] * r, float(np.clip(1.18 - 0.15 * r, 0.9, 1.18))


def _needed_days(cv2, tau, n_fut, g2, ratio=3.0, z=1.96):
    """Days of record after the first fit window needed for a 95 % interval
    of the RMSE with upper/lower <= ratio (None when the future period alone
    is too uncertain for it)."""
    s_max2 = (np.log(ratio) / z) ** 2          # RMSE = sqrt(MSE): ratio = exp(2 z s / 2)
    rest = s_max2 - np.log(1 + cv2 * tau / max(n_fut, 1)) - g2
    if rest <= 0:
        return None
    return int(np.ceil(cv2 * tau / (np.exp(rest) - 1)))


def interval(rec, horizon_days, level=0.95, at_day=None, unit="24-h means", train=None, final_days=None):
    """Point and prediction interval for the RMSE of the values (24-h means,
    or hours when ``rec`` holds hourly records) over ``horizon_days`` days of
    use; by default the days right after the co-location, with ``at_day`` the
    ``horizon_days`` days ending ``at_day`` days after it.

    The point is the forward mean squared error as measured, plus the error's
    growth (``growth_fit``) carried from the mean horizon the record shows to
    the mean horizon of use, and (``train``: ``training_length``'s (b, [lo,
    hi], n) for this scale, used when its interval excludes 0) less the gain
    of the final fit's ``final_days`` days over the forward fits' shorter
    windows. The interval is log-normal for the mean squared
    error: the record's estimate and the future period each add
    log(1 + CV^2 tau / n), with CV the spread of the daily mean squared
    errors over their mean (heavy tails widen it), tau their correlation time
    in days and n the days (the record's distinct device-days; the days of
    use); the growth's own interval adds its share."""
    if rec is None or len(rec) < 5:
        return None
    d = day_ms(rec)
    if len(d) < 5:
        return None
    ms = d["ms"].to_numpy(float)
    mse0 = float(np.mean(ms))
    if not mse0 > 0:
        mse0 = 1e-12
    measured = mse0
    t2 = 0.0
    train_used = False
    if train and final_days and train[1][0] > 0:
        # forward fits used o days (the origin); the final fit uses final_days: MSE(n) = a + b/n
        dx = float(np.mean(1.0 / np.maximum(rec["origin"].to_numpy(float), 1.0))) - 1.0 / float(final_days)
        if dx > 0:
            adj = [max(mse0 - bb * dx, 0.5 * mse0) for bb in (train[0], train[1][0], train[1][1])]
            z0 = float(norm.ppf(0.5 + level / 2))
            t2 = ((np.log(adj[1]) - np.log(adj[2])) / (2 * z0)) ** 2
            mse0 = adj[0]
            train_used = True
    n_rec = int(d[["device", "day"]].drop_duplicates().shape[0])
    cv2 = float(np.var(ms) / mse0 ** 2)
    tau = _tau(d, mse0)
    n_fut = int(max(1, horizon_days))
    q, (q_lo, q_hi), h_max = growth_fit(rec)
    h_seen = float(d["horizon"].mean())
    h_use = (float(at_day) - horizon_days / 2.0) if at_day is not None else horizon_days / 2.0
    # the growth is carried no further than twice the longest horizon the record shows (beyond it the data
    # say nothing; the advice says so), except when asked for a given day (``at_day``: the advice's own figure)
    dh = max(0.0, (h_use if at_day is not None else min(h_use, 2.0 * h_max)) - h_seen)
    # the growth is applied when its interval excludes no growth over at least MIN_GROWTH_SPAN days of horizon
    # (over two weeks a trend of the weather cannot be told from drift); its interval widens the promise either way
    grows = q_lo > 0 and h_max >= MIN_GROWTH_SPAN
    mse = mse0 + (q if grows else 0.0) * dh
    mse_hi = mse0 + max(q_hi, 0.0) * dh
    mse_lo = mse0 + max(q_lo, 0.0) * dh
    z = float(norm.ppf(0.5 + level / 2))
    g2 = ((np.log(mse_hi) - np.log(mse_lo)) / (2 * z)) ** 2 if mse_lo > 0 else 0.0
    s2_rec = float(np.log(1 + cv2 * tau / n_rec))
    # Several devices: no extra between-device term. Designed on the DESIGN split (calibration/SPLIT.md): the
    # devices' long-run errors were alike, while their 14-day forward errors scattered far more than a sampling
    # term explains, so a between-device variance estimated from them made every interval 6x wide without need.
    s2_dev = 0.0
    s2_rec += s2_dev
    s2_fut = float(np.log(1 + cv2 * tau / n_fut))
    s = float(np.sqrt(s2_rec + s2_fut + g2 + t2))
    basis = "the record's own forward errors"
    if at_day is None and horizon_days > 2.0 * max(h_max, 1):
        # a period of use far beyond the horizons the record holds: how later periods compared with the first
        # weeks on other devices (the design split), never narrower than the record's own spread
        mu, sd = later_period(horizon_days)
        if np.log(mse0) + mu > np.log(mse):
            mse = mse0 * float(np.exp(mu))
        s = max(s, sd)
        basis = ("the record's forward errors (%d days of horizon), carried to %d days of use as later periods "
                 "compared with the first weeks on other devices (design split)" % (h_max, horizon_days))
    lo, hi = float(np.sqrt(mse * np.exp(-z * s))), float(np.sqrt(mse * np.exp(z * s)))
    out = {"rmse": float(np.sqrt(mse)), "ci95": [lo, hi], "ratio": hi / lo if lo > 0 else None, "basis": basis,
           "values": unit, "horizon_days": int(horizon_days), "at_day": int(at_day) if at_day is not None else None,
           "record_days": n_rec, "correlation_days": tau, "cv_daily_ms": float(np.sqrt(cv2)),
           "between_devices_log_var": s2_dev, "growth_per_day": q, "growth_ci95": [q_lo, q_hi],
           "growth_applied": bool(grows and dh > 0),
           "training_length_b": train[0] if train else None, "training_length_b_ci95": train[1] if train else None,
           "training_length_applied": train_used, "final_fit_days": final_days,
           "forward_rmse_as_measured": float(np.sqrt(measured)), "longest_horizon_seen_days": int(h_max),
           "extrapolated": bool(h_use > h_max + 1)}
    if hi / max(lo, 1e-12) > 3.0 and basis != "the record's own forward errors":
        out["too_short"] = ("a record with %d days of horizon cannot promise a tighter interval for %d days of use: "
                            "on other devices, later months differed from the first weeks by up to x%.1f (95 %%); "
                            "check with a second co-location (--later)" % (h_max, horizon_days, hi / lo))
    elif hi / max(lo, 1e-12) > 3.0:
        need = _needed_days(cv2, tau, n_fut, g2)
        out["too_short"] = ("the record holds %d device-days scored forward; their spread (and the %d days of use "
                            "themselves) do not allow a 95 %% interval narrower than x%.1f" % (n_rec, n_fut, hi / lo)
                            + (" - about %d days scored forward would" % need if need else "") + ".")
    return out


def value_errors(rec, unit="hour", min_n=30):
    """Error model by concentration and humidity: the RMSE of single values
    (hours, or 24-h means) in bins of the corrected value and of humidity,
    from the forward records (the correction predicting days it never saw).
    A value's 95 % prediction interval is its corrected value +- 1.96 x its
    bin's RMSE (bounded at 0)."""
    if rec is None or "rh" not in rec or len(rec) < min_n:
        return None
    p = rec["pred"].to_numpy(float)
    e = p - rec["ref"].to_numpy(float)
    rh = rec["rh"].to_numpy(float)
    ok = np.isfinite(e) & np.isfinite(p) & np.isfinite(rh)
    p, e, rh = p[ok], e[ok], rh[ok]
    edges = [-np.inf, 5.0, 12.0, 35.0, np.inf]
    rh_edges = [-np.inf, 70.0, np.inf]
    rows = []
    for i in range(4):
        for j in range(2):
            s = (p >= edges[i]) & (p < edges[i + 1]) & (rh >= rh_edges[j]) & (rh < rh_edges[j + 1])
            n = int(s.sum())
            if n < min_n:
                continue
            rows.append({"pred_from": None if i == 0 else edges[i], "pred_to": None if i == 3 else edges[i + 1],
                         "rh_from": None if j == 0 else 70.0, "rh_to": None if j == 1 else 70.0, "n": n,
                         "rmse": rmse(e[s]), "bias": float(np.mean(e[s]))})
    return {"unit": unit, "bins": rows, "overall_rmse": rmse(e),
            "how": "corrected value +- 1.96 x the RMSE of its bin (corrected value, humidity)"}


# How a correction fitted on four weeks fares months later, learnt on the DESIGN split of the shared data
# (calibration/SPLIT.md: 9 long daily records, a 28-day fit every 60 days, 144 later 28-day windows): the log of
# (mean squared error of a later 28-day window / the forward mean squared error the record showed) has mean
# about 0.43 + 0.42 ln(h / 28 days) at h days after the fit (h >= 28) and spread (SD) 1.36, whatever the record.
# A record of a few weeks cannot measure its own season-to-season change; other devices' can.
LATER_LOG_MEAN = (0.43, 0.42)
LATER_LOG_SD = 1.36


def later_window(mse0, day):
    """(point, [lo, hi]) RMSE expected over the 28 days ending ``day`` days
    after the co-location, from the record's forward mean squared error and
    the design split's later-window factor (``LATER_LOG_*``)."""
    m = np.log(max(mse0, 1e-12)) + LATER_LOG_MEAN[0] + LATER_LOG_MEAN[1] * np.log(max(day, 28) / 28.0)
    z = 1.96
    return float(np.exp(m / 2)), [float(np.exp((m - z * LATER_LOG_SD) / 2)), float(np.exp((m + z * LATER_LOG_SD) / 2))]


def advice(curve, rec=None, use_days=28):
    """When to co-locate again, as a range of days after the co-location, and
    the 24-h RMSE expected then, with its 95 % range.

    The target is the EPA 24-h error target (RMSE <= 7 ug/m3 or NRMSE <=
    30 %). Two estimates of how the error grows: the record's own (the
    within-fit growth over every horizon it holds, ``growth_fit``; used only
    when its 95 % interval excludes no growth) and the later-window factor
    learnt on other devices (``later_window``). The range starts on the day a
    28-day window's RMSE has a 1-in-5 chance of exceeding the target
    (advised day), and ends when the central estimate reaches it (at most a
    year). ``expected_rmse`` is for the 28 days ending on the advised day."""
    if not curve or rec is None:
        return {"within_target_days": None, "recolocate_after_days": None, "recolocate_range_days": None,
                "basis": "none",
                "text": "not enough data after the fitting windows to measure how the correction holds up; "
                        "co-locate again within 3 months to check it."}
    d = day_ms(rec)
    mse0 = float(d["ms"].mean())
    mean_ref = float(d["ref"].mean())
    thr = max(RMSE_TARGET, NRMSE_TARGET / 100.0 * mean_ref)
    q, (q_lo, q_hi), h_max = growth_fit(rec)
    h_seen = float(d["horizon"].mean())
    base = {"growth_per_day": q, "growth_ci95": [q_lo, q_hi], "longest_horizon_seen_days": int(h_max),
            "target_rmse": thr, "forward_rmse": float(np.sqrt(mse0)),
            "basis": "the record's forward error and its growth over %d days of horizon; beyond them, how later "
                     "months compared with the first weeks on other devices (design split)" % h_max}
    if np.sqrt(mse0) > thr:
        return dict(base, within_target_days=0, recolocate_after_days=0, recolocate_range_days=[0, 0],
                    text="the correction misses the EPA 24-h error target (RMSE <= 7 ug/m3 or NRMSE <= 30 %%) from "
                         "the first days after the co-location (forward RMSE %.2f): co-locate longer, or in "
                         "conditions closer to use." % np.sqrt(mse0))
    days = np.arange(use_days, 366)
    m = np.log(mse0) + LATER_LOG_MEAN[0] + LATER_LOG_MEAN[1] * np.log(days / 28.0)
    own = q > 0 and q_lo > 0 and h_max >= MIN_GROWTH_SPAN
    if own:     # the record shows the error growing: never later than its own growth says
        m = np.maximum(m, np.log(mse0 + q * np.maximum(days - use_days / 2.0 - h_seen, 0)))
    t2 = 2 * np.log(thr)
    z80 = 0.8416
    over80 = np.flatnonzero(m + z80 * LATER_LOG_SD >= t2)
    over50 = np.flatnonzero(m >= t2)
    early = int(days[over80[0]]) if len(over80) else 365
    late = int(days[over50[0]]) if len(over50) else 365
    i = early - use_days
    pt = float(np.exp(m[i] / 2))
    exp = {"rmse": pt, "ci95": [float(np.exp((m[i] - 1.96 * LATER_LOG_SD) / 2)),
                                float(np.exp((m[i] + 1.96 * LATER_LOG_SD) / 2))],
           "window_days": use_days, "at_day": early}
    out = dict(base, within_target_days=early, recolocate_after_days=early, recolocate_range_days=[early, late],
               target_reached_after_days=late if len(over50) else None, own_growth_used=bool(own),
               expected_rmse=exp)
    span = ("after %d to %d days" % (early, late)) if late > early else ("after about %d days" % early)
    txt = ("co-locate again %s%s: the 24-h RMSE over the 28 days before day %d is expected at %.2f ug/m3 (95 %% "
           "range %.2f .. %.2f; target %.1f)" % (span, " (a year at most)" if late >= 365 else "", early, pt,
                                                 exp["ci95"][0], exp["ci95"][1], thr))
    if own:
        txt += "; the record shows its error growing by %.3g ug^2/m^6 per day (95 %% interval %.3g .. %.3g)" % (
            q, q_lo, q_hi)
    else:
        txt += "; the record shows no clear growth of its error over %d days of horizon" % h_max
    txt += (". Beyond %d days this rests on how later months compared with the first weeks on other devices, not on "
            "this record: check it with a second co-location (--later), or sooner after a season change." % h_max)
    out["text"] = txt
    return out
