"""Forward validation: fit on the past, predict the future, as the correction
will be used.

Why this exists: blocked cross-validation predicts each block with a model
fitted on the blocks before *and after* it, so it never measures how the
error grows once the co-location has ended. Here every origin ``o`` is the
end of a co-location window of ``W`` days (sliding: days ``o-W .. o``); the
model fitted on that window predicts every later day, and each error is
labelled with its horizon (days after the end of the window). Scores are on
24-h means (days with >= 18 valid hours) or on the daily input.

The interval for "the RMSE over the next H days of use" is a prediction
interval, not a confidence interval for a mean: each draw takes one fitted
model (one device and origin: the correction in use is one such fit, and its
parameters shift the whole period) and a moving-block bootstrap over its days
(block = 7 days, circular, keeps serial correlation), its spread widened
for the uncertainty of the estimate itself (variances of the future period's
mean and of the record's mean add), with the number of days
capped at what the record holds (a record of n days says nothing about the
variance between periods longer than n days, so the interval does not narrow
beyond it); when the forward error grows with horizon (drift) the growth is
carried to the horizons of use; and since the forward fits use fewer days
than the final fit on the whole record, the estimate follows the record's
own learning curve (squared error against 1/days of training, paired on the
same days) to the final fit's length. All of it is computed from the
co-location record alone.
"""

import numpy as np
import pandas as pd

# EPA 2021 24-h error target: RMSE <= 7 ug/m3 or NRMSE <= 30 %.
RMSE_TARGET = 7.0
NRMSE_TARGET = 30.0
HORIZON_BINS = [(0, 3), (3, 7), (7, 14), (14, 28), (28, 56), (56, 112), (112, 224), (224, 100000)]
BLOCK_DAYS = 7


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


def _daily_errors(pred, ref, day, hourly):
    """(day, prediction, reference) 24-h means; hourly needs >= 18 valid hours."""
    ok = np.isfinite(pred) & np.isfinite(ref)
    if not ok.any():
        return np.array([], int), np.array([]), np.array([])
    d, p, r = day[ok], pred[ok], ref[ok]
    if not hourly:
        return d, p, r
    n = np.bincount(d)
    sp = np.bincount(d, weights=p)
    sr = np.bincount(d, weights=r)
    keep = np.flatnonzero(n >= 18)
    return keep, sp[keep] / n[keep], sr[keep] / n[keep]


def run(make_models, X, y, times, groups, hourly, fallback_min=None, notes=None, tz=None, progress=None,
        sparse=None):
    """Sliding-window forward validation for several models.

    ``make_models``: {name: callable returning an unfitted estimator}
    (baselines too: their fit does nothing). ``sparse``: {name: n} fits that
    model at only n of the origins (slow comparison models). Returns a dict of per-model
    residual records: {name: DataFrame(device, origin, day, horizon, pred, ref)}
    and the window length used."""
    y = np.asarray(y, dtype=float)
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
                d, pp, rr = _daily_errors(p, y[te], day[te_mask], hourly)
                if len(d):
                    recs[name].append(pd.DataFrame({"device": g, "origin": o, "day": d, "horizon": d - o,
                                                    "pred": pp, "ref": rr}))
    out = {n: (pd.concat(v, ignore_index=True) if v else None) for n, v in recs.items()}
    if notes is not None:
        for n, why in failed.items():
            notes.append("forward validation: some %s fits failed and were left out (%s)." % (n, why))
    return out, w_used


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


def growth(rec, max_lag=14):
    """How fast the 24-h error wanders away from where it was: the slope q of
    the variogram gamma(k) = E[(e(d+k) - e(d))^2] / 2 over lags k = 1..14 days
    (ug^2/m^6 per day), from each fitted model's sequence of forward errors.
    For errors that drift like a random walk, the mean squared error grows by
    about q per day of horizon; for independent day-to-day errors q ~ 0."""
    sums, counts = np.zeros(max_lag + 1), np.zeros(max_lag + 1)
    for _, s in rec.groupby(["device", "origin"]):
        e = (s["pred"] - s["ref"]).to_numpy()
        d = s["day"].to_numpy()
        full = np.full(int(d.max() - d.min()) + 1, np.nan)
        full[d - d.min()] = e
        for k in range(1, min(max_lag, len(full) - 1) + 1):
            x = full[k:] - full[:-k]
            x = x[np.isfinite(x)]
            sums[k] += np.sum(0.5 * x * x)
            counts[k] += len(x)
    ks = np.flatnonzero(counts >= 4)
    if len(ks) < 3:
        return 0.0
    g = sums[ks] / counts[ks]
    w = np.sqrt(counts[ks])
    coef, *_ = np.linalg.lstsq(np.c_[np.ones(len(ks)), ks] * w[:, None], g * w, rcond=None)
    return float(coef[1])


def learning_curve(rec):
    """How the forward error depends on the length of the fit window, from the
    record itself: the slope b of squared error on 1/(days of training),
    paired on the same device-day (day fixed effects: the same day predicted by
    fits of different lengths). Expanding-window fits use fewer days than the
    final fit on the whole record; MSE(n) ~ a + b/n carries the estimate to the
    final fit's length. Returns (b, mean 1/n of the records, 1/n of the final fit)."""
    n = rec["origin"].to_numpy(float)
    if len(n) < 10 or np.ptp(n) == 0:
        return 0.0, 0.0, 0.0
    x = 1.0 / np.maximum(n, 1.0)
    y = ((rec["pred"] - rec["ref"]) ** 2).to_numpy()
    key = (rec["device"].astype(str) + ":" + rec["day"].astype(str)).to_numpy()
    xd = x - pd.Series(x).groupby(key).transform("mean").to_numpy()
    yd = y - pd.Series(y).groupby(key).transform("mean").to_numpy()
    sxx = float(np.sum(xd * xd))
    b = float(np.sum(xd * yd) / sxx) if sxx > 0 else 0.0
    final = float(np.mean(1.0 / (rec.groupby("device")["day"].max().to_numpy(float) + 1)))
    return b, float(np.mean(x)), final


def _lag1(seqs):
    """Lag-1 (day-to-day) autocorrelation of the forward errors, within each fitted model's sequence; 0..0.95."""
    num = den = 0.0
    for s in seqs:
        if len(s) < 3:
            continue
        x = s - s.mean()
        num += float(np.sum(x[1:] * x[:-1]))
        den += float(np.sum(x * x))
    return float(np.clip(num / den, 0.0, 0.95)) if den > 0 else 0.0


def interval(rec, horizon_days, n_boot=2000, seed=0, level=0.95):
    """Point and prediction interval for the RMSE of 24-h means over the
    ``horizon_days`` days after the co-location (see the module doc)."""
    if rec is None or len(rec) < 5:
        return None
    rec = rec.sort_values(["device", "origin", "day"])
    e = (rec["pred"] - rec["ref"]).to_numpy()
    point = rmse(e)
    # Draw blocks from each origin's forward sequence (errors of one fitted model on consecutive days).
    seqs = [g.to_numpy() for _, g in (rec["pred"] - rec["ref"]).groupby([rec["device"], rec["origin"]]) if len(g)]
    n_days = int(rec.groupby("device")["day"].nunique().max())
    n_eff = int(max(1, min(horizon_days, n_days)))
    rng = np.random.default_rng(seed)
    nb = int(np.ceil(n_eff / BLOCK_DAYS))
    lens = np.array([len(s) for s in seqs])
    p_seq = lens / lens.sum()
    draws = np.empty(n_boot)
    for b in range(n_boot):
        # one fitted model per draw (one device and origin): the correction in use is one such fit, and its
        # own parameters shift the whole period; its days are drawn in 7-day blocks (circular)
        s = seqs[rng.choice(len(seqs), p=p_seq)]
        n = len(s)
        starts = rng.integers(0, n, size=nb)
        idx = (starts[:, None] + np.arange(BLOCK_DAYS)[None, :]) % n
        v = s[idx].ravel()[:n_eff]
        draws[b] = np.mean(v * v)
    # A prediction interval: the spread of a future period's mean (over n_eff days) plus the uncertainty of the
    # estimate itself (from the record's device-days): variances add, so the deviations widen by
    # sqrt(1 + n_eff / n_record). Mean squares are skewed and positive: widened as ratios to the median (log space).
    n_rec = int(rec[["device", "day"]].drop_duplicates().shape[0])
    widen = np.sqrt(1.0 + n_eff / float(max(n_rec, 1)))
    draws = np.maximum(draws, 1e-12)
    centre = float(np.median(draws))
    draws = centre * (draws / centre) ** widen
    # Drift: the error's growth with horizon (variogram slope) carried to the mean horizon of use, but no
    # further than twice the longest horizon the record shows (beyond it the data say nothing).
    slope = growth(rec)
    h_seen = float(rec["horizon"].mean())
    h_max = float(rec["horizon"].max())
    h_use = min(horizon_days / 2.0, 2.0 * h_max)
    growth_mse = slope * max(0.0, h_use - h_seen) if slope > 0 else 0.0
    # Fits on the whole record use more days than the forward fits: carry the estimate to the final fit's
    # length along the record's own learning curve (at most a factor 4 either way in mean square).
    b, x_mean, x_final = learning_curve(rec)
    lc_factor = float(np.clip((point ** 2 + b * (x_final - x_mean)) / point ** 2, 0.25, 4.0)) if point > 0 else 1.0
    mse_point = point ** 2 * lc_factor + growth_mse
    scale = mse_point / point ** 2 if point > 0 else 1.0
    draws = draws * scale
    a = (1 - level) / 2
    lo, hi = np.sqrt(np.quantile(draws, [a, 1 - a]))
    # A bootstrap cannot leave the range of a short record: beside it, the parametric interval for a ratio of
    # mean squares, F(nu_future, nu_record), with degrees of freedom reduced for the day-to-day correlation of
    # the errors (nu = n (1 - rho) / (1 + rho)). The reported interval spans both.
    from scipy.stats import f as fdist
    rho = _lag1(seqs)
    shrink = (1 - rho) / (1 + rho)
    nu_rec, nu_fut = max(1.0, n_rec * shrink), max(1.0, n_eff * shrink)
    flo, fhi = fdist.ppf([a, 1 - a], nu_fut, nu_rec)
    lo = min(lo, float(np.sqrt(mse_point * flo)))
    hi = max(hi, float(np.sqrt(mse_point * fhi)))
    return {"rmse": float(np.sqrt(mse_point)), "ci95": [float(lo), float(hi)], "horizon_days": int(horizon_days),
            "independent_days": n_eff, "block_days": BLOCK_DAYS, "day_to_day_correlation": rho,
            "effective_days_record": nu_rec, "effective_days_use": nu_fut, "growth_per_day": slope,
            "growth_applied": bool(growth_mse > 0), "learning_curve_slope": b,
            "learning_curve_factor": lc_factor, "forward_rmse_as_measured": point, "longest_horizon_seen_days": int(h_max),
            "extrapolated": bool(horizon_days > h_max + 1)}


def advice(curve, rec=None):
    """How long the correction stays within the EPA 24-h error target, and when
    to co-locate again, from the horizon curve (and, beyond the horizons the
    data show, the error's growth rate)."""
    if not curve:
        return {"within_target_days": None, "recolocate_after_days": None, "basis": "none",
                "text": "not enough data after the fitting windows to measure how the correction holds up; "
                        "co-locate again within 3 months to check it."}

    def good(row):
        return (row["rmse"] is not None and row["rmse"] <= RMSE_TARGET) or \
            (row["nrmse"] is not None and row["nrmse"] <= NRMSE_TARGET)
    if not good(curve[0]):
        return {"within_target_days": 0, "recolocate_after_days": 0, "basis": "horizon curve",
                "text": "the correction misses the EPA 24-h error target (RMSE <= 7 ug/m3 or NRMSE <= 30 %) from the "
                        "first days after the co-location: co-locate longer, or in conditions closer to use."}
    bad = next((r for r in curve if not good(r)), None)
    if bad is not None:
        ok_until = bad["from_day"]
        rec_days = int(max(7, ok_until * 0.75))
        return {"within_target_days": int(ok_until), "recolocate_after_days": rec_days, "basis": "horizon curve",
                "text": "the correction stays within the EPA 24-h error target for about %d days after the "
                        "co-location, then drifts out of it: co-locate again after about %d days."
                        % (ok_until, rec_days)}
    seen = int(curve[-1]["to_day"])
    # Beyond what the data show: the error's growth rate (variogram slope) says when RMSE would reach 7 ug/m3.
    q = growth(rec) if rec is not None else 0.0
    mse0 = curve[-1]["rmse"] ** 2
    if q > 0:
        reach = int(seen + (RMSE_TARGET ** 2 - mse0) / q)
        rec_days = int(min(max(seen, 0.75 * reach), 365))
        txt = ("the correction stayed within the EPA 24-h error target for the %d days the data show; at the rate its "
               "error grows (%.3f ug^2/m^6 per day) it would reach RMSE 7 ug/m3 after about %d days. Co-locate again "
               "after about %d days, or sooner after a season change." % (seen, q, reach, rec_days))
        if rec_days > 2 * seen:
            txt += (" That is an extrapolation far beyond the %d days measured: check it with a second co-location "
                    "(--later) well before then." % seen)
    else:
        rec_days = int(min(max(seen, 90), 365))
        reach = None
        txt = ("the correction stayed within the EPA 24-h error target for the %d days the data show, with no sign "
               "of the error growing; co-locate again after about %d days or after a season change (the data say "
               "nothing beyond %d days)." % (seen, rec_days, seen))
    return {"within_target_days": seen, "recolocate_after_days": rec_days, "target_reached_after_days": reach,
            "basis": "growth rate beyond the horizons seen", "text": txt}
