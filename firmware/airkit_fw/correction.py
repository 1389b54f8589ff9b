"""PM2.5 correction shared by the device and the host tools.

Why this exists: a correction fitted on the desk must give the same number on
the board. The host (``airkit calibrate``) and the firmware both evaluate the
``correction`` dict of a model file with this one module, so the formula is
written once. It runs under MicroPython and CPython: plain floats, no imports,
no allocation beyond the float it returns.

A correction is a dict such as::

    {"kind": "mlr", "name": "site-A 2024",
     "coef": {"intercept": 3.1, "pm": 0.52, "rh": -0.07, "t": 0.02},
     "valid": {"pm": [0, 180], "rh": [20, 98], "t": [-5, 38]}, "bound": True,
     "floor": 0.0}

With ``bound`` set, inputs outside ``valid`` are held at the nearest end of
the range before the formula is evaluated (and flagged by ``out_of_range``).

Kinds: ``raw``, ``linear`` and ``mlr`` (intercept + pm*a + rh*b + t*c),
``kappa`` (kappa-Koehler hygroscopic growth, then slope and intercept),
``epa_2021`` (Barkjohn et al. 2021, US-wide), ``epa_2022`` (Barkjohn et al.
2022, extended for smoke) and ``epa_2021_5seg`` (the October 2021 five-segment
version). ``pm`` is PM2.5 CF=1 in ug/m3 (mean of both channels where there
are two), ``rh`` in %, ``t`` in deg C.
"""

OUT_PM = 1
OUT_RH = 2
OUT_T = 4

KINDS = ("raw", "linear", "mlr", "kappa", "epa_2021", "epa_2022", "epa_2021_5seg")


def _epa_2021(pm, rh):
    return 0.524 * pm - 0.0862 * rh + 5.75


def _epa_2022_high(pm):
    return 4.21e-4 * pm * pm + 0.392 * pm + 3.44


def _epa_2022(pm, rh):
    if pm < 570.0:
        return _epa_2021(pm, rh)
    if pm >= 611.0:
        return _epa_2022_high(pm)
    w = 0.0244 * pm - 13.9
    return w * _epa_2022_high(pm) + (1.0 - w) * _epa_2021(pm, rh)


def _epa_5seg(pm, rh):
    if pm < 30.0:
        return 0.524 * pm - 0.0862 * rh + 5.75
    if pm < 50.0:
        s = pm / 20.0 - 1.5
        return (0.786 * s + 0.524 * (1.0 - s)) * pm - 0.0862 * rh + 5.75
    if pm < 210.0:
        return 0.786 * pm - 0.0862 * rh + 5.75
    if pm < 260.0:
        s = pm / 50.0 - 4.2
        return ((0.69 * s + 0.786 * (1.0 - s)) * pm - 0.0862 * rh * (1.0 - s)
                + 2.966 * s + 5.75 * (1.0 - s) + 8.84e-4 * pm * pm * s)
    return 2.966 + 0.69 * pm + 8.84e-4 * pm * pm


def _bounded(rng, x):
    if not rng or x is None or x != x:
        return x
    if x < rng[0]:
        return rng[0]
    if x > rng[1]:
        return rng[1]
    return x


def needs(c):
    """Which inputs the correction uses: a bit mask of OUT_PM, OUT_RH, OUT_T."""
    kind = c.get("kind")
    if kind == "raw":
        return OUT_PM
    if kind in ("linear", "mlr"):
        coef = c["coef"]
        m = OUT_PM
        if coef.get("rh", 0.0):
            m |= OUT_RH
        if coef.get("t", 0.0):
            m |= OUT_T
        return m
    return OUT_PM | OUT_RH


def correct(c, pm, rh=None, t=None):
    """Corrected PM2.5 for one reading, or None when a needed input is missing.

    Raises ValueError for a kind this module does not know (a model the device
    cannot run)."""
    if pm is None or pm != pm:
        return None
    if c.get("bound"):
        # inputs outside the ranges the model was fitted on are held at the nearest end of the range (never
        # extrapolated: a spike of 1,491 ug/m3 is not passed through); out_of_range() flags them
        valid = c.get("valid")
        if valid:
            pm = _bounded(valid.get("pm"), pm)
            rh = _bounded(valid.get("rh"), rh)
            t = _bounded(valid.get("t"), t)
    kind = c.get("kind")
    if kind == "raw":
        y = pm
    elif kind == "linear" or kind == "mlr":
        coef = c["coef"]
        y = coef.get("intercept", 0.0) + coef.get("pm", 0.0) * pm
        b = coef.get("rh", 0.0)
        if b:
            if rh is None or rh != rh:
                return None
            y += b * rh
        b = coef.get("t", 0.0)
        if b:
            if t is None or t != t:
                return None
            y += b * t
    else:
        if rh is None or rh != rh:
            return None
        if kind == "kappa":
            coef = c["coef"]
            cap = coef.get("rh_cap", 95.0)
            r = rh
            if r > cap:
                r = cap
            if r < 0.0:
                r = 0.0
            growth = 1.0
            if r > 0.0:
                growth = 1.0 + (coef["kappa"] / 1.65) / (100.0 / r - 1.0)
            y = coef.get("slope", 1.0) * pm / growth + coef.get("intercept", 0.0)
        elif kind == "epa_2021":
            y = _epa_2021(pm, rh)
        elif kind == "epa_2022":
            y = _epa_2022(pm, rh)
        elif kind == "epa_2021_5seg":
            y = _epa_5seg(pm, rh)
        else:
            raise ValueError("unknown correction kind: %s" % kind)
    floor = c.get("floor")
    if floor is not None and y < floor:
        y = floor
    return y


def _outside(rng, x):
    return x is not None and x == x and (x < rng[0] or x > rng[1])


def out_of_range(c, pm, rh=None, t=None):
    """0 when the inputs lie inside the model's valid ranges, else a bit mask
    (OUT_PM, OUT_RH, OUT_T) of the inputs outside them. Out-of-range readings
    are still corrected, but flagged: the model never saw such conditions."""
    valid = c.get("valid")
    if not valid:
        return 0
    m = 0
    rng = valid.get("pm")
    if rng and _outside(rng, pm):
        m |= OUT_PM
    use = needs(c)
    rng = valid.get("rh")
    if rng and (use & OUT_RH) and _outside(rng, rh):
        m |= OUT_RH
    rng = valid.get("t")
    if rng and (use & OUT_T) and _outside(rng, t):
        m |= OUT_T
    return m


def from_config(cfg):
    """The correction stored in a device config dict (key ``correction``), or
    None when there is none or its kind is unknown to this firmware."""
    c = cfg.get("correction") if cfg else None
    if not c or c.get("kind") not in KINDS:
        return None
    return c


def label(c):
    """Short name uploaded beside corrected values."""
    return c.get("name") or c.get("kind")
