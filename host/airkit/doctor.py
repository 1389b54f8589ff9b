"""``airkit doctor``: the kit test: board facts, firmware integrity, sensors, WiFi, uplinks, clock.

Why this exists: "it shows no readings" has a dozen causes, and each has a
different fix. The doctor connects through the REPL, reads the board's facts,
checks every deployed file against the manifest by SHA-256, then runs the
on-board self-test (``airkit_fw.selftest``) and turns each check's evidence
into one pass/fail line with the remedy for a failure.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass

from airkit.errors import UserError
from airkit.results import Result

# check -> status -> (passed, what it means, what to do)
VERDICTS = {
    "pms": {
        "ok": (True, "PMS5003 frames with valid checksums at 9600 baud; it sleeps and wakes on command", ""),
        "silent": (False, "no bytes at all from the PMS5003 on either pin order, even after a wake command",
                   "check the sensor cable: PMS VCC needs 5 V (VIN), GND to GND; the sensor may be unplugged, "
                   "unpowered, or asleep with its SET pin pulled low"),
        "swapped": (False, "the PMS5003 answers only with TX and RX swapped",
                    "swap the two data wires (PMS TX -> board RX pin, PMS RX -> board TX pin), or swap "
                    "'pms.tx' and 'pms.rx' in the config"),
        "garbage": (False, "bytes arrive but none form a PMS5003 frame at any usual baud rate",
                    "this is noise or not a PMS5003: check the data wires and ground, shorten the cable, "
                    "and check the sensor model"),
        "wrong_baud": (False, "the device on the PMS pins talks at {baud} baud, not 9600 (garbage at 9600)",
                       "a PMS5003 always uses 9600 baud: this is another device or a misconfigured clone; "
                       "fit a PMS5003/PMS7003/PMSA003"),
        "checksum": (False, "frames arrive but many fail their checksum ({checksum_errors} errors, "
                            "{frames} good)",
                     "loose connector, long or unshielded cable, or a weak 5 V supply: reseat the connector, "
                     "shorten the wires, use a powered USB hub"),
        "no_fan": (False, "frames arrive but every value is zero: the fan is not spinning up",
                   "the fan needs a solid 5 V (about 100 mA): check VCC is on VIN/5V not 3V3, and that nothing "
                   "blocks the fan; otherwise the sensor is faulty"),
        "asleep": (False, "the PMS5003 goes to sleep but does not wake up again",
                   "check the SET pin (leave it unconnected or wire it to the pin in 'pms.set'); a sensor that "
                   "ignores the wake command is faulty"),
        "skipped": (None, "no PMS5003 in the config (pms.enabled is false)", ""),
    },
    "dht": {
        "ok": (True, "DHT22 answers: {temp_c} C, {rh} %RH", ""),
        "timeout": (False, "the DHT22 does not answer on GPIO {pin} (ETIMEDOUT)",
                    "wiring: DHT22 data to GPIO {pin} (or set 'dht.pin'), VCC to 3V3, GND to GND, and a 10 kOhm "
                    "pull-up from data to 3V3"),
        "checksum": (False, "the DHT22 answers with corrupted data (checksum errors)",
                     "shorten the data wire, add the 10 kOhm pull-up, keep the wire away from the PMS5003 cable"),
        "implausible": (False, "the DHT22 gives impossible values", "the sensor is faulty: replace it"),
        "stuck": (False, "the DHT22 humidity sits at {rh} % (stuck)",
                  "let the sensor dry out (condensation), keep it out of direct spray; if it stays stuck, "
                  "replace it"),
        "skipped": (None, "no DHT22 in the config (dht.enabled is false)", ""),
    },
    "wifi": {
        "ok": (True, "WiFi '{ssid}' connected (signal {rssi} dBm)", ""),
        "wrong_password": (False, "WiFi '{ssid}' was found but refused the password",
                           "fix 'wifi.password' with 'airkit config set' and deploy again"),
        "no_ap": (False, "WiFi '{ssid}' was not found",
                  "check the network name (case matters) and that it is a 2.4 GHz network in range; the ESP32 "
                  "cannot see 5 GHz networks"),
        "failed": (False, "WiFi '{ssid}' could not connect ({wifi_status})",
                   "move closer to the access point and check it accepts new devices"),
        "no_wifi_hw": (False, "this board has no WiFi", "use an ESP32 board"),
        "skipped": (None, "no WiFi configured (wifi.ssid is empty)", ""),
    },
    "uplink": {
        "ok": (True, "uplink {index} ({type}): {host}:{port} knows this station and accepts its credentials "
                     "(tested without storing a reading)", ""),
        "rejected": (False, "uplink {index} ({type}): the server at {host} refused this station (HTTP "
                            "{http_status}{error})", "{uplink_remedy}"),
        "server_error": (False, "uplink {index} ({type}): the server at {host} answers with an error (HTTP "
                                "{http_status})", "the server has a problem: try again later; the station keeps "
                                                  "its readings and sends them when it works again"),
        "unreachable": (False, "uplink {index} ({type}): {host}:{port} does not accept connections",
                        "check the server address and port in the uplink, and that the network lets the "
                        "station out (school firewalls often block MQTT ports)"),
        "dns": (False, "uplink {index} ({type}): the name {host} cannot be resolved",
                "check the spelling of the server name, and that the WiFi has internet access"),
        "tls": (False, "uplink {index} ({type}): the secure connection to {host} failed",
                "check the clock is set and the uplink's 'ca' certificate matches the server"),
        "bad_url": (False, "uplink {index} ({type}) has a URL the station cannot use",
                    "use http://, https://, mqtt:// or mqtts:// URLs"),
        "bad_config": (False, "uplink {index} ({type}) cannot be built from the config ({error})",
                       "check the uplink's type and keys (docs/uplinks.md) with 'airkit config validate'"),
        "no_wifi": (False, "uplink {index} ({type}) not tested: no WiFi connection",
                    "fix the WiFi first (see the wifi check above)"),
        "skipped": (None, "uplink {index} ({type}) is disabled", ""),
    },
    "clock": {
        "ok": (True, "clock set: {time}", ""),
        "unset": (False, "the clock is not set (readings have no time)",
                  "the station sets its clock over WiFi (NTP): configure WiFi; without it readings carry only "
                  "a sequence number"),
    },
    "config": {
        "ok": (True, "config.json is valid", ""),
        "problems": (False, "config.json has problems: {problems}",
                     "fix them with 'airkit config set' and run 'airkit deploy --config ...'"),
    },
}
VERDICTS["pms_b"] = VERDICTS["pms"]


class _Blank(dict):
    def __missing__(self, key):
        return "?"


def verdict(d: dict) -> dict:
    """Add passed/summary/remedy to one self-test result."""
    table = VERDICTS.get(d.get("check"), {})
    status = d.get("status")
    if status == "error":
        passed, text, remedy = (False, "the %s check stopped with %s" % (d.get("check"), d.get("error")),
                                "run 'airkit deploy' so the board has the current firmware, then try again")
    else:
        passed, text, remedy = table.get(status, (False, "unexpected result '%s'" % status,
                                                  "run the doctor again"))
    fields = _Blank(d)
    if isinstance(d.get("problems"), list):
        fields["problems"] = "; ".join(d["problems"])
    if d.get("check") == "uplink":
        fields["error"] = ", %s" % d["error"] if d.get("error") else ""
        fields["uplink_remedy"] = uplink_remedy(d)
    out = dict(d)
    out["passed"] = passed
    out["summary"] = text.format_map(fields)
    out["remedy"] = remedy.format_map(fields)
    note = getattr(_uplink_spec(d), "OK_NOTE", None) if d.get("check") == "uplink" and passed else None
    if note:               # what a passing probe cannot prove (declared by the uplink type)
        out["summary"] += "; note: " + note
    return out


def _uplink_spec(d: dict):
    """The declaration module of the uplink type a self-test result names (None: unknown type)."""
    from airkit_fw.uplinks import registry

    return registry.spec(d.get("type")) if isinstance(d.get("type"), str) else None


def uplink_remedy(d: dict) -> str:
    """What to do when an uplink's server refuses the station (401/403/404, or MQTT CONNACK 4/5):
    the remedy its type declares for that answer (``REMEDY`` in the firmware's
    ``uplinks/<type>_spec.py``)."""
    remedies = getattr(_uplink_spec(d), "REMEDY", None) or {}
    text = remedies.get(d.get("http_status"), remedies.get(None))
    if text is None:
        text = "check the address and credentials of uplink {index} (docs/uplinks.md)"
    fields = _Blank(d)
    fields["node"] = d.get("node") or "esp32-<chip id>"
    return text.format_map(fields)


FACTS_FALLBACK = """
import sys, gc, os, json
gc.collect()
d = {"check": "facts", "machine": getattr(sys.implementation, "_machine", ""),
     "micropython": "%d.%d.%d" % sys.implementation.version[:3], "mem_free": gc.mem_free(),
     "platform": sys.platform, "firmware": None, "reset_cause": "unknown", "time": None, "mac": None}
try:  # on an ESP32 gc.mem_free() includes the largest IDF block; the firmware's board.idf_split() cannot load here
    import esp32
    d["mem_free"] -= min(d["mem_free"], max(r[2] for r in esp32.idf_heap_info(esp32.HEAP_DATA)))
except Exception:
    pass
try:
    s = os.statvfs("/"); d["fs_free"] = s[0] * s[3]
except OSError:
    d["fs_free"] = None
print("selftest " + json.dumps(d))
"""


# Free GC heap (after a collection, with the firmware's modules loaded) below which an upload
# may not fit: a backfill batch, the HTTP head and a TLS socket's Python side take a few KB
# each, in a heap that fragments (largest free block much smaller than the total).
LOW_HEAP_BYTES = 32 * 1024


def heap_check(mem_free) -> dict:
    """A warning (never a failure) when the board's free heap is too small for one TLS upload."""
    if not isinstance(mem_free, int):
        return {"check": "heap", "passed": None, "status": "unknown", "summary": "free heap not reported"}
    low = mem_free < LOW_HEAP_BYTES
    r = {"check": "heap", "passed": True, "status": "low" if low else "ok", "warn": low,
         "summary": "%d KB free GC heap with the firmware loaded (on an ESP32 without the IDF's largest "
                    "block, which WiFi and TLS need)" % (mem_free // 1024)}
    if low:
        r["summary"] += ("; below %d KB an upload over TLS may not fit (the station halves its batches and "
                         "retries, nothing is lost, but uploads slow down)" % (LOW_HEAP_BYTES // 1024))
        r["remedy"] = ("use fewer uplinks, a MicroPython image with the firmware frozen in, or a board with "
                       "PSRAM (README: Known limits)")
    return r


def chip_name(machine: str) -> str:
    m = (machine or "").upper()
    for chip in ("ESP32-S3", "ESP32S3", "ESP32-S2", "ESP32S2", "ESP32-C6", "ESP32C6", "ESP32-C3", "ESP32C3",
                 "ESP32"):
        if chip in m:
            return chip if "-" in chip else chip.replace("ESP32", "ESP32-")
    if "LINUX" in m or "UNIX" in m:
        return "virtual ESP32 (MicroPython unix port)"
    return machine or "unknown"


def parse_selftest(text: str) -> list[dict]:
    from airkit_fw.console import parse_all

    return parse_all(text, "selftest")


def integrity(link) -> dict:
    """Compare every file in the board's manifest with its hash on the board."""
    from airkit.boardlink import MANIFEST

    d = {"check": "firmware"}
    text = link.read_text(MANIFEST)
    if text is None:
        d.update(passed=False, status="no_manifest",
                 summary="no airkit firmware manifest on the board (never deployed, or a deploy was interrupted)",
                 remedy="run 'airkit deploy --port %s'" % link.port)
        return d
    try:
        manifest = json.loads(text)
        files = manifest["files"]
    except (ValueError, KeyError, TypeError):
        d.update(passed=False, status="bad_manifest", summary="the firmware manifest on the board is damaged",
                 remedy="run 'airkit deploy --port %s'" % link.port)
        return d
    have = link.hash_files(sorted(files))
    missing = [p for p in files if have.get(p) is None]
    changed = [p for p in files if have.get(p) is not None and have[p] != files[p]]
    d["version"] = manifest.get("version")
    d["firmware_hash"] = manifest.get("firmware_hash")
    d["board_files"] = {p: have.get(p) for p in files}
    d["files"] = len(files)
    if missing or changed:
        d.update(passed=False, status="modified", missing=missing, changed=changed,
                 summary="firmware %s: %d file(s) missing, %d changed since deploy (%s)"
                         % (d["version"], len(missing), len(changed), ", ".join((missing + changed)[:3])),
                 remedy="run 'airkit deploy --port %s' to restore them" % link.port)
    else:
        d.update(passed=True, status="ok",
                 summary="firmware %s intact: %d files match their SHA-256 (firmware %s)"
                         % (d["version"], len(files), (d["firmware_hash"] or "")[:12]))
        d["remedy"] = ""
    return d


def currency(result: dict, port: str, built: dict | None = None) -> dict:
    """WARN when the board's (intact) firmware is not the one this airkit deploys, saying how many
    files a deploy would replace. ``built``: {board path: compiled file} (compiled here when None)."""
    import tempfile
    from pathlib import Path

    from airkit.firmware_build import build, sha256_file

    board = result.get("board_files") or {}
    with tempfile.TemporaryDirectory(prefix="airkit-doctor-") as tmp:
        try:
            built = built or build(Path(tmp))
        except Exception as e:      # no mpy-cross: say so, never fail the doctor over it
            return {"check": "current", "passed": None, "status": "unknown",
                    "summary": "cannot tell whether the firmware is this airkit's (%s)" % (str(e)[:80] or e)}
        want = {p: sha256_file(f) for p, f in built.items()}
    differ = sorted(p for p in set(want) | set(board) if want.get(p) != board.get(p))
    from airkit import __version__
    if not differ:
        return {"check": "current", "passed": True, "status": "ok",
                "summary": "the board runs this airkit's firmware (airkit %s)" % __version__}
    return {"check": "current", "passed": True, "status": "outdated", "warn": True, "differ": len(differ),
            "summary": "the board's firmware (%s) is not this airkit's (airkit %s): a deploy would replace %d of "
                       "%d file(s)" % (result.get("version") or "?", __version__, len(differ), len(want)),
            "remedy": "run 'airkit deploy --port %s' so the board runs this airkit's firmware" % port}


@dataclass
class DoctorReport(Result):
    """The kit test: the board's ``facts``, one entry per check (check, passed, summary, remedy), ``ok``."""

    port: str
    facts: dict
    checks: list
    ok: bool
    failed: int


def run_doctor(link, checks=("pms", "dht", "wifi", "uplinks", "clock"), timeout: float = 120,
               built: dict | None = None) -> DoctorReport:
    """Facts and check results (each with passed/summary/remedy) from an open ``BoardLink`` or a port name.

    ``built``: this airkit's compiled firmware ({board path: file}) to compare the board's with
    (compiled here when omitted)."""
    from airkit.boardlink import BoardExecError

    if isinstance(link, (str, bytes)) or hasattr(link, "__fspath__"):
        from airkit.boardlink import open_board

        with open_board(str(link)) as opened:
            return run_doctor(opened, checks, timeout, built)

    no_memory = False
    try:
        out = link.exec("from airkit_fw import selftest\nselftest.facts()\n", timeout=timeout)
        have_selftest = True
    except BoardExecError as e:
        no_memory = "MemoryError" in (e.error_output or "")
        if "ImportError" not in e.error_output and not no_memory:
            raise
        out = link.exec(FACTS_FALLBACK)
        have_selftest = False
    facts_list = parse_selftest(out)
    facts = facts_list[0] if facts_list else {}
    facts.pop("check", None)
    facts["chip"] = chip_name(facts.get("machine", ""))
    results = [integrity(link)]
    if results[0].get("passed"):
        results.append(currency(results[0], link.port, built))
    results[0].pop("board_files", None)
    results.append(heap_check(facts.get("mem_free")))
    if have_selftest:
        try:
            out = link.exec("from airkit_fw import selftest\nselftest.run(%r)\n" % (tuple(checks),),
                            timeout=timeout)
        except BoardExecError as e:
            tail = (e.error_output or "").strip().splitlines()[-1:] or ["?"]
            raise UserError("the self-test stopped on the board (%s): run 'airkit deploy' and try again"
                            % tail[0])
        results += [verdict(d) for d in parse_selftest(out)]
    elif no_memory:
        results.append({"check": "selftest", "passed": False, "status": "no_memory",
                        "summary": "the self-test does not fit in the board's free heap (MemoryError)",
                        "remedy": "the station itself is short of memory too: use fewer uplinks, a MicroPython "
                                  "image with the firmware frozen in, or a board with PSRAM (README: Known limits)"})
    else:
        results.append({"check": "selftest", "passed": False, "status": "missing",
                        "summary": "the airkit firmware (and its self-test) is not on the board",
                        "remedy": "run 'airkit deploy --port %s'" % link.port})
    failed = [r for r in results if r.get("passed") is False]
    return DoctorReport(port=link.port, facts=facts, checks=results, ok=not failed, failed=len(failed))


def format_report(rep: dict) -> str:
    f = rep["facts"]
    lines = []

    def kb(v):
        return "%d KB" % (v // 1024) if isinstance(v, int) else "?"

    lines.append("board on %s: %s, MicroPython %s, MAC %s" % (rep["port"], f.get("chip"), f.get("micropython"),
                                                               f.get("mac") or "?"))
    lines.append("  free heap %s, free flash %s, reset cause %s, airkit firmware %s"
                 % (kb(f.get("mem_free")), kb(f.get("fs_free")), f.get("reset_cause"), f.get("firmware") or "none"))
    for r in rep["checks"]:
        tag = "WARN" if r.get("warn") else {True: "PASS", False: "FAIL", None: "SKIP"}[r.get("passed")]
        name = r["check"] if r["check"] != "uplink" else "uplink"
        lines.append("%s  %-9s %s" % (tag, name, r.get("summary", "")))
        if (r.get("passed") is False or r.get("warn")) and r.get("remedy"):
            lines.append("      %-9s -> %s" % ("", r["remedy"]))
    n = rep["failed"]
    lines.append("all checks passed" if not n else "%d check(s) failed" % n)
    return "\n".join(lines)


def register(sub):
    p = sub.add_parser("doctor", help="test a board and its sensors; a pass/fail line and remedy per check",
                       description="Read the board's facts, check the deployed files by SHA-256, then run the "
                                   "on-board self-test: PMS5003 frames, DHT22, WiFi, uplinks, clock.")
    p.add_argument("--port", required=True, help="serial port of the board (see 'airkit ports')")
    p.add_argument("--only", help="comma-separated checks to run (pms,dht,wifi,uplinks,clock)")
    p.add_argument("--no-reset", action="store_true", help="leave the board at the REPL afterwards")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args) -> int:
    from airkit.boardlink import open_board

    checks = ("pms", "dht", "wifi", "uplinks", "clock")
    if args.only:
        checks = tuple(c.strip() for c in args.only.split(",") if c.strip())
        bad = [c for c in checks if c not in ("pms", "dht", "wifi", "uplinks", "clock")]
        if bad:
            raise UserError("unknown check(s) %s: use pms, dht, wifi, uplinks, clock" % ", ".join(bad))
    with open_board(args.port) as link:
        if not args.json and sys.stderr.isatty():
            print("testing the board on %s (takes up to a minute on a real board)..." % args.port,
                  file=sys.stderr, flush=True)
        try:
            rep = run_doctor(link, checks)
        except KeyboardInterrupt:
            # Never leave the station stopped at the REPL because the doctor was interrupted.
            if link.interrupt_and_reset():
                raise UserError("interrupted: the doctor stopped and the board on %s was reset, so its station "
                                "runs again" % args.port, exit_code=130)
            raise UserError("interrupted, and the board on %s could not be reset: press its reset button (or "
                            "unplug and replug it) so its station runs again" % args.port, exit_code=130)
        if not args.no_reset:
            link.reset()
    if args.json:
        print(json.dumps(rep.to_dict(), indent=1))
    else:
        print(format_report(rep))
    if args.no_reset:
        print("the station on %s is stopped at the REPL (--no-reset): press its reset button to restart it"
              % args.port, file=sys.stderr)
    return 0 if rep["ok"] else 1
