"""The model file: what was fitted, on what, how good it proved, by whom.

Why this exists: a correction on a device must be traceable. The file holds
the ``correction`` dict the board evaluates (``airkit_fw.correction``), the
valid input ranges, the training period, the held-out validation metrics and
the provenance (input files with checksums, tool version, time conventions).
Published corrections in ``calibration/models/`` use the same format.
"""

import datetime as _dt
import hashlib
import json
import os

from airkit.errors import UserError
from airkit_fw import correction as fw

FORMAT = "airkit-calibration-model"
VERSION = 1


def _sha256(path):
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except OSError:
        return None
    return h.hexdigest()


def _file_info(table):
    paths = [p.strip() for p in table.path.split(",")]
    return [{"file": os.path.basename(p), "sha256": _sha256(p), "format": table.fmt, "time_convention": table.time_note}
            for p in paths]


def _round(obj, nd=4):
    if isinstance(obj, float):
        return round(obj, nd) if obj == obj else None
    if isinstance(obj, dict):
        return {k: _round(v, nd) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_round(v, nd) for v in obj]
    return obj


def build(result, sensor, reference, name=None, command=None):
    s = result.summary
    chosen = s["chosen"]
    cov = s["coverage"]
    name = name or "%s %s..%s" % (chosen, cov["start"][:10], cov["end"][:10])
    corr = result.chosen.to_correction(name=name, valid=s["valid"])
    devices = {}
    for dev, (est, valid, n) in sorted(result.per_device.items()):
        devices[dev] = {"correction": _round(est.to_correction(name="%s (%s)" % (name, dev), valid=valid), 6),
                        "rows": n}
    try:
        from importlib.metadata import version
        tool = version("airkit")
    except Exception:
        tool = "unknown"
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "name": name,
        "kind": corr["kind"],
        "correction": _round(corr, 6),
        "devices": devices,
        "training": {"start": cov["start"], "end": cov["end"], "coverage": cov, "steps": s["steps"],
                     "dropped_rows": s.get("dropped_rows"),
                     "values_set_missing": s.get("values_set_missing"), "days": s.get("days"), "lag": s["lag"]},
        "validation": {"method": s["validation"], "chosen": chosen, "primary": s["primary_metrics"],
                       "models": s["models"], "by_device": s["by_device"],
                       "improvement_vs_epa_2021": s["improvement_vs_epa_2021"],
                       "precision": s.get("precision"), "pm10": s.get("pm10"),
                       "forward": s.get("forward"), "drift": s.get("drift"),
                       "dropped_candidates": s.get("dropped_candidates")},
        "warnings": s["warnings"],
        "notes": s["notes"],
        "provenance": {
            "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "tool": "airkit %s" % tool,
            "command": command,
            "sensor": _file_info(sensor),
            "reference": _file_info(reference) if reference is not None and reference is not sensor else None,
        },
    }
    return _round(doc)


def save(doc, path, force=True):
    """Write the model file: ``path`` is a file name or a checked ``airkit.outfile.OutFile``
    (temporary file, fsync, rename; one sentence and nothing partial on a full or read-only disk)."""
    from airkit.outfile import OutFile, check_file

    dest = path if isinstance(path, OutFile) else check_file(path, force=force)
    return dest.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def load(path, device=None):
    """Read and check a model: ``path`` is a model file or the model document itself (a dict, as
    ``airkit.fit`` returns it); returns (doc, correction dict)."""
    if isinstance(path, dict):
        return _checked(path, device, "the model")
    path = str(path)
    if not os.path.exists(path):
        raise UserError("model file %s not found; create one with 'airkit calibrate fit'." % path)
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (ValueError, UnicodeDecodeError) as e:
        raise UserError("model file %s is not valid JSON (%s); fit it again or restore it." % (path, str(e)[:80]))
    return _checked(doc, device, path)


def _checked(doc, device, path):
    if not isinstance(doc, dict) or not isinstance(doc.get("correction"), dict):
        raise UserError("%s is not an airkit calibration model (no 'correction' section)." % path)
    corr = doc["correction"]
    if device is not None:
        devs = doc.get("devices") or {}
        if str(device) not in devs:
            raise UserError("model file %s has no correction for device '%s' (it has: %s)."
                            % (path, device, ", ".join(devs) or "none, only the pooled one"))
        corr = devs[str(device)]["correction"]
    check(corr, path)
    return doc, corr


def check(corr, where="model"):
    kind = corr.get("kind")
    if kind not in fw.KINDS:
        raise UserError("%s: correction kind '%s' cannot run on the device (known kinds: %s)."
                        % (where, kind, ", ".join(fw.KINDS)))
    if kind in ("linear", "mlr", "kappa"):
        coef = corr.get("coef")
        if not isinstance(coef, dict) or not all(isinstance(v, (int, float)) for v in coef.values()):
            raise UserError("%s: the correction's coefficients are missing or not numbers." % where)
        if kind == "kappa" and "kappa" not in coef:
            raise UserError("%s: a kappa correction needs a 'kappa' coefficient." % where)
    try:
        fw.correct(corr, 10.0, 50.0, 20.0)
    except Exception as e:  # a malformed dict the device would choke on
        raise UserError("%s: the correction cannot be evaluated (%s)." % (where, e))
    return corr
