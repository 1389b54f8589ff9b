"""The station applies the pushed correction on the device, beside the raw values,
and gets the same number the host computes with the shared module."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_sim(tmp_path, cfg, hours=1.0, extra=()):
    cfg_file = tmp_path / "config.json"
    cfg_file.write_text(json.dumps(cfg))
    r = subprocess.run([sys.executable, "-m", "airkit.cli", "sim", "--hours", str(hours), "--json",
                        "--config", str(cfg_file), *extra], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    return [row for row in rows if not row.get("summary")]


def test_device_correction_matches_host(tmp_path):
    from airkit_fw import correction

    model = {"kind": "mlr", "name": "test-site 2026", "coef": {"intercept": 2.5, "pm": 0.45, "rh": -0.05, "t": 0.03},
             "valid": {"pm": [0, 60], "rh": [0, 71], "t": [-10, 40]}}
    rows = run_sim(tmp_path, {"correction": model})
    assert len(rows) == 12
    flagged = 0
    for row in rows:
        assert row["model"] == "test-site 2026"
        assert isinstance(row["pm25_cf1"], int)          # raw kept beside the corrected value
        host = correction.correct(model, row["pm25_cf1"], row["rh"], row["temp_c"])
        assert abs(row["pm25_corrected"] - host) <= 0.006, (row, host)
        if correction.out_of_range(model, row["pm25_cf1"], row["rh"], row["temp_c"]):
            assert "correction_out_of_range" in row["flags"]
            flagged += 1
        else:
            assert "correction_out_of_range" not in row["flags"]
    # RH climbs past 71 % during the simulated hour: those readings are flagged, the rest not
    assert 0 < flagged < len(rows)


def test_unknown_kind_keeps_raw_values(tmp_path):
    rows = run_sim(tmp_path, {"correction": {"kind": "neural-net", "name": "x"}}, hours=0.2)
    assert rows and all("pm25_corrected" not in r for r in rows)
    assert all(isinstance(r["pm25_cf1"], int) for r in rows)


def test_no_correction_no_extra_keys(tmp_path):
    rows = run_sim(tmp_path, {}, hours=0.2)
    assert rows and all("pm25_corrected" not in r and "model" not in r for r in rows)
