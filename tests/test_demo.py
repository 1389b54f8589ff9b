"""`make demo` as a newcomer runs it: two virtual stations through an outage and a power
cut into the collector, every reading delivered once, a CSV, a plot, and the dashboard's
URL with a screenshot (issue: the open-data platform, deliverable 7)."""

import csv
import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest


@pytest.mark.slow
def test_demo_runs_end_to_end_and_shows_todays_stations(tmp_path):
    env = dict(os.environ, AIRKIT_DEMO_SERVE_S="0")
    p = subprocess.run([sys.executable, "-m", "airkit.demo"], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr[-2000:]
    out = p.stdout
    assert "Traceback" not in out + p.stderr
    for name in ("school-yard", "street-corner"):
        line = [ln for ln in out.splitlines() if ln.strip().startswith(name)][0]
        assert "pending 0" in line and "power cut" in line
    assert "dashboard: http://127.0.0.1:" in out
    rows = list(csv.DictReader(open(tmp_path / "demo-out" / "readings.csv", encoding="utf-8")))
    assert len(rows) > 500
    # the simulated day ends now, so the dashboard shows the stations as current, not months old
    col = [c for c in rows[0] if "time" in c.lower()][0]
    last = max(datetime.fromisoformat(r[col].replace("Z", "+00:00")) for r in rows)
    assert datetime.now(timezone.utc) - last < timedelta(hours=3)
    assert (tmp_path / "demo-out" / "day.png").stat().st_size > 10000
    if shutil.which("chromium") and shutil.which("chromedriver"):
        assert (tmp_path / "demo-out" / "dashboard.png").stat().st_size > 10000
