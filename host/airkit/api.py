"""The jobs that take several steps, as functions: calibration fit/apply and provisioning a class.

Each function takes typed arguments (file paths or objects, a port name or a list of them),
returns a result, reports progress through an optional callback and raises the
``airkit.errors`` tree; the ``airkit`` command calls the same library code
(``calibrate/pipeline.py``, ``provision.provision_class``) and only parses and prints.
No argument parsing, no output capture here.
"""

from __future__ import annotations


def fit(sensor, reference=None, out=None, *, name: str | None = None, force: bool = False, progress=None,
        **options) -> dict:
    """Fit and validate a correction; returns the model document (what the model file holds).

    ``sensor``: a file or a list of files of one station; ``reference``: the reference-station
    file (omit when the sensor file pairs both); ``out``: also write the model file there
    (``force=False``: refuse to replace an existing one); ``options``: the fields of
    ``airkit.calibrate.pipeline.Inputs`` (``lag="auto"``, ``folds=5``, ``pooled=True``,
    ``sensor_tz=...``, ``reference_tz=...``, ``flexible=False``); ``progress(text)`` per step.
    """
    from airkit.calibrate import modelfile, pipeline
    from airkit.outfile import check_file

    inputs = pipeline.Inputs(sensor=sensor, reference=reference, **options)
    dest = check_file(out, force=force) if out is not None else None      # before the work
    sensor_t, reference_t, res = pipeline.run(inputs, progress)
    doc = modelfile.build(res, sensor_t, reference_t, name=name)
    if dest is not None:
        modelfile.save(doc, dest)
    return doc


def apply(model, sensor, out=None, *, force: bool = False, **options):
    """Apply a model (a model file or the document ``fit`` returns) to sensor file(s).

    Returns the corrected table (a pandas DataFrame: time UTC, pm25, pm25_raw, flag, model, ...);
    with ``out`` it is also written there as CSV. ``options``: ``device``, ``average`` ("1h" or
    "none"), ``sensor_format``, ``sensor_tz``.
    """
    from airkit.calibrate import pipeline
    from airkit.outfile import check_file

    dest = check_file(out, force=force) if out is not None else None
    res = pipeline.apply(model, sensor, **options)
    if dest is not None:
        with dest.open("w", newline="") as f:
            res.frame.to_csv(f, index=False)
    return res.frame


def provision(class_list, ports="auto", **options):
    """Provision a class set of boards: ``airkit.provision.provision_class`` (a ``ClassReport``)."""
    from airkit.provision import provision_class

    return provision_class(class_list, ports, **options)
