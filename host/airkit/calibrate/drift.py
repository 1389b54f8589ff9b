"""A later co-location of the same sensor: did it drift?

Why this exists: the forward interval says what error to expect some weeks
after the co-location; a second co-location months later measures it. The
fitted correction (each device's own) is applied to the later pairs and its
24-h RMSE compared with the interval the fit reported for that horizon; the
sensor's response (slope of reference on raw PM) is compared between the two
periods, with a day-block bootstrap interval for the change.
"""

import numpy as np
import pandas as pd

from . import align, forward, validate


def _slope(x, y):
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 3 or np.ptp(x) == 0:
        return float("nan")
    return float(np.polyfit(x, y, 1)[0])


def _slope_draws(x, y, days, n_boot=400, seed=1):
    """Day-block bootstrap draws of the slope of y on x (reference on raw PM)."""
    rng = np.random.default_rng(seed)
    uniq = np.unique(days)
    by = {d: np.flatnonzero(days == d) for d in uniq}
    out = []
    for _ in range(n_boot):
        pick = np.concatenate([by[d] for d in rng.choice(uniq, size=len(uniq))])
        out.append(_slope(x[pick], y[pick]))
    return np.array(out)


def _ci(draws):
    d = np.asarray(draws, float)
    d = d[np.isfinite(d)]
    return [float(np.quantile(d, 0.025)), float(np.quantile(d, 0.975))] if len(d) else [None, None]


def _slope_ci(x, y, days, n_boot=400, seed=1):
    return _ci(_slope_draws(x, y, days, n_boot, seed))


def compare(result, later):
    """Score the fitted correction on the later co-location ``later``
    (align.Pairs). Returns a dict with the realised RMSE, the interval the fit
    reported for that horizon, the change of the sensor's response and a
    one-sentence verdict."""
    s = result.summary
    first = result.pairs
    f = later.frame.dropna(subset=["pm", "ref"])
    need_rh = s["chosen"] not in ("raw", "linear")
    if need_rh:
        f = f.dropna(subset=["rh"])
    if len(f) < 3:
        return {"text": "the later co-location has too few pairs to compare (%d)." % len(f), "drifted": None}
    pred = np.full(len(f), np.nan)
    devs = f["device"].astype(str).to_numpy()
    X = f[["pm", "rh", "t"]]
    for g in np.unique(devs):
        sel = devs == g
        est = result.per_device[g][0] if g in result.per_device else result.chosen
        pred[sel] = est.predict(X[sel])
    h = f.assign(pred=pred)
    d = align.daily(h, cols=("ref", "pred", "pm"), tz=later.tz) if later.freq == "1h" else h
    if len(d) < 3:
        return {"text": "the later co-location has fewer than 3 valid days (>= 18 hours) to compare.",
                "drifted": None}
    e = (d["pred"] - d["ref"]).to_numpy(float)
    realised = float(np.sqrt(np.mean(e * e)))
    end_first = pd.Timestamp(s["coverage"]["end"])
    gap_days = max(1, int((d.index.max() - end_first).total_seconds() // 86400) + 1)
    rec = (result.forward_records or {}).get(s["chosen"])
    rep = None
    if rec is not None:
        mse0 = float(forward.day_ms(rec)["ms"].mean())
        pt, ci = forward.later_window(mse0, gap_days)
        rep = {"rmse": pt, "ci95": ci, "basis": "the record's forward error carried to %d days after the fit as "
                                                "later periods compared with the first weeks on other devices"
                                                % gap_days}
    # the sensor's response: slope of the reference on raw PM, first vs later period (24-h means), the change
    # tested with both periods' uncertainty (independent day-block bootstraps, difference of the draws)
    fd = first if s["primary_freq"] == "24h" else align.daily(first, cols=("pm", "ref"), tz=later.tz)
    s1, s2 = _slope(fd["pm"], fd["ref"]), _slope(d["pm"], d["ref"])
    d1 = _slope_draws(fd["pm"].to_numpy(float), fd["ref"].to_numpy(float), validate.day_codes(fd.index), seed=2)
    d2 = _slope_draws(d["pm"].to_numpy(float), d["ref"].to_numpy(float), validate.day_codes(d.index))
    ci1, ci2, cid = _ci(d1), _ci(d2), _ci(d2 - d1)
    change = s2 / s1 - 1 if s1 and s1 == s1 and s2 == s2 else None
    targets = validate.meets_targets(validate.metrics(d["ref"], d["pred"]))
    thr = max(forward.RMSE_TARGET, forward.NRMSE_TARGET / 100.0 * float(np.mean(d["ref"])))
    out = {"days": int(len(d)), "days_after_fit": gap_days, "realised_rmse": realised,
           "bias": float(np.mean(e)), "reported": rep, "response_slope_first": s1, "response_slope_later": s2,
           "response_slope_first_ci95": ci1, "response_slope_later_ci95": ci2, "response_change_ci95": cid,
           "response_change": change, "meets_error_target": targets.get("error"), "target_rmse": thr}
    outside = rep is not None and realised > rep["ci95"][1]
    slope_moved = cid[0] is not None and not (cid[0] <= 0.0 <= cid[1])
    off_target = realised > thr
    out["drifted"] = bool(outside or slope_moved)
    out["recalibrate"] = bool(outside or slope_moved or off_target)
    txt = ("%d days, %d days after the fit window: the correction's 24-h RMSE is %.2f ug/m3 (bias %+.2f)"
           % (len(d), gap_days, realised, out["bias"]))
    if rep is not None:
        txt += ", against %.2f (95 %% range %.2f .. %.2f) expected" % (rep["rmse"], rep["ci95"][0], rep["ci95"][1])
    if change is not None:
        txt += ("; the sensor's response (reference per raw ug/m3) changed by %+.0f %% (95 %% interval of the change "
                "in slope %+.3f .. %+.3f, both periods' uncertainty)" % (change * 100, cid[0], cid[1])
                if cid[0] is not None else "; the sensor's response changed by %+.0f %%" % (change * 100))
    if out["drifted"]:
        txt += (". The sensor drifted (%s): fit a new correction on the later co-location."
                % " and ".join(w for w, c in (("error above the expected range", outside),
                                              ("response changed beyond both periods' noise", slope_moved)) if c))
    elif off_target:
        txt += (". Within what was expected, but above the EPA 24-h error target (%.1f ug/m3): fit a new "
                "correction on the later co-location." % thr)
    else:
        txt += ". No drift beyond the noise: the correction still holds."
    out["text"] = txt
    return out
