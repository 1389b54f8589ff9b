"""One contract between the uplinks and the collector (issue: Sensor.Community's ``P2`` was
sent as atmospheric or CF=1 by the ``pm`` option, the collector always stored it as
``pm25_atm`` and calibration reads ``pm25_cf1``; the collector read a ``"pending"`` key no
uplink sent). The real firmware on the virtual board, real collectors on loopback, and
the calibration reader on the collector's export."""

import io

import pytest

from airkit.calibrate import ingest as cal_ingest
from airkit.errors import UserError
from test_reliability import run_board
from uplink_helpers import SC_STATION, TOKEN, start_collector


def test_p2_is_stored_and_calibrated_under_the_pm_kind_the_push_carries(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "c").mkdir()
    atm_coll = start_collector(tmp_path / "a")
    cf1_coll = start_collector(tmp_path / "c")
    try:
        sc = "http://127.0.0.1:%d/v1/push-sensor-data/"
        cfg = {"device": {"id": "station-1"}, "wifi": {"ssid": "lab", "password": "lab-wifi-pass"}, "uplinks": [
            {"type": "sensor_community", "url": sc % atm_coll.port, "token": TOKEN},
            {"type": "sensor_community", "name": "sc_cf1", "pm": "cf1", "url": sc % cf1_coll.port, "token": TOKEN},
            {"type": "airkit_json", "url": "http://127.0.0.1:%d/api/v1/batch" % atm_coll.port, "token": TOKEN}]}
        board, readings, status, lines = run_board(tmp_path, cfg, 2, {"wifi": {"down": [[0.5, 1.5]]}})
        assert len(readings) == 24 and status["pending"] == {"sensor_community": 0, "sc_cf1": 0, "airkit_json": 0}
        by_time = {r["time"]: r for r in readings}
        cf1_rows = cf1_coll.store.rows(SC_STATION)
        atm_rows = atm_coll.store.rows(SC_STATION)
        assert len(cf1_rows) == len(atm_rows) == 24
        for row in cf1_rows:
            r = by_time[row["time"]]
            assert (row["pm1_cf1"], row["pm25_cf1"], row["pm10_cf1"]) == (r["pm1_cf1"], r["pm25_cf1"], r["pm10_cf1"])
            assert row["pm25_atm"] is None
        for row in atm_rows:
            r = by_time[row["time"]]
            assert (row["pm1_atm"], row["pm25_atm"], row["pm10_atm"]) == (r["pm1_atm"], r["pm25_atm"], r["pm10_atm"])
            assert row["pm25_cf1"] is None
        # calibration reads the collector's export: CF=1 where CF=1 was sent ...
        out = io.StringIO()
        cf1_coll.store.export_csv(out, SC_STATION)
        (tmp_path / "cf1.csv").write_text(out.getvalue())
        table = cal_ingest.load_sensor(tmp_path / "cf1.csv")
        assert sorted(table.frame["pm25_cf1"].dropna()) == sorted(float(r["pm25_cf1"]) for r in readings)
        # ... and never takes atmospheric values for CF=1
        out = io.StringIO()
        atm_coll.store.export_csv(out, SC_STATION)
        (tmp_path / "atm.csv").write_text(out.getvalue())
        with pytest.raises(UserError, match="pm25_atm"):
            cal_ingest.load_sensor(tmp_path / "atm.csv")
        # the airkit JSON uplink reports its backlog, which the collector keeps for its dashboard
        assert atm_coll.store.station("station-1")["pending"] == 0
    finally:
        atm_coll.stop()
        cf1_coll.stop()


def test_doctor_reminds_that_a_one_sensor_node_files_the_dht22_under_the_pms():
    from airkit.doctor import verdict

    ok = verdict({"check": "uplink", "status": "ok", "type": "sensor_community", "index": 0,
                  "host": "api.sensor.community", "port": 80})
    assert ok["passed"] and "DHT22" in ok["summary"] and "pin 7" in ok["summary"]
    other = verdict({"check": "uplink", "status": "ok", "type": "airkit_json", "index": 0, "host": "h", "port": 1})
    assert "DHT22" not in other["summary"]
