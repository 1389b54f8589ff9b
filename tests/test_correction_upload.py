"""A pushed correction goes all the way: computed on the device beside the raw
values, uploaded naming the model, stored and exported by the collector."""

import csv
import io

from airkit_fw import correction
from test_reliability import run_board, station_config
from uplink_helpers import start_collector


def test_corrected_values_uploaded_with_model_name(tmp_path):
    model = {"kind": "mlr", "name": "school-roof 2026-03", "coef": {"intercept": 1.5, "pm": 0.5, "rh": -0.04}}
    coll = start_collector(tmp_path)
    try:
        cfg = station_config(coll.port, sc=False)
        cfg["correction"] = model
        board, readings, status, lines = run_board(tmp_path, cfg, 2, {})
        assert len(readings) == 24
        stored = {r["time"]: r for r in coll.store.rows("station-1")}
        assert sorted(stored) == sorted(r["time"] for r in readings)
        for r in readings:
            s = stored[r["time"]]
            assert s["model"] == "school-roof 2026-03"
            assert s["pm25_cf1"] == r["pm25_cf1"]                       # raw kept
            host = correction.correct(model, r["pm25_cf1"], r["rh"], r["temp_c"])
            # printed to 0.01, then kept by the journal to 0.1 ug/m3: at most 0.055 apart
            assert abs(s["pm25_corrected"] - host) <= 0.0551, (s, host)
        out = io.StringIO()
        coll.store.export_csv(out, "station-1")
        rows = list(csv.DictReader(io.StringIO(out.getvalue())))
        assert rows and all(row["model"] == "school-roof 2026-03" and row["pm25_corrected"] for row in rows)
    finally:
        coll.stop()
