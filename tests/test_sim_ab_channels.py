"""A second PMS5003 (PurpleAir-style A/B channels): both channels reported, the
A/B agreement check flags a failing channel, a missing one is named."""

import json
import subprocess
import sys

KEYS = ["pm1_cf1", "pm25_cf1", "pm10_cf1", "pm1_atm", "pm25_atm", "pm10_atm",
        "n0_3", "n0_5", "n1_0", "n2_5", "n5_0", "n10"]


def sim(tmp_path, scenario, hours=2):
    sc = tmp_path / "scenario.json"
    sc.write_text(json.dumps(scenario))
    r = subprocess.run([sys.executable, "-m", "airkit.cli", "sim", "--pms-b", "--hours", str(hours), "--json",
                        "--scenario", str(sc)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return [row for row in map(json.loads, r.stdout.splitlines()) if not row.get("summary")]


def hour(row):
    hh, mm = row["time"][11:13], row["time"][14:16]
    return int(hh) + int(mm) / 60


def test_both_channels_agree_when_healthy(tmp_path):
    rows = sim(tmp_path, {})
    assert len(rows) == 24
    for r in rows:
        assert all(isinstance(r[k + "_b"], int) for k in KEYS)
        assert r["frames"] == 9 and r["frames_b"] == 9
        assert abs(r["pm25_cf1"] - r["pm25_cf1_b"]) <= 3
        assert "ab_disagree" not in r["flags"] and "pms_b_missing" not in r["flags"]


def test_failing_b_channel_is_flagged(tmp_path):
    rows = sim(tmp_path, {"pms_b": {"no_fan": [[0.5, 1.0]], "silent": [[1.5, 2.0]]}})
    seen = {"disagree": 0, "missing": 0, "healthy": 0}
    for r in rows:
        h = hour(r)
        if 0.5 < h < 1.0:                                    # B reads zeros: the channels disagree
            assert "ab_disagree" in r["flags"], r
            assert r["pm25_cf1_b"] == 0 and r["pm25_cf1"] > 5
            seen["disagree"] += 1
        elif 1.5 < h < 2.0:                                  # B unplugged: named, values null
            assert "pms_b_missing" in r["flags"] and r["pm25_cf1_b"] is None, r
            assert r["pm25_cf1"] is not None and "ab_disagree" not in r["flags"]
            seen["missing"] += 1
        elif h < 0.45 or 1.05 < h < 1.45:
            assert "ab_disagree" not in r["flags"] and "pms_b_missing" not in r["flags"], r
            seen["healthy"] += 1
    assert min(seen.values()) >= 4, seen
