"""Function API for what the CLI does in several steps (calibration fit/apply).

Each function takes plain values, raises ``airkit.errors`` children on bad
input, and goes through the same code as ``airkit calibrate fit/apply`` (the
calibrate command's own parser supplies every default), so library and CLI
cannot drift apart.
"""

from __future__ import annotations

import argparse


def _calibrate_args(action: str, argv: list[str]) -> argparse.Namespace:
    from airkit.calibrate import cli
    from airkit.errors import InputError

    parser = argparse.ArgumentParser(prog="airkit", exit_on_error=False)
    cli.register(parser.add_subparsers(dest="command"))
    try:
        args, unknown = parser.parse_known_args(["calibrate", action, *argv])
    except (argparse.ArgumentError, SystemExit) as e:
        raise InputError("calibrate %s: %s" % (action, e))
    if unknown:
        raise InputError("calibrate %s: unknown option(s) %s" % (action, " ".join(unknown)))
    return args


def _options(options: dict) -> list[str]:
    argv = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif value not in (None, False):
            argv += [flag, str(value)]
    return argv


def fit(sensor, reference=None, out=None, **options) -> dict:
    """Fit and validate a correction (``airkit calibrate fit``); returns the model document.

    ``sensor``: a file or a list of files of one station; ``reference``: the
    reference-station file (omit when the sensor file pairs both); ``out``:
    also write the model file there; ``options``: the command's options by
    name (``lag="auto"``, ``folds=5``, ``pooled=True``, ``sensor_tz=...``).
    """
    from airkit.calibrate import cli, modelfile

    sensors = [sensor] if isinstance(sensor, str) else list(sensor)
    argv = ["--sensor", *map(str, sensors), "--out", str(out or "-")] + _options(options)
    if reference is not None:
        argv += ["--reference", str(reference)]
    args = _calibrate_args("fit", argv)
    sensor_t, reference_t, res = cli._workbench(args)
    doc = modelfile.build(res, sensor_t, reference_t, name=options.get("name"))
    if out is not None:
        modelfile.save(doc, str(out))
    return doc


def apply(model, sensor, out, **options) -> str:
    """Apply a model file to sensor data (``airkit calibrate apply``); writes and returns ``out`` (CSV)."""
    sensors = [sensor] if isinstance(sensor, str) else list(sensor)
    args = _calibrate_args("apply", ["--model", str(model), "--sensor", *map(str, sensors), "--out", str(out)]
                           + _options(options))
    args.func(args)
    return str(out)
