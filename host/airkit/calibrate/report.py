"""A self-contained HTML report with PNG figures a volunteer can read.

Why this exists: numbers convince nobody at a community meeting; a scatter
plot on the 1:1 line does. Figures: before/after scatter with the 1:1 line,
time series (sensor, corrected, reference), residuals against humidity and
against concentration, the lag curve, and the metrics table against the EPA
targets. PNGs are written beside the HTML and embedded in it (base64), so
the page can be mailed as one file.
"""

import base64
import html
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from . import validate  # noqa: E402

plt.rcParams.update({"font.size": 12, "axes.titlesize": 14, "axes.labelsize": 12, "legend.fontsize": 11,
                     "figure.dpi": 100, "axes.grid": True, "grid.alpha": 0.3})
COLORS = {"raw": "#999999", "epa_2021": "#1f77b4", "chosen": "#d62728", "ref": "#000000"}
UG = "µg/m³"


def _save(fig, out, name):
    path = os.path.join(out, name)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def fig_scatter(res, out):
    f = res.daily if res.daily is not None and len(res.daily) >= 5 else res.pairs[res.pairs["scored"]]
    per = "24-h means" if f is res.daily or res.summary["primary_freq"] == "24h" else "hourly"
    chosen = res.summary["chosen"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.2), sharex=True, sharey=True)
    hi = float(np.nanmax([f["ref"].max(), f["pred_raw"].max(), f["pred_" + chosen].max()])) * 1.05
    for ax, name, title in ((axes[0], "raw", "Before: raw sensor (CF=1)"),
                            (axes[1], chosen, "After: %s (held-out)" % chosen)):
        if name != "raw" and chosen != "epa_2021":
            ax.scatter(f["ref"], f["pred_epa_2021"], s=10, alpha=0.35, color=COLORS["epa_2021"], label="EPA 2021")
        ax.scatter(f["ref"], f["pred_" + name], s=12, alpha=0.6, color=COLORS["raw" if name == "raw" else "chosen"],
                   label="raw sensor" if name == "raw" else chosen)
        ax.plot([0, hi], [0, hi], "k--", lw=1.5, label="1:1 (perfect)")
        m = validate.metrics(f["ref"], f["pred_" + name])
        ax.set_title(title)
        ax.text(0.03, 0.97, "RMSE %.1f %s\nR² %.2f  slope %.2f" % (m["rmse"], UG, m["r2"], m["slope"]),
                transform=ax.transAxes, va="top", fontsize=12,
                bbox=dict(facecolor="white", alpha=0.85, edgecolor="#cccccc"))
        ax.set_xlabel("reference PM2.5 (%s)" % UG)
        ax.legend(loc="lower right")
    axes[0].set_ylabel("sensor PM2.5 (%s)" % UG)
    axes[0].set_xlim(0, hi)
    axes[0].set_ylim(0, hi)
    fig.suptitle("Sensor against reference, %s" % per)
    return _save(fig, out, "scatter.png")


def with_gaps(g, freq):
    """The rows on a regular time grid (missing steps as NaN), so a line plot
    breaks at a gap instead of drawing a straight line across it."""
    if len(g) < 2:
        return g
    idx = g.index
    grid = idx.floor(freq) if freq == "1h" else idx.normalize()
    g = g[~grid.duplicated()]
    full = pd.date_range(grid.min(), grid.max(), freq=freq, tz=idx.tz)
    return g.set_axis(grid[~grid.duplicated()]).reindex(full)


def fig_timeseries(res, out):
    chosen = res.summary["chosen"]
    f = res.pairs
    devs = f["device"].unique()
    dev = f["device"].value_counts().index[0]
    g = f[f["device"] == dev].sort_index()
    if res.summary["primary_freq"] == "1h" and len(g) > 24 * 60:
        g = g.iloc[-24 * 60:]
    g = with_gaps(g, "1h" if res.summary["primary_freq"] == "1h" else "1D")
    fig, ax = plt.subplots(figsize=(12, 4.8))
    ax.plot(g.index, g["pm"], color=COLORS["raw"], lw=1, label="sensor raw")
    ax.plot(g.index, g["pred_" + chosen], color=COLORS["chosen"], lw=1.3, label="corrected (%s, held-out)" % chosen)
    ax.plot(g.index, g["ref"], color=COLORS["ref"], lw=1.3, label="reference")
    ax.set_ylabel("PM2.5 (%s)" % UG)
    ax.set_title("Time series" + (" (device %s of %d)" % (dev, len(devs)) if len(devs) > 1 else ""))
    ax.legend(loc="upper right")
    fig.autofmt_xdate()
    return _save(fig, out, "timeseries.png")


def fig_residuals(res, out):
    chosen = res.summary["chosen"]
    f = res.pairs[res.pairs["scored"]]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), sharey=True)
    for name, color in (("epa_2021", COLORS["epa_2021"]), (chosen, COLORS["chosen"])):
        if "pred_" + name not in f or (name == "epa_2021" and chosen == "epa_2021" and color == COLORS["chosen"]):
            continue
        r = f["pred_" + name] - f["ref"]
        if f["rh"].notna().any():
            axes[0].scatter(f["rh"], r, s=8, alpha=0.35, color=color, label=name)
        axes[1].scatter(f["ref"], r, s=8, alpha=0.35, color=color, label=name)
    for ax in axes:
        ax.axhline(0, color="k", lw=1.2)
        ax.legend(loc="upper left", markerscale=2)
    axes[0].set_xlabel("relative humidity (%)")
    axes[0].set_ylabel("corrected − reference (%s)" % UG)
    axes[0].set_title("Error against humidity")
    axes[1].set_xlabel("reference PM2.5 (%s)" % UG)
    axes[1].set_title("Error against concentration")
    return _save(fig, out, "residuals.png")


def fig_lag(res, out):
    lag = res.summary.get("lag")
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    if not lag:
        ax.text(0.5, 0.5, "Lag check not applicable\n(the input already pairs daily means)", ha="center",
                va="center", fontsize=14, transform=ax.transAxes)
        ax.set_axis_off()
    else:
        ax.plot(lag["lags"], lag["r"], "o-", color=COLORS["epa_2021"])
        ax.axvline(0, color="k", lw=1)
        ax.plot([lag["best"]], [lag["r_best"]], "o", color=COLORS["chosen"], ms=12,
                label="best: %+d h (r = %.3f)" % (lag["best"], lag["r_best"]))
        ax.set_xlabel("hours added to the reference time")
        ax.set_ylabel("correlation r (hourly)")
        ax.set_title("Time check: should peak at 0 h (applied: %+d h)" % lag["applied"])
        ax.legend(loc="lower center")
    return _save(fig, out, "lag.png")


def fig_horizon(res, out):
    """Forward RMSE (24-h means) against days after the fit window, for the
    chosen model, EPA 2021 and raw; the EPA 7 ug/m3 line; the interval stated
    for the period of use."""
    f = res.summary.get("forward") or {}
    fig, ax = plt.subplots(figsize=(11, 5))
    if f.get("chosen_by") != "forward":
        ax.text(0.5, 0.5, "Forward validation not possible\n(%s)" % f.get("why", "no data"), ha="center",
                va="center", fontsize=14, transform=ax.transAxes)
        ax.set_axis_off()
        return _save(fig, out, "horizon.png")
    chosen = res.summary["chosen"]
    names = [n for n in ("raw", "epa_2021", chosen) if n in f["models"]] + \
        [n for n in ("linear", "mlr_rh", "kappa", "mlr_rh_t", "gbm") if n in f["models"] and n != chosen]
    top = 0.0
    for n in dict.fromkeys(names):
        curve = f["models"][n]["horizon_curve"]
        if not curve:
            continue
        x = [(r["from_day"] + r["to_day"]) / 2 for r in curve]
        y = [r["rmse"] for r in curve]
        style = dict(color=COLORS.get(n, None), lw=3, marker="o", ms=8) if n == chosen else \
            dict(color=COLORS.get(n, None), lw=1.5, marker="o", ms=5, alpha=0.8)
        if n == chosen:
            style["color"] = COLORS["chosen"]
        elif n not in COLORS:
            style["ls"] = "--"
        ax.plot(x, y, label=("%s (chosen)" % n) if n == chosen else n, **style)
        top = max(top, max(y))
    ax.axhline(7.0, color="#2ca02c", lw=1.5, ls=":", label="EPA target: RMSE 7 %s" % UG)
    iv = f.get("interval")
    if iv:
        h = iv["horizon_days"]
        ax.errorbar([h / 2], [iv["rmse"]], yerr=[[iv["rmse"] - iv["ci95"][0]], [iv["ci95"][1] - iv["rmse"]]],
                    fmt="s", color="k", capsize=6, ms=8, label="expected over the next %d days (95 %%)" % h)
        top = max(top, iv["ci95"][1])
    ax.set_ylim(0, max(8.0, top * 1.15))
    far = max(r["to_day"] for m in f["models"].values() for r in m["horizon_curve"]) if f["models"] else 0
    if far > 90:
        ax.set_xscale("symlog", linthresh=14)
    ax.set_xlim(left=0)
    ax.set_xlabel("days after the end of the fit window (horizon)")
    ax.set_ylabel("RMSE of 24-h means (%s)" % UG)
    ax.set_title("How the correction holds up after the co-location (fitted on the past, scored on the future)")
    ax.legend(loc="upper left", fontsize=10, ncol=2)
    return _save(fig, out, "horizon.png")


def _forward_html(s):
    f = s.get("forward") or {}
    if f.get("chosen_by") != "forward":
        return "<p>Forward validation was not possible: %s.</p>" % html.escape(f.get("why", "no data"))
    rows = "".join("<tr%s><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>" % (
        ' class="chosen"' if n == s["chosen"] else "", html.escape(n), _fmt(m["rmse"]), _fmt(m["nrmse"], 0),
        _fmt((m.get("hourly") or {}).get("rmse")),
        _fmt(s["models"].get(n, {}).get("heldout_24h", s["models"].get(n, {}).get("heldout", {})).get("rmse")),
        " · ".join("%d–%d d: %s" % (r["from_day"], r["to_day"], _fmt(r["rmse"])) for r in m["horizon_curve"]))
        for n, m in f["models"].items())
    ivs = scales_html(f)
    if f.get("caveat"):
        ivs += '<p class="warn"><b>%s</b></p>' % html.escape(f["caveat"][0].upper() + f["caveat"][1:])
    adv = (f.get("advice") or {}).get("text", "")
    sel = f.get("selection") or {}
    share = ", ".join("%s %.0f %%" % (html.escape(n), v * 100) for n, v in (sel.get("win_share") or {}).items())
    return ("<p>%s. The model is chosen for the use: %s. Wins under resampling: %s.</p>"
            "<table><tr><th>model</th><th>forward RMSE (24-h)</th><th>NRMSE %%</th><th>forward RMSE (hourly)</th>"
            "<th>blocked RMSE</th><th>by horizon (days after the fit window)</th></tr>%s</table>%s"
            "<p><b>Recalibration:</b> %s</p>" % (html.escape(f["method"][0].upper() + f["method"][1:]),
                                                 html.escape(sel.get("rule", "")), share or "–", rows, ivs,
                                                 html.escape(adv)))


def scales_html(f):
    """The forward error, interval and drift of hourly values and of 24-h means, side by side."""
    sc = f.get("scales") or {}
    if not sc.get("daily"):
        return ""
    cols = [k for k in ("hourly", "daily") if sc.get(k)]
    name = {"hourly": "hourly values", "daily": "24-h means"}
    carried = f.get("carried", "daily")

    def cell(k, fn):
        return "".join("<td>%s</td>" % fn(sc[c]) for c in cols)
    rows = [("values", lambda v: html.escape(v["values"]) + (" (what the station's readings carry)"
                                                            if v["values"].startswith(carried[:4]) else "")),
            ("forward RMSE as measured", lambda v: "%s %s" % (_fmt(v["forward_rmse_as_measured"]), UG)),
            ("expected RMSE over the next %d days" % sc["daily"]["horizon_days"],
             lambda v: "<b>%s %s</b>" % (_fmt(v["rmse"]), UG)),
            ("95 % interval", lambda v: "%s – %s (upper/lower ×%s)" % (_fmt(v["ci95"][0]), _fmt(v["ci95"][1]),
                                                                    _fmt(v["ratio"], 1))),
            ("error growth per day of horizon", lambda v: "%s µg²/m⁶ (95 %%: %s … %s)%s" % (
                _fmt(v["growth_per_day"], 3), _fmt(v["growth_ci95"][0], 3), _fmt(v["growth_ci95"][1], 3),
                "" if v["growth_applied"] else ", not applied")),
            ("days scored forward / correlation time", lambda v: "%d / %s d" % (v["record_days"],
                                                                             _fmt(v["correlation_days"], 1)))]
    body = "".join("<tr><td>%s</td>%s</tr>" % (html.escape(lab), cell(lab, fn)) for lab, fn in rows)
    notes = "".join("<p>%s: %s</p>" % (html.escape(name[c]), html.escape(sc[c]["too_short"]))
                    for c in cols if sc[c].get("too_short"))
    out = ("<table><tr><th></th>%s</tr>%s</table>" % ("".join("<th>%s</th>" % name[c] for c in cols), body) + notes
           + "<p>The station's readings carry the <b>%s</b> figure: a corrected %s is typically about %s %s from what "
             "the reference monitor would report. The interval is log-normal for the mean squared error: the "
             "record's own estimate and the period of use each add their spread (heavy tails and day-to-day "
             "correlation included).</p>" % (name[carried], "hourly value" if carried == "hourly" else "24-h mean",
                                             _fmt(sc[carried]["rmse"]), UG))
    ve = (f.get("value_errors") or {}).get(carried)
    if ve and ve.get("bins"):
        out += ("<p>A prediction interval for each value (%s): the corrected value ± 1.96 × the RMSE of its bin "
                "(forward errors):</p><table><tr><th>corrected value</th><th>humidity</th><th>n</th><th>RMSE</th>"
                "<th>bias</th></tr>%s</table>" % (html.escape(ve["unit"]), "".join(
                    "<tr><td>%s</td><td>%s</td><td>%d</td><td>%s</td><td>%s</td></tr>" % (
                        _range(b["pred_from"], b["pred_to"], UG), _range(b["rh_from"], b["rh_to"], "%"), b["n"],
                        _fmt(b["rmse"]), _fmt(b["bias"])) for b in ve["bins"])))
    return out


def _range(lo, hi, unit):
    if lo is None:
        return "< %g %s" % (hi, unit)
    if hi is None:
        return "≥ %g %s" % (lo, unit)
    return "%g – %g %s" % (lo, hi, unit)


def _fmt(v, nd=2):
    return "–" if v is None or v != v else ("%.*f" % (nd, v))


def _metrics_table(summary, key, tkey):
    rows = []
    head = ("<tr><th>model</th><th>RMSE</th><th>95 % interval</th><th>NRMSE %</th><th>MAE</th><th>bias</th>"
            "<th>R²</th><th>slope</th><th>intercept</th><th>EPA targets</th></tr>")
    for name, m in summary["models"].items():
        h = m.get(key)
        if not h:
            continue
        t = m.get(tkey) or {}
        ci = m["ci95"]["rmse"] if key == "heldout" else None
        mark = "✔ all met" if t.get("all") else ("✘ missed: " + ", ".join(k for k, v in t.items() if not v and k != "all"))
        cls = ' class="chosen"' if name == summary["chosen"] else ""
        rows.append("<tr%s><td>%s<br><small>%s</small></td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
                    "<td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>"
                    % (cls, html.escape(name), html.escape(m["title"]), _fmt(h["rmse"]),
                       ("%s – %s" % (_fmt(ci[0]), _fmt(ci[1]))) if ci else "", _fmt(h["nrmse"], 0), _fmt(h["mae"]),
                       _fmt(h["bias"]), _fmt(h["r2"]), _fmt(h["slope"]), _fmt(h["intercept"]), mark))
    return "<table>%s%s</table>" % (head, "".join(rows))


def _precision_table(p):
    """Between-sensor precision against the EPA 2021 target."""
    if not p:
        return ""
    head = ("<h3>Precision between identical sensors (24-hour means)</h3><p>EPA 2021 target: SD ≤ %g %s or "
            "CV ≤ %g %%, over the days on which every sensor has a valid 24-h mean.</p>"
            % (p["targets"]["sd"], UG, p["targets"]["cv"]))
    rows = []
    for name in ("raw", p["model"]):
        q = p.get(name)
        if not q or q.get("sd") is None:
            continue
        rows.append("<tr><td>%s</td><td>%d</td><td>%d</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>"
                    % (html.escape("raw sensor" if name == "raw" else "%s (held-out)" % name), q["sensors"], q["days"],
                       _fmt(q["mean"]), _fmt(q["sd"]), _fmt(q["cv"], 1), "✔ met" if q["meets"] else "✘ missed"))
    table = ("<table><tr><th>values</th><th>sensors</th><th>days</th><th>mean</th><th>SD</th><th>CV %%</th>"
             "<th>EPA target</th></tr>%s</table>" % "".join(rows)) if rows else ""
    return head + table + "<p>%s</p>" % html.escape(p["note"])


def _pm10_table(p):
    """Raw sensor PM10 against the reference PM10 and the EPA 2021 PM10 targets."""
    if not p:
        return ""
    head = "<h3>PM10 (raw sensor, no correction)</h3>"
    if "metrics_24h" not in p:
        return head + "<p>%s</p>" % html.escape(p["note"])
    rows = []
    for label, mk, tk in (("24-hour means", "metrics_24h", "targets_24h"), ("hourly", "metrics_1h", "targets_1h")):
        m, t = p[mk], p[tk] or {}
        mark = "✔ all met" if t.get("all") else ("✘ missed: " + ", ".join(k for k, v in t.items() if not v and k != "all"))
        rows.append("<tr><td>%s</td><td>%d</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
                    "<td>%s</td></tr>" % (label, m["n"], _fmt(m["rmse"]), _fmt(m["nrmse"], 0), _fmt(m["bias"]),
                                          _fmt(m["r2"]), _fmt(m["slope"]), _fmt(m["intercept"]),
                                          mark if t else "–"))
    extra = " ".join(html.escape(p[k]) for k in ("pooled", "note") if p.get(k))
    return (head + "<p>%s. EPA 2021 PM10 targets (24-h means): slope 0.65–1.35, intercept −10…+10 %s, R² ≥ 0.70, "
            "RMSE ≤ 14 %s or NRMSE ≤ 30 %%. %s</p>" % (html.escape(p["what"][:1].upper() + p["what"][1:]), UG, UG, extra)
            + "<table><tr><th>averages</th><th>n</th><th>RMSE</th><th>NRMSE %</th><th>bias</th><th>R²</th>"
              "<th>slope</th><th>intercept</th><th>EPA PM10 targets</th></tr>" + "".join(rows) + "</table>")


def write(res, out, title="Calibration report", inputs=None):
    os.makedirs(out, exist_ok=True)
    s = res.summary
    figs = [("After the co-location: error against horizon", fig_horizon(res, out)),
            ("Before and after", fig_scatter(res, out)),
            ("Time series", fig_timeseries(res, out)),
            ("Where the errors are", fig_residuals(res, out)),
            ("Time-zone check", fig_lag(res, out))]
    imgs = []
    for cap, p in figs:
        with open(p, "rb") as f:
            b64 = base64.b64encode(f.read()).decode()
        imgs.append('<figure><img alt="%s" src="data:image/png;base64,%s"><figcaption>%s (%s)</figcaption></figure>'
                    % (html.escape(cap), b64, html.escape(cap), os.path.basename(p)))
    cov = s["coverage"]
    primary = s["models"][s["chosen"]].get("heldout_24h") or s["models"][s["chosen"]]["heldout"]
    epa = s["models"].get("epa_2021", {}).get("heldout_24h") or s["models"].get("epa_2021", {}).get("heldout")
    fw = (s.get("forward") or {}).get("models", {}).get(s["chosen"])
    verdict = "Chosen correction: <b>%s</b> (%s). %sHeld-out 24-h RMSE on interleaved blocks %s %s" % (
        html.escape(s["chosen"]), html.escape(s["chosen_title"]),
        ("Forward 24-h RMSE (fitted on the past, scored on later days) %s %s; " % (_fmt(fw["rmse"]), UG)) if fw else "",
        _fmt(primary["rmse"]), UG)
    if epa:
        verdict += " against %s %s for the EPA 2021 US-wide equation on the same rows" % (_fmt(epa["rmse"]), UG)
    verdict += "."
    li = lambda items: "".join("<li>%s</li>" % html.escape(str(x)) for x in items)  # noqa: E731
    steps = "".join("<tr><td>%s</td><td>%d</td><td>%d</td></tr>" % (html.escape(x["step"]), x["removed"], x["remaining"])
                    for x in s["steps"])
    tables = ""
    if not s["primary_freq"] == "24h":
        tables += "<h3>24-hour means (the EPA targets apply here)</h3>" + _metrics_table(s, "heldout_24h", "targets_24h")
        tables += "<h3>Hourly</h3>" + _metrics_table(s, "heldout", "targets")
    else:
        tables += "<h3>24-hour means</h3>" + _metrics_table(s, "heldout", "targets")
    tables += _precision_table(s.get("precision")) + _pm10_table(s.get("pm10"))
    bydev = ""
    if s.get("by_device"):
        bydev = ("<h3>Transfer to an unseen device (leave one device out)</h3><p>RMSE when the model is fitted on the "
                 "other devices only: " + ", ".join("%s %s" % (k, _fmt(v["rmse"])) for k, v in s["by_device"].items()
                                                     if v) + " %s. Calibrate each device.</p>" % UG)
    doc = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title><style>
body{{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}}
table{{border-collapse:collapse;margin:0.5em 0 1.5em;display:block;overflow-x:auto;max-width:100%}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}
td:first-child,th:first-child{{text-align:left}}tr.chosen{{background:#fde8e8;font-weight:bold}}
img{{max-width:100%}}.warn{{background:#fff4d6;border-left:5px solid #e6a700;padding:0.5em 1em}}
figure{{margin:1.5em 0}}figcaption{{color:#555}}</style></head><body>
<h1>{title}</h1><p>{verdict}</p>
{warnings}
<h2>How it holds up after the co-location (forward validation)</h2>{forward}
<h2>Figures</h2>{imgs}
<h2>How good is it on interleaved blocks? (held-out data, beside the forward score)</h2>
<p>Every number below comes from data the model did not see: the period was cut into {folds} contiguous time blocks,
each block predicted by a model fitted on the others (leaving out one day on either side). The 95 % interval comes
from {boot}. EPA 2021 targets: slope 0.65–1.35, intercept −5…+5 {ug}, R² ≥ 0.70, RMSE ≤ 7 {ug} or NRMSE ≤ 30 %.</p>
{tables}{bydev}
<h2>Notes</h2><ul>{notes}</ul>
<h2>Data used</h2><p>{cov}</p><p>Inputs: {inputs}</p>
<table><tr><th>cleaning step</th><th>removed</th><th>remaining</th></tr>{steps}</table>
</body></html>""".format(
        title=html.escape(title), verdict=verdict,
        warnings=('<div class="warn"><b>Read before trusting this calibration:</b><ul>%s</ul></div>' % li(s["warnings"]))
        if s["warnings"] else "",
        forward=_forward_html(s), imgs="".join(imgs), folds=s["validation"]["folds"], boot=s["validation"]["bootstrap"], ug=UG, tables=tables,
        bydev=bydev, notes=li(s["notes"]) or "<li>none</li>",
        cov=html.escape("%s to %s (UTC); %d days with data; %d %s pairs; %d device(s); reference %.1f–%.1f %s%s." % (
            cov["start"][:16], cov["end"][:16], cov["days_with_data"], cov["rows"],
            "hourly" if cov["freq"] == "1h" else "daily", cov["devices"], cov["ref_range"][0], cov["ref_range"][1],
            UG, ("; RH %.0f–%.0f %%" % tuple(cov["rh_range"])) if "rh_range" in cov else "")),
        inputs=html.escape(inputs or ""), steps=steps)
    path = os.path.join(out, "report.html")
    with open(path, "w", encoding="utf-8") as f:
        f.write(doc)
    return path
