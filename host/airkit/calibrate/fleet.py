"""Fit and validate many devices at once with the closed-form candidates.

Why this exists: a network operator with hundreds of co-located (or
collocated-then-moved) sensors needs per-device corrections in seconds, not a
Python loop over devices. Devices share one hourly time grid (arrays shaped
(devices, hours), NaN = missing); every device gets linear, MLR(RH) and
MLR(RH, T) fitted on contiguous time blocks (normal equations, batched), the
EPA 2021 baseline, held-out metrics, and the same "simplest within one
bootstrap SE" choice as the single-device workbench. The kappa-Koehler and
gradient-boosting candidates are not closed-form and are left to
``workbench.run`` for single devices.
"""

import numpy as np

CANDIDATES = {"linear": [0, 1], "mlr_rh": [0, 1, 2], "mlr_rh_t": [0, 1, 2, 3]}
ORDER = ["epa_2021", "linear", "mlr_rh", "mlr_rh_t"]


def generate(n_devices, hours=8760, seed=0, missing=0.05, dtype=np.float64):
    """Realistic hourly co-location data: reference PM2.5 with synoptic
    episodes, diurnal and seasonal cycles; RH and T with diurnal/seasonal
    cycles; each sensor over-reads with its own slope, offset, hygroscopic
    growth (kappa) and noise; outages remove ``missing`` of the hours."""
    from scipy.signal import lfilter
    rng = np.random.default_rng(seed)
    h = np.arange(hours)
    day = 2 * np.pi * (h % 24) / 24
    year = 2 * np.pi * h / 8760
    out = {k: np.empty((n_devices, hours), dtype=dtype) for k in ("pm", "rh", "t", "ref")}
    for lo in range(0, n_devices, 100):
        n = min(100, n_devices - lo)
        u = lambda a, b: rng.uniform(a, b, (n, 1))  # noqa: E731  one value per device
        z = lfilter([1.0], [1.0, -0.9], rng.normal(0, 0.25, (n, hours)), axis=1)   # synoptic AR(1)
        ref = np.exp(u(1.6, 2.4) + z + 0.25 * np.cos(year) + 0.15 * np.cos(day - 0.5))
        t = u(8, 20) - 10 * np.cos(year) - 5 * np.cos(day - 0.8) + rng.normal(0, 1.5, (n, hours))
        rh = np.clip(u(55, 75) + 18 * np.cos(day - 0.8) - 0.4 * (t - t.mean(1, keepdims=True))
                     + rng.normal(0, 7, (n, hours)), 8, 99.5)
        growth = 1 + (u(0.1, 0.45) / 1.65) / (100 / np.minimum(rh, 96) - 1)
        pm = (u(1.2, 1.7) * ref * growth + u(-1, 2) + rng.normal(0, 1.0, (n, hours))
              + 0.05 * ref * rng.normal(0, 1, (n, hours)))
        pm = np.clip(pm, 0, None)
        ref = ref + rng.normal(0, 0.8, (n, hours))
        gone = np.zeros((n, hours), dtype=bool)
        for d in range(n):                      # outages: a few blocks of 6-90 h per device
            for s0 in rng.integers(0, hours, rng.poisson(missing * hours / 48)):
                gone[d, s0:s0 + rng.integers(6, 90)] = True
        for k, v in (("pm", pm), ("rh", rh), ("t", t), ("ref", ref)):
            v = v.astype(dtype)
            v[gone] = np.nan
            out[k][lo:lo + n] = v
    return out


def _blocks(hours, k, gap):
    edges = np.linspace(0, hours, k + 1).astype(int)
    return [(edges[i], edges[i + 1], max(0, edges[i] - gap), min(hours, edges[i + 1] + gap)) for i in range(k)]


def fit_validate(pm, rh, t, ref, k=5, gap_h=24, n_boot=200, seed=0, chunk=100):
    """Per-device held-out metrics and choice. Arrays (devices, hours).

    Returns a dict of arrays over devices: ``chosen`` (index into ORDER),
    ``rmse`` {model: (D,)}, ``mae``, ``bias``, ``r2``, ``slope``,
    ``intercept`` for the chosen model, and ``coef`` {model: (D, p)} fitted on
    all hours."""
    D, H = pm.shape
    res = {"rmse": {m: np.empty(D) for m in ORDER}, "chosen": np.empty(D, dtype=int),
           "coef": {m: np.empty((D, len(c))) for m, c in CANDIDATES.items()},
           "chosen_metrics": {k2: np.empty(D) for k2 in ("rmse", "mae", "bias", "r2", "slope", "intercept")}}
    rng = np.random.default_rng(seed)
    n_days = (H + 23) // 24
    W = np.zeros((n_boot, n_days))
    for b in range(n_boot):
        W[b] = np.bincount(rng.integers(0, n_days, n_days), minlength=n_days)
    blocks = _blocks(H, k, gap_h)
    for lo in range(0, D, chunk):
        hi = min(D, lo + chunk)
        P, R, T, Y = (np.asarray(a[lo:hi], dtype=np.float64) for a in (pm, rh, t, ref))
        ok = np.isfinite(P) & np.isfinite(R) & np.isfinite(T) & np.isfinite(Y)
        w = ok.astype(np.float64)
        A = np.stack([np.ones_like(P), np.nan_to_num(P), np.nan_to_num(R), np.nan_to_num(T)], axis=-1)
        Yz = np.nan_to_num(Y)
        Aw = A * w[..., None]
        XtX_all = np.einsum("dhi,dhj->dij", Aw, A)
        Xty_all = np.einsum("dhi,dh->di", Aw, Yz)
        preds = {m: np.full(P.shape, np.nan) for m in ORDER}
        with np.errstate(invalid="ignore"):
            preds["epa_2021"] = np.where(ok, 0.524 * P - 0.0862 * R + 5.75, np.nan)
        for (a, b, ga, gb) in blocks:
            # training = all hours minus the block and the gap around it
            XtX = XtX_all - np.einsum("dhi,dhj->dij", Aw[:, ga:gb], A[:, ga:gb])
            Xty = Xty_all - np.einsum("dhi,dh->di", Aw[:, ga:gb], Yz[:, ga:gb])
            for m, idx in CANDIDATES.items():
                M = XtX[:, idx][:, :, idx] + 1e-9 * np.eye(len(idx))
                coef = np.linalg.solve(M, Xty[:, idx][..., None])[..., 0]
                p = np.einsum("dhi,di->dh", A[:, a:b, idx], coef)
                # floor at 0, as the fitted corrections do on the device ("floor": 0.0)
                preds[m][:, a:b] = np.where(ok[:, a:b], np.maximum(p, 0.0), np.nan)
        for m, idx in CANDIDATES.items():
            M = XtX_all[:, idx][:, :, idx] + 1e-9 * np.eye(len(idx))
            res["coef"][m][lo:hi] = np.linalg.solve(M, Xty_all[:, idx][..., None])[..., 0]
        # per-day squared errors -> RMSE and its bootstrap per device
        n = w.sum(axis=1)
        pad = n_days * 24 - H
        wd = np.pad(w, ((0, 0), (0, pad))).reshape(hi - lo, n_days, 24).sum(-1)
        boot_n = wd @ W.T                                  # (d, B)
        sse_boot = {}
        for m in ORDER:
            e2 = np.nan_to_num((preds[m] - Y) ** 2)
            res["rmse"][m][lo:hi] = np.sqrt(e2.sum(1) / np.maximum(n, 1))
            e2d = np.pad(e2, ((0, 0), (0, pad))).reshape(hi - lo, n_days, 24).sum(-1)
            sse_boot[m] = np.sqrt((e2d @ W.T) / np.maximum(boot_n, 1))
        rm = np.stack([res["rmse"][m][lo:hi] for m in ORDER])      # (models, d)
        best = rm.argmin(0)
        boot = np.stack([sse_boot[m] for m in ORDER])                # (models, d, B)
        best_boot = np.take_along_axis(boot, best[None, :, None], 0)[0]
        se = (boot - best_boot[None]).std(-1)                        # (models, d)
        within = (rm - rm[best, np.arange(hi - lo)]) <= se
        chosen = within.argmax(0)                                    # first (simplest) within noise
        res["chosen"][lo:hi] = chosen
        # metrics of the chosen model
        pc = np.stack([preds[m] for m in ORDER])[chosen, np.arange(hi - lo)]
        x, y = np.where(ok, Y, 0), np.where(ok, pc, 0)
        nn = np.maximum(n, 1)
        mx, my = x.sum(1) / nn, y.sum(1) / nn
        sxx = (w * (x - mx[:, None]) ** 2).sum(1)
        syy = (w * (y - my[:, None]) ** 2).sum(1)
        sxy = (w * (x - mx[:, None]) * (y - my[:, None])).sum(1)
        e = w * (y - x)
        cm = res["chosen_metrics"]
        cm["rmse"][lo:hi] = np.sqrt((e ** 2).sum(1) / nn)
        cm["mae"][lo:hi] = np.abs(e).sum(1) / nn
        cm["bias"][lo:hi] = e.sum(1) / nn
        with np.errstate(invalid="ignore", divide="ignore"):
            cm["slope"][lo:hi] = sxy / sxx
            cm["intercept"][lo:hi] = my - cm["slope"][lo:hi] * mx
            cm["r2"][lo:hi] = sxy ** 2 / (sxx * syy)
    return res
