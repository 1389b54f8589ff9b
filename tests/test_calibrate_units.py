"""Calibration input checks: units (mg/m3, ppb, RH fraction), local-time references and --reference-tz,
German/units-row/Excel-header CSVs, .xlsx workbooks, and --folds 1."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from airkit.calibrate import align, ingest
from airkit.errors import UserError

HOURS = 24 * 21


def _series(seed=3):
    rng = np.random.default_rng(seed)
    t = pd.date_range("2026-01-05", periods=HOURS, freq="h", tz="UTC")
    h = np.arange(HOURS)
    ref = 12 + 6 * np.sin(2 * np.pi * h / 24) + np.cumsum(rng.normal(0, 0.8, HOURS)).clip(-8, 20)
    ref = np.clip(ref, 1, None)
    rh = 55 + 25 * np.sin(2 * np.pi * (h + 6) / 24)
    pm = ref * 1.4 + 0.02 * (rh - 50) + rng.normal(0, 0.5, HOURS)
    return t, ref, pm, rh


def write_sensor(path, rh_scale=1.0):
    t, ref, pm, rh = _series()
    pd.DataFrame({"time": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "pm25_cf1": pm.round(2), "rh": (rh * rh_scale).round(4),
                  "temp_c": 20.0}).to_csv(path, index=False)
    return path


def write_reference(path, scale=1.0, shift_h=0, header="pm25", zone="Z"):
    t, ref, pm, rh = _series()
    t = t + pd.Timedelta(hours=shift_h)
    fmt = "%Y-%m-%dT%H:%M:%S" + zone
    pd.DataFrame({"time": t.strftime(fmt), header: (ref * scale).round(5)}).to_csv(path, index=False)
    return path


def pair(tmp_path, **ref_kw):
    s = ingest.load_sensor(str(write_sensor(tmp_path / "s.csv")))
    tz = ref_kw.pop("tz", None)
    r = ingest.load_reference(str(write_reference(tmp_path / "r.csv", **ref_kw)), tz=tz)
    return s, r, align.pair(s, r)


def test_reference_in_mg_per_m3_is_refused_by_magnitude(tmp_path):
    with pytest.raises(UserError, match="mg/m3"):
        pair(tmp_path, scale=0.001)
    s, r, p = pair(tmp_path)            # the same data in ug/m3 pairs
    assert len(p.frame) > 400


def test_units_in_the_header_mg_converted_ppb_refused(tmp_path):
    s, r, p = pair(tmp_path, scale=0.001, header="pm25 (mg/m3)")
    assert any("mg/m3" in n for n in r.notes)
    assert abs(r.frame["pm25"].median() - _series()[1].__array__().mean()) < 5      # back in ug/m3
    with pytest.raises(UserError, match="ppb"):
        pair(tmp_path, header="pm25 (ppb)")


def test_rh_as_a_fraction_is_converted_with_a_note(tmp_path):
    s = ingest.load_sensor(str(write_sensor(tmp_path / "s.csv", rh_scale=0.01)))
    assert s.frame["rh"].max() > 70 and any("fraction" in n for n in s.notes)


def test_local_time_reference_is_detected_and_reference_tz_fixes_it(tmp_path):
    # a network exporting local time (UTC+2) without a zone
    s, r, p = pair(tmp_path, shift_h=2, zone="")
    text = " ".join(p.notes)
    assert "--reference-tz Etc/GMT-2" in text and "--sensor-tz" not in text, text
    assert any("--reference-tz" in n for n in r.notes) and not any("--sensor-tz" in n for n in r.notes)
    s, r, p = pair(tmp_path, shift_h=2, zone="", tz="Etc/GMT-2")
    assert p.lag["best"] == 0
    assert not any("time check" in n for n in p.notes), p.notes


def test_reference_tz_through_the_command_line_and_the_pipeline(tmp_path):
    from airkit.calibrate import pipeline
    from airkit.calibrate.cli import register
    import argparse

    write_sensor(tmp_path / "s.csv")
    write_reference(tmp_path / "r.csv", shift_h=2, zone="")
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["calibrate", "fit", "--sensor", str(tmp_path / "s.csv"), "--reference",
                              str(tmp_path / "r.csv"), "--reference-tz", "Etc/GMT-2", "--out", "m.json"])
    inputs = pipeline.Inputs.from_args(args)
    assert inputs.reference_tz == "Etc/GMT-2"
    s, r, p = pipeline.load_pair(inputs, inputs.sensor, inputs.reference)
    assert p.lag["best"] == 0 and not any("time check" in n for n in p.notes), p.notes
    assert pipeline.station_tz(inputs, s, r)[0] == "Etc/GMT-2"


def test_german_excel_csv_with_units_row_and_excel_headers(tmp_path):
    t, ref, pm, rh = _series()
    lines = ["Zeit;PM2,5 (µg/m³)", "UTC;µg/m³"]
    lines += ["%s;%s" % (x.strftime("%Y-%m-%dT%H:%M:%SZ"), ("%.2f" % v).replace(".", ",")) for x, v in zip(t, ref)]
    (tmp_path / "de.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = ingest.load_reference(str(tmp_path / "de.csv"))
    assert len(r.frame) == HOURS and abs(r.frame["pm25"].iloc[5] - round(ref[5], 2)) < 1e-9
    assert any("units row" in n for n in r.notes)
    (tmp_path / "xl.csv").write_text("Time,PM2.5 (µg/m³)\n" + "".join(
        "%s,%.2f\n" % (x.strftime("%Y-%m-%dT%H:%M:%SZ"), v) for x, v in zip(t, ref)))
    assert len(ingest.load_reference(str(tmp_path / "xl.csv")).frame) == HOURS


def test_xlsx_is_read_and_old_xls_refused(tmp_path):
    t, ref, pm, rh = _series()
    pd.DataFrame({"time": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "PM2.5 (µg/m³)": ref.round(2)}).to_excel(
        tmp_path / "ref.xlsx", index=False)
    r = ingest.load_reference(str(tmp_path / "ref.xlsx"))
    assert len(r.frame) == HOURS and abs(r.frame["pm25"].iloc[7] - round(ref[7], 2)) < 1e-9
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    with pytest.raises(UserError, match="xls"):
        ingest.load_reference(str(tmp_path / "old.xls"))


def test_folds_1_is_refused_before_reading(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "airkit.cli", "calibrate", "fit", "--sensor", tmp_path / "nope.csv",
                           "--reference", tmp_path / "nope.csv", "--folds", "1", "--out", tmp_path / "m.json"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--folds" in proc.stderr and "nope" not in proc.stderr, proc.stderr
