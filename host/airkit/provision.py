"""``airkit provision CLASS.csv``: bare boards to a printed class report, in parallel.

Why this exists: a teacher with 30 boards and a USB hub needs every board
flashed (if needed), deployed, configured and tested, and a sheet of labels
saying which board is which. Each attached board gets its own worker process
(esptool's logger is process-global, and boards are independent); boards are
followed by their MAC (and USB serial number when there is one), not by port
name, which changes when boards are replugged. The class state (which board got
which row, what passed) is kept in the user's data folder, named by the class
list's content (its device ids), not its path: a copy of the list on another
stick is the same class, a read-only stick is fine, and the state is saved
after every board, so Ctrl-C and re-runs continue where they stopped. The
orchestration is the library function ``provision_class``; ``run`` is the CLI. The report (CSV + printable HTML labels) never holds a
password.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import html
import io
import json
import multiprocessing as mp
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from airkit.errors import InputError, UserError, WouldOverwrite

COLUMNS = ("device_id", "name", "lat", "lon", "wifi_ssid", "wifi_password", "uplinks", "board", "mac")
MARKER = "airkit_class.json"     # on the board: which class list provisioned it (no secret)


def _uplink_types():
    from airkit_fw.uplinks.registry import TYPES

    return TYPES


def decode_class_list(data: bytes) -> tuple[str, str]:
    """(text, encoding) of a class list as Excel or LibreOffice save it: UTF-8 with or without BOM, else cp1252."""
    for enc in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return data.decode(enc), enc
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes everything")


def sniff_delimiter(text: str) -> str:
    """',' or ';' (Excel in many countries) or a tab, from the header line."""
    header = text.splitlines()[0] if text else ""
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def parse_uplinks(text: str, extra: dict, where: str) -> list:
    """The ``uplinks`` cell: a JSON list, or names separated by spaces or '+' (e.g. 'sensor_community
    airkit_json'); ``extra``: the row's per-uplink columns (``airkit_json.url`` -> value)."""
    types = _uplink_types()
    text = (text or "").strip()
    if text.startswith("["):
        try:
            ups = json.loads(text)
        except ValueError as e:
            raise InputError("%s: the uplinks cell is not valid JSON (%s): write uplink names instead, e.g. "
                             "'sensor_community airkit_json', with settings in columns like airkit_json.url"
                             % (where, e.msg))
        if not isinstance(ups, list):
            raise InputError("%s: the uplinks cell must be a list of uplinks" % where)
        return ups
    names = [n for n in text.replace("+", " ").replace("|", " ").split() if n]
    for col in extra:                 # a filled per-uplink column names its uplink too
        t = col.split(".", 1)[0]
        if extra[col] and t not in names:
            names.append(t)
    ups = []
    for n in names:
        if n not in types:
            raise InputError("%s: unknown uplink '%s': use %s" % (where, n, ", ".join(types)))
        u = {"type": n}
        for col, v in extra.items():
            t, _, key = col.partition(".")
            if t == n and v:
                if key in ("port", "qos") and v.isdigit():
                    v = int(v)
                elif v[:1] in "{[":
                    try:
                        v = json.loads(v)
                    except ValueError:
                        raise InputError("%s: column %s holds broken JSON" % (where, col))
                u[key] = v
        ups.append(u)
    return ups


# --- the class list ---------------------------------------------------------------------------
_MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"
_EXCEL_MANGLED = (
    (r"\d{1,2}-(%s)[a-z]*(-\d{2,4})?|(%s)[a-z]*-\d{1,4}" % (_MONTHS, _MONTHS), "a date"),
    (r"\d{1,2}[/.]\d{1,2}[/.]\d{2,4}|\d{4}-\d{2}-\d{2}", "a date"),
    (r"[0-9](\.[0-9]+)?e[+-]?[0-9]+", "a number in scientific notation"),
    (r"[34][0-9]{4}|5[0-9]{4}", "a date as Excel stores it (a day number)"),
)


def check_device_id(value: str, where: str) -> str:
    """A station id as typed, or ``InputError`` when a spreadsheet turned it into a date or number
    (``1-Mar``, ``45352``, ``1.00E+03``): such an id would silently name another station."""
    import re

    v = value.strip()
    for pattern, what in _EXCEL_MANGLED:
        if re.fullmatch(pattern, v, re.IGNORECASE):
            raise InputError("%s: device_id '%s' looks like %s a spreadsheet made of the id: format the column "
                             "as Text (or save the list from a text editor) and type the ids again" % (where, v, what))
    if any(c.isspace() or ord(c) < 32 for c in v) or len(v) > 64:
        raise InputError("%s: device_id '%s' must be one word of at most 64 characters (letters, digits, - and _)"
                         % (where, v[:70]))
    return v


def check_mac(value: str, where: str) -> str:
    """A MAC address as ``aa:bb:cc:dd:ee:ff`` (``-`` or no separators accepted), or ``InputError``."""
    import re

    v = value.strip().lower().replace("-", ":")
    if re.fullmatch(r"[0-9a-f]{12}", v):
        v = ":".join(v[i:i + 2] for i in range(0, 12, 2))
    if not re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", v):
        raise InputError("%s: mac '%s' is not a MAC address (six pairs of hex digits, e.g. 24:0a:c4:12:34:56; "
                         "'airkit ports' shows a board's): fix it or leave the cell empty" % (where, value.strip()))
    return v


def read_class(path: str, base: dict | None = None) -> list[dict]:
    from airkit.resources import config_from_profile, load_profile
    from airkit.deploy import check_config

    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError("class list %s does not exist: check the path" % path)
    except OSError as e:
        raise InputError("cannot read class list %s (%s)" % (path, e.strerror))
    text, _enc = decode_class_list(data)
    delim = sniff_delimiter(text)
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delim)
        rows = list(reader)
        fields = [f.strip() for f in (reader.fieldnames or []) if f]
    except csv.Error as e:
        raise InputError("cannot read class list %s (%s): save it as CSV" % (path, e))
    types = _uplink_types()
    per_uplink = [c for c in fields if "." in c and c.split(".", 1)[0] in types]
    if "device_id" not in fields:
        raise InputError("class list %s needs a device_id column (columns found: %s; expected: %s): see "
                         "examples/class-list.csv" % (path, ", ".join(fields) or "none", ", ".join(COLUMNS)))
    unknown = [c for c in fields if c not in COLUMNS and c not in per_uplink]
    if unknown:
        raise InputError("class list %s has unknown column(s) %s: use %s, or per-uplink columns like "
                         "airkit_json.url (see examples/class-list.csv)" % (path, ", ".join(unknown),
                                                                            ", ".join(COLUMNS)))
    out, seen = [], set()
    for i, r in enumerate(rows, start=2):
        r = {(k or "").strip(): (v or "").strip() for k, v in r.items() if k}
        if not any(r.values()):
            continue                  # Excel leaves empty rows at the end
        where = "class list %s line %d" % (path, i)
        if not r.get("device_id"):
            raise InputError("%s has no device_id" % where)
        r["device_id"] = check_device_id(r["device_id"], where)
        if r.get("mac"):
            r["mac"] = check_mac(r["mac"], where)
        if r["device_id"] in seen:
            raise InputError("%s repeats device_id %s" % (where, r["device_id"]))
        seen.add(r["device_id"])
        board = r.get("board") or "esp32-devkitc"
        cfg = json.loads(json.dumps(base)) if base else {}
        cfg.update(config_from_profile(load_profile(board)))
        cfg["device"] = {"id": r["device_id"], "name": r.get("name", "")}
        if r.get("lat") or r.get("lon"):
            try:
                cfg["location"] = {"lat": float(r["lat"].replace(",", ".")),
                                   "lon": float(r["lon"].replace(",", "."))}
            except ValueError:
                raise InputError("%s: lat and lon must be numbers (e.g. 52.52 and 13.40)" % where)
        ups = parse_uplinks(r.get("uplinks", ""), {c: r.get(c, "") for c in per_uplink}, where)
        if ups:
            cfg["uplinks"] = ups
        if r.get("wifi_ssid"):
            cfg["wifi"] = {"ssid": r["wifi_ssid"], "password": r.get("wifi_password", "")}
        check_config(cfg, "%s (%s)" % (where, r["device_id"]))
        out.append({"line": i, "device_id": r["device_id"], "name": r.get("name", ""), "board": board,
                    "mac": r.get("mac", "").lower(), "config": cfg, "warnings": row_warnings(cfg)})
    if not out:
        raise InputError("class list %s has no rows" % path)
    return out


def row_warnings(cfg: dict) -> list[str]:
    """Why a station from this row would measure but send nothing (it is then not reported as ok)."""
    w = []
    wifi = cfg.get("wifi") or {}
    if not wifi.get("ssid"):
        w.append("no WiFi in the class list (wifi_ssid): the station measures but uploads nothing")
    elif not wifi.get("password"):
        w.append("no WiFi password (wifi_password): fine only for an open network")
    if not cfg.get("uplinks"):
        w.append("no uplink in the class list (uplinks column): the station uploads nothing")
    return w


def blocking(warnings: list[str]) -> list[str]:
    return [w for w in warnings if "uploads nothing" in w]


def resolve_ports(spec: str) -> list[dict]:
    from airkit.ports import board_ports

    if spec == "auto":
        found = board_ports()
        if not found:
            from airkit.errors import BoardError
            raise BoardError("no boards found on USB: plug them in with data cables and check 'airkit ports'")
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
        with contextlib.redirect_stdout(sys.stderr), open_board(port) as link:
            mac = link.eval_json("import json\ntry:\n from airkit_fw import board\n m = board.current().mac()\n"
                                 "except ImportError:\n import machine\n m = machine.unique_id()\n"
                                 "print(json.dumps(':'.join('%02x' % x for x in m)))\n")
            marker = None
            try:
                marker = json.loads(link.read_text(MARKER) or "null")
            except ValueError:
                pass
            # The station stays stopped only until this board's job (or _restart) resets it.
            return {"port": port, "mac": mac, "micropython": True, "marker": marker}
    except UserError as e:
        first = str(e)
    try:
        from airkit.flash import identify

        with contextlib.redirect_stdout(sys.stderr):
            info = identify(port, connect_attempts=2)
        return {"port": port, "mac": info["mac"], "micropython": False, "chip": info["chip"]}
    except UserError as e:
        return {"port": port, "error": "%s; %s" % (first, e)}


def _restart(port: str) -> str | None:
    """Reset a board that was identified but gets no job (skipped, or no free row): it runs again."""
    from airkit.boardlink import open_board

    try:
        with contextlib.redirect_stdout(sys.stderr), open_board(port) as link:
            link.reset()
    except UserError as e:
        return str(e)
    return None


def _provision(job: dict) -> dict:
    """Flash if needed, deploy firmware + config, run the kit test. Never raises."""
    with contextlib.redirect_stdout(sys.stderr):     # nothing a library prints may spoil --json
        return _provision_job(job)


def _provision_job(job: dict) -> dict:
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
            if job.get("marker"):
                link.write_atomic(MARKER, json.dumps(job["marker"], sort_keys=True).encode())
            if summary["config_sent"]:
                res["steps"].append("config written")
            prev = job.get("previous") or {}
            if (not job.get("retest") and prev.get("tests_passed") and not summary["config_sent"]
                    and prev.get("firmware_hash") == summary["firmware_hash"]
                    and prev.get("config_hash") == summary["config_hash"]):
                res["doctor"] = prev["doctor"]
                res["steps"].append("tests already passed")
            else:
                rep = run_doctor(link, built=job.get("built"))
                res["doctor"] = {"facts": rep["facts"],
                                 "checks": [{k: c.get(k) for k in ("check", "status", "passed", "summary", "remedy")}
                                            for c in rep["checks"]]}
                res["steps"].append("tested")
            link.reset()
        finally:
            link.close()
        checks = res["doctor"]["checks"]
        res["warnings"] = list(job.get("warnings") or [])
        res["ok"] = not any(c.get("passed") is False for c in checks) and not blocking(res["warnings"])
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
        status = "not attached" if not s else ("ok" if s.get("ok") else
                                               "INCOMPLETE" if blocking(r.get("warnings") or []) and not
                                               s.get("error") else "FAILED")
        if s and r.get("warnings"):
            problems = "; ".join(([problems] if problems else []) + r["warnings"])
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


def write_reports(rep: list[dict], csv_path, html_path, title: str):
    """The class report: a CSV and printable HTML labels (paths or checked ``airkit.outfile.OutFile`` objects)."""
    from airkit.outfile import OutFile, check_file

    csv_path = csv_path if isinstance(csv_path, OutFile) else check_file(csv_path, edit=True)
    html_path = html_path if isinstance(html_path, OutFile) else check_file(html_path, edit=True)
    with csv_path.open("w", newline="") as f:
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
    return csv_path.path, html_path.path


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
    p.add_argument("--base", metavar="STATION.json",
                   help="a shared station config (uplinks, WiFi, interval...) each row is laid over")
    p.add_argument("--force", action="store_true",
                   help="re-provision boards that another class list provisioned (they are skipped otherwise)")
    p.add_argument("--json", action="store_true", help="print the report rows as JSON")
    p.add_argument("--collect-db", metavar="DB",
                   help="the airkit collect database the stations upload to: each gets a token in its collector "
                        "uplinks and is registered there with its Sensor.Community node (tokens kept owner-only "
                        "in CLASS.tokens.json)")
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
    from airkit.outfile import check_file

    path.parent.mkdir(parents=True, exist_ok=True)
    check_file(path, force=True, what="the class state").write_text(json.dumps(state, indent=1, sort_keys=True))


def class_key(rows: list[dict]) -> str:
    """The class list's identity: its device ids (not its path, not its WiFi or uplink cells), so the
    same list copied to another folder or stick is the same class, and fixing a password in a row is too."""
    ids = "\n".join(sorted(r["device_id"] for r in rows))
    return hashlib.sha256(ids.encode()).hexdigest()[:16]


def data_dir() -> Path:
    from airkit.files import data_dir as _data_dir
    return _data_dir()


def state_file(rows: list[dict]) -> Path:
    """Where a class's state is kept: the user's data folder, named by the class list's content."""
    return data_dir() / "classes" / (class_key(rows) + ".json")


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


@dataclass
class ClassReport:
    """What ``provision_class`` did: ``rows`` (one report row per class-list row, ``REPORT_FIELDS``),
    ``boards`` (one result per board worked on: port, device_id, steps, ok, error, warnings),
    ``skipped`` (boards not touched, with why), ``waiting`` (rows without a board yet)."""

    rows: list
    boards: list
    skipped: list
    waiting: list
    seconds: float
    state_path: Path | None = None
    report_csv: Path | None = None
    report_html: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.skipped and all(b["ok"] for b in self.boards)

    @property
    def would_overwrite(self) -> int:
        """Boards skipped because another class list provisioned them (``force=True`` takes them)."""
        return sum(1 for b in self.skipped if b.get("would_overwrite"))

    def to_dict(self) -> dict:
        return {"rows": self.rows, "seconds": self.seconds, "waiting": self.waiting,
                "skipped": [{"port": b["port"], "error": b["error"]} for b in self.skipped],
                "boards": [{k: b.get(k, [] if k == "warnings" else None) for k in
                            ("port", "device_id", "steps", "ok", "error", "warnings")} for b in self.boards]}


def provision_class(rows, ports="auto", *, class_name: str | None = None, state_path=None, bundle=None,
                    version=None, retest: bool = False, force: bool = False, lock=None, base=None,
                    collect_db=None, tokens_path=None, progress=None) -> ClassReport:
    """Flash (if needed), deploy, configure and test every attached board for a class list.

    ``rows``: ``read_class(...)``'s rows, or the class list's path; ``ports``: ``"auto"``,
    ``"P1,P2"`` or a list of port names; ``state_path``: where the class's state is kept
    (default: the user's data folder, named by the list's content, saved after every board so
    an interrupted run continues where it stopped); ``lock``: the image lock file for blank
    boards; ``collect_db``: the ``airkit collect`` database the stations upload to (each gets its
    token, kept owner-only in ``tokens_path``, default beside the state); ``progress``: called with
    one line per step. Returns a ``ClassReport``; boards another class list provisioned are skipped
    unless ``force``.
    """
    say = progress or (lambda m: None)
    if isinstance(rows, (str, Path)):
        class_name = class_name or Path(rows).stem
        rows = read_class(str(rows), base)
    class_name = class_name or "class"
    if not isinstance(ports, str):
        ports = ",".join(map(str, ports))
    state_path = Path(state_path) if state_path else state_file(rows)
    state = load_state(state_path)
    state["class_uid"] = class_key(rows)
    state["class"] = class_name
    class_marker = {"class": class_name, "class_uid": state["class_uid"]}
    lock = str(lock) if lock else str(state_path.with_suffix(".images.lock"))
    ports = resolve_ports(ports)
    t0 = time.monotonic()
    ctx = mp.get_context("spawn")
    say("provisioning %d board(s) on %s" % (len(ports), ", ".join(p["port"] for p in ports)))
    for r in rows:
        for w in r["warnings"]:
            say("warning: %s: %s" % (r["device_id"], w))
    import tempfile

    from airkit.firmware_build import build

    build_tmp = tempfile.TemporaryDirectory(prefix="airkit-build-")
    built = {p: str(f) for p, f in build(Path(build_tmp.name)).items()}   # compiled once for every board
    results = []
    with build_tmp, ProcessPoolExecutor(max_workers=len(ports), mp_context=ctx) as pool:
        found = list(pool.map(_identify, [p["port"] for p in ports]))
        boards = []
        for p, f in zip(ports, found):
            f["usb_serial"] = p["usb_serial"]
            if f.get("error"):
                say("%s: %s" % (p["port"], f["error"]))
            boards.append(f)
        for b in boards:
            m = b.get("marker")
            if (isinstance(m, dict) and m.get("class_uid") and m.get("class_uid") != state["class_uid"]
                    and not force):
                b["error"] = ("provisioned from another class list (%s, as %s): skipped, not overwritten; use "
                              "--force to re-provision it" % (m.get("class"), m.get("device_id")))
                b["would_overwrite"] = True
                say("%s: %s" % (b["port"], b["error"]))
        pairs = assign(rows, [b for b in boards if not b.get("error")], state)
        for b in boards:
            if b.get("error") and "no free row" in b["error"]:
                say("%s: %s" % (b["port"], b["error"]))
        paired = {r["device_id"] for _, r in pairs}
        waiting = [r["device_id"] for r in rows if r["device_id"] not in paired
                   and not (state["boards"].get(r["device_id"]) or {}).get("ok")]
        if waiting:
            say("waiting for a board (%d row(s), plug in more boards and run again): %s"
                % (len(waiting), ", ".join(waiting)))
        if collect_db:
            _enrol(collect_db, tokens_path or state_path.with_suffix(".tokens.json"), pairs)
        jobs = []
        for b, r in pairs:
            jobs.append({"port": b["port"], "device_id": r["device_id"], "board": r["board"], "config": r["config"],
                         "micropython": b.get("micropython"), "bundle": bundle, "version": version,
                         "lock": lock, "retest": retest, "built": built,
                         "previous": state["boards"].get(r["device_id"]),
                         "warnings": r["warnings"], "marker": dict(class_marker, device_id=r["device_id"]),
                         "mac": b.get("mac"), "usb_serial": b.get("usb_serial")})
        busy = {j["port"] for j in jobs}
        idle = [b["port"] for b in boards if b.get("micropython") and b["port"] not in busy]
        for port, err in zip(idle, pool.map(_restart, idle)):
            say("%s: %s" % (port, "not provisioned; board reset, its station runs as before" if err is None
                            else "not provisioned, and could not be reset (%s): press its reset button" % err))

        def remember(job, res):
            """The board's result into the state, saved at once: Ctrl-C or a crash loses no finished board."""
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            st = state["boards"].setdefault(job["device_id"], {})
            st.update(mac=job.get("mac"), usb_serial=job.get("usb_serial"), port=job["port"], updated=now,
                      ok=res["ok"], error=res.get("error"), steps=res["steps"])
            if res.get("deploy"):
                st.update(firmware_hash=res["deploy"]["firmware_hash"], config_hash=res["deploy"]["config_hash"],
                          firmware_version=res["deploy"]["version"])
            if res.get("doctor"):
                st["doctor"] = res["doctor"]
                st["tests_passed"] = res["ok"]
            save_state(state_path, state)

        results = _run_jobs(pool, jobs, say, remember)
    save_state(state_path, state)
    return ClassReport(rows=report_rows(rows, state), boards=results,
                       skipped=[b for b in boards if b.get("error")], waiting=waiting,
                       seconds=round(time.monotonic() - t0, 2), state_path=state_path)


def check_report_folder(csv_path: Path, out) -> tuple:
    """Before any board is touched: the report folder and files can be written (one sentence if not,
    e.g. a class list on a read-only stick without --out)."""
    from airkit.outfile import check_dir, check_file

    folder = Path(out) if out else csv_path.parent
    stem = csv_path.stem + "-report"
    try:
        check_dir(folder, what="--out" if out else "the class report beside")
    except InputError as e:
        if out:
            raise
        raise InputError("cannot write the class report beside %s (%s): give --out FOLDER for the report"
                         % (csv_path, str(e).split(": ", 1)[-1].split("; choose")[0]))
    folder.mkdir(parents=True, exist_ok=True)
    return tuple(check_file(folder / (stem + ext), edit=True, what="the class report") for ext in (".csv", ".html"))


def run(args) -> int:
    base = None
    if getattr(args, "base", None):
        from airkit.files import load_json_file as read_json

        base = read_json(args.base, "base config")
        if not isinstance(base, dict):
            raise InputError("base config %s must hold a JSON object ({...})" % args.base)
    rows = read_class(args.class_csv, base)
    csv_path = Path(args.class_csv)
    csv_dest, html_dest = check_report_folder(csv_path, args.out)
    state_path = state_file(rows)
    from airkit.outfile import check_dir
    check_dir(state_path.parent, what="the class state folder (set AIRKIT_DATA_DIR to move it)")
    say = (lambda m: print(m, file=sys.stderr, flush=True)) if not args.json else (lambda m: None)
    lock = csv_path.with_name("airkit-images.lock")
    if not lock.exists():
        lock = None                       # beside the class state (the list's folder may be read-only)
    tokens_path = None
    if getattr(args, "collect_db", None):
        tokens_path = csv_path.with_name(csv_path.stem + ".tokens.json")     # beside the list, when it can be
        try:
            check_dir(tokens_path.parent)
        except InputError:
            tokens_path = None                      # a read-only stick: beside the class state
    try:
        rep = provision_class(rows, args.ports, class_name=csv_path.stem, state_path=state_path,
                              bundle=args.bundle, version=args.version, retest=args.retest, force=args.force,
                              lock=lock, collect_db=getattr(args, "collect_db", None), tokens_path=tokens_path,
                              progress=say)
    except KeyboardInterrupt:
        # Every finished board is in the saved state: write the report of those, and say how to go on.
        state = load_state(state_path)
        done = sum(1 for s in state["boards"].values() if s.get("ok"))
        try:
            write_reports(report_rows(rows, state), csv_dest, html_dest, "Class report: %s" % csv_path.stem)
            where = "; report: %s" % csv_dest.shown
        except InputError:
            where = ""
        raise UserError("interrupted: %d board(s) of this class are done and remembered%s; run the same command "
                        "again to continue where it stopped" % (done, where), exit_code=130)
    try:
        write_reports(rep.rows, csv_dest, html_dest, "Class report: %s" % csv_path.stem)
    except InputError as e:
        raise InputError("%s; the boards' results are kept (%s): run again with --out FOLDER to write the report"
                         % (str(e).rstrip("."), rep.state_path), remedy=None)
    if args.json:
        print(json.dumps(rep.to_dict(), indent=1))
    else:
        for res in rep.boards:
            status = "ok" if res["ok"] else ("INCOMPLETE" if blocking(res.get("warnings") or []) and
                                             not res.get("error") else "FAILED")
            print("%-12s %-20s %s%s" % (res["device_id"], res["port"], status,
                                        ": " + ", ".join(res["steps"]) if res["steps"] else "")
                  + (" (%s)" % res["error"] if res.get("error") else "")
                  + ("; " + "; ".join(blocking(res.get("warnings") or [])) if not res["ok"] and
                     blocking(res.get("warnings") or []) else ""))
        for b in rep.skipped:
            print("%-12s %-20s %s (%s)" % ("-", b["port"], "SKIPPED", b["error"]))
        if rep.waiting:
            print("waiting for a board: %s" % ", ".join(rep.waiting))
        print("report: %s and %s (%.1f s)" % (csv_dest.shown, html_dest.shown, rep.seconds))
    if rep.would_overwrite:
        raise WouldOverwrite("%d board(s) were provisioned from another class list and were not touched: run "
                             "again with --force to re-provision them" % rep.would_overwrite)
    return 0 if rep.ok else 1


def _enrol(db: str, tokens_path: Path, pairs):
    """Give each paired station its collector token and register it (airkit.collect.enrol); the
    tokens are kept owner-only in ``tokens_path``."""
    from airkit.collect import _store
    from airkit.collect.enrol import enrol, load_tokens, save_tokens

    store = _store(db)
    path = Path(tokens_path)
    tokens = load_tokens(path)
    for b, r in pairs:
        enrol(store, r["device_id"], r["config"], b.get("mac"), tokens)
    save_tokens(path, tokens)
    store.close()


def _run_jobs(pool, jobs, say, done=None) -> list[dict]:
    """Run the jobs; ``done(job, result)`` as each board finishes (in the order they finish)."""
    from concurrent.futures import as_completed

    futures = {pool.submit(_provision, j): j for j in jobs}
    bar = None
    if sys.stderr.isatty() and jobs:
        from rich.progress import Progress

        bar = Progress(transient=True)
        bar.start()
        task = bar.add_task("provisioning", total=len(jobs))
    results = {}
    try:
        for f in as_completed(futures):
            res = f.result()
            results[id(futures[f])] = res
            if done:
                done(futures[f], res)
            if bar:
                bar.advance(task)
            say("%s (%s): %s" % (res["device_id"], res["port"], "ok" if res["ok"] else "FAILED"))
    finally:
        if bar:
            bar.stop()
    return [results[id(j)] for j in jobs]
