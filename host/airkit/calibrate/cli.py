"""``airkit calibrate``: fit, apply, report, push.

Why this exists: one command per job a volunteer has after a co-location:
fit a correction and see how good it is, apply it to their data, make a
report they can show, and put it on the board.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import pandas as pd

from airkit.errors import UserError


def _inputs(p, reference=True):
    p.add_argument("--sensor", nargs="+", required=True, metavar="FILE",
                   help="sensor file(s); several files of one station are merged (e.g. Sensor.Community PM + DHT22)")
    if reference:
        p.add_argument("--reference", metavar="FILE",
                       help="reference-station file (not needed when the sensor file already pairs both)")
        p.add_argument("--reference-format", help="override format detection (see calibration/FORMATS.md)")
        p.add_argument("--reference-site", help="station to use when the reference file holds several")
        p.add_argument("--lag", default="0",
                       help="hours to add to the reference times, or 'auto' for the best-correlated lag (default 0)")
        p.add_argument("--max-lag", type=int, default=6, help="lag check range in hours (default 6)")
        p.add_argument("--folds", type=int, default=5, help="number of contiguous time blocks (default 5)")
        p.add_argument("--no-flexible", action="store_true", help="skip the gradient-boosting comparison model")
        p.add_argument("--pooled", action="store_true",
                       help="fit one model for all devices instead of one per device")
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
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser("apply", help="apply a model to sensor data, write time, pm25 (UTC) and the raw value")
    _inputs(p, reference=False)
    p.add_argument("--model", required=True, metavar="MODEL.json")
    p.add_argument("--out", required=True, metavar="CORRECTED.csv")
    p.add_argument("--device", help="use the model's correction for this device id")
    p.add_argument("--average", default="1h", choices=["1h", "none"],
                   help="average to hourly means first (the model was fitted on them; default) or not")
    p.set_defaults(func=cmd_apply)

    p = sub.add_parser("report", help="write an HTML report with figures to a folder")
    _inputs(p)
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--title", default="Calibration report")
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
    if str(value).lower() == "auto":
        return "auto"
    try:
        return int(value)
    except ValueError:
        raise UserError("--lag must be a whole number of hours or 'auto', not '%s'." % value)


def _workbench(args):
    from . import align, ingest, workbench
    sensor = ingest.load_sensor(args.sensor, fmt=args.sensor_format, tz=args.sensor_tz)
    if sensor.role == "paired":
        reference = sensor
        if args.reference:
            _say("note: %s already pairs sensor and reference; --reference ignored." % os.path.basename(args.sensor[0]))
    else:
        if not args.reference:
            raise UserError("give the reference-station file with --reference FILE.")
        reference = ingest.load_reference(args.reference, fmt=args.reference_format, site=args.reference_site)
    _say("sensor:    %s" % sensor.label)
    if reference is not sensor:
        _say("reference: %s" % reference.label)
    pairs = align.pair(sensor, reference, lag=_lag(args.lag), max_lag=args.max_lag)
    res = workbench.run(pairs, k=args.folds, flexible=not args.no_flexible, per_device=not args.pooled)
    for t in (sensor, reference):
        for n in t.notes:
            res.summary["notes"].insert(0, "%s: %s" % (os.path.basename(t.path.split(",")[0]), n))
    return sensor, reference, res


def _print_summary(s):
    key = "heldout_24h" if s["primary_freq"] == "1h" else "heldout"
    _say("")
    _say("held-out %s metrics (contiguous time blocks):" % ("24-h" if key == "heldout_24h" else "daily"))
    _say("  %-14s %6s %6s %6s %6s %6s" % ("model", "RMSE", "MAE", "bias", "R2", "slope"))
    for n, m in s["models"].items():
        h = m.get(key) or m["heldout"]
        f = lambda v: "%6.2f" % v if v is not None and v == v else "     -"  # noqa: E731
        _say("%s %-14s %s %s %s %s %s" % ("*" if n == s["chosen"] else " ", n, f(h["rmse"]), f(h["mae"]), f(h["bias"]),
                                         f(h["r2"]), f(h["slope"])))
    _say("chosen: %s (%s)" % (s["chosen"], s["chosen_title"]))
    for line in precision_lines(s.get("precision")) + pm10_lines(s.get("pm10")):
        _say(line)
    for w in s["warnings"]:
        _say("WARNING: " + w)
    for n in s["notes"]:
        _say("note: " + n)


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


def cmd_fit(args):
    from . import modelfile, report
    t0 = time.time()
    sensor, reference, res = _workbench(args)
    doc = modelfile.build(res, sensor, reference, name=args.name, command="airkit calibrate fit " + " ".join(
        sys.argv[3:] if len(sys.argv) > 3 else []))
    modelfile.save(doc, args.out)
    if args.report:
        report.write(res, args.report, inputs=sensor.label + "; " + reference.label)
    if args.json:
        out = {"model": args.out, "chosen": doc["validation"]["chosen"], "correction": doc["correction"],
               "models": doc["validation"]["models"], "by_device": doc["validation"]["by_device"],
               "coverage": doc["training"]["coverage"], "warnings": doc["warnings"], "notes": doc["notes"],
               "improvement_vs_epa_2021": doc["validation"]["improvement_vs_epa_2021"],
               "precision": doc["validation"]["precision"], "pm10": doc["validation"]["pm10"]}
        print(json.dumps(out, indent=2))
    else:
        _print_summary(res.summary)
    _say("model written to %s (%.1f s)" % (args.out, time.time() - t0))
    return 0


def cmd_report(args):
    from . import report
    sensor, reference, res = _workbench(args)
    path = report.write(res, args.out, title=args.title, inputs=sensor.label + "; " + reference.label)
    _print_summary(res.summary)
    _say("report written to %s" % path)
    return 0


def cmd_apply(args):
    from . import align, ingest, modelfile, vector
    doc, corr = modelfile.load(args.model, device=args.device)
    sensor = ingest.load_sensor(args.sensor, fmt=args.sensor_format, tz=args.sensor_tz)
    f = sensor.frame
    if sensor.role == "paired":
        f = f.copy()
    elif args.average == "1h":
        steps = []
        f = align.drop_impossible(f, steps, "sensor")
        two = "pm25_cf1_a" in f and "pm25_cf1_b" in f
        f = align.average(f, "1h", sensor.interval_s,
                          per_column={"pm25_cf1_a": align.AB_RECOVERY, "pm25_cf1_b": align.AB_RECOVERY} if two else None)
        if two:
            f = align.ab_clean(f, steps)
    pm = f["pm25_cf1"].to_numpy(float)
    rh = f["rh"].to_numpy(float) if "rh" in f else None
    t = f["temp_c"].to_numpy(float) if "temp_c" in f else None
    if rh is None and "rh" in json.dumps(corr.get("coef", {})) + corr["kind"] and corr["kind"] not in ("raw", "linear"):
        raise UserError("the model needs relative humidity but %s has no humidity column." % args.sensor[0])
    y, flags = vector.evaluate_device(corr, pm, rh, t)
    names = {1: "pm", 2: "rh", 4: "t"}
    flag_txt = ["" if v == 0 else "outside_valid_range:" + "+".join(n for b, n in names.items() if v & b) for v in flags]
    out = pd.DataFrame({"time": f.index.strftime("%Y-%m-%dT%H:%M:%SZ"), "pm25": np.round(y, 2),
                        "pm25_raw": np.round(pm, 2)})
    if "device" in f:
        out.insert(1, "device", f["device"].to_numpy())
    if rh is not None:
        out["rh"] = np.round(rh, 1)
    if t is not None:
        out["temp_c"] = np.round(t, 1)
    out["flag"] = flag_txt
    out["model"] = corr.get("name") or corr["kind"]
    d = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(d):
        raise UserError("cannot write %s: the folder %s does not exist." % (args.out, d))
    out.to_csv(args.out, index=False)
    nflag = int((flags != 0).sum())
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
