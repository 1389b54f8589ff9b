"""Fit every candidate, validate them the same honest way, choose one.

Why this exists: the volunteer wants one answer: which correction to put on
the device and how good it really is. Every candidate and every published
baseline is scored on the same held-out rows (contiguous time blocks); the
chosen model is the one with the lowest held-out RMSE, except that a simpler
model wins when it is within the noise (one bootstrap standard error of the
paired RMSE difference). The flexible model is reported, never pushed.
"""

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import align, forward, models, validate

# Complexity order for "prefer the simpler": published equations first.
ORDER = ["epa_2021", "linear", "mlr_rh", "kappa", "mlr_rh_t"]
MIN_DAYS = 14


@dataclass
class Result:
    summary: dict
    pairs: pd.DataFrame                 # rows used, with held-out predictions per model
    daily: pd.DataFrame = None          # 24-h means of held-out predictions (hourly input)
    chosen: object = None               # the final fitted estimator (pooled)
    per_device: dict = field(default_factory=dict)   # device -> final fitted estimator
    forward_records: dict = None        # model -> forward residual records (device, origin, day, horizon, pred, ref)
    forward_hourly: dict = None         # the same per hour (hourly input)


def coverage(frame, freq):
    t = frame.index
    span_days = (t.max() - t.min()).total_seconds() / 86400 + (1 if freq == "24h" else 1 / 24)
    days = pd.DatetimeIndex(t).normalize().nunique()
    out = {
        "start": str(t.min()), "end": str(t.max()),
        "span_days": round(float(span_days), 1), "days_with_data": int(days),
        "rows": int(len(frame)), "freq": freq, "devices": int(frame["device"].nunique()),
        "ref_range": [float(frame["ref"].min()), float(frame["ref"].max())],
        "pm_range": [float(frame["pm"].min()), float(frame["pm"].max())],
    }
    if freq == "1h":
        out["hours"] = int(len(frame))
        out["hours_ref_above_25"] = int((frame["ref"] > 25).sum())
    else:
        out["days_ref_above_25"] = int((frame["ref"] > 25).sum())
    if frame["rh"].notna().any():
        out["rh_range"] = [float(frame["rh"].min()), float(frame["rh"].max())]
    if frame["t"].notna().any():
        out["t_range"] = [float(frame["t"].min()), float(frame["t"].max())]
    return out


def warnings_for(cov):
    w = []
    if cov["days_with_data"] < MIN_DAYS:
        w.append("short co-location: %d days with data (aim for at least %d, ideally 30); the held-out scores are "
                 "uncertain and seasonal changes are not covered." % (cov["days_with_data"], MIN_DAYS))
    if cov["ref_range"][1] <= 25:
        w.append("no %s above 25 ug/m3 in the reference: the correction is untested at the concentrations that "
                 "matter most for health." % ("hours" if cov["freq"] == "1h" else "days"))
    if "rh_range" in cov and cov["rh_range"][1] <= 80:
        w.append("relative humidity never above 80 %: the humidity term is untested in humid conditions "
                 "(fog, rain, humid nights), where sensors over-read most.")
    if "rh_range" not in cov:
        w.append("no humidity in the sensor data: only humidity-free corrections can be fitted and the EPA "
                 "baselines cannot be computed.")
    return w


def _valid_ranges(frame, use_t):
    v = {"pm": [0.0, round(float(frame["pm"].max()), 1)]}
    if frame["rh"].notna().any():
        v["rh"] = [round(float(frame["rh"].min()), 1), round(float(frame["rh"].max()), 1)]
    if use_t and frame["t"].notna().any():
        v["t"] = [round(float(frame["t"].min()), 1), round(float(frame["t"].max()), 1)]
    return v


def precision_summary(frame, chosen, daily_in, tz=None):
    """Between-sensor precision (EPA 2021) of the raw sensor and of the chosen
    correction's held-out predictions, on 24-h means.

    ``frame``: the workbench rows (device, pm, ref, pred_<model>). Raw and
    corrected are scored on the same hours (those with a held-out prediction
    of the chosen model), so the two numbers compare like with like."""
    devices = sorted(frame["device"].unique())
    out = {"targets": dict(validate.PRECISION_TARGETS), "sensors": len(devices), "model": chosen}
    if len(devices) < 2:
        out["note"] = ("precision between sensors not computed: it needs at least 2 co-located sensors of the same "
                       "kind (EPA's base test uses 3); only 1 device was given.")
        return out
    col = "pred_" + chosen
    f = frame[np.isfinite(frame[col].to_numpy(float))]
    if daily_in:
        ref = f.pivot_table(index=f.index, columns="device", values="ref").dropna()
        if len(ref) and float((ref.max(axis=1) - ref.min(axis=1)).max()) > 0.05:
            out["note"] = ("precision between sensors not computed: the %d devices are paired with different "
                           "reference values on the same day, so they are not co-located." % len(devices))
            return out
        d = f
    else:
        d = align.daily(f, cols=("pm", col), tz=tz)
    for name, c in (("raw", "pm"), (chosen, col)):
        tab = d.pivot_table(index=d.index, columns="device", values=c, dropna=False).reindex(columns=devices)
        out[name] = validate.precision(tab)
    p = out["raw"]
    if not p["days"]:
        out["note"] = ("precision between sensors not computed: no day on which all %d sensors have a valid 24-h "
                       "mean (>= 18 hours)." % len(devices))
    elif len(devices) < 3:
        out["note"] = ("precision from 2 sensors only (EPA's base test uses 3 identical sensors); %d days on which "
                       "both have a valid 24-h mean." % p["days"])
    else:
        out["note"] = "precision from %d sensors on %d days on which all have a valid 24-h mean." % (len(devices),
                                                                                                      p["days"])
    return out


def pm10_summary(pairs):
    """Raw sensor PM10 against the reference PM10 (24-h means, and hourly),
    judged against the EPA 2021 PM10 targets. No model is fitted."""
    if pairs.pm10 is None:
        return {"note": pairs.pm10_note or "PM10 targets skipped: no PM10 pairs."}
    h = pairs.pm10
    d = align.daily(h, cols=("pm10", "ref10"), tz=pairs.tz)
    m24 = validate.metrics(d["ref10"], d["pm10"])
    m1 = validate.metrics(h["ref10"], h["pm10"])
    out = {"sensor_field": pairs.pm10_field, "what": "raw sensor %s against reference PM10, no correction"
           % pairs.pm10_field, "metrics_24h": m24, "targets_24h": validate.meets_targets(m24, validate.TARGETS_PM10),
           "metrics_1h": m1, "targets_1h": validate.meets_targets(m1, validate.TARGETS_PM10),
           "targets": {"slope": [0.65, 1.35], "intercept": [-10.0, 10.0], "r2_min": 0.70, "rmse_max": 14.0,
                       "nrmse_max": 30.0}}
    devs = sorted(h["device"].unique())
    if len(devs) > 1:
        out["pooled"] = "%d devices pooled: each device-day is one 24-h pair" % len(devs)
        out["per_device_24h"] = {g: validate.metrics(d.loc[d["device"] == g, "ref10"], d.loc[d["device"] == g, "pm10"])
                                 for g in devs}
    if m24["n"] < 3:
        out["note"] = "PM10: only %d valid 24-h pairs (>= 18 hours); the 24-h metrics cannot be computed." % m24["n"]
    return out


def _common(recs, names):
    """The (device, origin, day) rows every named model predicted, as one frame
    with a pred_<name> column per model."""
    j = None
    for n in names:
        r = recs.get(n)
        if r is None:
            return None
        r = r.rename(columns={"pred": "pred_" + n})
        j = r if j is None else j.merge(r[["device", "origin", "day", "pred_" + n]], on=["device", "origin", "day"])
    return j


ROW_STEPS = ("without both", "missing humidity")     # steps that remove rows; the others set values missing


def dropped_rows(steps):
    """Every row removed, by reason: {reason: rows}. Only the steps that remove
    rows count (each row once); the steps that set values missing (A/B
    disagreement, impossible values, incomplete hours) are in
    ``values_set_missing``: their rows are among those removed later."""
    out = {}
    for st in steps:
        if st.get("removed") and any(k in st["step"] for k in ROW_STEPS):
            out[st["step"]] = st["removed"]
    return out


def values_set_missing(steps):
    """{reason: values} for the cleaning steps that set values missing
    (impossible values split by column and kind)."""
    out = {}
    for st in steps:
        if any(k in st["step"] for k in ROW_STEPS):
            continue
        if st.get("reasons"):
            out.update({"%s (%s)" % (st["step"].split(":")[0], k): v for k, v in st["reasons"].items()})
        elif st.get("removed"):
            out[st["step"]] = st["removed"]
    return out


def dead_channel_warnings(steps):
    """A stuck or unplugged PMS5003: said as a warning, with what it cost."""
    out = []
    for st in steps:
        if "channel" in st["step"] and " dead (" in st["step"]:
            what = st["step"][st["step"].index("channel", st["step"].index(";")):]
            out.append("%s: %d of %d hours were dropped by the A/B check. Check that sensor's cable and fan, or "
                       "replace it; until then the station reports one channel's values." % (
                           what[0].upper() + what[1:], st["removed"], st["remaining"]))
    return out


OLS_REF = "mlr_rh"          # the plain OLS every choice is held against
OLS_MARGIN = 1.05           # never more than 5 % worse than it, on either scale


def _scale_frames(recs, hrecs, live):
    """{scale: frame with ref, pred_<model>, device, day} on the rows every live model predicted."""
    out = {}
    j = _common(recs, live)
    if j is not None and len(j) >= 5:
        out["daily"] = j
    if hrecs:
        h = None
        for n in live:
            r = hrecs.get(n)
            if r is None:
                h = None
                break
            r = r.rename(columns={"pred": "pred_" + n})
            h = r if h is None else h.merge(r[["device", "origin", "row", "pred_" + n]], on=["device", "origin", "row"])
        if h is not None and len(h) >= 5:
            out["hourly"] = h
    return out


def _block_sums(j, live, days_dropped=0):
    """Per 7-day block of device-days: sums of squared errors per model and counts."""
    if days_dropped:
        last = j.groupby("device")["day"].transform("max")
        j = j[j["day"] <= last - days_dropped]
    blk = pd.factorize(j["device"].astype(str) + ":" + (j["day"] // forward.BLOCK_DAYS).astype(str))[0]
    ref = j["ref"].to_numpy(float)
    sse = np.stack([np.bincount(blk, weights=(j["pred_" + n].to_numpy(float) - ref) ** 2) for n in live])
    return sse, np.bincount(blk).astype(float)


def other_days(h, live, times, tz):
    """24-h means of the hourly forward records over UTC days instead of the
    local days (``tz``): the same forward fits, the other day boundary (>= 18
    hours a day). None without a local time zone."""
    if h is None or times is None or not tz or str(tz).upper() == "UTC":
        return None
    t = pd.DatetimeIndex(times)[h["row"].to_numpy()]
    udays = forward._day_index(t, "UTC")
    cols = ["ref"] + ["pred_" + n for n in live]
    g = h[["device", "origin"] + cols].assign(day=udays).groupby(["device", "origin", "day"])
    d = g[cols].mean()
    d = d[g.size() >= 18].reset_index()
    return d if len(d) >= 5 else None


def choose_for_use(recs, hrecs, pool, n_resamples=200, seed=0, times=None, tz=None):
    """The choice made for the use: candidates more than 5 % worse than a plain
    OLS on PM + RH on either scale (hourly values, 24-h means) in forward
    validation are not eligible; among the rest, the one that wins most often
    when the forward days are resampled (7-day blocks of days, with 0, 3 or 7
    of each device's last days left out, and with local days (``tz``) every
    other time UTC days) on the mean of its log RMSE ratios to OLS over the
    scales. Returns a dict (None when impossible)."""
    live = [n for n in pool if recs.get(n) is not None and len(recs[n]) >= 5]
    if not live:
        return None
    ols = OLS_REF if OLS_REF in live else ("linear" if "linear" in live else live[0])
    frames = _scale_frames(recs, hrecs, live)
    if not frames:
        return None
    ratios = {}
    for sc, j in frames.items():
        ref = j["ref"].to_numpy(float)
        r = {n: forward.rmse(j["pred_" + n].to_numpy(float) - ref) for n in live}
        ratios[sc] = {n: (r[n] / r[ols] if r[ols] else 1.0) for n in live}
    eligible = [n for n in live if all(ratios[sc][n] <= OLS_MARGIN for sc in frames)]
    if ols not in eligible:
        eligible.append(ols)
    rng = np.random.default_rng(seed)
    sums = {sc: [_block_sums(j, live, k) for k in (0, 3, 7)] for sc, j in frames.items()}
    alt = other_days(frames.get("hourly"), live, times, tz)
    if alt is not None and "daily" in frames:
        sums["daily_utc"] = [_block_sums(alt, live, k) for k in (0, 3, 7)]
    for sc in sums:     # a short record: leaving days out may leave nothing; then the variant uses every day
        sums[sc] = [v if len(v[1]) >= 2 else sums[sc][0] for v in sums[sc]]
    wins = dict.fromkeys(live, 0)
    io = live.index(ols)
    scores = np.full((n_resamples, len(live)), np.nan)
    for b in range(n_resamples):
        v = b % 3
        score = np.zeros(len(live))
        ok = np.ones(len(live), bool)
        for sc in frames:
            sse, cnt = sums["daily_utc" if sc == "daily" and "daily_utc" in sums and (b // 3) % 2 else sc][v]
            w = rng.multinomial(len(cnt), np.full(len(cnt), 1.0 / len(cnt)))
            mse = (sse @ w) / max(float(cnt @ w), 1.0)
            rr = np.sqrt(mse / mse[io]) if mse[io] > 0 else np.ones(len(live))
            ok &= rr <= OLS_MARGIN
            score += np.log(np.maximum(rr, 1e-12))
        scores[b] = score / len(frames)
        score[~ok] = np.inf
        wins[live[int(np.argmin(score))]] += 1
    share = {n: wins[n] / float(n_resamples) for n in live}
    winner = max(eligible, key=lambda n: (share[n], -pool.index(n)))
    chosen = winner
    iw = live.index(winner)
    for n in sorted(eligible, key=pool.index):      # a simpler model within the noise of the winner is preferred
        dlt = scores[:, live.index(n)] - scores[:, iw]
        if n == winner or float(np.mean(dlt)) <= float(np.std(dlt)):
            chosen = n
            break
    return {"chosen": chosen, "winner": winner, "ols": ols, "eligible": eligible, "ratio_to_ols": ratios, "win_share": share,
            "resamples": n_resamples, "scales": sorted(frames), "utc_days_variant": "daily_utc" in sums,
            "rule": "not more than %d %% worse than OLS on PM + RH (%s) on any scale; then the most frequent winner "
                    "over %d resamples of the forward days (7-day blocks; 0, 3 or 7 last days left out), or a simpler "
                    "model within the noise of it (mean log RMSE ratio over the scales within one resampling SD)%s"
                    % (round((OLS_MARGIN - 1) * 100), ols, n_resamples,
                       "; 24-h means over local days, and over UTC days every other resample" if "daily_utc" in sums
                       else "")}


def forward_summary(recs, w_days, pool, horizon_days, n_boot=500, seed=0, hrecs=None, times=None, tz=None):
    """Forward RMSE of every model (on the rows all of them predicted), on
    24-h means and (hourly input) on hours, the horizon curve, and the choice
    made for the use (``choose_for_use``)."""
    out = {"method": "expanding windows from the first %s days on; each fit predicts every later day" % w_days,
           "window_days": w_days, "horizon_days": int(horizon_days), "models": {}}
    sparse = [n for n in ("gbm",) if n in recs]     # fitted at a few origins only: scored on its own rows
    live = [n for n in recs if recs[n] is not None and len(recs[n]) >= 5 and n not in sparse]
    fpool = [n for n in pool if n in live]
    if not fpool:
        out.update(chosen_by="blocked", why="the record is too short for a fit window and days after it "
                                            "(need at least %d days)" % 9)
        return out
    frames = _scale_frames(recs, hrecs, live)
    j = frames.get("daily")
    if j is None:
        out.update(chosen_by="blocked", why="too few days predicted by every model")
        return out
    h = frames.get("hourly")
    for n in live:
        m = validate.metrics(j["ref"], j["pred_" + n])
        curve = forward.horizon_curve(j[["device", "origin", "day", "horizon", "ref"]].assign(pred=j["pred_" + n]))
        out["models"][n] = {"rmse": m["rmse"], "nrmse": m["nrmse"], "bias": m["bias"], "r2": m["r2"], "n": m["n"],
                            "horizon_curve": curve}
        if h is not None:
            mh = validate.metrics(h["ref"], h["pred_" + n])
            out["models"][n]["hourly"] = {"rmse": mh["rmse"], "nrmse": mh["nrmse"], "bias": mh["bias"],
                                          "r2": mh["r2"], "n": mh["n"]}
    ch = choose_for_use({n: recs[n] for n in fpool}, {n: hrecs[n] for n in fpool} if h is not None else None,
                        fpool, seed=seed, times=times, tz=tz)
    chosen = ch["chosen"]
    best = min(fpool, key=lambda n: out["models"][n]["rmse"])
    for n in sparse:
        r = recs[n]
        if r is None or len(r) < 5:
            continue
        k = r.merge(recs[chosen][["device", "origin", "day", "pred"]].rename(columns={"pred": "pred_chosen"}),
                    on=["device", "origin", "day"])
        m = validate.metrics(k["ref"], k["pred"])
        out["models"][n] = {"rmse": m["rmse"], "nrmse": m["nrmse"], "bias": m["bias"], "r2": m["r2"], "n": m["n"],
                            "horizon_curve": forward.horizon_curve(r), "origins": int(r["origin"].nunique()),
                            "chosen_rmse_same_rows": validate.metrics(k["ref"], k["pred_chosen"])["rmse"]}
    out.update(chosen_by="forward", best=chosen, lowest=best, rows=int(len(j)), selection=ch,
               origins=int(j[["device", "origin"]].drop_duplicates().shape[0]))
    inel = [n for n in fpool if n not in ch["eligible"]]
    if inel:
        out["selection_note"] = ("not eligible, more than 5 %% worse than %s on %s: %s." % (
            ch["ols"], " or ".join("hourly values" if sc == "hourly" else "24-h means" for sc in ch["scales"]),
            ", ".join("%s (%s)" % (n, ", ".join("x%.2f %s" % (ch["ratio_to_ols"][sc][n], sc) for sc in ch["scales"]))
                      for n in inel)))
    return out


def forward_caveat(fwd, rec, daily_ref, blocked) -> str | None:
    """Never claim skill the validation did not show: the forward score only covers the days after
    the first fit window. When those days never reached the record's high concentrations, or the
    chosen model's interleaved-block error lies above the forward interval, say so in plain words."""
    iv = fwd.get("interval")
    if not iv or rec is None or not len(rec):
        return None
    ref_all = pd.to_numeric(pd.Series(daily_ref), errors="coerce").dropna()
    ref_fwd = pd.to_numeric(rec["ref"], errors="coerce").dropna()
    if not len(ref_all) or not len(ref_fwd):
        return None
    top_all, top_fwd = float(ref_all.max()), float(ref_fwd.max())
    b = blocked.get("rmse")
    parts = []
    if top_all > 25 and top_fwd < 0.8 * top_all:
        parts.append("the days scored forward reached reference 24-h means of %.0f ug/m3 at most, the record %.0f: "
                     "the forward score says nothing about how the correction does when the air is bad"
                     % (top_fwd, top_all))
    if b is not None and np.isfinite(b) and b > iv["ci95"][1]:
        parts.append("on interleaved blocks, which include every day of the record, its 24-h RMSE is %.2f ug/m3, "
                     "above the forward interval (%.2f .. %.2f)" % (b, iv["ci95"][0], iv["ci95"][1]))
    if not parts:
        return None
    return ("caution: " + "; ".join(parts) + ". Treat the expected error as optimistic; a longer co-location "
            "(with a smoky or hazy spell after the first weeks) gives a forward score that covers it.")


def forward_chosen(rec, horizon_days, frame, fgroups, fwd, hrec=None, train=None, final_days=None):
    """The chosen model's forward figures for the next ``horizon_days`` days,
    on both scales (24-h means; hourly values for hourly input), per device
    when there are several, and the recalibration advice."""
    out = {}
    if rec is None or fwd.get("chosen_by") != "forward":
        out["interval"] = None
        out["advice"] = forward.advice([])
        return out

    train = train or {}

    def scales(r, rh):
        sc = {"daily": forward.interval(r, horizon_days, unit="24-h means", train=train.get("daily"),
                                        final_days=final_days)}
        if rh is not None:
            sc["hourly"] = forward.interval(rh, horizon_days, unit="hourly values", train=train.get("hourly"),
                                            final_days=final_days)
        return sc
    out["scales"] = scales(rec, hrec)
    out["interval"] = out["scales"]["daily"]
    out["carried"] = "hourly" if hrec is not None else "daily"
    out["value_errors"] = {"daily": forward.value_errors(rec, unit="24-h mean", min_n=10)}
    if hrec is not None:
        out["value_errors"]["hourly"] = forward.value_errors(hrec, unit="hour")
    devs = np.unique(fgroups)
    if len(devs) > 1:
        # one device's few weeks are too few to judge its own error: each device's interval is the pooled one,
        # widened by the spread between the devices (forward.interval's between-device term)
        out["per_device"] = {str(g): out["interval"] for g in devs}
    curve = forward.horizon_curve(rec)
    out["horizon_curve"] = curve
    out["advice"] = forward.advice(curve, rec)
    return out


def run(pairs, k=5, flexible=True, per_device=True, n_boot=500, seed=0, horizon_days=28, progress=None):
    """Validate all candidates on ``pairs`` (align.Pairs); returns a Result.

    ``horizon_days``: the period of use after the co-location the forward
    interval is stated for. ``progress``: optional callable(step_text)."""
    say = progress or (lambda text: None)
    f = pairs.frame.copy()
    has_rh = bool(f["rh"].notna().mean() > 0.9)
    has_t = bool(f["t"].notna().mean() > 0.9)
    need = ["pm", "ref"] + (["rh"] if has_rh else []) + (["t"] if has_t else [])
    before = len(f)
    f = f.dropna(subset=need)
    steps = [s.as_dict() for s in pairs.steps]
    steps.append({"step": "pairs missing humidity/temperature", "removed": before - len(f), "remaining": len(f)})
    if len(f) < 20:
        from airkit.errors import UserError
        raise UserError("only %d usable pairs after cleaning; a calibration needs at least a few days of overlapping "
                        "sensor and reference data." % len(f))
    X = f[["pm", "rh", "t"]]
    y = f["ref"].to_numpy(float)
    groups = f["device"].to_numpy(str)
    multi = len(np.unique(groups)) > 1
    daily_in = pairs.freq == "24h"
    gap = pd.Timedelta("1D")
    folds = validate.time_blocks(f.index, k=k, gap=gap)
    min_train = 14 if daily_in else 14 * 24 // 2

    base = models.baselines(has_rh)
    cands = models.candidates(has_rh, has_t, flexible)
    preds, titles, kinds = {}, {}, {}
    for m in base:
        preds[m.name] = m.fit().predict(X)
        titles[m.name], kinds[m.name] = m.title, "baseline"
    dropped = {}
    notes = list(pairs.notes)
    for m in list(cands):
        def make(m=m):
            return models.clone(m)
        grp = groups if (per_device and multi) else None
        say("time-block validation: %s" % m.name)
        try:
            with np.errstate(all="ignore"):
                p = validate.held_out(make, X, y, folds, groups=grp, min_train=min_train)
            if not np.isfinite(p).any():
                raise models.FitError("no finite prediction")
        except Exception as e:  # never crash on real data: drop the candidate, say why
            why = "%s: %s" % (type(e).__name__, (str(e).splitlines() or [""])[0][:160])
            dropped[m.name] = why
            notes.append("candidate %s dropped: its fit failed (%s)." % (m.name, why))
            cands.remove(m)
            continue
        preds[m.name] = p
        titles[m.name], kinds[m.name] = m.title, "fitted" if m.device_ok else "comparison"

    scored = np.all([np.isfinite(p) for p in preds.values()], axis=0)
    days = validate.day_codes(f.index[scored], tz=pairs.tz)
    res_h = {n: validate.metrics(y[scored], p[scored]) for n, p in preds.items()}
    ci, samples = validate.bootstrap(y[scored], {n: p[scored] for n, p in preds.items()}, days, n_boot=n_boot,
                                     seed=seed)
    out_models = {}
    for n in preds:
        out_models[n] = {"title": titles[n], "type": kinds[n], "heldout": res_h[n], "ci95": ci[n],
                         "targets": validate.meets_targets(res_h[n])}

    # 24-h metrics from held-out hourly predictions.
    daily_frame = None
    if not daily_in:
        hf = f[scored].copy()
        for n, p in preds.items():
            hf["pred_" + n] = p[scored]
        cols = ["ref"] + ["pred_" + n for n in preds]
        daily_frame = align.daily(hf, cols=cols, tz=pairs.tz)
        for n in preds:
            m24 = validate.metrics(daily_frame["ref"], daily_frame["pred_" + n])
            out_models[n]["heldout_24h"] = m24
            out_models[n]["targets_24h"] = validate.meets_targets(m24)

    # Blocked choice (interleaved blocks; kept beside the forward score).
    pool = [n for n in ORDER if n in preds]
    best = min(pool, key=lambda n: res_h[n]["rmse"])
    blocked_choice = best
    for n in pool:
        diff = samples[n] - samples[best]
        se = float(np.nanstd(diff))
        out_models[n]["rmse_minus_best"] = float(res_h[n]["rmse"] - res_h[best]["rmse"])
        out_models[n]["rmse_diff_se"] = se
    for n in pool:
        if out_models[n]["rmse_minus_best"] <= out_models[n]["rmse_diff_se"]:
            blocked_choice = n
            break

    # Forward validation: fit on a past window, predict every later day (the headline score).
    say("forward validation (fit on the past, predict the future)")
    fw_models = {n: (lambda m=m: models.clone(m)) for m in base + cands for n in [m.name]
                 if n in pool or n == "raw" or n == "gbm"}
    fgroups = groups if (per_device and multi) else np.array(["all"] * len(groups))
    hrecs = {}
    recs, w_days = forward.run(fw_models, X, y, f.index, fgroups, hourly=not daily_in, notes=notes, tz=pairs.tz,
                               progress=say, sparse={"gbm": 3}, hourly_out=hrecs)
    fwd = forward_summary(recs, w_days, pool, horizon_days, n_boot, seed, hrecs=hrecs or None, times=f.index,
                          tz=pairs.tz)
    if fwd["chosen_by"] == "forward":
        chosen = fwd["best"]
        # the note names the model best in the table the summary shows (24-h means for hourly input)
        tkey = "heldout_24h" if not daily_in else "heldout"
        tab = {n: (out_models[n].get(tkey) or out_models[n]["heldout"])["rmse"] for n in pool}
        tbest = min((n for n in pool if tab[n] is not None), key=lambda n: tab[n], default=None)
        if tbest is not None and tbest != chosen:
            notes.append("%s has the lowest interleaved-block RMSE in the table (%.2f vs %.2f for %s), but the choice "
                         "is made forward (fitted on the past, scored on the future) for the use: %s (forward "
                         "24-h RMSE %.2f vs %.2f)."
                         % (tbest, tab[tbest], tab[chosen], chosen, chosen, fwd["models"][chosen]["rmse"],
                            fwd["models"][tbest]["rmse"] if tbest in fwd["models"] else float("nan")))
        if fwd.get("selection_note"):
            notes.append(fwd["selection_note"])
    else:
        chosen = blocked_choice
        notes.append("forward validation impossible (%s): the model is chosen on interleaved time blocks, which "
                     "overstate how well it holds up afterwards." % fwd["why"])
        res_c = res_h
        if daily_frame is not None and len(daily_frame) >= 5:
            # choose on the 24-h means the summary's table shows (as the forward score would), not on hours:
            # an hourly fit can win on hours by following a time shift and still be worse on every day
            d24 = daily_frame.dropna(subset=["ref"] + ["pred_" + n for n in pool])
            if len(d24) >= 5:
                res_c = {n: validate.metrics(d24["ref"], d24["pred_" + n]) for n in pool}
                _, s24 = validate.bootstrap(d24["ref"].to_numpy(float),
                                            {n: d24["pred_" + n].to_numpy(float) for n in pool},
                                            np.arange(len(d24)), n_boot=n_boot, seed=seed)
                best = min(pool, key=lambda n: res_c[n]["rmse"])
                chosen = best
                for n in pool:
                    if res_c[n]["rmse"] - res_c[best]["rmse"] <= float(np.nanstd(s24[n] - s24[best])):
                        chosen = n
                        break
        if chosen != best:
            notes.append("%s had the lowest held-out RMSE (%.2f) but %s (%.2f) is within the noise and simpler, "
                         "so it was chosen." % (best, res_c[best]["rmse"], chosen, res_c[chosen]["rmse"]))
    if "gbm" in preds:
        # quoted on the scale of the summary's table (24-h means for hourly input), never hours beside days
        tkey = "heldout_24h" if not daily_in else "heldout"
        scale = "24-h" if not daily_in else "daily"
        tv = {n: (out_models[n].get(tkey) or out_models[n]["heldout"])["rmse"] for n in ("gbm", chosen)}
        d = samples["gbm"] - samples[chosen]
        lo = float(np.nanquantile(d, 0.975))
        better = lo < 0 and tv["gbm"] is not None and tv[chosen] is not None and tv["gbm"] < tv[chosen]
        g_f, c_f = fwd["models"].get("gbm", {}).get("rmse"), fwd["models"].get("gbm", {}).get("chosen_rmse_same_rows")
        if better and g_f is not None and c_f is not None and g_f >= c_f:
            notes.append("the gradient-boosting comparison model only wins on interleaved blocks (held-out %s RMSE "
                         "%.2f vs %.2f): forward, fitted on the past, it does no better (24-h RMSE %.2f vs %.2f)."
                         % (scale, tv["gbm"], tv[chosen], g_f, c_f))
        elif better:
            notes.append("the gradient-boosting comparison model is clearly better (held-out %s RMSE %.2f vs %.2f) but "
                         "cannot run on the device; consider more data or a richer device model."
                         % (scale, tv["gbm"], tv[chosen]))
        else:
            notes.append("the gradient-boosting comparison model is %s %s (held-out %s RMSE %.2f vs %.2f), so nothing "
                         "is lost by using the simple formula on the device."
                         % ("no better than" if tv["gbm"] >= tv[chosen] else "not clearly better than", chosen, scale,
                            tv["gbm"], tv[chosen]))
    if chosen == "epa_2021" and not [n for n in pool if n != "epa_2021"]:
        notes.append("no correction could be fitted on these data (every candidate's fit failed, see above): the "
                     "device keeps the EPA 2021 US-wide equation; co-locate for at least 14 days to fit and check "
                     "a correction.")
    elif chosen == "epa_2021":
        notes.append("no fitted model beat the EPA 2021 US-wide equation beyond the noise: the device keeps EPA 2021.")
    fwd["chosen"] = chosen
    train, final_days = None, None
    if fwd["chosen_by"] == "forward":
        say("forward validation: training length (%s)" % chosen)
        proto_c = next((m for m in base + cands if m.name == chosen))
        with np.errstate(all="ignore"):
            train = forward.training_length(lambda: models.clone(proto_c), X, y, f.index, fgroups,
                                            hourly=not daily_in, tz=pairs.tz)
        final_days = float(np.mean([forward._day_index(f.index[fgroups == g], pairs.tz).max() + 1
                                    for g in np.unique(fgroups)]))
    fwd.update(forward_chosen(recs.get(chosen), horizon_days, f, fgroups, fwd, hrec=hrecs.get(chosen), train=train,
                              final_days=final_days))
    caveat = forward_caveat(fwd, recs.get(chosen), daily_frame["ref"] if daily_frame is not None else f["ref"],
                            out_models[chosen].get("heldout_24h") or out_models[chosen]["heldout"])
    if caveat:
        fwd["caveat"] = caveat

    # By-device validation: transfer to a device the model never saw.
    by_dev = None
    if multi:
        by_dev = {}
        for m in cands:
            if not m.device_ok:
                continue
            p = validate.by_device(lambda m=m: models.clone(m), X, y, groups)
            by_dev[m.name] = validate.metrics(y, p)
        by_dev["epa_2021"] = res_h.get("epa_2021")

    # Final fit on all rows.
    use_t = chosen == "mlr_rh_t"
    proto = next((m for m in base + cands if m.name == chosen))
    final = models.clone(proto).fit(X, y)
    per_dev = {}
    if multi and per_device and chosen != "epa_2021":
        for g in np.unique(groups):
            sel = groups == g
            if sel.sum() >= min_train:
                per_dev[g] = (models.clone(proto).fit(X[sel], y[sel]), _valid_ranges(f[sel], use_t), int(sel.sum()))

    cov = coverage(f, pairs.freq)
    warns = dead_channel_warnings(steps) + warnings_for(cov)
    if scored.sum() < len(f):
        notes.append("%d rows could not be scored by every model (no training data before/after them) and are left "
                     "out of all scores." % int(len(f) - scored.sum()))
    primary = "heldout_24h" if not daily_in else "heldout"
    fr = f.copy()
    for n, p in preds.items():
        fr["pred_" + n] = p
    fr["scored"] = scored
    summary = {
        "precision": precision_summary(fr, chosen, daily_in, tz=pairs.tz),
        "days": ("24-h means over local days (%s)" % pairs.tz) if pairs.tz and pairs.tz.upper() != "UTC" and not daily_in
        else ("24-h means over UTC days" if not daily_in else "daily values as given in the file"),
        "pm10": pm10_summary(pairs),
        "chosen": chosen,
        "chosen_title": titles[chosen],
        "primary_freq": pairs.freq,
        "forward": fwd,
        "dropped_rows": dropped_rows(steps),
        "values_set_missing": values_set_missing(steps),
        "dropped_candidates": dropped,
        "validation": {"method": "contiguous time blocks", "folds": len(folds), "gap_hours": 24,
                       "per_device_fit": bool(per_device and multi), "bootstrap": "%d day-block resamples" % n_boot,
                       "scored_rows": int(scored.sum())},
        "models": out_models,
        "by_device": by_dev,
        "coverage": cov,
        "warnings": warns,
        "notes": notes,
        "steps": steps,
        "lag": pairs.lag,
        "valid": _valid_ranges(f, use_t),
        "improvement_vs_epa_2021": (1 - res_h[chosen]["rmse"] / res_h["epa_2021"]["rmse"]) if "epa_2021" in res_h else None,
        "primary_metrics": primary,
    }
    return Result(summary, fr, daily_frame, final, per_dev, recs, hrecs or None)
