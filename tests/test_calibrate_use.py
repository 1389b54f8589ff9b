"""Issue 22: figures for both uses (hourly values, 24-h means), a choice made
for the use, valid ranges enforced, and the report's fixes (notes that agree
with the tables, gaps shown as gaps, rows counted once, a dead A/B channel
and conflicting duplicate rows said)."""

import json

import numpy as np
import pandas as pd
import pytest

from airkit.calibrate import align, forward, ingest, models, report, vector, workbench
from airkit_fw import correction as fw

from test_calibrate_forward import pairs_of, run_cli, station


@pytest.fixture(scope="module")
def res30():
    # a small gradient-boosting comparison (20 trees, one thread): the full one takes seconds on a loaded machine
    from threadpoolctl import threadpool_limits
    real = models.candidates

    def small(*a, **k):
        return [models.GBMModel(max_iter=20) if m.name == "gbm" else m for m in real(*a, **k)]
    with pytest.MonkeyPatch.context() as mp, threadpool_limits(limits=1):
        mp.setattr(models, "candidates", small)
        return workbench.run(pairs_of(station(days=20, seed=1)), flexible=True, n_boot=30)


# ------------------------------------------------------------------ both scales

def test_forward_figures_for_hourly_values_and_24h_means_side_by_side(res30):
    f = res30.summary["forward"]
    sc = f["scales"]
    assert set(sc) == {"hourly", "daily"} and f["carried"] == "hourly"
    for k in ("hourly", "daily"):
        v = sc[k]
        assert v["ci95"][0] <= v["rmse"] <= v["ci95"][1] and v["ratio"] == pytest.approx(v["ci95"][1] / v["ci95"][0])
        assert "growth_per_day" in v and "growth_ci95" in v
    assert sc["hourly"]["values"] == "hourly values" and sc["daily"]["values"] == "24-h means"
    # every model's forward score on both scales
    assert all("hourly" in m for n, m in f["models"].items() if n != "gbm")
    # an error model per value, by concentration and humidity
    ve = f["value_errors"]["hourly"]
    assert ve["bins"] and all(b["rmse"] > 0 for b in ve["bins"])


def test_summary_and_report_say_which_figure_the_station_carries(res30, tmp_path, capsys):
    from airkit.calibrate import cli
    cli._print_summary(res30.summary)
    out = capsys.readouterr().out
    assert "hourly values" in out and "24-h means" in out
    assert "the station's readings carry the hourly values figure" in out
    assert "wins under resampling" in out
    page = open(report.write(res30, str(tmp_path / "rep")), encoding="utf-8").read()
    assert "<th>hourly values</th><th>24-h means</th>" in page
    assert "The station's readings carry the <b>hourly values</b> figure" in page


def test_daily_input_has_the_daily_figure_only():
    f = station(days=60, seed=3)
    d = align.daily(f, cols=("pm", "rh", "t", "ref"))
    d["device"] = "x"
    r = workbench.run(pairs_of(d, "24h"), flexible=False, n_boot=30)
    fw_ = r.summary["forward"]
    assert fw_["carried"] == "daily" and set(fw_["scales"]) == {"daily"}


# ------------------------------------------------------------------ the choice

def _recs(errs):
    """{model: daily and hourly records} from per-model error arrays (hour-level)."""
    n = len(next(iter(errs.values())))
    day = np.arange(n) // 24
    h, d = {}, {}
    for name, e in errs.items():
        h[name] = pd.DataFrame({"device": "a", "origin": 0, "row": np.arange(n), "day": day, "horizon": day,
                                "ref": 10.0, "pred": 10.0 + e})
        g = h[name].groupby("day", as_index=False).agg(pred=("pred", "mean"), ref=("ref", "mean"))
        d[name] = g.assign(device="a", origin=0, horizon=g["day"])
    return d, h


def test_a_model_that_wins_on_days_but_loses_on_hours_is_not_chosen():
    rng = np.random.default_rng(0)
    n = 24 * 40
    base = rng.normal(0, 2.0, n)
    daybias = np.repeat(rng.normal(0, 1.0, n // 24), 24)
    errs = {"mlr_rh": base + daybias,
            # averages out over a day (no day bias) but much noisier hour by hour: best on days, worst on hours
            "kappa": rng.normal(0, 4.0, n)}
    d, h = _recs(errs)
    ch = workbench.choose_for_use(d, h, ["mlr_rh", "kappa"])
    assert ch["ratio_to_ols"]["daily"]["kappa"] < 1 < 1.05 < ch["ratio_to_ols"]["hourly"]["kappa"]
    assert ch["chosen"] == "mlr_rh" and "kappa" not in ch["eligible"]


def test_the_robust_winner_is_chosen_and_win_shares_are_reported():
    rng = np.random.default_rng(1)
    n = 24 * 40
    common = rng.normal(0, 2.0, n)
    errs = {"mlr_rh": common + rng.normal(0, 1.0, n), "kappa": common * 0.7 + rng.normal(0, 0.5, n)}
    d, h = _recs(errs)
    ch = workbench.choose_for_use(d, h, ["mlr_rh", "kappa"])
    assert ch["chosen"] == "kappa" and ch["win_share"]["kappa"] > 0.9
    assert sum(ch["win_share"].values()) == pytest.approx(1.0)


def test_with_local_days_the_choice_is_also_resampled_over_utc_days():
    p = pairs_of(station(days=20, seed=5))
    p.tz = "Asia/Taipei"
    sel = workbench.run(p, flexible=False, n_boot=20).summary["forward"]["selection"]
    assert sel["utc_days_variant"] and "over UTC days every other resample" in sel["rule"]
    p2 = pairs_of(station(days=20, seed=5))
    assert not workbench.run(p2, flexible=False, n_boot=20).summary["forward"]["selection"]["utc_days_variant"]


def test_chosen_correction_not_worse_than_ols_by_more_than_5_percent(res30):
    sel = res30.summary["forward"]["selection"]
    for sc in sel["scales"]:
        assert sel["ratio_to_ols"][sc][res30.summary["chosen"]] <= 1.05


# ------------------------------------------------------------------ valid ranges

def test_out_of_range_inputs_are_flagged_and_bounded_never_passed_through():
    X = pd.DataFrame({"pm": np.linspace(2, 80, 200), "rh": np.linspace(30, 90, 200), "t": 20.0})
    m = models.MLRModel().fit(X, 0.5 * X["pm"] - 0.05 * X["rh"] + 3)
    c = m.to_correction(valid={"pm": [0.0, 80.0], "rh": [30.0, 90.0]})
    assert c["bound"] is True
    spike = fw.correct(c, 1491.0, 50.0)
    assert spike == pytest.approx(fw.correct(c, 80.0, 50.0))          # held at the range's end
    assert fw.out_of_range(c, 1491.0, 50.0) & fw.OUT_PM
    y = vector.evaluate(c, np.array([1491.0, 40.0]), np.array([50.0, 99.0]))
    assert y[0] == pytest.approx(spike) and y[1] == pytest.approx(fw.correct(c, 40.0, 90.0))
    dev, flags = vector.evaluate_device(c, np.array([1491.0, 40.0]), np.array([50.0, 99.0]))
    assert np.allclose(dev, y) and list(flags) == [fw.OUT_PM, fw.OUT_RH]


def _pair_files(tmp_path, days, seed):
    """A sensor CSV and a reference CSV of the synthetic station; returns (sensor, reference, times)."""
    f = station(days=days, seed=seed)
    sp, rp = tmp_path / "s.csv", tmp_path / "r.csv"
    t = f.index.strftime("%Y-%m-%dT%H:%M:%SZ")
    pd.DataFrame({"time": t, "pm25_cf1": f["pm"], "rh": f["rh"], "temp_c": f["t"]}).to_csv(sp, index=False)
    pd.DataFrame({"time": t, "pm25": f["ref"]}).to_csv(rp, index=False)
    return sp, rp, t


def test_apply_keeps_raw_beside_the_bounded_value(tmp_path, capsys):
    sp, rp, t = _pair_files(tmp_path, 20, 2)
    model = tmp_path / "m.json"
    assert run_cli("fit", "--sensor", sp, "--reference", rp, "--out", model, "--no-flexible", "--json") == 0
    capsys.readouterr()
    g = pd.DataFrame({"time": t[:3], "pm25_cf1": [1491.0, 10.0, 12.0], "rh": 50.0, "temp_c": 15.0})
    gp = tmp_path / "g.csv"
    g.to_csv(gp, index=False)
    assert run_cli("apply", "--model", model, "--sensor", gp, "--out", tmp_path / "c.csv") == 0
    c = pd.read_csv(tmp_path / "c.csv", keep_default_na=False)
    assert c["pm25_raw"].iloc[0] == 1491.0 and c["pm25"].iloc[0] < 300 and "pm" in c["flag"].iloc[0]


# ------------------------------------------------------------------ report fixes

def test_notes_never_contradict_the_table():
    # the example pair: EPA 2021 is best on the 24-h table, PM+RH+T is chosen forward; the note names the
    # table's best with the table's own numbers (it used to name an hourly, one-SE "best" beside a 24-h table)
    from pathlib import Path
    ex = Path(__file__).resolve().parents[1] / "examples"
    p = align.pair(ingest.load_sensor(ex / "sensor.csv"), ingest.load_reference(ex / "reference.csv"))
    s = workbench.run(p, flexible=False, n_boot=30).summary
    tab = {n: (m.get("heldout_24h") or m["heldout"])["rmse"] for n, m in s["models"].items()
           if n in workbench.ORDER}
    best = min(tab, key=tab.get)
    assert best != s["chosen"]
    note = next(n for n in s["notes"] if "interleaved" in n)
    assert note.startswith("%s has the lowest interleaved-block RMSE in the table (%.2f vs %.2f for %s)"
                           % (best, tab[best], tab[s["chosen"]], s["chosen"]))


def test_gradient_boosting_note_quotes_the_tables_scale(res30):
    s = res30.summary
    note = next(n for n in s["notes"] if n.startswith("the gradient-boosting"))
    assert "held-out 24-h RMSE %.2f" % s["models"]["gbm"]["heldout_24h"]["rmse"] in note
    assert "%.2f" % s["models"]["gbm"]["heldout"]["rmse"] not in note


def test_time_series_plot_breaks_at_gaps():
    t = pd.date_range("2024-01-01", periods=48, freq="1h", tz="UTC")
    t = t.append(pd.date_range("2024-01-06", periods=24, freq="1h", tz="UTC"))   # a 3-day gap
    g = pd.DataFrame({"pm": 1.0, "ref": 1.0}, index=t)
    out = report.with_gaps(g, "1h")
    assert out["pm"].isna().sum() == 3 * 24 and out.index.is_monotonic_increasing
    assert out["pm"].notna().sum() == len(g)


def _ab_files(tmp_path, dead_share=0.84, dup=False):
    f = station(days=30, seed=6)
    t = f.index.strftime("%Y-%m-%dT%H:%M:%SZ")
    a = f["pm"].to_numpy()
    b = a * 1.02
    b[: int(len(b) * dead_share)] = 0.0
    s = pd.DataFrame({"time": t, "pm25_cf1_a": a, "pm25_cf1_b": b, "rh": f["rh"], "temp_c": f["t"]})
    r = pd.DataFrame({"time": t, "pm25": f["ref"]})
    if dup:
        extra = s.iloc[100:103].copy()
        extra["pm25_cf1_a"] += 40.0                # the same hours again, other values
        s = pd.concat([s, extra])
    sp, rp = tmp_path / "s.csv", tmp_path / "r.csv"
    s.to_csv(sp, index=False)
    r.to_csv(rp, index=False)
    return sp, rp


def test_dead_channel_is_warned_and_dropped_rows_are_counted_once(tmp_path):
    sp, rp = _ab_files(tmp_path)
    p = align.pair(ingest.load_sensor(sp), ingest.load_reference(rp))
    s = workbench.run(p, flexible=False, n_boot=20).summary
    w = " ".join(s["warnings"])
    assert "Channel B dead" in w and "A/B check" in w
    total = len(pd.read_csv(rp))
    assert sum(s["dropped_rows"].values()) + s["coverage"]["rows"] == total      # each row once
    assert any("A/B" in k for k in s["values_set_missing"])


def test_conflicting_duplicate_rows_are_warned(tmp_path):
    sp, _ = _ab_files(tmp_path, dead_share=0.0, dup=True)
    notes = " ".join(ingest.load_sensor(sp).notes)
    assert "WARNING: 3 timestamps appear more than once with different values" in notes


def test_json_carries_both_scales(tmp_path, capsys):
    sp, rp, _ = _pair_files(tmp_path, 24, 8)
    assert run_cli("fit", "--sensor", sp, "--reference", rp, "--out", tmp_path / "m.json", "--no-flexible",
                   "--json") == 0
    j = json.loads(capsys.readouterr().out)
    assert set(j["forward"]["scales"]) == {"hourly", "daily"} and j["forward"]["carried"] == "hourly"
    assert j["forward"]["selection"]["win_share"]
    assert j["recalibration"]["recolocate_range_days"]
