"""``airkit calibrate``: fit, apply, report, push.

Why this exists: one command per job a volunteer has after a co-location:
fit a correction and see how good it is, apply it to their data, make a
report they can show, and put it on the board.
"""

import argparse
import json
import os
import re
import sys
import time

import numpy as np
import pandas as pd

from airkit.errors import UserError, WouldOverwrite


def _inputs(p, reference=True):
    p.add_argument("--sensor", nargs="+", required=True, metavar="FILE",
                   help="sensor file(s); several files of one station are merged (e.g. Sensor.Community PM + DHT22)")
    if reference:
        p.add_argument("--reference", metavar="FILE",
                       help="reference-station file (not needed when the sensor file already pairs both)")
        p.add_argument("--reference-format", help="override format detection (see calibration/FORMATS.md)")
        p.add_argument("--reference-site", help="station to use when the reference file holds several")
        p.add_argument("--reference-tz", metavar="ZONE",
                       help="time zone of reference times that carry none (default UTC), e.g. Europe/Berlin or "
                            "Etc/GMT-1 (a network exporting local standard time)")
        p.add_argument("--lag", default="0",
                       help="hours to add to the reference times, or 'auto' for the best-correlated lag (default 0)")
        p.add_argument("--max-lag", type=int, default=6, help="lag check range in hours (default 6)")
        p.add_argument("--folds", type=int, default=5, help="number of contiguous time blocks (default 5)")
        p.add_argument("--no-flexible", action="store_true", help="skip the gradient-boosting comparison model")
        p.add_argument("--pooled", action="store_true",
                       help="fit one model for all devices instead of one per device")
        p.add_argument("--tz", metavar="ZONE",
                       help="the station's time zone for 24-h means (local midnight to midnight), e.g. "
                            "America/New_York; 'UTC' for UTC days. Default: --sensor-tz, else the zone the "
                            "reference format states, else UTC (with a note)")
        p.add_argument("--horizon", type=int, default=28, metavar="DAYS",
                       help="days of use after the co-location the forward interval is stated for (default 28)")
        p.add_argument("--later", nargs="+", metavar="FILE",
                       help="a later co-location of the same sensor: SENSOR [REFERENCE] files; the fitted "
                            "correction is scored on it to tell whether the sensor drifted")
        p.add_argument("--progress", action="store_true",
                       help="show progress on stderr even when it is not a terminal")
    p.add_argument("--sensor-format", help="override format detection (see calibration/FORMATS.md)")
    p.add_argument("--sensor-tz", help="time zone of sensor times that carry none (default UTC), e.g. America/New_York")


def register(subparsers):
    cal = subparsers.add_parser("calibrate", help="fit, validate, report and push a sensor correction",
                                description="Calibration workbench: co-locate a sensor beside a reference "
                                            "station, then fit, validate, report and push a correction.")
    sub = cal.add_subparsers(dest="calibrate_cmd", metavar="{fit,apply,report,push}")
    sub.required = True

    p = sub.add_parser("fit", help="fit and validate a correction, write the model file")
    _inputs(p)
    p.add_argument("--out", required=True, metavar="MODEL.json", help="model file to write")
    p.add_argument("--name", help="name stored in the model and uploaded beside corrected values")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    p.add_argument("--report", metavar="DIR", help="also write the HTML report to DIR")
    p.add_argument("--force", action="store_true", help="overwrite an existing model file")
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser("apply", help="apply a model to sensor data, write time, pm25 (UTC) and the raw value")
    _inputs(p, reference=False)
    p.add_argument("--model", required=True, metavar="MODEL.json")
    p.add_argument("--out", required=True, metavar="CORRECTED.csv")
    p.add_argument("--device", help="use the model's correction for this device id")
    p.add_argument("--average", default="1h", choices=["1h", "none"],
                   help="average to hourly means first (the model was fitted on them; default) or not")
    p.add_argument("--json", action="store_true", help="print what was written as JSON on stdout")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.set_defaults(func=cmd_apply)

    p = sub.add_parser("report", help="write an HTML report with figures to a folder")
    _inputs(p)
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--title", default="Calibration report")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("push", help="write the model's correction into the board config")
    p.add_argument("--model", required=True, metavar="MODEL.json")
    p.add_argument("--port", required=True, help="serial port of the board, e.g. /dev/ttyUSB0")
    p.add_argument("--device", help="push this device's own correction from a multi-device model")
    p.add_argument("--baud", type=int, default=115200)
    from .push import add_arguments as _push_arguments
    _push_arguments(p)
    p.set_defaults(func=cmd_push)
    return cal


def _say(msg):
    print(msg, file=sys.stderr)


def _lag(value):
    from .pipeline import parse_lag
    return parse_lag(value)


class _Progress:
    """Progress on stderr: a rich status line on a terminal; with --progress
    and no terminal (a log file), one timestamped line per step."""

    def __init__(self, wanted):
        self.status = None
        self.lines = bool(wanted) and not sys.stderr.isatty()
        self.t0 = time.time()
        if sys.stderr.isatty():
            from rich.console import Console
            self.status = Console(stderr=True).status("starting", spinner="dots")

    def __enter__(self):
        if self.status:
            self.status.start()
        return self

    def __call__(self, text):
        if self.status:
            self.status.update("%s (%.0f s)" % (text, time.time() - self.t0))
        elif self.lines:
            print("[%5.1f s] %s" % (time.time() - self.t0, text), file=sys.stderr, flush=True)

    def __exit__(self, *exc):
        if self.status:
            self.status.stop()


def _inputs_of(args):
    from .pipeline import Inputs
    return Inputs.from_args(args)


def _station_tz(args, sensor, reference):
    from . import pipeline
    return pipeline.station_tz(_inputs_of(args), sensor, reference)


def _load_pair(args, sensor_files, reference_file, progress):
    from . import pipeline
    return pipeline.load_pair(_inputs_of(args), sensor_files, reference_file, progress, _say)


def _workbench(args):
    """The pipeline (``calibrate/pipeline.py``) with this command's progress display."""
    from . import pipeline
    with _Progress(getattr(args, "progress", False)) as progress:
        return pipeline.run(_inputs_of(args), progress, _say)


def _print_summary(s, out=None):
    def _say(msg):
        print(msg, file=out or sys.stdout)
    key = "heldout_24h" if s["primary_freq"] == "1h" else "heldout"
    for line in forward_lines(s):
        _say(line)
    _say("")
    _say("held-out %s metrics (interleaved contiguous time blocks, beside the forward score):"
         % ("24-h" if key == "heldout_24h" else "daily"))
    _say("  %-14s %6s %6s %6s %6s %6s" % ("model", "RMSE", "MAE", "bias", "R2", "slope"))
    for n, m in s["models"].items():
        h = m.get(key) or m["heldout"]
        f = lambda v: "%6.2f" % v if v is not None and v == v else "     -"  # noqa: E731
        _say("%s %-14s %s %s %s %s %s" % ("*" if n == s["chosen"] else " ", n, f(h["rmse"]), f(h["mae"]), f(h["bias"]),
                                         f(h["r2"]), f(h["slope"])))
    _say("chosen: %s (%s), by %s score" % (s["chosen"], s["chosen_title"], s.get("forward", {}).get("chosen_by",
                                                                                                   "blocked")))
    for line in drift_lines(s.get("drift")):
        _say(line)
    if s.get("dropped_rows"):
        _say("")
        _say("rows dropped, by reason (each row once):")
        for k, v in s["dropped_rows"].items():
            _say("  %7d  %s" % (v, k))
        if s.get("values_set_missing"):
            _say("  values set missing before that (their rows are among those above):")
            for k, v in s["values_set_missing"].items():
                _say("  %7d  %s" % (v, k))
    for line in precision_lines(s.get("precision")) + pm10_lines(s.get("pm10")):
        _say(line)
    for w in s["warnings"]:
        _say("WARNING: " + w)
    for n in s["notes"]:
        _say("note: " + n)


def forward_lines(s):
    """The forward-validation block of the text summary (the headline)."""
    f = s.get("forward") or {}
    if f.get("chosen_by") != "forward":
        return ["", "forward validation: not possible (%s)." % f.get("why", "no data")]
    out = ["", "forward validation (%s):" % f["method"],
           "  %-14s %6s %6s   by horizon (days after the fit window): RMSE" % ("model", "RMSE", "NRMSE")]
    for n, m in f["models"].items():
        curve = "  ".join("%d-%d d %s" % (r["from_day"], r["to_day"], _v(r["rmse"])) for r in m["horizon_curve"])
        out.append("%s %-14s %6s %5s%%   %s" % ("*" if n == s["chosen"] else " ", n, _v(m["rmse"]),
                                               _v(m["nrmse"], "%.0f"), curve))
    sel = f.get("selection") or {}
    if sel:
        out.append("chosen for the use: %s; wins under resampling: %s" % (sel["rule"], ", ".join(
            "%s %.0f%%" % (n, v * 100) for n, v in sel["win_share"].items())))
    sc = f.get("scales") or {}
    cols = [k for k in ("hourly", "daily") if sc.get(k)]
    if cols:
        name = {"hourly": "hourly values", "daily": "24-h means"}
        out.append("expected error of %s over the %d days after the co-location (RMSE, ug/m3):"
                   % (s["chosen"], sc[cols[0]]["horizon_days"]))
        out.append("  %-34s" % "" + "".join("%-26s" % name[c] for c in cols))
        for lab, fn in (("forward RMSE as measured", lambda v: _v(v["forward_rmse_as_measured"])),
                        ("expected RMSE", lambda v: _v(v["rmse"])),
                        ("95 % interval", lambda v: "%s .. %s (x%s)" % (_v(v["ci95"][0]), _v(v["ci95"][1]),
                                                                         _v(v["ratio"], "%.1f"))),
                        ("error growth per day (95 %)", lambda v: "%s (%s .. %s)" % (
                            _v(v["growth_per_day"], "%.3g"), _v(v["growth_ci95"][0], "%.3g"),
                            _v(v["growth_ci95"][1], "%.3g")))):
            out.append("  %-34s" % lab + "".join("%-26s" % fn(sc[c]) for c in cols))
        car = f.get("carried", "daily")
        out.append("  the station's readings carry the %s figure: a corrected %s will typically be about %s ug/m3 "
                   "away from what the reference monitor would report; the interval is how large that typical "
                   "error may turn out to be" % (name[car], "hourly value" if car == "hourly" else "daily (24-h) mean",
                                                 _v(sc[car]["rmse"])))
        for c in cols:
            if sc[c].get("too_short"):
                out.append("  %s: %s" % (name[c], sc[c]["too_short"]))
        if f.get("caveat"):
            out.append("  " + f["caveat"])
    adv = f.get("advice") or {}
    if adv.get("text"):
        out.append("recalibration: " + adv["text"])
    return out


def drift_lines(d):
    if not d:
        return []
    return ["", "later co-location: " + d["text"]]


def _v(v, fmt="%.2f"):
    return fmt % v if v is not None and v == v else "-"


def precision_lines(p):
    """The precision block of the text summary."""
    if not p:
        return []
    out = ["", "precision between sensors (EPA 2021 target: SD <= %g ug/m3 or CV <= %g %%, 24-h means):"
           % (p["targets"]["sd"], p["targets"]["cv"])]
    for name in ("raw", p["model"]):
        q = p.get(name)
        if q and q.get("sd") is not None:
            out.append("  %-14s SD %s ug/m3  CV %s %%  (%d sensors, %d days)  %s"
                       % (name, _v(q["sd"]), _v(q["cv"], "%.1f"), q["sensors"], q["days"],
                          "meets target" if q["meets"] else "MISSES target"))
    out.append("  " + p["note"])
    return out


def pm10_lines(p):
    """The PM10 block of the text summary."""
    if not p:
        return []
    if "metrics_24h" not in p:
        return ["", p["note"]]
    m, t = p["metrics_24h"], p["targets_24h"]
    out = ["", "PM10, %s (EPA 2021 PM10 targets: slope 0.65-1.35, intercept -10..+10, R2 >= 0.70, RMSE <= 14 "
           "or NRMSE <= 30 %%; 24-h means):" % p["what"],
           "  n %d  slope %s  intercept %s  R2 %s  RMSE %s  NRMSE %s %%  %s"
           % (m["n"], _v(m["slope"]), _v(m["intercept"]), _v(m["r2"]), _v(m["rmse"]), _v(m["nrmse"], "%.0f"),
              "all targets met" if t.get("all") else
              "missed: " + ", ".join(k for k, v in t.items() if not v and k != "all") if t else "")]
    for k in ("pooled", "note"):
        if p.get(k):
            out.append("  " + p[k])
    return out


def _check_out_file(path, force, what="--out"):
    """Fail before any work when ``path`` cannot be written (or would be overwritten without --force)."""
    from airkit.outfile import check_file
    return check_file(path, force=force, what=what)


def _check_out_dir(path, what="--report"):
    from airkit.outfile import check_dir
    return check_dir(path, what=what)


def _fit_json(doc, path):
    v = doc["validation"]
    return {"model": str(path), "chosen": v["chosen"], "correction": doc["correction"],
            "forward": v.get("forward"), "drift": v.get("drift"),
            "recalibration": (v.get("forward") or {}).get("advice"),
            "models": v["models"], "by_device": v["by_device"],
            "coverage": doc["training"]["coverage"], "dropped_rows": doc["training"].get("dropped_rows"),
            "values_set_missing": doc["training"].get("values_set_missing"),
            "warnings": doc["warnings"], "notes": doc["notes"],
            "improvement_vs_epa_2021": v["improvement_vs_epa_2021"],
            "precision": v["precision"], "pm10": v["pm10"]}


def _check_tz_names(args):
    """The options (zones, --folds, --horizon, --later) are refused before any file is read."""
    from . import pipeline
    pipeline.check(_inputs_of(args))


def cmd_fit(args):
    from . import modelfile, report
    t0 = time.time()
    dest = _check_out_file(args.out, args.force)
    _check_tz_names(args)
    if args.report:
        _check_out_dir(args.report)
    sensor, reference, res = _workbench(args)
    doc = modelfile.build(res, sensor, reference, name=args.name, command="airkit calibrate fit " + " ".join(
        sys.argv[3:] if len(sys.argv) > 3 else []))
    modelfile.save(doc, dest)
    if args.report:
        from airkit.outfile import writing
        with writing(args.report, "--report"):
            report.write(res, args.report, inputs=sensor.label + "; " + reference.label)
    if args.json:
        print(json.dumps(_fit_json(doc, args.out), indent=2))
    else:
        _print_summary(res.summary)
    _say("model written to %s (%.1f s)" % (args.out, time.time() - t0))
    return 0


def cmd_report(args):
    from . import modelfile, report
    _check_out_dir(args.out, "--out")
    _check_tz_names(args)
    sensor, reference, res = _workbench(args)
    from airkit.outfile import writing
    with writing(args.out, "--out"):
        path = report.write(res, args.out, title=args.title, inputs=sensor.label + "; " + reference.label)
    if args.json:
        doc = modelfile.build(res, sensor, reference)
        out = _fit_json(doc, None)
        out.pop("model")
        out["report"] = path
        print(json.dumps(out, indent=2))
    else:
        _print_summary(res.summary)
    _say("report written to %s" % path)
    return 0


def cmd_apply(args):
    from . import pipeline
    dest = _check_out_file(args.out, args.force)
    res = pipeline.apply(args.model, args.sensor, device=args.device, average=args.average,
                         sensor_format=args.sensor_format, sensor_tz=args.sensor_tz)
    out, nflag = res.frame, res.flagged
    with dest.open("w", newline="") as fh:
        out.to_csv(fh, index=False)
    if args.json:
        print(json.dumps({"out": str(args.out), "rows": int(len(out)), "model": res.model_name,
                          "kind": res.kind, "flagged_outside_valid_range": nflag,
                          "start": out["time"].iloc[0] if len(out) else None,
                          "end": out["time"].iloc[-1] if len(out) else None}, indent=2))
    _say("%d rows written to %s (model %s)%s" % (len(out), args.out, out["model"].iloc[0] if len(out) else "-",
                                                  "; %d rows outside the model's valid range are flagged" % nflag
                                                  if nflag else ""))
    return 0


def cmd_push(args):
    from . import modelfile, push
    doc, corr = modelfile.load(args.model, device=args.device)
    if doc.get("devices") and args.device is None:
        _say("note: this model also holds per-device corrections (%s); pushing the pooled one. Use --device ID to "
             "push a device's own." % ", ".join(doc["devices"]))
    return push.run(args, corr, _say)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="airkit")
    sub = parser.add_subparsers(dest="cmd")
    sub.required = True
    register(sub)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UserError as e:
        print("error: %s" % e, file=sys.stderr)
        return e.exit_code


if __name__ == "__main__":
    sys.exit(main())
