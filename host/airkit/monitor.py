"""``airkit monitor``: live readings from a station's log lines, with a small chart.

Why this exists: a raw serial console scrolls JSON past a beginner. The
station prints each reading as one line ``reading {json}``; this parses those
lines (and safe-mode lines), shows the latest values with quality flags and a
compact PM2.5 chart, and exits cleanly on Ctrl-C.
"""

from __future__ import annotations

import json
import sys
import time

from airkit.errors import BoardError, UserError

BLOCKS = " ▁▂▃▄▅▆▇█"
MIN_SPAN = 25.0      # µg/m³ a full-height chart spans at least: 13 vs 14 is not ▁ vs █


def parse_line(line: str):
    """('reading', dict) | ('safe', text) | None for any other console line (the firmware's own parser)."""
    from airkit_fw.console import parse

    p = parse(line)
    return p if p is not None and p[0] in ("reading", "safe") else None


def sparkline(values, width=40, min_span=MIN_SPAN) -> str:
    """Bars from 0 (or the lowest value, if higher) over at least ``min_span``, so small changes stay small."""
    vals = [v for v in values[-width:]]
    nums = [v for v in vals if v is not None]
    if not nums:
        return ""
    hi = max(nums)
    lo = min(min(nums), max(0.0, hi - min_span))
    span = max(hi - lo, min_span)
    top = len(BLOCKS) - 2
    return "".join("·" if v is None else BLOCKS[1 + min(top, int(round((v - lo) / span * top)))] for v in vals)


def fmt(v, spec):
    return spec % v if v is not None else "-"


def format_reading(d: dict) -> str:
    flags = ",".join(d.get("flags") or []) or "ok"
    return "%s  PM1 %s  PM2.5 %s  PM10 %s  RH %s%%  T %sC  frames %s  %s" % (
        d.get("time") or "seq %s" % d.get("seq"), fmt(d.get("pm1_atm"), "%d"), fmt(d.get("pm25_atm"), "%d"),
        fmt(d.get("pm10_atm"), "%d"), fmt(d.get("rh"), "%.1f"), fmt(d.get("temp_c"), "%.1f"),
        d.get("frames", "-"), flags)


def render(history: list[dict], safe: list[str]):
    from rich.table import Table

    t = Table(title="airkit monitor (Ctrl-C to stop)", show_header=True, expand=False)
    for col in ("time", "PM1", "PM2.5", "PM10", "RH %", "T °C", "frames", "flags"):
        t.add_column(col)
    for d in history[-8:]:
        t.add_row(d.get("time") or str(d.get("seq")), fmt(d.get("pm1_atm"), "%d"), fmt(d.get("pm25_atm"), "%d"),
                  fmt(d.get("pm10_atm"), "%d"), fmt(d.get("rh"), "%.1f"), fmt(d.get("temp_c"), "%.1f"),
                  str(d.get("frames", "-")), ",".join(d.get("flags") or []) or "ok")
    pm = [d.get("pm25_atm") for d in history]
    nums = [v for v in pm if v is not None]
    t.caption = ("PM2.5 %s  (min %s, max %s, last %d readings)" % (sparkline(pm), min(nums), max(nums), len(pm))
                 if nums else "PM2.5: no values yet")
    if safe:
        t.caption += "\nSAFE MODE: " + safe[-1]
    return t


def quiet_stdout():
    """After the reader of stdout went away: point stdout at /dev/null so the interpreter's last flush
    does not print 'Exception ignored ... BrokenPipeError'."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def register(sub):
    p = sub.add_parser("monitor", help="live readings from a board (parsed, with a chart)",
                       description="Follow the station's 'reading {json}' log lines on a serial port and show "
                                   "them as live readings with a compact PM2.5 chart. Ctrl-C stops.")
    p.add_argument("--port", required=True, help="serial port of the board (see 'airkit ports')")
    p.add_argument("--count", type=int, help="stop after this many readings")
    p.add_argument("--seconds", type=float, help="stop after this many seconds")
    p.add_argument("--json", action="store_true", help="print each reading as one JSON line")
    p.add_argument("--baud", type=int, default=115200, help="console baud rate (default 115200)")
    p.set_defaults(func=run)


def run(args) -> int:
    import serial

    from airkit.boardlink import ALIVE_MARKS, SILENT_S, check_port, port_open_error
    from airkit.errors import InputError

    if args.count is not None and args.count < 1:
        raise InputError("--count must be 1 or more (the number of readings to wait for), not %d; leave it out "
                         "to follow the board until Ctrl-C" % args.count)
    if args.seconds is not None and not (0 < args.seconds < float("inf")):
        raise InputError("--seconds must be more than 0 (how long to follow the board), not %g; leave it out "
                         "to follow the board until Ctrl-C" % args.seconds)
    check_port(args.port)
    try:
        ser = serial.Serial(args.port, args.baud, timeout=0.2, write_timeout=2, exclusive=True)
    except (OSError, serial.SerialException) as e:
        raise port_open_error(args.port, e)
    live = None
    if not args.json and sys.stdout.isatty():
        from rich.live import Live

        live = Live(render([], []), refresh_per_second=4, transient=False)
        live.start()
    history: list[dict] = []
    safe: list[str] = []
    n = 0
    buf = b""
    start = time.monotonic()
    last_data = start
    hinted = False
    received = 0
    text_seen = False
    try:
        while True:
            if args.seconds is not None and time.monotonic() - start >= args.seconds:
                break
            chunk = ser.read(4096)
            if chunk:
                last_data = time.monotonic()
                buf += chunk
                received += len(chunk)
                text_seen = text_seen or any(m in buf for m in ALIVE_MARKS)
            if not history and not text_seen and time.monotonic() - start > SILENT_S:
                if received:
                    raise BoardError("nothing answers on %s at %d baud: it prints unreadable bytes (another baud "
                                     "rate, or a boot loop); press the board's reset button, or try --baud"
                                     % (args.port, args.baud))
                if not hinted:
                    hinted = True
                    print("nothing answers on %s yet (no byte in %d s): a station prints one reading per "
                          "interval (default 300 s), so keep waiting, or press the board's reset button; if this "
                          "is not the board's port, see 'airkit ports' (Ctrl-C stops)"
                          % (args.port, SILENT_S), file=sys.stderr, flush=True)
            if len(buf) > 65536 and b"\n" not in buf:
                buf = buf[-4096:]
            while b"\n" in buf:
                raw, buf = buf.split(b"\n", 1)
                parsed = parse_line(raw.decode("utf-8", "replace"))
                if parsed is None:
                    continue
                kind, val = parsed
                if kind == "safe":
                    safe.append(val)
                    if live is None:
                        print("SAFE MODE: " + val, file=sys.stderr, flush=True)
                    continue
                n += 1
                history.append(val)
                del history[:-200]
                if live is not None:
                    live.update(render(history, safe))
                elif args.json:
                    print(json.dumps(val), flush=True)
                else:
                    print(format_reading(val), flush=True)
                if args.count and n >= args.count:
                    raise StopIteration
    except (KeyboardInterrupt, StopIteration):
        pass
    except BrokenPipeError:
        # the reader of our output went away (monitor --json | head -1): a normal end, said nowhere
        quiet_stdout()
        return 0
    except (OSError, serial.SerialException) as e:
        raise BoardError("lost the connection to %s (%s): check the cable and run again" % (args.port, e))
    finally:
        if live is not None:
            live.stop()
        ser.close()
    if not args.json:
        print("%d reading(s) from %s" % (n, args.port), file=sys.stderr)
    return 0
