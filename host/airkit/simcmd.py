"""``airkit sim``: run the real firmware on a virtual board and print its readings.

The board runs under the MicroPython unix port with simulated PMS5003 and DHT22
(``airkit.vboard``). Simulated time: a day at 5-minute readings takes seconds.
"""

from __future__ import annotations

import json
import signal
import sys
import tempfile
from pathlib import Path

from airkit.errors import UserError

SCENARIO_KEYS = {"pms", "pms_b", "dht", "wifi", "power_cuts", "power_cut_on_write"}
SIM_AP = {"ssid": "airkit-sim", "password": "airkit-sim-wifi"}   # the simulated access point (not a secret)


def register(sub):
    p = sub.add_parser("sim", help="run the firmware on a virtual board (simulated sensors and time)",
                       description="Run the unchanged firmware on a virtual ESP32 with a simulated PMS5003 "
                                   "and DHT22, in simulated time, and print each reading.")
    p.add_argument("--hours", type=float, default=24.0, help="simulated hours to run (default 24)")
    p.add_argument("--interval-s", type=int, default=None, help="seconds between readings (default: config, 300)")
    p.add_argument("--config", help="station config JSON to put on the board")
    p.add_argument("--seed", type=int, default=1, help="random seed for the simulated air and faults")
    p.add_argument("--scenario", help="faults by time, JSON (see README)")
    p.add_argument("--board-dir", help="keep the board's flash here between runs (default: a temporary folder)")
    p.add_argument("--port-link", help="expose the board's REPL on a pseudo-terminal at this path (for mpremote)")
    p.add_argument("--start", default="2026-01-05T00:00:00Z", help="simulated start time, UTC ISO 8601")
    p.add_argument("--series", help="CSV with time,pm25[,rh,temp_c]: the air the sensors see")
    p.add_argument("--pms-b", action="store_true", help="fit a second PMS5003 (A/B channels)")
    p.add_argument("--ticks-start", type=int, default=0,
                   help="tick counter at boot (e.g. 1073000000 to cross the 2^30 ms wrap early)")
    p.add_argument("--speed", type=float, default=None,
                   help="virtual seconds per real second (0: as fast as possible, the default; "
                        "1: real time; with --port-link the default is 60)")
    p.add_argument("--firmware", choices=["repo", "flash", "romfs"], default="repo",
                   help="run the firmware from this source tree (default), from what 'airkit deploy' put on "
                        "the board, or from a ROMFS image built on the fly (modules run in place)")
    p.add_argument("--json", action="store_true", help="one JSON object per reading, then a summary line")
    p.add_argument("--endpoint", help="also push every reading, Sensor.Community format, to this URL "
                                      "(e.g. http://127.0.0.1:8000/v1/push-sensor-data/ of 'airkit collect')")
    p.set_defaults(func=run)


def load_json_file(path: str, what: str):
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise UserError("%s file %s does not exist: check the path" % (what, path))
    except OSError as e:
        raise UserError("cannot read %s file %s (%s)" % (what, path, e.strerror))
    try:
        return json.loads(text)
    except ValueError as e:
        raise UserError("%s file %s is not valid JSON (line %d: %s): fix it and run again"
                        % (what, path, e.lineno, e.msg))


def check_scenario(sc) -> dict:
    if not isinstance(sc, dict):
        raise UserError("the scenario must be a JSON object like {\"pms\": {...}, \"dht\": {...}}")
    unknown = set(sc) - SCENARIO_KEYS
    if unknown:
        raise UserError("unknown scenario key(s) %s: use %s" % (", ".join(sorted(unknown)),
                                                               ", ".join(sorted(SCENARIO_KEYS))))
    return sc


def station_config(args) -> dict:
    from airkit_fw import config as fwconfig

    cfg = load_json_file(args.config, "config") if args.config else {}
    if args.interval_s is not None:
        cfg["interval_s"] = args.interval_s
    if args.pms_b:
        fwconfig.put(cfg, "pms_b.enabled", True)
    if getattr(args, "endpoint", None):
        if not args.endpoint.startswith(("http://", "https://")):
            raise UserError("--endpoint must be an http:// or https:// URL (got %s)" % args.endpoint)
        cfg.setdefault("uplinks", []).append({"type": "sensor_community", "url": args.endpoint,
                                              "name": "endpoint"})
    if cfg.get("uplinks") and not fwconfig.get(cfg, "wifi.ssid"):
        # uplinks need a network: join the virtual board's simulated access point
        fwconfig.put(cfg, "wifi.ssid", SIM_AP["ssid"])
        fwconfig.put(cfg, "wifi.password", SIM_AP["password"])
    problems = fwconfig.validate(cfg)
    if problems:
        raise UserError("the config has problems: " + "; ".join(problems))
    return cfg


def load_series(path: str) -> dict:
    import pandas as pd

    try:
        df = pd.read_csv(path)
    except FileNotFoundError:
        raise UserError("series file %s does not exist" % path)
    except Exception as e:  # pandas raises many kinds for a broken CSV
        raise UserError("cannot read series CSV %s: %s" % (path, e))
    if "time" not in df.columns or "pm25" not in df.columns:
        raise UserError("series CSV %s needs columns time,pm25 (optional rh,temp_c); it has %s"
                        % (path, ", ".join(df.columns)))
    t = pd.to_datetime(df["time"], utc=True, errors="coerce")
    if t.isna().any():
        raise UserError("series CSV %s: row %d has a time that is not ISO 8601" % (path, int(t.isna().idxmax()) + 2))
    df = df.assign(time=t).set_index("time").sort_index()
    step = df.index.to_series().diff().median()
    step_ms = int(step.total_seconds() * 1000) if pd.notna(step) and step.total_seconds() > 0 else 60000
    out = {"t0_ms": int(df.index[0].timestamp() * 1000), "step_ms": step_ms,
           "pm25": [float(x) for x in df["pm25"].interpolate().bfill().ffill()]}
    for col in ("rh", "temp_c"):
        if col in df:
            out[col] = [float(x) for x in df[col].interpolate().bfill().ffill()]
    return out


def format_reading(d: dict) -> str:
    def num(v, fmt):
        return fmt % v if v is not None else "  -  "

    flags = ",".join(d.get("flags", [])) or "ok"
    return "%s  PM2.5 %s (cf1 %s)  PM10 %s  RH %s  T %s  frames %d  %s" % (
        d.get("time") or "(no time)", num(d["pm25_atm"], "%4d"), num(d["pm25_cf1"], "%4d"), num(d["pm10_atm"], "%4d"),
        num(d.get("rh"), "%5.1f%%"), num(d.get("temp_c"), "%5.1fC"), d.get("frames", 0), flags)


def run(args) -> int:
    from airkit.vboard import VirtualBoard

    cfg = station_config(args)
    scenario = check_scenario(load_json_file(args.scenario, "scenario")) if args.scenario else {}
    series = load_series(args.series) if args.series else None
    tmp = None
    board_dir = args.board_dir
    if board_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="airkit-vboard-")
        board_dir = tmp.name
    counts = {"readings": 0, "safe_mode": [], "uplinks": None}

    from airkit_fw.console import parse as parse_console

    def on_line(line: str):
        kind, d = parse_console(line) or (None, None)
        if kind == "reading":
            counts["readings"] += 1
            print(json.dumps(d) if args.json else format_reading(d), flush=True)
        elif kind == "uplinks":
            counts["uplinks"] = d
        elif kind == "safe":
            counts["safe_mode"].append(d)
            print(line, file=sys.stderr, flush=True)

    wiring = {"pms_b": [26, 25, None]} if args.pms_b else {}
    extra = {"speed": args.speed}
    if args.firmware == "romfs":
        from airkit.firmware_build import build_romfs

        rom_tmp = tempfile.TemporaryDirectory(prefix="airkit-romfs-")
        extra["romfs"] = str(Path(rom_tmp.name) / "firmware.romfs")
        build_romfs(Path(extra["romfs"]))
    # With WiFi configured the clock is set the real way (NTP through the simulated network);
    # without it the clock is pre-set, as the foundation always did.
    wifi_configured = bool((cfg.get("wifi") or {}).get("ssid"))
    board = VirtualBoard(board_dir, config=cfg, hours=args.hours if args.hours > 0 else None, seed=args.seed,
                         scenario=scenario, start=args.start, series=series, port_link=args.port_link,
                         on_line=on_line, wiring=wiring, ticks_start=args.ticks_start,
                         firmware_from=args.firmware, extra=extra,
                         rtc_preset=not wifi_configured)
    if cfg.get("uplinks"):
        from airkit_fw.uplinks.sensor_community import chip_id

        mac = bytes(int(x, 16) for x in board.opts["mac"].split(":"))
        print("virtual board MAC %s, Sensor.Community node id esp32-%s" % (board.opts["mac"], chip_id(mac)),
              file=sys.stderr, flush=True)
    if args.port_link:
        print("virtual board REPL on %s (mpremote connect %s resume ...); Ctrl-C stops it"
              % (args.port_link, args.port_link), file=sys.stderr, flush=True)
    signal.signal(signal.SIGTERM, lambda *a: board.stop())
    try:
        board.run()
    except KeyboardInterrupt:
        board.stop()
    finally:
        board.stop()
    state = board.state()
    summary = {"summary": True, "readings": counts["readings"],
               "reboots": sum(board.restarts.values()), "restarts": board.restarts,
               "counters": state.get("counters", {})}
    up = counts["uplinks"]
    if up is not None:
        summary.update({"delivered": up.get("delivered", {}), "pending": up.get("pending", {}),
                        "dropped": up.get("dropped", 0), "rejected": up.get("rejected", {}),
                        "journal_corrupt_skipped": up.get("corrupt_skipped", 0),
                        "wifi_reboots": up.get("wifi_reboots", 0)})
    if args.json:
        print(json.dumps(summary), flush=True)
    else:
        print("%d readings, %d reboots" % (counts["readings"], summary["reboots"]), file=sys.stderr)
        if up is not None:
            print("delivered %s; pending in journal %s; dropped %d" % (
                ", ".join("%s %d" % kv for kv in sorted(summary["delivered"].items())) or "none",
                ", ".join("%s %d" % kv for kv in sorted(summary["pending"].items())) or "none",
                summary["dropped"]), file=sys.stderr)
    if tmp:
        tmp.cleanup()
    if counts["safe_mode"] and counts["readings"] == 0:
        raise UserError("the station stayed in safe mode: " + "; ".join(counts["safe_mode"][:3]))
    return 0
