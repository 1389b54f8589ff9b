"""Every reader: format detection, time convention -> UTC hour-beginning,
flags -> missing, and one clear error line for bad files."""

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from airkit.calibrate import ingest
from airkit.errors import UserError

DATA = Path(__file__).parent / "data" / "calibration"
F = DATA / "formats"
T05 = pd.Timestamp("2024-03-10 05:00", tz="UTC")
T06 = pd.Timestamp("2024-03-10 06:00", tz="UTC")
T07 = pd.Timestamp("2024-03-10 07:00", tz="UTC")

REFERENCE = [
    ("airnow_HourlyData_2024031005.dat", "airnow_dat"),
    ("airnow_api.csv", "airnow_api"),
    ("aqs_hourly_88101_2024.csv", "aqs_hourly"),
    ("airnowtech.csv", "airnowtech"),
    ("moenv_aqx_p_432.json", "moenv_realtime"),
    ("moenv_aqx_p_432.csv", "moenv_realtime"),
    ("moenv_hourly_long.csv", "moenv_hourly"),
    ("moenv_yearly_wide.csv", "moenv_yearly"),
    ("moenv_yearly_wide_big5.csv", "moenv_yearly"),
    ("eea_AT_6001.parquet", "eea"),
    ("eea_AT_6001.csv", "eea"),
    ("eea_legacy.csv", "eea_legacy"),
    ("openaq_v3_hours.json", "openaq_v3"),
    ("plain_reference.csv", "plain"),
]


@pytest.mark.parametrize("name,fmt", REFERENCE)
def test_reference_formats_land_on_the_same_utc_hours(name, fmt):
    path = F / name
    assert ingest.detect(str(path), "reference") == fmt
    t = ingest.load_reference(path)
    s = t.frame["pm25"]
    assert s.index.tz is not None and str(s.index.tz) == "UTC"
    assert s.loc[T05] == pytest.approx(12.3), t.time_note
    assert s.loc[T07] == pytest.approx(15.0)
    # the flagged / missing / invalid hour never becomes a number
    assert T06 not in s.index or np.isnan(s.loc[T06])
    assert t.time_note  # every format states its convention


def test_moenv_yearly_markers_all_missing():
    s = ingest.load_reference(F / "moenv_yearly_wide.csv").frame["pm25"]
    # local 00..03 hold NR, 8*, x, 9A: all invalid; local 04 holds 10
    for local_hour in range(4):
        ts = pd.Timestamp("2024-03-10 %02d:00" % local_hour, tz="Asia/Taipei").tz_convert("UTC")
        assert ts not in s.index or np.isnan(s.loc[ts])
    assert s.loc[pd.Timestamp("2024-03-09 20:00", tz="UTC")] == 10.0
    # only the PM2.5 item, never PM10's constant 20
    assert (s.dropna() != 20).all()


SENSORS = [
    ("airkit_export.csv", "airkit"),
    ("plain_sensor.csv", "airkit"),
    ("purpleair_download.csv", "purpleair"),
    ("purpleair_api_ab.csv", "purpleair"),
]


@pytest.mark.parametrize("name,fmt", SENSORS)
def test_sensor_formats(name, fmt):
    assert ingest.detect(str(F / name), "sensor") == fmt
    t = ingest.load_sensor(F / name)
    f = t.frame
    assert f.index[0] == T05
    assert {"pm25_cf1", "rh", "temp_c"} <= set(f.columns)
    assert f["temp_c"].iloc[0] == pytest.approx(12.0)   # deg F converted where the format uses F
    assert f["rh"].iloc[0] == 60.0


def test_airkit_two_channels_are_averaged():
    f = ingest.load_sensor(F / "airkit_export.csv").frame
    assert f["pm25_cf1"].iloc[0] == pytest.approx(21.0)   # (20 + 22) / 2
    assert f["pm25_cf1_b"].iloc[0] == 22.0


def test_sensor_community_pm_and_dht_files_merge():
    t = ingest.load_sensor([F / "sensor_community_pms5003.csv", F / "sensor_community_dht22.csv"])
    f = t.frame
    assert f["pm25_cf1"].dropna().tolist() == [20.0, 21.0]
    assert f["rh"].dropna().tolist() == [60.0, 61.0]
    assert f.index.min() == pd.Timestamp("2024-03-10 05:00:14", tz="UTC")
    assert any("atmospheric" in n for n in t.notes)


def test_naive_sensor_times_take_the_given_zone():
    t = ingest.load_sensor(F / "plain_sensor.csv", tz="America/New_York")
    # DST trap: clocks in New York jumped 02:00 -> 03:00 local that morning, so 05:00 is EDT (UTC-4)
    assert t.frame.index[0] == pd.Timestamp("2024-03-10 09:00", tz="UTC")
    t = ingest.load_sensor(F / "plain_sensor.csv")
    assert any("taken as UTC" in n for n in t.notes)


def test_aqs_uses_gmt_columns_not_local_standard_time():
    s = ingest.load_reference(F / "aqs_hourly_88101_2024.csv").frame["pm25"]
    assert s.index[0] == T05           # Time Local 00:00 EST -> 05:00 UTC


def test_real_purpleair_slice_fahrenheit_and_duplicates():
    t = ingest.load_sensor(DATA / "purpleair_159965_slice.csv")
    raw = pd.read_csv(DATA / "purpleair_159965_slice.csv")
    assert t.frame["temp_c"].iloc[0] == pytest.approx((raw["temperature"].iloc[0] - 32) * 5 / 9)
    assert t.frame.index.is_monotonic_increasing
    assert t.frame["device"].iloc[0] == "159965"


def test_real_deq_flags_become_missing():
    t = ingest.load_reference(DATA / "deq_shirley_slice.csv")
    raw = pd.read_csv(DATA / "deq_shirley_slice.csv", dtype=str, keep_default_na=False)
    flagged = ~raw["PM25"].str.fullmatch(r"[0-9.]+")
    assert flagged.sum() > 10
    assert t.frame["pm25"].isna().sum() == flagged.sum()
    assert any("flagged" in n for n in t.notes)


def test_real_instrument_export_uses_preamble_offset():
    t = ingest.load_sensor(DATA / "sensor_RT01_slice.csv")
    assert t.fmt == "instrument_export"
    # first reading '8/1/2019 7:11' at UTC-05:00
    assert t.frame.index[0] == pd.Timestamp("2019-08-01 12:11", tz="UTC")


def test_real_airnowtech_pm_only_and_qc():
    s = ingest.load_reference(DATA / "airnowtech_slice.csv").frame["pm25"]
    raw = pd.read_csv(DATA / "airnowtech_slice.csv")
    pm = raw[raw["Param"].str.startswith("PM2.5")]
    assert len(s) == len(pm)
    assert s.max() <= pm["Value"].max()


def test_paired_daily():
    t = ingest.load_sensor(DATA / "pa_aqs_daily_slice.csv")
    assert t.role == "paired" and t.interval_s == 86400
    assert set(t.frame["device"]) == {"16317", "51867", "6008"}


# --------------------------------------------------------------- hostile inputs

def _err(tmp_path, name, text, loader=ingest.load_sensor, **kw):
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)
    with pytest.raises(UserError) as e:
        loader(p, **kw)
    msg = str(e.value)
    assert name in msg and "\n" not in msg
    return msg


def test_empty_file(tmp_path):
    assert "empty" in _err(tmp_path, "empty.csv", "")
    assert "empty" in _err(tmp_path, "blank.csv", "\n\n  \n", loader=ingest.load_reference)


def test_header_only(tmp_path):
    assert "no data rows" in _err(tmp_path, "h.csv", "time,pm25_cf1,rh,temp_c\n")


def test_wrong_columns(tmp_path):
    msg = _err(tmp_path, "wrong.csv", "when,what\n2024-01-01,3\n")
    assert "format" in msg


def test_wrong_columns_with_forced_format(tmp_path):
    msg = _err(tmp_path, "w.csv", "time,foo\n2024-01-01T00:00Z,3\n", fmt="airkit")
    assert "pm25_cf1" in msg


def test_fahrenheit_in_a_celsius_column(tmp_path):
    rows = "".join("2024-03-10T05:%02d:00Z,10,50,%d\n" % (i, 70 + i) for i in range(10))
    msg = _err(tmp_path, "f.csv", "time,pm25_cf1,rh,temp_c\n" + rows)
    assert "degrees F" in msg and "temp_f" in msg


def test_temp_f_column_is_converted(tmp_path):
    p = tmp_path / "ok.csv"
    p.write_text("time,pm25_cf1,rh,temp_f\n2024-03-10T05:00:00Z,10,50,212\n2024-03-10T05:02:00Z,10,50,32\n")
    assert ingest.load_sensor(p).frame["temp_c"].tolist() == [100.0, 0.0]


def test_all_nan(tmp_path):
    msg = _err(tmp_path, "nan.csv", "time,pm25_cf1,rh,temp_c\n2024-03-10T05:00Z,NaN,50,10\n2024-03-10T05:01Z,,50,10\n")
    assert "no usable" in msg


def test_all_flagged_reference(tmp_path):
    msg = _err(tmp_path, "flags.csv", "time,PM10,PM25,time_stamp\n00:00:00,D,D,2023-06-16T00:00:00Z\n",
               loader=ingest.load_reference)
    assert "no usable" in msg


def test_bad_time_names_the_row(tmp_path):
    msg = _err(tmp_path, "badtime.csv", "time,pm25_cf1,rh,temp_c\n2024-03-10T05:00Z,1,50,10\nyesterday,2,50,10\n")
    assert "row 3" in msg and "yesterday" in msg


def test_ragged_airnow_dat_names_the_row(tmp_path):
    msg = _err(tmp_path, "HourlyData_2024031005.dat",
               "03/10/24|05:00|000010102|St. Johns|-4|PM2.5|UG/M3|12.3|EC\n03/10/24|06:00|0001\n",
               loader=ingest.load_reference, fmt="airnow_dat")
    assert "row 2" in msg


def test_missing_file():
    with pytest.raises(UserError) as e:
        ingest.load_sensor("/nonexistent/sensor.csv")
    assert "not found" in str(e.value)


def test_binary_file(tmp_path):
    _err(tmp_path, "b.csv", b"\x00\x01\x02\x03" * 100, fmt="airkit")


def test_invalid_json(tmp_path):
    _err(tmp_path, "o.json", '{"results": [', loader=ingest.load_reference, fmt="openaq_v3")


def test_reference_file_given_as_sensor(tmp_path):
    with pytest.raises(UserError) as e:
        ingest.load_sensor(F / "airnowtech.csv")
    assert "--reference" in str(e.value)


def test_several_sites_need_a_choice(tmp_path):
    p = tmp_path / "two.dat"
    p.write_text("03/10/24|05:00|000010102|A|-4|PM2.5|UG/M3|12.3|EC\n03/10/24|05:00|000010103|B|-4|PM2.5|UG/M3|5|EC\n")
    with pytest.raises(UserError) as e:
        ingest.load_reference(p)
    assert "--reference-site" in str(e.value)
    s = ingest.load_reference(p, site="000010103").frame["pm25"]
    assert s.tolist() == [5.0]


def test_duplicates_are_averaged_and_time_sorted(tmp_path):
    p = tmp_path / "dup.csv"
    p.write_text("time,pm25_cf1,rh,temp_c\n2024-03-10T05:04:00Z,30,50,10\n2024-03-10T05:00:00Z,10,50,10\n"
                 "2024-03-10T05:00:00Z,20,50,10\n")
    t = ingest.load_sensor(p)
    assert t.frame.index.is_monotonic_increasing
    assert t.frame["pm25_cf1"].tolist() == [15.0, 30.0]
    assert any("sorted" in n for n in t.notes)
    # issue 22: conflicting duplicates (10 vs 20 at 05:00) are averaged with a warning, not silently
    assert any(n.startswith("WARNING: 1 timestamps appear more than once with different values") for n in t.notes)


def test_unix_seconds(tmp_path):
    p = tmp_path / "epoch.csv"
    p.write_text("time,pm25_cf1,rh,temp_c\n1710046800,10,50,10\n1710046920,10,50,10\n")
    assert ingest.load_sensor(p).frame.index[0] == T05


def test_excel_semicolon_decimal_comma_cp1252_files_read_like_the_original(tmp_path):
    """What Excel writes in a decimal-comma locale: ';' between fields, '20,5' for numbers, cp1252, CRLF."""
    src = DATA / "purpleair_159965_slice.csv"
    lines = src.read_text().splitlines()
    excel = tmp_path / "excel.csv"
    excel.write_bytes(("\r\n".join(ln.replace(",", ";").replace(".", ",").replace("pm2,5_cf_1", "pm2.5_cf_1")
                                   .replace("pm10,0_cf_1", "pm10.0_cf_1") for ln in lines) + "\r\n").encode("cp1252"))
    a = ingest.load_sensor(src).frame
    b = ingest.load_sensor(excel).frame
    pd.testing.assert_frame_equal(a.drop(columns="device"), b)        # (the device id comes from the file name)
    ref = tmp_path / "ref.csv"
    ref.write_bytes("Datum;PM2,5 Wert\r\n".encode("cp1252"))   # a header the readers do not know: still one sentence
    with pytest.raises(UserError):
        ingest.load_reference(ref)


def test_a_model_file_given_as_data_says_to_pass_it_with_model(tmp_path):
    m = tmp_path / "model.json"
    m.write_text('{\n  "format": "airkit-calibration-model",\n  "version": 1,\n  "kind": "mlr"\n}\n')
    for load in (ingest.load_sensor, ingest.load_reference):
        with pytest.raises(UserError, match="this is a correction model .* pass it with --model"):
            load(m)
