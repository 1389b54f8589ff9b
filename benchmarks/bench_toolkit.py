"""Host toolkit figures, measured against virtual boards over pseudo-terminals with
mpremote's real serial transport.

- deploy_full_bytes: file bytes sent by a deploy to a blank board (deploy_full_wire_bytes:
  all bytes written to the serial line, including commands and base64 overhead)
- deploy_incremental_bytes: file bytes sent by a second deploy of unchanged firmware
  (deploy_incremental_wire_bytes: the hash checks that prove nothing changed)
- deploy_full_s: wall time of that full deploy (compile + copy + verify)
- provision_1_board_s / provision_3_boards_s: 'airkit provision' of one vs. three blank
  boards in parallel (deploy, configure, kit test, report)
- cli_start_s: wall time of 'airkit --help' in a fresh process, median of 7 runs (goal <= 0.3);
  cli_ports_s the same for 'airkit ports --json'
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "host"))
sys.path.insert(0, str(ROOT / "tests"))


def _provision(tmp: Path, n: int) -> float:
    from toolkit_helpers import RunningBoard

    from airkit.collect.server import Collector
    from airkit.collect.store import Store

    # a station without an uplink is not "ok": each gets the school's collector, on loopback
    store = Store(tmp / ("c%d.sqlite" % n))
    for i in range(n):
        store.add_device("bench-%02d" % i, "json", "tok-%02d" % i)
    coll = Collector(store, "127.0.0.1", 0).start()
    wifi = {"wifi": {"ssid": "lab", "password": "lab-pass-1"}}
    rows = "".join("bench-%02d,Bench %d,lab,lab-pass-1,http://127.0.0.1:%d/api/v1/batch,tok-%02d\n"
                   % (i, i, coll.port, i) for i in range(n))
    (tmp / "class.csv").write_text("device_id,name,wifi_ssid,wifi_password,airkit_json.url,airkit_json.token\n" + rows)
    boards = [RunningBoard(tmp, "p%d" % i, firmware_from="flash", scenario=wifi) for i in range(n)]
    try:
        t0 = time.monotonic()
        out = subprocess.run([sys.executable, "-m", "airkit.cli", "provision", str(tmp / "class.csv"), "--ports",
                              ",".join(b.port for b in boards), "--json"], capture_output=True, text=True,
                             timeout=600, cwd=str(ROOT),
                             env=dict(os.environ, AIRKIT_DATA_DIR=str(tmp / "data")))   # a fresh class state
        elapsed = time.monotonic() - t0
        res = json.loads(out.stdout)
        if out.returncode != 0 or not all(b["ok"] for b in res["boards"]):
            raise RuntimeError("provision failed: %s %s" % (out.stderr[-500:], res["boards"]))
        return elapsed
    finally:
        for b in boards:
            b.stop()
        coll.stop()


def _median_wall_s(argv: list[str], runs: int = 7) -> float:
    airkit = Path(sys.executable).parent / "airkit"
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([str(airkit), *argv], capture_output=True, timeout=60, cwd=tempfile.gettempdir())
        times.append(time.perf_counter() - t0)
    return round(sorted(times)[len(times) // 2], 3)


def run() -> dict:
    from airkit.boardlink import open_board
    from airkit.deploy import deploy
    from toolkit_helpers import RunningBoard

    m = {"cli_start_s": _median_wall_s(["--help"]), "cli_ports_s": _median_wall_s(["ports", "--json"])}
    if os.environ.get("AIRKIT_BENCH_ONLY") == "cli":      # just the start-up figures
        return m
    with tempfile.TemporaryDirectory(prefix="airkit-bench-") as d:
        tmp = Path(d)
        cfg = {"device": {"id": "bench"}}
        with RunningBoard(tmp, "d1", firmware_from="flash") as b:
            t0 = time.monotonic()
            with open_board(b.port) as link:
                full = deploy(link, cfg)
            m["deploy_full_s"] = round(time.monotonic() - t0, 3)
            with open_board(b.port) as link:
                inc = deploy(link, cfg)
        m["deploy_full_bytes"] = full["file_bytes_sent"]
        m["deploy_full_wire_bytes"] = full["wire_bytes"]
        m["deploy_files"] = full["files"]
        m["deploy_incremental_bytes"] = inc["file_bytes_sent"]
        m["deploy_incremental_wire_bytes"] = inc["wire_bytes"]
        one = tmp / "one"
        one.mkdir()
        m["provision_1_board_s"] = round(_provision(one, 1), 2)
        three = tmp / "three"
        three.mkdir()
        m["provision_3_boards_s"] = round(_provision(three, 3), 2)
    m["provision_parallel_speedup"] = round(3 * m["provision_1_board_s"] / m["provision_3_boards_s"], 2)
    return m


if __name__ == "__main__":
    print(json.dumps(run(), indent=1))
