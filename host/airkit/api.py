"""Function API for what the CLI does in several steps (provisioning, calibration fit/apply).

Each function takes plain values, raises ``airkit.errors`` children on bad
input, and goes through the same code as ``airkit provision`` and ``airkit
calibrate fit/apply`` (each command's own parser supplies every default), so library and CLI
cannot drift apart.
"""

from __future__ import annotations

import argparse


def _command_args(command: list[str], argv: list[str]) -> argparse.Namespace:
    """Parse ``airkit COMMAND... ARGV`` with the command's own parser (all its defaults); never exits."""
    import importlib

    from airkit.cli import COMMANDS
    from airkit.errors import InputError

    parser = argparse.ArgumentParser(prog="airkit", exit_on_error=False)
    importlib.import_module(COMMANDS[command[0]][0]).register(parser.add_subparsers(dest="command"))
    try:
        args, unknown = parser.parse_known_args([*command, *argv])
    except (argparse.ArgumentError, SystemExit) as e:
        raise InputError("%s: %s" % (" ".join(command), e))
    if unknown:
        raise InputError("%s: unknown option(s) %s" % (" ".join(command), " ".join(unknown)))
    return args


def _files(value) -> list:
    """One file (str or Path) or several, as a list."""
    import os

    return [value] if isinstance(value, (str, os.PathLike)) else list(value)


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

    sensors = _files(sensor)
    argv = ["--sensor", *map(str, sensors), "--out", str(out or "-")] + _options(options)
    if reference is not None:
        argv += ["--reference", str(reference)]
    args = _command_args(["calibrate", "fit"], argv)
    sensor_t, reference_t, res = cli._workbench(args)
    doc = modelfile.build(res, sensor_t, reference_t, name=options.get("name"))
    if out is not None:
        modelfile.save(doc, str(out))
    return doc


def apply(model, sensor, out, **options) -> str:
    """Apply a model file to sensor data (``airkit calibrate apply``); writes and returns ``out`` (CSV)."""
    sensors = _files(sensor)
    args = _command_args(["calibrate", "apply"], ["--model", str(model), "--sensor", *map(str, sensors), "--out", str(out)]
                           + _options(options))
    args.func(args)
    return str(out)


def provision(class_csv, ports="auto", **options):
    """Provision a class set of boards: ``airkit.provision.provision_class`` (a ``ClassReport``)."""
    from airkit.provision import provision_class

    return provision_class(class_csv, ports, **options)
