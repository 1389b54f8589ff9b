"""Small formatting helpers shared by the uplinks (no dict ordering assumptions:
the byte-exact payloads are built as strings, key by key)."""

from airkit_fw.pms5003 import KEYS


def chip_id(mac):
    """airrohr's ESP32 chip id from the 6-byte efuse MAC (rule in sensor_community.py)."""
    upper = mac[5] << 8 | mac[4]
    lower = mac[3] << 24 | mac[2] << 16 | mac[1] << 8 | mac[0]
    return "%x%x" % (upper, lower)


def f2(v):
    return "%.2f" % v


def jstr(s):
    """A JSON string literal (station ids and names are plain text; quotes and
    backslashes escaped, control characters dropped)."""
    out = []
    for ch in s:
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ord(ch) >= 32:
            out.append(ch)
    return '"' + "".join(out) + '"'


def jnum(v):
    if v is None:
        return "null"
    if isinstance(v, float):
        return "%.1f" % v
    return str(v)


def pm(rec, which, size):
    """PM value: which = 'atm' or 'cf1', size = 'pm1', 'pm25', 'pm10'. None when no PMS data."""
    return rec.get(size + "_" + which)


def iso(board, t):
    return board.iso_utc(t) if t else None


RECORD_KEYS = KEYS
