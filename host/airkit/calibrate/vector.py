"""Evaluate a correction on whole arrays, or row by row with the device module.

Why this exists: fitting and validation evaluate millions of predictions, too
slow one Python call at a time. ``evaluate`` is the numpy twin of
``airkit_fw.correction.correct``; ``tests/test_calibrate_correction.py``
proves the two agree on many inputs, and ``evaluate_device`` (used by
``calibrate apply``) calls the device module itself.
"""

import numpy as np

from airkit_fw import correction as fw


def _arr(x, n):
    if x is None:
        return np.full(n, np.nan)
    return np.asarray(x, dtype=float)


def _epa_2021(pm, rh):
    return 0.524 * pm - 0.0862 * rh + 5.75


def _epa_2022(pm, rh):
    high = 4.21e-4 * pm * pm + 0.392 * pm + 3.44
    low = _epa_2021(pm, rh)
    w = 0.0244 * pm - 13.9
    blend = w * high + (1.0 - w) * low
    return np.where(pm < 570.0, low, np.where(pm >= 611.0, high, blend))


def _epa_5seg(pm, rh):
    s1 = pm / 20.0 - 1.5
    s2 = pm / 50.0 - 4.2
    seg1 = 0.524 * pm - 0.0862 * rh + 5.75
    seg2 = (0.786 * s1 + 0.524 * (1.0 - s1)) * pm - 0.0862 * rh + 5.75
    seg3 = 0.786 * pm - 0.0862 * rh + 5.75
    seg4 = ((0.69 * s2 + 0.786 * (1.0 - s2)) * pm - 0.0862 * rh * (1.0 - s2)
            + 2.966 * s2 + 5.75 * (1.0 - s2) + 8.84e-4 * pm * pm * s2)
    seg5 = 2.966 + 0.69 * pm + 8.84e-4 * pm * pm
    return np.select([pm < 30.0, pm < 50.0, pm < 210.0, pm < 260.0], [seg1, seg2, seg3, seg4], seg5)


def evaluate(c, pm, rh=None, t=None):
    """Vectorised ``correct``: NaN where the device would return None."""
    pm = np.asarray(pm, dtype=float)
    n = pm.shape
    rh = _arr(rh, n)
    t = _arr(t, n)
    kind = c.get("kind")
    if c.get("bound") and c.get("valid"):      # as airkit_fw.correction: held inside the fitted ranges
        v = c["valid"]
        with np.errstate(invalid="ignore"):
            pm = np.clip(pm, *v["pm"]) if v.get("pm") else pm
            rh = np.clip(rh, *v["rh"]) if v.get("rh") else rh
            t = np.clip(t, *v["t"]) if v.get("t") else t
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if kind == "raw":
            y = pm.copy()
        elif kind in ("linear", "mlr"):
            coef = c["coef"]
            y = coef.get("intercept", 0.0) + coef.get("pm", 0.0) * pm
            if coef.get("rh", 0.0):
                y = y + coef["rh"] * rh
            if coef.get("t", 0.0):
                y = y + coef["t"] * t
        elif kind == "kappa":
            coef = c["coef"]
            r = np.clip(rh, 0.0, coef.get("rh_cap", 95.0))
            growth = np.where(r > 0.0, 1.0 + (coef["kappa"] / 1.65) / (100.0 / r - 1.0), 1.0)
            y = coef.get("slope", 1.0) * pm / growth + coef.get("intercept", 0.0)
        elif kind == "epa_2021":
            y = _epa_2021(pm, rh)
        elif kind == "epa_2022":
            y = _epa_2022(pm, rh)
        elif kind == "epa_2021_5seg":
            y = _epa_5seg(pm, rh)
        else:
            raise ValueError("unknown correction kind: %s" % kind)
        if kind not in ("raw", "linear", "mlr"):
            y = np.where(np.isnan(rh), np.nan, y)
        floor = c.get("floor")
        if floor is not None:
            y = np.where(y < floor, floor, y)
    return np.asarray(y, dtype=float)


def out_of_range(c, pm, rh=None, t=None):
    """Vectorised ``out_of_range``: an int bit mask per row."""
    pm = np.asarray(pm, dtype=float)
    n = pm.shape
    rh = _arr(rh, n)
    t = _arr(t, n)
    valid = c.get("valid") or {}
    mask = np.zeros(n, dtype=int)
    use = fw.needs(c)
    for key, x, bit, needed in (("pm", pm, fw.OUT_PM, True), ("rh", rh, fw.OUT_RH, use & fw.OUT_RH),
                                ("t", t, fw.OUT_T, use & fw.OUT_T)):
        rng = valid.get(key)
        if rng and needed:
            with np.errstate(invalid="ignore"):
                mask |= np.where((x < rng[0]) | (x > rng[1]), bit, 0)
    return mask


def evaluate_device(c, pm, rh=None, t=None):
    """Row by row through the device module (what the board computes)."""
    pm = np.asarray(pm, dtype=float)
    rh = _arr(rh, pm.shape)
    t = _arr(t, pm.shape)
    out = np.empty(pm.shape)
    flags = np.empty(pm.shape, dtype=int)
    for i in range(pm.shape[0]):
        p, r, tt = float(pm[i]), float(rh[i]), float(t[i])
        r = None if r != r else r
        tt = None if tt != tt else tt
        y = fw.correct(c, p, r, tt)
        out[i] = np.nan if y is None else y
        flags[i] = fw.out_of_range(c, p, r, tt)
    return out, flags
