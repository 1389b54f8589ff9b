"""The calibration pipeline as a library: read the files, pair them, run the workbench.

Why this exists: ``airkit calibrate fit/report`` and the Python API (``airkit.fit``)
do the same steps; they live here, taking typed ``Inputs`` (not an argparse
namespace), reporting progress through a callback and raising ``airkit.errors``.
The command line (``calibrate/cli.py``) only parses, calls ``run`` and prints.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from airkit.errors import UserError


@dataclass
class Inputs:
    """What a fit or a report needs: the files and the options of ``airkit calibrate fit``."""

    sensor: list = field(default_factory=list)        # sensor file(s) of one station
    reference: str | None = None                      # reference-station file (None: the sensor file pairs both)
    sensor_format: str | None = None
    reference_format: str | None = None
    reference_site: str | None = None
    sensor_tz: str | None = None                      # zone of sensor times that carry none
    reference_tz: str | None = None                   # zone of reference times that carry none
    tz: str | None = None                             # the station's zone for 24-h means
    lag: int | str = 0                                # hours added to the reference times, or "auto"
    max_lag: int = 6
    folds: int = 5
    flexible: bool = True                             # the gradient-boosting comparison model
    pooled: bool = False                              # one model for all devices
    horizon: int = 28                                 # days the forward interval is stated for
    later: list | None = None                         # a later co-location: SENSOR [REFERENCE]

    def __post_init__(self):
        if isinstance(self.sensor, (str, os.PathLike)):
            self.sensor = [self.sensor]
        self.sensor = [str(p) for p in self.sensor]
        if self.reference is not None:
            self.reference = str(self.reference)
        if self.later:
            self.later = [str(p) for p in self.later]

    @classmethod
    def from_args(cls, args) -> "Inputs":
        """From an ``airkit calibrate fit/report`` namespace."""
        g = lambda name, default=None: getattr(args, name, default)  # noqa: E731
        return cls(sensor=g("sensor") or [], reference=g("reference"), sensor_format=g("sensor_format"),
                   reference_format=g("reference_format"), reference_site=g("reference_site"),
                   sensor_tz=g("sensor_tz"), reference_tz=g("reference_tz"), tz=g("tz"), lag=g("lag", 0),
                   max_lag=g("max_lag", 6), folds=g("folds", 5), flexible=not g("no_flexible", False),
                   pooled=g("pooled", False), horizon=g("horizon", 28), later=g("later"))


def parse_lag(value):
    if str(value).lower() == "auto":
        return "auto"
    try:
        return int(value)
    except ValueError:
        raise UserError("--lag must be a whole number of hours or 'auto', not '%s'." % value)


def check_tz_names(inputs: Inputs):
    """A misspelt zone is refused before any file is read."""
    from zoneinfo import ZoneInfo
    for opt, tz in (("--tz", inputs.tz), ("--sensor-tz", inputs.sensor_tz), ("--reference-tz", inputs.reference_tz)):
        if tz and tz.upper() != "UTC" and not re.fullmatch(r"[+-]\d{1,2}(:?\d{2})?", tz):
            try:
                ZoneInfo(tz)
            except Exception:
                raise UserError("unknown time zone '%s' (%s); use a name like America/New_York or Europe/Berlin."
                                % (tz, opt))


def check(inputs: Inputs):
    """Everything about the options that can be told before reading a file."""
    check_tz_names(inputs)
    parse_lag(inputs.lag)
    if inputs.folds < 2:
        raise UserError("--folds must be at least 2 (the model is fitted on some time blocks and scored on the "
                        "others), not %d; the default is 5." % inputs.folds)
    if inputs.horizon < 1:
        raise UserError("--horizon must be at least 1 day, not %d." % inputs.horizon)
    later = inputs.later
    if later:
        if len(later) > 2:
            raise UserError("--later takes a sensor file and, when it does not pair both, a reference file; "
                            "got %d files." % len(later))
        for p in later:
            if not os.path.isfile(p):
                raise UserError("--later %s: file not found; check the path." % p)


def station_tz(inputs: Inputs, sensor, reference):
    """The time zone of the station's days, and how it was decided."""
    from zoneinfo import ZoneInfo
    tz, why = inputs.tz, "--tz"
    if not tz and inputs.sensor_tz:
        tz, why = inputs.sensor_tz, "--sensor-tz"
    if not tz and inputs.reference_tz:
        tz, why = inputs.reference_tz, "--reference-tz"
    for t in (sensor, reference):
        if not tz and t is not None and getattr(t, "local_tz", None):
            tz, why = t.local_tz, "the %s file's stated zone (%s)" % (t.role, t.fmt)
    if not tz:
        return None, "24-h means over UTC days: the station's time zone is unknown (pass --tz ZONE for local days)"
    if tz.upper() == "UTC":
        return "UTC", "24-h means over UTC days, as asked"
    try:
        ZoneInfo(tz)
    except Exception:
        raise UserError("unknown time zone '%s'; use a name like America/New_York or Europe/Berlin." % tz)
    return tz, "24-h means over local days in %s (from %s)" % (tz, why)


def load_pair(inputs: Inputs, sensor_files, reference_file, progress=None, say=None):
    """Read a sensor and a reference file and pair them hourly: (sensor Table, reference Table, Pairs)."""
    from . import align, ingest
    progress = progress or (lambda text: None)
    say = say or (lambda text: None)
    progress("reading %s" % ", ".join(os.path.basename(str(x)) for x in sensor_files))
    sensor = ingest.load_sensor(sensor_files, fmt=inputs.sensor_format, tz=inputs.sensor_tz)
    if sensor.role == "paired":
        reference = sensor
        if reference_file:
            say("note: %s already pairs sensor and reference; --reference ignored."
                % os.path.basename(sensor_files[0]))
    else:
        if not reference_file:
            raise UserError("give the reference-station file with --reference FILE.")
        progress("reading %s" % os.path.basename(str(reference_file)))
        reference = ingest.load_reference(reference_file, fmt=inputs.reference_format, tz=inputs.reference_tz,
                                          site=inputs.reference_site)
    progress("cleaning, averaging and pairing")
    pairs = align.pair(sensor, reference, lag=parse_lag(inputs.lag), max_lag=inputs.max_lag)
    return sensor, reference, pairs


def run(inputs: Inputs, progress=None, say=None):
    """Read, pair, fit and validate: (sensor Table, reference Table, workbench result).

    ``progress(text)``: each step; ``say(text)``: lines for the person (which files were read)."""
    from . import workbench
    progress = progress or (lambda text: None)
    say = say or (lambda text: None)
    check(inputs)
    sensor, reference, pairs = load_pair(inputs, inputs.sensor, inputs.reference, progress, say)
    say("sensor:    %s" % sensor.label)
    if reference is not sensor:
        say("reference: %s" % reference.label)
    tz, tz_note = station_tz(inputs, sensor, reference if reference is not sensor else None)
    pairs.tz = tz
    res = workbench.run(pairs, k=inputs.folds, flexible=inputs.flexible, per_device=not inputs.pooled,
                        horizon_days=inputs.horizon, progress=progress)
    if pairs.freq == "1h":
        res.summary["notes"].insert(0, tz_note)
    for t in (sensor, reference):
        for n in t.notes:
            res.summary["notes"].insert(0, "%s: %s" % (os.path.basename(t.path.split(",")[0]), n))
    if inputs.later:
        from . import drift
        progress("scoring the later co-location")
        _, _, later = load_pair(inputs, inputs.later[:1], inputs.later[1] if len(inputs.later) > 1 else None,
                                progress, say)
        later.tz = tz
        res.summary["drift"] = drift.compare(res, later)
    return sensor, reference, res


@dataclass
class Applied:
    """``apply``'s result: ``frame`` (time UTC, [device], pm25, pm25_raw, [rh, temp_c], flag, model),
    ``flagged`` (rows outside the model's valid range), the model's ``kind`` and ``model_name``."""

    frame: object
    flagged: int
    kind: str
    model_name: str


def apply(model, sensor, device=None, average="1h", sensor_format=None, sensor_tz=None) -> Applied:
    """Apply a model (a model file's path, or the model document ``airkit.fit`` returns) to sensor
    file(s); hourly means first (``average="1h"``, as the model was fitted) or each reading (``"none"``)."""
    import json

    import numpy as np
    import pandas as pd

    from . import align, ingest, modelfile, vector
    if isinstance(sensor, (str, os.PathLike)):
        sensor = [sensor]
    sensor = [str(p) for p in sensor]
    doc, corr = modelfile.load(model, device=device)
    table = ingest.load_sensor(sensor, fmt=sensor_format, tz=sensor_tz)
    f = table.frame
    if table.role == "paired":
        f = f.copy()
    elif average == "1h":
        steps = []
        f = align.drop_impossible(f, steps, "sensor")
        two = "pm25_cf1_a" in f and "pm25_cf1_b" in f
        f = align.average(f, "1h", table.interval_s,
                          per_column={"pm25_cf1_a": align.AB_RECOVERY, "pm25_cf1_b": align.AB_RECOVERY} if two else None)
        if two:
            f = align.ab_clean(f, steps)
    pm = f["pm25_cf1"].to_numpy(float)
    rh = f["rh"].to_numpy(float) if "rh" in f else None
    t = f["temp_c"].to_numpy(float) if "temp_c" in f else None
    if rh is None and "rh" in json.dumps(corr.get("coef", {})) + corr["kind"] and corr["kind"] not in ("raw", "linear"):
        raise UserError("the model needs relative humidity but %s has no humidity column." % sensor[0])
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
    return Applied(out, int((flags != 0).sum()), corr["kind"], corr.get("name") or corr["kind"])
