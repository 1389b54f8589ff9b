"""``make demo``: a simulated day, end to end, on this machine.

Two virtual stations (the unchanged firmware under MicroPython) measure a
simulated day with a 4-hour WiFi outage and a power cut, upload through real
loopback sockets to a local ``airkit collect`` (airkit JSON and the
Sensor.Community push API), backfill after the outage, and the collector's
data is exported and plotted. Output in ``demo-out/``: ``readings.csv`` and
``day.png``. Last, the collector's dashboard is started over the two stations,
its URL printed and a screenshot saved as ``demo-out/dashboard.png``; with a
terminal attached it serves until Ctrl-C, otherwise (CI, no TTY) it stops after
``AIRKIT_DEMO_SERVE_S`` seconds (default 0), so ``make demo`` always ends.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import threading
from datetime import datetime, timezone
from pathlib import Path

# The simulated day is the 24 hours before now (to the hour), so the dashboard shows
# the stations as they are today, not as they were on some fixed date.
DAY_START = datetime.fromtimestamp((int(time.time()) // 3600 - 24) * 3600, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

OUT = Path("demo-out")
TOKEN = "demo-token-not-secret"      # a throwaway token for the local demo collector
OUTAGE = (9.0, 13.0)
CUT_H = 16.3
PLACES = {"school-yard": (25.0330, 121.5654), "street-corner": (25.0412, 121.5437)}   # on the map (Taipei)


def main() -> int:
    from airkit.collect.server import Collector
    from airkit.collect.store import Store
    from airkit.vboard import VirtualBoard, mac_for
    from airkit_fw.uplinks.sensor_community import chip_id

    from airkit.vboard import micropython_command

    micropython_command()            # what the demo needs, said once before anything starts
    OUT.mkdir(exist_ok=True)
    db = OUT / "collect.sqlite"
    for p in OUT.glob("collect.sqlite*"):
        p.unlink()
    store = Store(db)
    coll = Collector(store, "127.0.0.1", 0).start()
    stations = ["school-yard", "street-corner"]
    results = {}

    def run(name, seed):
        bdir = OUT / ("board-" + name)
        for f in ("flash.img", "vboard.json"):
            (bdir / f).unlink(missing_ok=True)
        bdir.mkdir(parents=True, exist_ok=True)
        mac = mac_for(bdir.resolve().name)
        store.add_device(name, "json", TOKEN)
        store.set_station(name, name=name.replace("-", " ").title(), lat=PLACES[name][0], lon=PLACES[name][1])
        store.add_device("esp32-" + chip_id(bytes(int(x, 16) for x in mac.split(":"))), "sc", station=name)
        cfg = {"device": {"id": name, "name": name}, "wifi": {"ssid": "airkit-sim", "password": "airkit-sim-wifi"},
               "uplinks": [
                   {"type": "airkit_json", "url": "http://127.0.0.1:%d/api/v1/batch" % coll.port, "token": TOKEN},
                   {"type": "sensor_community", "url": "http://127.0.0.1:%d/v1/push-sensor-data/" % coll.port,
                    "token": TOKEN}]}
        scenario = {"wifi": {"ssid": "airkit-sim", "password": "airkit-sim-wifi", "down": [list(OUTAGE)]},
                    "power_cuts": [CUT_H]}
        lines = []
        b = VirtualBoard(bdir, config=cfg, hours=24, seed=seed, scenario=scenario, rtc_preset=False, mac=mac,
                         on_line=lines.append, start=DAY_START)
        try:
            b.run()
        except Exception as e:        # said once by main, never as a thread's traceback
            results[name] = {"error": str(e) or type(e).__name__}
            return
        from airkit_fw.console import parse_all

        status = parse_all("\n".join(lines), "uplinks")
        results[name] = {"readings": len(parse_all("\n".join(lines), "reading")), "restarts": b.restarts,
                         "status": status[-1] if status else {}}

    print("airkit demo: 2 virtual stations, 24 simulated hours, WiFi down %g-%g h, power cut at %g h"
          % (OUTAGE[0], OUTAGE[1], CUT_H))
    threads = [threading.Thread(target=run, args=(n, i + 1)) for i, n in enumerate(stations)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    coll.stop()
    for name in stations:
        r = results.get(name)
        if r is None or "error" in r:
            print("  %s: the virtual board failed to run%s" % (name, ": " + r["error"] if r else ""),
                  file=sys.stderr)
            return 1
        st = r["status"]
        print("  %-14s %3d readings, %d power cut(s); delivered %s; pending %s; in the collector %d"
              % (name, r["readings"], r["restarts"]["power_cut"],
                 ", ".join("%s %d" % kv for kv in sorted(st.get("delivered", {}).items())),
                 sum(st.get("pending", {}).values()), store.count(name)))
    with open(OUT / "readings.csv", "w", newline="") as f:
        n = store.export_csv(f)
    print("  exported %d rows (calibration CSV) to %s" % (n, OUT / "readings.csv"))
    plot(store, stations, OUT / "day.png")
    print("  plot: %s" % (OUT / "day.png"))
    from airkit.collect import qcnet

    t0 = time.time()
    faults = qcnet.load_demo(store, int(time.time()) // 300 * 300)
    print("  network check: a test network over Taipei (%d stations, 9 days) with injected faults: %s (%.0f s)"
          % (len([s for s in store.stations() if s["id"].startswith("tpe-")]),
             ", ".join("%s %s" % (k, s) for s, k in sorted(faults.items(), key=lambda x: x[1])), time.time() - t0))
    return dashboard(store)


def dashboard(store) -> int:
    """Serve the dashboard over the demo's stations, screenshot it, print its URL."""
    from airkit.collect.server import Collector

    port = int(os.environ.get("AIRKIT_DEMO_PORT", "8000"))
    try:
        coll = Collector(store, "127.0.0.1", port, qc_warm_hours=10 * 24).start()
    except OSError:
        coll = Collector(store, "127.0.0.1", 0, qc_warm_hours=10 * 24).start()   # 8000 is taken: any free port
    try:
        print("  dashboard: %s  (open data API: %sapi/docs)" % (coll.url, coll.url))
        shot = OUT / "dashboard.png"
        if screenshot(coll.url, shot):
            print("  dashboard screenshot: %s" % shot)
            if screenshot(coll.url + "#/health", OUT / "health.png"):
                print("  network health screenshot (faults found by the network check): %s" % (OUT / "health.png"))
        else:
            print("  (no chromium found for the dashboard screenshot; open the URL above instead)")
        interactive = sys.stdin.isatty() and sys.stdout.isatty() and not os.environ.get("CI")
        if interactive:
            print("  serving the dashboard until Ctrl-C")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                print()
        else:
            time.sleep(max(0.0, float(os.environ.get("AIRKIT_DEMO_SERVE_S", "0") or 0)))
    finally:
        coll.stop()
    return 0


def screenshot(url, path) -> bool:
    """A PNG of the page from headless Chromium (Debian's), or False when there is none."""
    path.unlink(missing_ok=True)
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        return False
    import tempfile

    with tempfile.TemporaryDirectory(prefix="airkit-demo-chromium-") as profile:
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage", "--hide-scrollbars", "--user-data-dir=" + profile,
               "--window-size=1200,1000", "--virtual-time-budget=8000", "--screenshot=" + str(path.resolve()), url]
        try:
            subprocess.run(cmd, capture_output=True, timeout=90)
        except (subprocess.TimeoutExpired, OSError):
            return False
    return path.exists()


def plot(store, stations, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    t0 = None
    for name in stations:
        rows = store.rows(name)
        ts = [datetime.fromisoformat(r["time"].replace("Z", "+00:00")) for r in rows]
        if ts and t0 is None:
            t0 = ts[0].replace(hour=0, minute=0, second=0)
        ax1.plot(ts, [r["pm25_atm"] for r in rows], label="%s PM2.5 (atm)" % name, lw=1)
        ax2.plot(ts, [r["rh"] for r in rows], label="%s RH" % name, lw=1)
    if t0 is not None:
        from datetime import timedelta

        for ax in (ax1, ax2):
            ax.axvspan(t0 + timedelta(hours=OUTAGE[0]), t0 + timedelta(hours=OUTAGE[1]), color="orange", alpha=0.2,
                       label="WiFi outage (backfilled)" if ax is ax1 else None)
            ax.axvline(t0 + timedelta(hours=CUT_H), color="red", ls="--", lw=1,
                       label="power cut" if ax is ax1 else None)
    ax1.set_ylabel("PM2.5 ug/m3")
    ax2.set_ylabel("RH %")
    ax2.set_xlabel("UTC")
    ax1.legend(fontsize=8)
    ax2.legend(fontsize=8)
    ax1.set_title("airkit demo: a simulated day as the local collector received it")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def run_demo() -> int:
    """``python -m airkit.demo``: one sentence (never a traceback) when something it needs is missing."""
    from airkit.errors import AirkitError

    try:
        return main()
    except AirkitError as e:
        from airkit.cli import one_line

        print(one_line(e).replace("airkit: ", "airkit demo: ", 1), file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("airkit demo: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(run_demo())
