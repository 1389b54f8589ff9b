"""The console line protocol: what the station prints, and how the desk reads it back.

Why this exists: the station's only always-available channel is its USB
console, and the host tools (monitor, doctor, provision, sim, demo, tests)
read what it prints. The line formats live here once, for both interpreters
(MicroPython on the board, CPython on the desk):

- ``reading {json}``: one reading (``app``);
- ``uplinks {json}``: delivery status of the uplinks;
- ``selftest {json}``: one result of the kit test (``selftest``);
- ``status {json}``: free heap, crashes, sequence number every few readings (``app``);
- ``airkit SAFE MODE: text``: the station is stopped, and why;
- ``airkit CRASH: text``: a crash, counted; the board resets and tries again (``board``);
- ``airkit VERSION starting (reset cause: ...)``: a boot.

``parse(line)`` returns ``(kind, value)`` or ``None``; it finds a prefix
anywhere in the line, since a console line can carry a REPL prompt or a stray
byte in front of it. Printing allocates only the JSON text itself.
"""

import json

READING = "reading "
STATUS = "uplinks "
SELFTEST = "selftest "
HEALTH = "status "
SAFE = "airkit SAFE MODE: "
CRASH = "airkit CRASH: "
START = " starting (reset cause: "

_JSON_KINDS = (("reading", READING), ("uplinks", STATUS), ("selftest", SELFTEST), ("status", HEALTH))


def emit(prefix, d):
    """Print one ``prefix {json}`` line; returns ``d``."""
    print(prefix + json.dumps(d))
    return d


def safe(text):
    print(SAFE + text)


def parse(line):
    """('reading'|'uplinks'|'selftest'|'status', dict), ('safe'|'crash', text), ('start', line) or None."""
    if isinstance(line, (bytes, bytearray)):
        line = line.decode("utf-8", "replace")
    line = line.strip().strip("\x00")
    for kind, prefix in _JSON_KINDS:
        i = line.find(prefix + "{")
        if i >= 0:
            try:
                d = json.loads(line[i + len(prefix):])
            except ValueError:
                return None
            return (kind, d) if isinstance(d, dict) else None
    i = line.find(SAFE)
    if i >= 0:
        return ("safe", line[i + len(SAFE):])
    i = line.find(CRASH)
    if i >= 0:
        return ("crash", line[i + len(CRASH):])
    if line.startswith("airkit ") and START in line:
        return ("start", line)
    return None


def parse_all(text, kind=None):
    """Every parsed line of ``text`` (of one ``kind`` only: just the values)."""
    out = []
    for ln in text.splitlines():
        p = parse(ln)
        if p is None:
            continue
        if kind is None:
            out.append(p)
        elif p[0] == kind:
            out.append(p[1])
    return out
