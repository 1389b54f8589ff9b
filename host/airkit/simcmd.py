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

from airkit.errors import BoardError, InputError, UserError
from airkit.files import load_json_file, read_text_file

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
    p.add_argument("--uptime-start-h", type=float, default=None, metavar="H",
                   help="start as a board that has been up H hours: its tick counter where it would be "
                        "(wraps at 2^30 ms = 298.3 h, as on an ESP32; e.g. 298 crosses the wrap at once)")
    p.add_argument("--speed", type=float, default=None,
                   help="virtual seconds per real second (0: as fast as possible, the default; "
                        "1: real time; with --port-link the default is 60)")
    p.add_argument("--firmware", choices=["repo", "flash", "romfs", "mpy"], default=None,
                   help="run the firmware from this source tree (default), from what 'airkit deploy' put on "
                        "the board, from a ROMFS image built on the fly (modules run in place), or compiled "
                        "to .mpy and copied onto the virtual flash (as 'airkit deploy' installs it; the "
                        "default with --heap-kb, since compiling source on the board needs far more heap)")
    p.add_argument("--micropython", metavar="PATH",
                   help="the MicroPython unix port that runs the board (default: the one installed with airkit); "
                        "e.g. a 32-bit build, whose heap figures are close to an ESP32's")
    p.add_argument("--heap-kb", type=int, default=None, metavar="N",
                   help="the board's MicroPython heap in KiB (an ESP32 without PSRAM has about 110; default: "
                        "the interpreter's own)")
    p.add_argument("--json", action="store_true", help="one JSON object per reading, then a summary line")
    p.add_argument("--endpoint", help="also push every reading, Sensor.Community format, to this URL "
                                      "(e.g. http://127.0.0.1:8000/v1/push-sensor-data/ of 'airkit collect')")
    from airkit.simportal import register_options
    register_options(p)                    # --portal, --web-port
    p.set_defaults(func=run)


_RATE = "rate"          # a probability, 0..1
_WINDOWS = "windows"    # [[start_h, end_h], ...]
_HOURS = "hours"        # [h, ...]
_NETS = "nets"          # [[ssid, rssi dBm], ...]: other networks a scan finds
_PMS_FAULTS = {"garbage_rate": _RATE, "checksum_error_rate": _RATE, "truncated_rate": _RATE, "silent": _WINDOWS,
               "stuck": _WINDOWS, "no_fan": _WINDOWS, "no_wake": _WINDOWS, "baud": int}
# Every key the virtual board reads from a scenario (vboard/pms_sim.py, vdht.py, vnetwork.py, world.py).
SCENARIO_SCHEMA = {
    "pms": _PMS_FAULTS,
    "pms_b": _PMS_FAULTS,
    "dht": {"failure_rate": _RATE, "stuck": _WINDOWS, "missing": _WINDOWS, "low_stuck": _WINDOWS},
    "wifi": {"ssid": str, "password": str, "down": _WINDOWS, "wedge_at": _HOURS, "neighbours": _NETS},
    "power_cuts": _HOURS,
    "power_cut_on_write": bool,
}


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and abs(v) != float("inf")


def _check_value(where: str, kind, v):
    """Raise InputError when a scenario value has the wrong shape (the board would crash on it)."""
    if kind is _RATE:
        ok, want = _is_num(v) and 0 <= v <= 1, "a number from 0 to 1"
    elif kind is _WINDOWS:
        ok = isinstance(v, list) and all(isinstance(w, list) and len(w) == 2 and all(_is_num(x) for x in w)
                                         for w in v)
        want = "a list of [start, end] hours, e.g. [[10, 11.5]]"
    elif kind is _HOURS:
        ok, want = isinstance(v, list) and all(_is_num(x) for x in v), "a list of hours, e.g. [3.25, 12.5]"
    elif kind is _NETS:
        ok = isinstance(v, list) and all(isinstance(n, list) and len(n) == 2 and isinstance(n[0], str)
                                         and 0 < len(n[0].encode()) <= 32 and _is_num(n[1]) for n in v)
        want = "a list of [network name (1-32 bytes), signal dBm], e.g. [[\"guest\", -70]]"
    elif kind is int:
        ok, want = isinstance(v, int) and not isinstance(v, bool) and v > 0, "a whole number above 0"
    elif kind is bool:
        ok, want = isinstance(v, bool), "true or false"
    else:
        ok, want = isinstance(v, str), "a string"
    if not ok:
        shown = "(hidden)" if "password" in where else json.dumps(v)
        raise InputError("scenario %s must be %s, not %s: fix it and run again" % (where, want, shown))


def check_scenario(sc) -> dict:
    """The scenario if every key is one the virtual board knows and every value has the right shape."""
    if not isinstance(sc, dict):
        raise InputError("the scenario must be a JSON object like {\"pms\": {...}, \"dht\": {...}}")
    for key, v in sc.items():
        kind = SCENARIO_SCHEMA.get(key)
        if kind is None:
            raise InputError("unknown scenario key '%s': use %s" % (key, ", ".join(SCENARIO_SCHEMA)))
        if not isinstance(kind, dict):
            _check_value(key, kind, v)
            continue
        if not isinstance(v, dict):
            raise InputError("scenario %s must be an object with keys %s" % (key, ", ".join(kind)))
        for sub, sv in v.items():
            if sub not in kind:
                raise InputError("unknown scenario key '%s.%s': the keys of %s are %s"
                                 % (key, sub, key, ", ".join(kind)))
            _check_value(key + "." + sub, kind[sub], sv)
    return sc


def station_config(args) -> dict:
    from airkit_fw import config as fwconfig

    cfg = load_json_file(args.config, "config") if args.config else {}
    if not isinstance(cfg, dict):
        raise InputError("config file %s must hold a JSON object like {\"interval_s\": 300}: "
                         "start one with 'airkit config init'" % args.config)
    if args.interval_s is not None:
        cfg["interval_s"] = args.interval_s
    if args.pms_b:
        fwconfig.put(cfg, "pms_b.enabled", True)
    if getattr(args, "endpoint", None):
        check_endpoint(args.endpoint)
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


SERIES_RANGES = {"pm25": (0.0, 2000.0), "rh": (0.0, 100.0), "temp_c": (-40.0, 80.0)}   # what the sensors measure


def load_series(path: str) -> dict:
    """The air the simulated sensors see, from a CSV (``time,pm25[,rh,temp_c]``; ``,`` or ``;``)."""
    import io

    import pandas as pd

    text = read_text_file(path, "series")
    if not text.strip():
        raise InputError("series file %s is empty: it needs a header time,pm25 and one row per time" % path)
    try:
        df = pd.read_csv(io.StringIO(text), sep=None, engine="python")
    except Exception as e:  # pandas raises many kinds for a broken CSV
        raise InputError("cannot read series CSV %s (%s): it needs a header time,pm25 and one row per time"
                         % (path, str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__))
    df.columns = [str(c).strip().lower() for c in df.columns]
    if "time" not in df.columns or "pm25" not in df.columns:
        raise InputError("series CSV %s needs columns time,pm25 (optional rh,temp_c); it has %s"
                         % (path, ", ".join(df.columns)))
    if df.empty:
        raise InputError("series CSV %s has a header but no rows: add one row per time (time,pm25)" % path)
    t = pd.to_datetime(df["time"], utc=True, errors="coerce")
    if t.isna().any():
        raise InputError("series CSV %s: row %d has a time that is not ISO 8601 (e.g. 2026-01-05T00:00:00Z)"
                         % (path, int(t.isna().to_numpy().argmax()) + 2))
    df = df.assign(time=t)
    for col, (lo, hi) in SERIES_RANGES.items():
        if col not in df:
            continue
        v = pd.to_numeric(df[col], errors="coerce")
        bad = (v.isna() & df[col].notna()) | ~(v.isna() | v.between(lo, hi))
        if bad.any():
            i = int(bad.to_numpy().argmax())
            raise InputError("series CSV %s: row %d has %s=%s, not a number from %g to %g: fix it and run again"
                             % (path, i + 2, col, df[col].iloc[i], lo, hi))
        if v.isna().all():
            if col == "pm25":
                raise InputError("series CSV %s: the pm25 column is empty" % path)
            df = df.drop(columns=[col])
            continue
        df[col] = v
    df = df.set_index("time").sort_index()
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


def check_endpoint(url: str):
    """--endpoint: an http(s) URL with a host and a valid port (the password in it is never shown)."""
    from urllib.parse import urlsplit

    p = urlsplit(url)
    shown = p._replace(netloc=p.netloc.rsplit("@", 1)[-1]).geturl()
    try:
        ok = p.scheme in ("http", "https") and bool(p.hostname) and (p.port is None or p.port > 0)
    except ValueError:                  # a port that is no number, or above 65535
        ok = False
    if not ok:
        raise InputError("--endpoint must be an http:// or https:// URL with a host and a port from 1 to 65535, "
                         "e.g. http://127.0.0.1:8000/v1/push-sensor-data/ (got %s)" % shown)


MAX_HEAP_KB = 16384         # 16 MB: above the largest ESP32 PSRAM


def check_args(args):
    """Refuse, in one sentence, options the virtual board would crash or hang on."""
    from airkit.vboard import parse_iso

    if not args.hours >= 0 or args.hours == float("inf"):       # nan and inf too
        raise InputError("--hours must be 0 (run until stopped) or more, not %g" % args.hours)
    if args.speed is not None and (not args.speed >= 0 or args.speed == float("inf")):
        raise InputError("--speed must be 0 (as fast as possible) or more, not %g" % args.speed)
    if args.heap_kb is not None and args.heap_kb > MAX_HEAP_KB:      # the interpreter crashed (exit -11)
        raise InputError("--heap-kb %d is more than any ESP32 has: give at most %d (an ESP32 without PSRAM has "
                         "about 110, one with 8 MB PSRAM about 8000)" % (args.heap_kb, MAX_HEAP_KB))
    if args.ticks_start < 0:
        raise InputError("--ticks-start must be 0 or more, not %d" % args.ticks_start)
    up = getattr(args, "uptime_start_h", None)
    if up is not None and (not up >= 0 or up == float("inf")):      # nan and inf too
        raise InputError("--uptime-start-h must be a number of hours, 0 or more, not %g" % up)
    if up is not None and args.ticks_start:
        raise InputError("give --uptime-start-h or --ticks-start, not both (both set the tick counter)")
    try:
        parse_iso(args.start)
    except ValueError:
        raise InputError("--start %s is not a UTC ISO 8601 time: use e.g. 2026-01-05T00:00:00Z" % args.start)
    if args.board_dir and Path(args.board_dir).exists() and not Path(args.board_dir).is_dir():
        raise InputError("--board-dir %s is a file, not a folder: give a folder (it is created if missing)"
                         % args.board_dir)
    if args.board_dir:
        from airkit.outfile import check_dir, writing

        check_dir(args.board_dir, what="--board-dir")
        with writing(args.board_dir, "--board-dir"):
            Path(args.board_dir).mkdir(parents=True, exist_ok=True)


def _pid_alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def claim_port_link(path: str) -> Path:
    """Make ``path`` ready for a new port link, safely; returns the owner file written beside it.

    The link is a symlink to the board's pseudo-terminal. One left by a simulator
    that was killed points to a pty that may now belong to another program (or
    another virtual board), so it is replaced, and said so; one whose simulator
    still runs is refused; a path that is not a link is never deleted.
    """
    import os

    link = Path(path)
    parent = link.parent
    if not parent.is_dir():
        raise InputError("--port-link %s: the folder %s does not exist: give a path in an existing folder, "
                         "e.g. /tmp/vb" % (path, parent))
    if not os.access(parent, os.W_OK):
        raise InputError("--port-link %s: the folder %s is not writable: give a path in a folder you can write, "
                         "e.g. /tmp/vb" % (path, parent))
    owner = parent / (link.name + ".pid")
    if link.is_symlink():
        try:
            pid = int(owner.read_text().strip())
        except (OSError, ValueError):
            pid = None
        if pid and pid != os.getpid() and _pid_alive(pid):
            raise BoardError("--port-link %s belongs to a virtual board that is still running (process %d): "
                             "stop it or give another path" % (path, pid))
        print("replacing the stale port link %s (its simulator is gone; it pointed to %s)"
              % (path, os.readlink(link)), file=sys.stderr, flush=True)
        link.unlink()
    elif link.exists():
        from airkit.errors import WouldOverwrite
        raise WouldOverwrite("--port-link %s exists and is not a port link: give another path (it is not overwritten)"
                         % path)
    owner.write_text("%d\n" % os.getpid())
    return owner


def announce_link_when_made(board, link: Path, timeout_s: float = 10.0):
    """Say where the REPL is once the link exists; if it never appears, say so and stop the board."""
    import threading
    import time

    def watch():
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not board._stop.is_set():
            if link.is_symlink():
                print("virtual board REPL on %s (mpremote connect %s resume ...); Ctrl-C stops it"
                      % (link, link), file=sys.stderr, flush=True)
                return
            time.sleep(0.05)
        if not board._stop.is_set():
            print("airkit: the port link %s was not made within %.0f s; stopping the virtual board"
                  % (link, timeout_s), file=sys.stderr, flush=True)
            failed.append(True)
            board.stop()

    failed: list = []
    t = threading.Thread(target=watch, daemon=True)
    t.start()
    return failed


def run(args) -> int:
    from airkit.vboard import VirtualBoard

    check_args(args)
    cfg = station_config(args)
    scenario = check_scenario(load_json_file(args.scenario, "scenario")) if args.scenario else {}
    series = load_series(args.series) if args.series else None
    owner = claim_port_link(args.port_link) if args.port_link else None
    tmp = None
    board_dir = args.board_dir
    if board_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="airkit-vboard-")
        board_dir = tmp.name
    counts = {"readings": 0, "safe_mode": [], "uplinks": None, "no_firmware": False, "crashes": []}

    from airkit_fw.console import parse as parse_console

    def on_line(line: str):
        kind, d = parse_console(line) or (None, None)
        if kind == "reading":
            counts["readings"] += 1
            print(json.dumps(d) if args.json else format_reading(d), flush=True)
        elif kind == "uplinks":
            counts["uplinks"] = d
        elif line.startswith("virtual board: no airkit firmware on the flash"):
            counts["no_firmware"] = True
            if args.port_link:
                print("the virtual board's flash holds no airkit firmware yet: put it there with "
                      "'airkit deploy --port %s --config station.json'" % args.port_link, file=sys.stderr, flush=True)
        elif kind == "crash":
            counts["crashes"].append(d)
            print(line, file=sys.stderr, flush=True)
        elif kind == "safe":
            counts["safe_mode"].append(d)
            print(line, file=sys.stderr, flush=True)

    if args.firmware is None:
        args.firmware = "mpy" if args.heap_kb else "repo"
    wiring = {"pms_b": [26, 25, None]} if args.pms_b else {}
    extra = {"speed": args.speed}
    if getattr(args, "endpoint", None):
        # an outside server: socket timeouts as long as on a board (see vboard/vsocket.py)
        from airkit_fw.uplinks.net import parse_url
        extra["net_outside"] = ["%s:%d" % parse_url(args.endpoint)[1:3]]
    if args.firmware == "romfs":
        from airkit.firmware_build import build_romfs

        rom_tmp = tempfile.TemporaryDirectory(prefix="airkit-romfs-")
        extra["romfs"] = str(Path(rom_tmp.name) / "firmware.romfs")
        build_romfs(Path(extra["romfs"]))
    if getattr(args, "portal", False) or getattr(args, "web_port", None) is not None:
        from airkit.simportal import apply as portal_options
        portal_options(args, extra, scenario, SIM_AP)
    # With WiFi configured the clock is set the real way (NTP through the simulated network);
    # without it the clock is pre-set, as the foundation always did.
    wifi_configured = bool((cfg.get("wifi") or {}).get("ssid"))
    board = VirtualBoard(board_dir, config=cfg, hours=args.hours if args.hours > 0 else None, seed=args.seed,
                         scenario=scenario, start=args.start, series=series, port_link=args.port_link,
                         on_line=on_line, wiring=wiring, ticks_start=args.ticks_start,
                         uptime_start_h=getattr(args, "uptime_start_h", None),
                         firmware_from=args.firmware, extra=extra,
                         rtc_preset=not wifi_configured, heap_kb=args.heap_kb, micropython=args.micropython)
    if cfg.get("uplinks"):
        from airkit_fw.uplinks.sensor_community import chip_id

        mac = bytes(int(x, 16) for x in board.opts["mac"].split(":"))
        print("virtual board MAC %s, Sensor.Community node id esp32-%s" % (board.opts["mac"], chip_id(mac)),
              file=sys.stderr, flush=True)
    link_failed = announce_link_when_made(board, Path(args.port_link)) if args.port_link else []
    signal.signal(signal.SIGTERM, lambda *a: board.stop())
    try:
        board.run()
    except KeyboardInterrupt:
        board.stop()
    finally:
        board.stop()
        if owner is not None:
            owner.unlink(missing_ok=True)
    if link_failed:
        raise BoardError("the virtual board's port link %s could not be made" % args.port_link)
    state = board.state()
    if counts["no_firmware"] and counts["readings"] == 0 and not args.port_link:
        if tmp:
            tmp.cleanup()
        raise InputError("the virtual board's flash holds no airkit firmware (--firmware flash): run the board with "
                         "--port-link PATH --board-dir %s and 'airkit deploy --port PATH' first, or leave out "
                         "--firmware flash" % (args.board_dir or "DIR"))
    summary = {"summary": True, "readings": counts["readings"],
               "reboots": sum(board.restarts.values()), "restarts": board.restarts,
               "counters": state.get("counters", {})}
    up = counts["uplinks"]
    if up is not None:
        summary.update({"delivered": up.get("delivered", {}), "pending": up.get("pending", {}),
                        "dropped": up.get("dropped", 0), "rejected": up.get("rejected", {}),
                        "journal_corrupt_skipped": up.get("corrupt_skipped", 0),
                        "wifi_reboots": up.get("wifi_reboots", 0),
                        "state": up.get("state", {}), "reason": up.get("reason", {})})
    if args.json:
        print(json.dumps(summary), flush=True)
    else:
        print("%d readings, %d reboots" % (counts["readings"], summary["reboots"]), file=sys.stderr)
        if up is not None:
            print("delivered %s; pending in journal %s; dropped %d" % (
                ", ".join("%s %d" % kv for kv in sorted(summary["delivered"].items())) or "none",
                ", ".join("%s %d" % kv for kv in sorted(summary["pending"].items())) or "none",
                summary["dropped"]), file=sys.stderr)
            for name, what in sorted(summary["state"].items()):   # why readings are still pending
                if what != "ok" or summary["pending"].get(name):
                    why = summary["reason"].get(name)
                    print("uplink %s: %s" % (name, why if why and why.startswith(what) else
                                                 what + (": " + why if why else "")), file=sys.stderr)
    if tmp:
        tmp.cleanup()
    if counts["crashes"] and counts["readings"] == 0:
        hint = (": give it more heap (--heap-kb), or a 32-bit interpreter (--micropython)"
                if args.heap_kb and "MemoryError" in counts["crashes"][-1] else "")
        last = counts["crashes"][-1]
        what = last[last.find("(") + 1:last.rfind(");")] if "(" in last and ");" in last else last
        raise UserError("the station crashed at every start, %d times (%s)%s" % (len(counts["crashes"]), what, hint))
    if counts["safe_mode"] and counts["readings"] == 0:
        raise UserError("the station stayed in safe mode: " + "; ".join(counts["safe_mode"][:3]))
    return 0
