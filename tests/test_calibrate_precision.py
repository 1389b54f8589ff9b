"""Precision between identical sensors and the PM10 targets (EPA 2021)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from airkit.calibrate import align, cli, ingest, validate, workbench

DATA = Path(__file__).parent / "data" / "calibration"
F = DATA / "formats"
PA = [DATA / ("purpleair_%s_slice.csv" % d) for d in ("159965", "159991", "159997")]


def test_precision_formula_by_hand():
    # 4 days x 3 sensors; day 4 has a missing sensor and must not count.
    t = pd.DataFrame({"a": [10.0, 20.0, 5.0, 9.0], "b": [12.0, 20.0, 7.0, np.nan], "c": [14.0, 23.0, 6.0, 30.0]})
    p = validate.precision(t)
    # day means 12, 21, 6; squared deviations 8 + 6 + 2 = 16; n*M - 1 = 3*3 - 1 = 8
    assert p["days"] == 3 and p["sensors"] == 3
    assert p["sd"] == pytest.approx(np.sqrt(16 / 8))
    assert p["mean"] == pytest.approx(117 / 9)
    assert p["cv"] == pytest.approx(np.sqrt(2) / 13 * 100)
    assert p["meets"] is True
    # SD 20 and CV far above 30 %: fails
    bad = validate.precision(pd.DataFrame({"a": [10.0, 10.0], "b": [50.0, 50.0]}))
    assert bad["sd"] == pytest.approx(np.sqrt(4 * 400 / 3)) and bad["meets"] is False
    assert validate.precision(pd.DataFrame({"a": [1.0, 2.0]}))["sd"] is None


def _multi_device(tmp_path, days=20, offsets=(0.0, 2.0, 4.0), seed=1):
    rng = np.random.default_rng(seed)
    t = pd.date_range("2024-01-01", periods=days * 24, freq="1h", tz="UTC")
    ref = np.clip(8 + 6 * np.sin(np.arange(len(t)) / 9.0) + rng.normal(0, 1, len(t)), 1, None)
    rh = np.clip(60 + 20 * np.cos(np.arange(len(t)) / 24 * 2 * np.pi), 20, 95)
    rows = []
    base = 1.5 * ref + rng.normal(0, 0.5, len(t))
    for i, off in enumerate(offsets):
        rows.append(pd.DataFrame({"time": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "pm25_cf1": (base + off).round(4),
                                  "rh": rh.round(2), "temp_c": 15.0, "device": "D%d" % i}))
    sensor = pd.concat(rows)
    sp, rp = tmp_path / "sensors.csv", tmp_path / "ref.csv"
    sensor.to_csv(sp, index=False)
    pd.DataFrame({"time": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "pm25": ref.round(3)}).to_csv(rp, index=False)
    return sp, rp, base


def test_precision_end_to_end_one_file_with_device_column(tmp_path):
    sp, rp, base = _multi_device(tmp_path)
    pairs = align.pair(ingest.load_sensor(sp), ingest.load_reference(rp))
    res = workbench.run(pairs, k=3, flexible=False, n_boot=20)
    p = res.summary["precision"]
    assert p["sensors"] == 3 and p["raw"]["days"] == 20
    # offsets 0, 2, 4 around the day mean (+2): squared deviations 4 + 0 + 4 = 8 per day
    n = 20
    assert p["raw"]["sd"] == pytest.approx(np.sqrt(8 * n / (3 * n - 1)), rel=1e-3)
    mean = base.round(4).mean() + 2.0
    assert p["raw"]["cv"] == pytest.approx(np.sqrt(8 * n / (3 * n - 1)) / mean * 100, rel=1e-3)
    chosen = res.summary["chosen"]
    assert p[chosen]["days"] == 20 and p[chosen]["sd"] is not None
    assert "3 sensors" in p["note"]


@pytest.fixture(scope="module")
def deq():
    s = ingest.load_sensor([str(p) for p in PA])
    r = ingest.load_reference(DATA / "deq_shirley_slice.csv")
    pairs = align.pair(s, r, lag=5)          # the DEQ clock is local standard time (see the lag test)
    return pairs, workbench.run(pairs, k=3, flexible=False, n_boot=20)


def test_precision_real_three_purpleair_sensors(deq):
    _, res = deq
    p = res.summary["precision"]
    # Independent of the workbench: plain 24-h means of each sensor file, EPA formula.
    x = pd.DataFrame({i: pd.read_csv(f, parse_dates=["time_stamp"]).set_index("time_stamp")["pm2.5_cf_1"]
                      .resample("1D").mean() for i, f in enumerate(PA)}).dropna().to_numpy()
    n, m = x.shape
    sd = np.sqrt(np.sum((x - x.mean(axis=1, keepdims=True)) ** 2) / (n * m - 1))
    assert (p["sensors"], p["raw"]["days"]) == (3, n) == (3, 9)
    assert p["raw"]["sd"] == pytest.approx(sd, rel=0.02)
    assert p["raw"]["cv"] == pytest.approx(sd / x.mean() * 100, abs=0.1)
    assert p["raw"]["meets"] is True
    chosen = res.summary["chosen"]
    assert p[chosen]["sd"] < p["raw"]["sd"]      # the correction shrinks the values, and their spread


def test_pm10_real_deq(deq):
    pairs, res = deq
    assert pairs.pm10_field == "pm10_cf1"
    q = res.summary["pm10"]
    # Independent: hourly means, reference moved +5 h, 24-h means with >= 18 hours, OLS.
    r = pd.read_csv(DATA / "deq_shirley_slice.csv", dtype=str)
    r.index = pd.to_datetime(r["time_stamp"]) + pd.Timedelta(hours=5)
    ref10 = pd.to_numeric(r["PM10"], errors="coerce").resample("1h").mean()
    xs, ys = [], []
    for f in PA:
        h = pd.read_csv(f, parse_dates=["time_stamp"]).set_index("time_stamp")["pm10.0_cf_1"].resample("1h").mean()
        j = pd.DataFrame({"s": h, "r": ref10}).dropna()
        d = j.resample("1D").mean()[j.resample("1D").count()["r"] >= 18]
        xs += list(d["r"])
        ys += list(d["s"])
    xs, ys = np.array(xs), np.array(ys)
    slope, icpt = np.polyfit(xs, ys, 1)
    m = q["metrics_24h"]
    assert m["n"] == len(xs) == 27
    assert m["slope"] == pytest.approx(slope, abs=0.02) and m["intercept"] == pytest.approx(icpt, abs=0.3)
    assert m["r2"] == pytest.approx(np.corrcoef(xs, ys)[0, 1] ** 2, abs=0.01)
    assert m["rmse"] == pytest.approx(np.sqrt(np.mean((ys - xs) ** 2)), abs=0.1)
    # raw PurpleAir PM10 over-reads: the slope target (0.65-1.35) is missed, the PM10 error target (<= 14) met
    assert q["targets_24h"]["slope"] is False and q["targets_24h"]["error"] is True
    assert validate.TARGETS_PM10["rmse"] == (None, 14.0) and validate.TARGETS_PM10["intercept"] == (-10.0, 10.0)


def test_one_device_and_no_pm10_messages(tmp_path, capsys):
    sp, rp, _ = _multi_device(tmp_path, offsets=(0.0,))
    out = tmp_path / "m.json"
    assert cli.main(["calibrate", "fit", "--sensor", str(sp), "--reference", str(rp), "--out", str(out),
                     "--no-flexible", "--folds", "3", "--json"]) == 0
    cap = capsys.readouterr()
    doc = json.loads(cap.out)
    assert "needs at least 2 co-located sensors" in doc["precision"]["note"]
    assert "EPA's base test uses 3" in doc["precision"]["note"]
    assert "raw" not in doc["precision"]
    assert doc["pm10"]["note"] == ("PM10 targets skipped: no PM10 in the sensor (pm10_cf1 / pm10_atm) or the "
                                   "reference.")
    saved = json.loads(out.read_text())
    assert saved["validation"]["precision"]["sensors"] == 1
    # a second fit to the same file needs --force (nothing overwritten without asking)
    assert cli.main(["calibrate", "fit", "--sensor", str(sp), "--reference", str(rp), "--out", str(out),
                     "--no-flexible", "--folds", "3"]) == 5
    assert "--force" in capsys.readouterr().err
    assert cli.main(["calibrate", "fit", "--sensor", str(sp), "--reference", str(rp), "--out", str(out),
                     "--no-flexible", "--folds", "3", "--force"]) == 0
    # the human summary is the command's output: stdout
    text = capsys.readouterr().out
    assert "precision between sensors not computed" in text and "PM10 targets skipped" in text


def test_pm10_missing_on_one_side_only(tmp_path):
    sp, rp, _ = _multi_device(tmp_path, days=3, offsets=(0.0,))
    s = ingest.load_sensor(sp)
    r = ingest.load_reference(rp)
    r.frame["pm10"] = r.frame["pm25"] * 1.5
    assert align.pair(s, r).pm10_note == "PM10 targets skipped: no PM10 in the sensor (pm10_cf1 / pm10_atm)."
    s.frame["pm10_atm"] = s.frame["pm25_cf1"] * 1.2
    p = align.pair(s, r)
    assert p.pm10_field == "pm10_atm" and p.pm10_note is None and len(p.pm10) == 72
    del r.frame["pm10"]
    assert align.pair(s, r).pm10_note == "PM10 targets skipped: no PM10 in the reference."


def test_daily_pairs_from_different_sites_are_not_called_precise():
    s = ingest.load_sensor(DATA / "pa_aqs_daily_slice.csv")
    pairs = align.pair(s, s)
    res = workbench.run(pairs, k=3, flexible=False, n_boot=20)
    assert "not co-located" in res.summary["precision"]["note"]
    assert "raw" not in res.summary["precision"]
    assert res.summary["pm10"]["note"].startswith("PM10 targets skipped")


def test_reference_pm10_columns(tmp_path):
    t = ingest.load_reference(DATA / "deq_shirley_slice.csv")
    raw = pd.to_numeric(pd.read_csv(DATA / "deq_shirley_slice.csv", dtype=str)["PM10"], errors="coerce")
    assert t.frame["pm10"].notna().sum() == raw.notna().sum()
    ant = (F / "airnowtech.csv").read_text()
    ant += ("OAQ,Burdens Creek,370630099,PM10,81102,1,122,1 Hr,3/10/2024,5:00,3/10/2024,0:00,-05:00,20.5,UG/M3,0\n"
            "OAQ,Burdens Creek,370630099,PM10,81102,1,122,1 Hr,3/10/2024,7:00,3/10/2024,2:00,-05:00,88,UG/M3,3\n")
    (tmp_path / "ant.csv").write_text(ant)
    f = ingest.load_reference(tmp_path / "ant.csv", fmt="airnowtech").frame
    assert f.loc["2024-03-10 05:00", "pm10"].item() == 20.5
    assert np.isnan(f.loc["2024-03-10 07:00", "pm10"].item())          # QC code 3
    assert f.loc["2024-03-10 07:00", "pm25"].item() == 15.0
    aqs = (F / "aqs_hourly_88101_2024.csv").read_text().splitlines()
    aqs.append(aqs[1].replace('"88101"', '"81102"').replace(",12.3,", ",31.0,"))
    (tmp_path / "aqs.csv").write_text("\n".join(aqs) + "\n")
    f = ingest.load_reference(tmp_path / "aqs.csv", fmt="aqs_hourly").frame
    assert f.loc["2024-03-10 05:00", "pm10"].item() == 31.0 and f.loc["2024-03-10 05:00", "pm25"].item() == 12.3
    assert "pm10" not in ingest.load_reference(F / "aqs_hourly_88101_2024.csv").frame
