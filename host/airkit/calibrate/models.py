"""Correction models with a scikit-learn-like interface.

Why this exists: every candidate (published baseline or fitted) is an
estimator with explicit parameters, ``fit(X, y)`` and ``predict(X)``, and its
fitted state in trailing-underscore attributes. ``X`` is a DataFrame with
columns ``pm`` (PM2.5 CF=1), ``rh`` (%), ``t`` (deg C). Every model that can
run on the device predicts through its ``correction_`` dict, evaluated
exactly as the board does (``vector.evaluate`` mirrors
``airkit_fw.correction``), so validation measures what the device computes.
"""

import numpy as np
from scipy.optimize import least_squares

from . import vector

BASELINE_KINDS = {
    "raw": "Raw CF=1 (no correction)",
    "epa_2021": "EPA 2021 US-wide (Barkjohn 2021)",
    "epa_2022": "EPA 2022 extended for smoke",
    "epa_2021_5seg": "EPA five-segment (Oct 2021)",
}


def _cols(X):
    pm = np.asarray(X["pm"], dtype=float)
    rh = np.asarray(X["rh"], dtype=float) if "rh" in X else np.full(pm.shape, np.nan)
    t = np.asarray(X["t"], dtype=float) if "t" in X else np.full(pm.shape, np.nan)
    return pm, rh, t


class _Base:
    device_ok = True
    fitted = True
    n_params = 0

    def predict(self, X):
        pm, rh, t = _cols(X)
        return vector.evaluate(self.correction_, pm, rh, t)

    def to_correction(self, name=None, valid=None):
        c = dict(self.correction_)
        if name:
            c["name"] = name
        if valid:
            c["valid"] = valid
            c["bound"] = True       # out-of-range inputs are held at the range's ends, and flagged
        return c


class Baseline(_Base):
    """A published correction with fixed coefficients (fit does nothing)."""
    fitted = False

    def __init__(self, kind="epa_2021"):
        self.kind = kind
        self.name = kind
        self.title = BASELINE_KINDS[kind]

    def fit(self, X=None, y=None):
        self.correction_ = {"kind": self.kind}
        return self

    def predict(self, X):
        if not hasattr(self, "correction_"):
            self.fit()
        return super().predict(X)


class FitError(ValueError):
    """A candidate could not be fitted on these rows (the workbench drops it with a note)."""


def _ols(A, y):
    if len(y) < A.shape[1] + 1:
        raise FitError("too few rows (%d) for %d coefficients" % (len(y), A.shape[1]))
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    if not np.all(np.isfinite(coef)):
        raise FitError("the least-squares solution is not finite (singular data)")
    return coef


class LinearModel(_Base):
    """reference = a * PM + b."""
    name = "linear"
    title = "Linear on CF=1"
    n_params = 2

    def __init__(self, floor=0.0):
        self.floor = floor

    def fit(self, X, y):
        pm, _, _ = _cols(X)
        ok = np.isfinite(pm) & np.isfinite(y)
        b, a = _ols(np.c_[np.ones(ok.sum()), pm[ok]], np.asarray(y)[ok])
        self.coef_ = {"intercept": float(b), "pm": float(a)}
        self.correction_ = {"kind": "linear", "coef": dict(self.coef_), "floor": self.floor}
        return self


class MLRModel(_Base):
    """reference = b0 + b1 * PM + b2 * RH (+ b3 * T)."""
    n_params = 3

    def __init__(self, use_t=False, floor=0.0):
        self.use_t = use_t
        self.floor = floor
        self.name = "mlr_rh_t" if use_t else "mlr_rh"
        self.title = "Multilinear PM + RH + T" if use_t else "Multilinear PM + RH"
        self.n_params = 4 if use_t else 3

    def fit(self, X, y):
        pm, rh, t = _cols(X)
        y = np.asarray(y, dtype=float)
        cols = [pm, rh] + ([t] if self.use_t else [])
        ok = np.isfinite(y)
        for c in cols:
            ok &= np.isfinite(c)
        A = np.column_stack([np.ones(ok.sum())] + [c[ok] for c in cols])
        coef = _ols(A, y[ok])
        self.coef_ = {"intercept": float(coef[0]), "pm": float(coef[1]), "rh": float(coef[2])}
        if self.use_t:
            self.coef_["t"] = float(coef[3])
        self.correction_ = {"kind": "mlr", "coef": dict(self.coef_), "floor": self.floor}
        return self


class KappaModel(_Base):
    """kappa-Koehler: reference = slope * PM / C(RH) + intercept,
    C = 1 + (kappa/1.65) / (100/RH - 1), RH capped at ``rh_cap``."""
    name = "kappa"
    title = "kappa-Koehler hygroscopic growth"
    n_params = 3

    def __init__(self, rh_cap=95.0, floor=0.0):
        self.rh_cap = rh_cap
        self.floor = floor

    def fit(self, X, y):
        pm, rh, _ = _cols(X)
        y = np.asarray(y, dtype=float)
        ok = np.isfinite(pm) & np.isfinite(rh) & np.isfinite(y)
        pm, rh, y = pm[ok], np.clip(rh[ok], 0.0, self.rh_cap), y[ok]
        inv = np.where(rh > 0, 1.0 / np.maximum(100.0 / np.maximum(rh, 1e-6) - 1.0, 1e-9), 0.0)

        def resid(p):
            k, s, b = p
            return s * pm / (1.0 + (k / 1.65) * inv) + b - y

        b0, a0 = _ols(np.c_[np.ones(len(pm)), pm], y)
        lo, hi = np.array([0.0, 0.0, -50.0]), np.array([2.0, 5.0, 50.0])
        # Starting values strictly inside the bounds, whatever the linear fit gave (a humid site with a raw
        # sensor reading twice the reference can put the intercept far outside +-50).
        x0 = np.clip([0.2, a0, b0], lo + 1e-6, hi - 1e-6)
        fit = least_squares(resid, x0=x0, bounds=(lo, hi))
        if not np.all(np.isfinite(fit.x)):
            raise FitError("the kappa-Koehler fit did not converge")
        k, s, b = (float(v) for v in fit.x)
        self.coef_ = {"kappa": k, "slope": s, "intercept": b, "rh_cap": float(self.rh_cap)}
        self.correction_ = {"kind": "kappa", "coef": dict(self.coef_), "floor": self.floor}
        return self


class GBMModel:
    """Gradient-boosted trees on PM, RH, T: a flexible comparison model.

    Reported, never pushed: the board cannot run it."""
    name = "gbm"
    title = "Gradient boosting (comparison only)"
    device_ok = False
    fitted = True
    n_params = 1000

    def __init__(self, max_iter=200, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=20, random_state=0):
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.random_state = random_state

    def _X(self, X):
        pm, rh, t = _cols(X)
        return np.column_stack([pm, rh, t])

    def fit(self, X, y):
        from sklearn.ensemble import HistGradientBoostingRegressor
        y = np.asarray(y, dtype=float)
        ok = np.isfinite(y) & np.isfinite(np.asarray(X["pm"], dtype=float))
        self.model_ = HistGradientBoostingRegressor(
            max_iter=self.max_iter, learning_rate=self.learning_rate, max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf, random_state=self.random_state).fit(self._X(X)[ok], y[ok])
        return self

    def predict(self, X):
        return self.model_.predict(self._X(X))

    def to_correction(self, name=None, valid=None):
        raise ValueError("the gradient-boosting model cannot run on the device")


def baselines(has_rh=True):
    kinds = ["raw"] + (["epa_2021", "epa_2022", "epa_2021_5seg"] if has_rh else [])
    return [Baseline(k) for k in kinds]


def candidates(has_rh=True, has_t=False, flexible=True):
    """Fitted candidates, simplest first (the order breaks ties)."""
    out = [LinearModel()]
    if has_rh:
        out += [MLRModel(use_t=False), KappaModel()]
        if has_t:
            out.append(MLRModel(use_t=True))
    if flexible and has_rh:
        out.append(GBMModel())
    return out


def clone(model):
    """A new unfitted estimator with the same parameters."""
    params = {k: v for k, v in vars(model).items() if not k.endswith("_") and k not in ("name", "title", "n_params", "kind")}
    if isinstance(model, Baseline):
        return Baseline(model.kind)
    if isinstance(model, MLRModel):
        return MLRModel(**{k: params[k] for k in ("use_t", "floor")})
    return type(model)(**params)
