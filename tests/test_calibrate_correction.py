"""The device correction module: same numbers on MicroPython, CPython and numpy.

The host never re-implements the formula: it imports airkit_fw.correction, and
its vectorised twin (airkit.calibrate.vector) is held equal here. The module is
run under the real MicroPython unix port and compared bit for bit.
"""

import json
import math
import random
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from airkit.calibrate import vector
from airkit_fw import correction as fw

ROOT = Path(__file__).resolve().parents[1]
MICROPYTHON = ROOT / ".venv" / "bin" / "micropython"

CORRECTIONS = [
    {"kind": "raw"},
    {"kind": "linear", "coef": {"intercept": 1.52, "pm": 0.61}, "floor": 0.0},
    {"kind": "mlr", "coef": {"intercept": 5.1, "pm": 0.52, "rh": -0.081}, "floor": 0.0},
    {"kind": "mlr", "coef": {"intercept": 3.3, "pm": 0.55, "rh": -0.07, "t": 0.031},
     "valid": {"pm": [0, 150], "rh": [20, 95], "t": [-5, 38]}},
    {"kind": "kappa", "coef": {"kappa": 0.31, "slope": 0.62, "intercept": 0.8, "rh_cap": 95.0}, "floor": 0.0},
    {"kind": "epa_2021", "valid": {"pm": [0, 570], "rh": [0, 100]}},
    {"kind": "epa_2022"},
    {"kind": "epa_2021_5seg"},
]

EDGES = [0.0, 0.5, 29.99, 30.0, 40.0, 50.0, 209.9, 210.0, 235.0, 260.0, 400.0, 569.9, 570.0, 590.0, 611.0, 900.0]


def cases(n=400, seed=1):
    rnd = random.Random(seed)
    out = []
    for pm in EDGES:
        out.append([pm, 55.0, 21.0])
    for _ in range(n):
        pm = rnd.choice([rnd.uniform(0, 60), rnd.uniform(0, 1000), rnd.expovariate(0.05)])
        rh = rnd.choice([rnd.uniform(0, 100), rnd.uniform(85, 100), None])
        t = rnd.choice([rnd.uniform(-20, 45), None])
        out.append([pm, rh, t])
    return out


def _bits(y):
    return None if y is None else struct.pack("<d", y).hex()


def cpython_results(cs):
    res = []
    for c in CORRECTIONS:
        for pm, rh, t in cs:
            res.append([_bits(fw.correct(c, pm, rh, t)), fw.out_of_range(c, pm, rh, t)])
    return res


MP_SCRIPT = r"""
import sys, json, struct, binascii
sys.path.insert(0, %(fw)r)
import correction as fw
data = json.load(open(%(data)r))
def f(h):
    return None if h is None else struct.unpack("<d", binascii.unhexlify(h))[0]
for c in data["corrections"]:
    for row in data["cases"]:
        pm, rh, t = [f(h) for h in row]
        y = fw.correct(c, pm, rh, t)
        b = None if y is None else binascii.hexlify(struct.pack("<d", y)).decode()
        print(json.dumps([b, fw.out_of_range(c, pm, rh, t)]))
"""


@pytest.mark.skipif(not MICROPYTHON.exists(), reason="MicroPython unix port not installed (make setup)")
def test_micropython_matches_cpython(tmp_path):
    cs = cases()
    data = tmp_path / "cases.json"
    # inputs travel as exact bit patterns; the coefficients as JSON, as on the device
    data.write_text(json.dumps({"corrections": CORRECTIONS, "cases": [[_bits(v) for v in row] for row in cs]}))
    script = tmp_path / "run.py"
    script.write_text(MP_SCRIPT % {"fw": str(ROOT / "firmware" / "airkit_fw"), "data": str(data)})
    out = subprocess.run([str(MICROPYTHON), str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    mp = [json.loads(line) for line in out.stdout.splitlines()]
    cp = cpython_results(cs)
    assert len(mp) == len(cp) == len(CORRECTIONS) * len(cs)
    exact = numbers = 0
    for (mb, mf), (cb, cf) in zip(mp, cp):
        assert mf == cf
        assert (mb is None) == (cb is None)
        if mb is None:
            continue
        numbers += 1
        if mb == cb:
            exact += 1
            continue
        a = struct.unpack("<d", bytes.fromhex(mb))[0]
        b = struct.unpack("<d", bytes.fromhex(cb))[0]
        assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12), (a, b)
    # same IEEE doubles, same operations: every number is bit-for-bit identical
    assert numbers > 0.5 * len(cp)
    assert exact == numbers


def test_vector_equals_device_module():
    cs = cases(2000, seed=7)
    pm = np.array([c[0] for c in cs])
    rh = np.array([np.nan if c[1] is None else c[1] for c in cs])
    t = np.array([np.nan if c[2] is None else c[2] for c in cs])
    for c in CORRECTIONS:
        dev, dflags = vector.evaluate_device(c, pm, rh, t)
        vec = vector.evaluate(c, pm, rh, t)
        assert np.array_equal(np.isnan(dev), np.isnan(vec)), c
        ok = ~np.isnan(dev)
        np.testing.assert_allclose(vec[ok], dev[ok], rtol=1e-13, atol=1e-12, err_msg=str(c))
        np.testing.assert_array_equal(vector.out_of_range(c, pm, rh, t), dflags)


def test_epa_2021_known_values():
    # Barkjohn et al. 2021: 0.524 PA - 0.0862 RH + 5.75
    assert fw.correct({"kind": "epa_2021"}, 20.0, 50.0) == pytest.approx(0.524 * 20 - 0.0862 * 50 + 5.75)
    # 2022 extension: high branch above 611, blend between
    assert fw.correct({"kind": "epa_2022"}, 700.0, 50.0) == pytest.approx(4.21e-4 * 700 ** 2 + 0.392 * 700 + 3.44)
    # five-segment version is continuous at its joints
    for pa in (30.0, 50.0, 210.0, 260.0):
        lo = fw.correct({"kind": "epa_2021_5seg"}, pa - 1e-9, 60.0)
        hi = fw.correct({"kind": "epa_2021_5seg"}, pa, 60.0)
        assert abs(lo - hi) < 1e-5, pa


def test_missing_inputs_give_none_not_numbers():
    assert fw.correct({"kind": "epa_2021"}, 10.0, None) is None
    assert fw.correct({"kind": "mlr", "coef": {"intercept": 1, "pm": 0.5, "t": 0.1}}, 10.0, 50.0, None) is None
    assert fw.correct({"kind": "linear", "coef": {"intercept": 1, "pm": 0.5}}, 10.0, None) == 6.0
    assert fw.correct({"kind": "raw"}, float("nan")) is None
    with pytest.raises(ValueError):
        fw.correct({"kind": "gbm"}, 10.0, 50.0)


def test_out_of_range_flags():
    c = CORRECTIONS[3]
    assert fw.out_of_range(c, 10.0, 50.0, 20.0) == 0
    assert fw.out_of_range(c, 200.0, 50.0, 20.0) == fw.OUT_PM
    assert fw.out_of_range(c, 10.0, 99.0, 40.0) == fw.OUT_RH | fw.OUT_T


def test_from_config_and_label():
    assert fw.from_config({}) is None
    assert fw.from_config({"correction": {"kind": "nope"}}) is None
    c = {"kind": "epa_2021", "name": "EPA 2021"}
    assert fw.from_config({"correction": c}) is c
    assert fw.label(c) == "EPA 2021"
    assert fw.label({"kind": "raw"}) == "raw"
