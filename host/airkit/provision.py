"""``airkit provision CLASS.csv``: bare boards to a printed class report, in parallel.

Why this exists: a teacher with 30 boards and a USB hub needs every board
flashed (if needed), deployed, configured and tested, and a sheet of labels
saying which board is which. Each attached board gets its own worker process
(esptool's logger is process-global, and boards are independent); boards are
followed by their MAC (and USB serial number when there is one), not by port
name, which changes when boards are replugged. A state file next to the CSV
remembers which board got which row and what passed, so re-running only does
what is missing. The report (CSV + printable HTML labels) never holds a
password.
"""

from __future__ import annotations

import csv
import hashlib
import html
import json
import multiprocessing as mp
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from airkit.errors import UserError

COLUMNS = ("device_id", "name", "lat", "lon", "wifi_ssid", "wifi_password", "uplinks", "board", "mac")


# --- the class list ---------------------------------------------------------------------------
def read_class(path: str) -> list[dict]:
    from airkit.resources import config_from_profile, load_profile
    from airkit.deploy import check_config

    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            fields = reader.fieldnames or []
    except FileNotFoundError:
        raise UserError("class list %s does not exist: check the path" % path)
    except (OSError, csv.Error) as e:
        raise UserError("cannot read class list %s (%s)" % (path, e))
    if "device_id" not in fields:
        raise UserError("class list %s needs a device_id column (columns: %s)" % (path, ", ".join(COLUMNS)))
    unknown = [c for c in fields if c not in COLUMNS]
    if unknown:
        raise UserError("class list %s has unknown column(s) %s: use %s" % (path, ", ".join(unknown),
                                                                            ", ".join(COLUMNS)))
    out, seen = [], set()
    for i, r in enumerate(rows, start=2):
        r = {k: (v or "").strip() for k, v in r.items() if k}
        if not r.get("device_id"):
            raise UserError("class list %s line %d has no device_id" % (path, i))
        if r["device_id"] in seen:
            raise UserError("class list %s line %d repeats device_id %s" % (path, i, r["device_id"]))
        seen.add(r["device_id"])
        board = r.get("board") or "esp32-devkitc"
        cfg = config_from_profile(load_profile(board))
        cfg["device"] = {"id": r["device_id"], "name": r.get("name", "")}
        try:
            if r.get("lat") or r.get("lon"):
                cfg["location"] = {"lat": float(r["lat"]), "lon": float(r["lon"])}
            if r.get("uplinks"):
                cfg["uplinks"] = json.loads(r["uplinks"])
        except ValueError:
            raise UserError("class list %s line %d: lat/lon must be numbers and uplinks a JSON list" % (path, i))
        if r.get("wifi_ssid"):
            cfg["wifi"] = {"ssid": r["wifi_ssid"], "password": r.get("wifi_password", "")}
        check_config(cfg, "class list %s line %d (%s)" % (path, i, r["device_id"]))
        out.append({"line": i, "device_id": r["device_id"], "name": r.get("name", ""), "board": board,
                    "mac": r.get("mac", "").lower(), "config": cfg})
    if not out:
        raise UserError("class list %s has no rows" % path)
    return out


def resolve_ports(spec: str) -> list[dict]:
    from airkit.ports import board_ports

    if spec == "auto":
        found = board_ports()
        if not found:
            raise UserError("no boards found on USB: plug them in with data cables and check 'airkit ports'")
        return [{"port": p["device"], "usb_serial": p["serial_number"]} for p in found]
    ports = [p.strip() for p in spec.split(",") if p.strip()]
    if len(set(ports)) != len(ports):
        raise UserError("a port is listed twice in --ports")
    serials = {}
    try:
        from serial.tools import list_ports as lp

        serials = {i.device: i.serial_number for i in lp.comports()}
    except Exception:
        pass
    return [{"port": p, "usb_serial": serials.get(p)} for p in ports]


# --- worker processes (one per port) --------------------------------------------------------------------
def _identify(port: str) -> dict:
    """MAC (and whether MicroPython answers) of the board on ``port``."""
    from airkit.boardlink import open_board

    try:
        with open_board(port) as link:
            mac = link.eval_json("import json\ntry:\n from airkit_fw import board\n m = board.current().mac()\n"
                                 "except ImportError:\n import machine\n m = machine.unique_id()\n"
                                 "print(json.dumps(':'.join('%02x' % x for x in m)))\n")
            return {"port": port, "mac": mac, "micropython": True}
    except UserError as e:
        first = str(e)
    try:
        from airkit.flash import identify

        info = identify(port, connect_attempts=2)
        return {"port": port, "mac": info["mac"], "micropython": False, "chip": info["chip"]}
    except UserError as e:
        return {"port": port, "error": "%s; %s" % (first, e)}


def _provision(job: dict) -> dict:
    """Flash if needed, deploy firmware + config, run the kit test. Never raises."""
    from airkit.boardlink import open_board
    from airkit.deploy import deploy
    from airkit.doctor import run_doctor

    port = job["port"]
    res = {"port": port, "device_id": job["device_id"], "steps": [], "ok": False}
    t0 = time.monotonic()
    try:
        if not job.get("micropython"):
            from airkit.resources import load_profile
            from airkit.flash import flash_board, resolve_image

            profile = load_profile(job["board"])
            image, version, sha = resolve_image(profile, job.get("version"), job.get("bundle"),
                                                allow_download=not job.get("bundle"), log=lambda m: None,
                                                lock=job.get("lock"))
            res["flash"] = flash_board(port, profile, image, erase=True, log=lambda m: None)
            res["steps"].append("flashed")
            time.sleep(2)           # MicroPython's first boot formats the filesystem
        link = open_board(port)
        try:
            summary = deploy(link, job["config"], quiet=True, built=job.get("built"))
            if summary["files_sent"] or summary["config_sent"]:
                # Start the new firmware (and config) before testing it, as the station will run it.
                link.reset()
                link.close()
                time.sleep(1.0)
                link = open_board(port)
            res["deploy"] = summary
            res["steps"].append("deployed %d file(s)" % summary["files_sent"] if summary["files_sent"]
                                else "firmware already current")
            if summary["config_sent"]:
                res["steps"].append("config written")
            prev = job.get("previous") or {}
            if (not job.get("retest") and prev.get("tests_passed") and not summary["config_sent"]
                    and prev.get("firmware_hash") == summary["firmware_hash"]
                    and prev.get("config_hash") == summary["config_hash"]):
                res["doctor"] = prev["doctor"]
                res["steps"].append("tests already passed")
            else:
                rep = run_doctor(link)
                res["doctor"] = {"facts": rep["facts"],
                                 "checks": [{k: c.get(k) for k in ("check", "status", "passed", "summary", "remedy")}
                                            for c in rep["checks"]]}
                res["steps"].append("tested")
            link.reset()
        finally:
            link.close()
        checks = res["doctor"]["checks"]
        res["ok"] = not any(c.get("passed") is False for c in checks)
    except UserError as e:
        res["error"] = str(e)
    except Exception as e:  # a worker must always report back
        res["error"] = "%s: %s" % (type(e).__name__, e)
    res["seconds"] = round(time.monotonic() - t0, 2)
    return res


# --- the report ---------------------------------------------------------------------------------
def sensor_community_id(mac: str | None) -> str:
    from airkit_fw.uplinks.sensor_community import chip_id

    if not mac:
        return ""
    return "esp32-" + chip_id(bytes(int(x, 16) for x in mac.split(":")))


def report_rows(rows: list[dict], state: dict) -> list[dict]:
    out = []
    for r in rows:
        s = state["boards"].get(r["device_id"], {})
        doc = s.get("doctor") or {}
        checks = doc.get("checks") or []
        tests = " ".join("%s:%s" % (c["check"], {True: "pass", False: "FAIL", None: "skip"}[c.get("passed")])
                         for c in checks)
        problems = "; ".join("%s: %s -> %s" % (c["check"], c.get("summary"), c.get("remedy")) for c in checks
                             if c.get("passed") is False)
        if s.get("error"):
            problems = s["error"]
        facts = doc.get("facts") or {}
        status = "not attached" if not s else ("ok" if s.get("ok") else "FAILED")
        out.append({
            "device_id": r["device_id"], "name": r["name"], "status": status,
            "mac": s.get("mac", ""), "usb_serial": s.get("usb_serial") or "",
            "sensor_community_id": sensor_community_id(s.get("mac")),
            "chip": facts.get("chip", ""), "micropython": facts.get("micropython", ""),
            "firmware_version": s.get("firmware_version", ""), "firmware_hash": s.get("firmware_hash", ""),
            "config_hash": s.get("config_hash", ""), "wifi_ssid": (r["config"].get("wifi") or {}).get("ssid", ""),
            "tests": tests, "problems": problems, "last_port": s.get("port", ""), "updated": s.get("updated", ""),
        })
    return out


REPORT_FIELDS = ("device_id", "name", "status", "mac", "usb_serial", "sensor_community_id", "chip", "micropython",
                 "firmware_version", "firmware_hash", "config_hash", "wifi_ssid", "tests", "problems", "last_port",
                 "updated")


def write_reports(rep: list[dict], csv_path: Path, html_path: Path, title: str):
    with open(csv_path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=REPORT_FIELDS)
        w.writeheader()
        for r in rep:
            w.writerow(r)
    e = html.escape
    labels = []
    for r in rep:
        tests = "".join('<span class="t %s">%s</span>' % ("pass" if t.endswith("pass") else
                                                         "fail" if t.endswith("FAIL") else "skip", e(t))
                        for t in r["tests"].split())
        labels.append(
            '<div class="label %s"><div class="id">%s</div><div class="name">%s</div>'
            '<table><tr><th>MAC</th><td>%s</td></tr><tr><th>Sensor.Community</th><td><b>%s</b></td></tr>'
            '<tr><th>firmware</th><td>%s %s</td></tr><tr><th>config</th><td>%s</td></tr>'
            '<tr><th>status</th><td>%s</td></tr></table><div class="tests">%s</div>%s</div>'
            % ("bad" if r["status"] != "ok" else "good", e(r["device_id"]), e(r["name"]), e(r["mac"] or "-"),
               e(r["sensor_community_id"] or "-"), e(r["firmware_version"]), e(r["firmware_hash"][:12]),
               e(r["config_hash"][:12]), e(r["status"]), tests,
               ('<div class="problems">%s</div>' % e(r["problems"])) if r["problems"] else ""))
    doc = """<!doctype html><html><head><meta charset="utf-8"><title>%s</title><style>
body{font-family:sans-serif;margin:1cm} h1{font-size:16pt}
.labels{display:flex;flex-wrap:wrap;gap:4mm}
.label{width:85mm;border:1px solid #000;padding:3mm;page-break-inside:avoid;font-size:9pt}
.label.bad{border:2px dashed #b00}
.id{font-size:16pt;font-weight:bold}.name{margin-bottom:2mm}
th{text-align:left;padding-right:3mm;font-weight:normal;color:#444} td{font-family:monospace}
.t{display:inline-block;margin:1mm 1mm 0 0;padding:0 1mm;border:1px solid #888}
.t.fail{background:#fcc}.t.pass{background:#cfc}.problems{color:#900;margin-top:2mm}
@media print{h1,.note{display:none}}
</style></head><body><h1>%s</h1><p class="note">%d board(s); print this page and cut out the labels.
Register each station at devices.sensor.community with its Sensor.Community id.</p>
<div class="labels">%s</div></body></html>
""" % (e(title), e(title), len(rep), "\n".join(labels))
    html_path.write_text(doc)


# --- the command -----------------------------------------------------------------------------------
def register(sub):
    p = sub.add_parser("provision", help="flash, deploy, configure and test a class set of boards in parallel",
                       description="One row per station in CLASS.csv (columns: %s). Every attached board is "
                                   "flashed if needed, deployed, configured and tested in parallel (one process "
                                   "per port), followed by its MAC/USB serial number. Re-running only does what "
                                   "is missing. Writes a class report: CSV and printable HTML labels (never a "
                                   "password)." % ", ".join(COLUMNS))
    p.add_argument("class_csv", help="the class list (CSV)")
    p.add_argument("--ports", default="auto", help="'auto' (every board on USB) or P1,P2,...")
    p.add_argument("--out", help="folder for the report (default: next to the CSV)")
    p.add_argument("--bundle", help="folder made by 'airkit flash bundle' (offline flashing, verified images)")
    p.add_argument("--version", help="MicroPython version to flash onto blank boards (default: profile's)")
    p.add_argument("--retest", action="store_true", help="run the kit test again even where it passed")
    p.add_argument("--json", action="store_true", help="print the report rows as JSON")
    p.set_defaults(func=run)


def load_state(path: Path) -> dict:
    try:
        s = json.loads(path.read_text())
        if isinstance(s, dict) and isinstance(s.get("boards"), dict):
            return s
    except (OSError, ValueError):
        pass
    return {"boards": {}}


def save_state(path: Path, state: dict):
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
    tmp.replace(path)


def assign(rows, boards, state) -> list[tuple[dict, dict]]:
    """Pair attached boards with rows: remembered MAC/USB serial, then the CSV's mac column, then in order."""
    by_id = {r["device_id"]: r for r in rows}
    taken, pairs = set(), []
    known = {}
    for dev, s in state["boards"].items():
        for k in (s.get("mac"), s.get("usb_serial")):
            if k:
                known[k] = dev
    waiting = []
    for b in boards:
        dev = known.get(b.get("mac")) or known.get(b.get("usb_serial"))
        if dev is None:
            dev = next((r["device_id"] for r in rows if r["mac"] and r["mac"] == b.get("mac")), None)
        if dev in by_id and dev not in taken:
            taken.add(dev)
            pairs.append((b, by_id[dev]))
        else:
            waiting.append(b)
    free = [r for r in rows if r["device_id"] not in taken and r["device_id"] not in state["boards"]
            and not r["mac"]]
    for b in waiting:
        if not free:
            b["error"] = "no free row in the class list for this board (MAC %s): add a row" % b.get("mac")
            continue
        r = free.pop(0)
        pairs.append((b, r))
    return pairs


def run(args) -> int:
    rows = read_class(args.class_csv)
    csv_path = Path(args.class_csv)
    out = Path(args.out) if args.out else csv_path.parent
    out.mkdir(parents=True, exist_ok=True)
    state_path = csv_path.with_name(csv_path.stem + ".state.json")
    state = load_state(state_path)
    ports = resolve_ports(args.ports)
    t0 = time.monotonic()
    ctx = mp.get_context("spawn")
    say = (lambda m: print(m, file=sys.stderr, flush=True)) if not args.json else (lambda m: None)
    say("provisioning %d board(s) on %s" % (len(ports), ", ".join(p["port"] for p in ports)))
    import tempfile

    from airkit.firmware_build import build

    build_tmp = tempfile.TemporaryDirectory(prefix="airkit-build-")
    built = {p: str(f) for p, f in build(Path(build_tmp.name)).items()}   # compiled once for every board
    with build_tmp, ProcessPoolExecutor(max_workers=len(ports), mp_context=ctx) as pool:
        found = list(pool.map(_identify, [p["port"] for p in ports]))
        boards = []
        for p, f in zip(ports, found):
            f["usb_serial"] = p["usb_serial"]
            if f.get("error"):
                say("%s: %s" % (p["port"], f["error"]))
            boards.append(f)
        pairs = assign(rows, [b for b in boards if not b.get("error")], state)
        for b in boards:
            if b.get("error") and "no free row" in b["error"]:
                say("%s: %s" % (b["port"], b["error"]))
        jobs = []
        for b, r in pairs:
            jobs.append({"port": b["port"], "device_id": r["device_id"], "board": r["board"], "config": r["config"],
                         "micropython": b.get("micropython"), "bundle": args.bundle, "version": args.version,
                         "lock": str(csv_path.with_name("airkit-images.lock")),
                         "retest": args.retest, "built": built, "previous": state["boards"].get(r["device_id"])})
        results = _run_jobs(pool, jobs, say)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for (b, r), res in zip(pairs, results):
        s = state["boards"].setdefault(r["device_id"], {})
        s.update(mac=b.get("mac"), usb_serial=b.get("usb_serial"), port=b["port"], updated=now, ok=res["ok"],
                 error=res.get("error"), steps=res["steps"])
        if res.get("deploy"):
            s.update(firmware_hash=res["deploy"]["firmware_hash"], config_hash=res["deploy"]["config_hash"],
                     firmware_version=res["deploy"]["version"])
        if res.get("doctor"):
            s["doctor"] = res["doctor"]
            s["tests_passed"] = res["ok"]
    save_state(state_path, state)
    rep = report_rows(rows, state)
    stem = csv_path.stem + "-report"
    write_reports(rep, out / (stem + ".csv"), out / (stem + ".html"), "Class report: %s" % csv_path.stem)
    elapsed = time.monotonic() - t0
    if args.json:
        print(json.dumps({"rows": rep, "seconds": round(elapsed, 2),
                          "boards": [{"port": res["port"], "device_id": res["device_id"], "steps": res["steps"],
                                      "ok": res["ok"], "error": res.get("error")} for res in results]}, indent=1))
    else:
        for res in results:
            print("%-12s %-20s %s%s" % (res["device_id"], res["port"], "ok" if res["ok"] else "FAILED",
                                        ": " + ", ".join(res["steps"]) if res["steps"] else "")
                  + (" (%s)" % res["error"] if res.get("error") else ""))
        print("report: %s and %s (%.1f s)" % (out / (stem + ".csv"), out / (stem + ".html"), elapsed))
    failed = [r for r in results if not r["ok"]]
    if failed or any(b.get("error") for b in boards):
        return 1
    return 0


def _run_jobs(pool, jobs, say) -> list[dict]:
    futures = [pool.submit(_provision, j) for j in jobs]
    bar = None
    if sys.stderr.isatty() and jobs:
        from rich.progress import Progress

        bar = Progress(transient=True)
        bar.start()
        task = bar.add_task("provisioning", total=len(jobs))
    results = []
    for f in futures:
        res = f.result()
        results.append(res)
        if bar:
            bar.advance(task)
        say("%s (%s): %s" % (res["device_id"], res["port"], "ok" if res["ok"] else "FAILED"))
    if bar:
        bar.stop()
    return results
