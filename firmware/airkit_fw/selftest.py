"""The kit test, run on the board by ``airkit doctor`` through the REPL.

Why this exists: a freshly assembled station fails in a handful of typical
ways (PMS5003 TX/RX swapped, sensor unpowered, loose connector, DHT22 on the
wrong pin, wrong WiFi password) and the readings alone cannot tell them
apart. Each check here gathers the evidence that does: bytes vs. frames vs.
checksum errors, both pin orders, other baud rates, a sleep/wake cycle, the
WiFi status by name. Each check prints one line ``selftest {json}`` with a
``status`` word; the host turns the status into a sentence and a remedy.

Everything goes through the board layer, so the same code runs on an ESP32
and on the virtual board. Waits feed the watchdog (the station may have
armed it before being interrupted).
"""

from airkit_fw import board as board_mod
from airkit_fw import config
from airkit_fw import pms5003
from airkit_fw.console import SELFTEST as PREFIX, emit as _console_emit

_OTHER_BAUDS = (115200, 57600, 38400, 19200, 4800, 2400)


def _emit(d):
    return _console_emit(PREFIX, d)


def facts(board=None):
    import gc
    import os
    import sys
    b = board or board_mod.current()
    gc.collect()
    impl = sys.implementation
    d = {"check": "facts"}
    d["machine"] = getattr(impl, "_machine", "") or os.uname()[4]
    d["micropython"] = "%d.%d.%d" % impl.version[:3]
    d["platform"] = sys.platform
    d["mem_free"] = b.mem_free()     # true free GC heap (on an ESP32 without the IDF's split block)
    try:
        d["fs_free"] = b.fs_free()
    except OSError:
        d["fs_free"] = None
    d["reset_cause"] = b.reset_cause()
    mac = b.mac()
    d["mac"] = ":".join("%02x" % x for x in mac)
    try:
        from airkit_fw import VERSION
        d["firmware"] = VERSION
    except ImportError:
        d["firmware"] = None
    t = b.unix_time()
    d["time"] = b.iso_utc(t) if t is not None else None
    return _emit(d)


# --- PMS5003 ---------------------------------------------------------------------------
class _Listen:
    """Bytes, frames and checksum errors seen on one UART."""

    def __init__(self):
        self.bytes = 0
        self.frames = []
        self.dec = pms5003.FrameDecoder()


def _listen(b, uart, ms, want_frames=3, lst=None):
    lst = lst or _Listen()
    buf = bytearray(64)
    dec = lst.dec
    start = b.ticks_ms()
    while b.ticks_diff(b.ticks_ms(), start) < ms and len(lst.frames) < want_frames:
        n = uart.readinto(buf) if uart.any() else 0
        if n:
            lst.bytes += n
            pos = 0
            while pos < n:
                pos = dec.feed(buf, pos, n)
                if dec.ready:
                    lst.frames.append(list(dec.values))
        else:
            b.sleep_ms(20)
        b.feed()
    return lst


def _send(b, uart, cmd, data):
    uart.write(pms5003.command(cmd, data))
    b.sleep_ms(pms5003.COMMAND_GAP_MS)


def _wake_active(b, uart, set_pin):
    if set_pin is not None:
        set_pin.value(1)
    _send(b, uart, pms5003.CMD_SLEEP, 1)
    _send(b, uart, pms5003.CMD_MODE, 1)


def check_pms(cfg=None, board=None, key="pms"):
    b = board or board_mod.current()
    cfg = cfg if cfg is not None else config.load(b.path(config.CONFIG_FILE))[0]
    d = {"check": key}
    if not config.get(cfg, key + ".enabled", key == "pms"):
        d["status"] = "skipped"
        return _emit(d)
    uid = config.get(cfg, key + ".uart")
    tx = config.get(cfg, key + ".tx")
    rx = config.get(cfg, key + ".rx")
    set_no = config.get(cfg, key + ".set")
    d["pins"] = {"uart": uid, "tx": tx, "rx": rx, "set": set_no}
    set_pin = b.output_pin(set_no, 1) if set_no is not None else None
    uart = b.uart(uid, tx, rx)
    _wake_active(b, uart, set_pin)
    first = _listen(b, uart, 6000)
    dec = first.dec
    d["bytes"] = first.bytes
    d["frames"] = len(first.frames)
    d["checksum_errors"] = dec.checksum_errors
    d["bytes_skipped"] = dec.bytes_skipped
    d["baud"] = 9600
    if len(first.frames) >= 2:
        if dec.checksum_errors * 5 > len(first.frames) + dec.checksum_errors:
            d["status"] = "checksum"
        elif all(not any(v) for v in first.frames):
            d["status"] = "no_fan"
        else:
            d["values"] = dict(zip(pms5003.KEYS, first.frames[-1]))
            # The station sleeps the sensor between readings: it must wake again.
            replies = dec.replies
            _send(b, uart, pms5003.CMD_SLEEP, 0)
            _listen(b, uart, 1000, 1, first)
            slept = dec.replies > replies and dec.reply_cmd == pms5003.CMD_SLEEP
            b.sleep_ms(1000)
            _wake_active(b, uart, set_pin)
            again = _listen(b, uart, 6000, 1)
            d["sleep_reply"] = slept
            d["frames_after_wake"] = len(again.frames)
            d["status"] = "ok" if again.frames else "asleep"
    elif first.bytes == 0:
        # Nothing at all: try the other pin order before blaming the sensor.
        uart.deinit()
        swapped = b.uart(uid, rx, tx)
        _wake_active(b, swapped, set_pin)
        other = _listen(b, swapped, 6000)
        swapped.deinit()
        uart = b.uart(uid, tx, rx)
        d["swapped_frames"] = len(other.frames)
        d["status"] = "swapped" if other.frames or other.bytes else "silent"
    elif dec.checksum_errors >= 2:
        d["status"] = "checksum"
    else:
        d["status"] = "garbage"
        for baud in _OTHER_BAUDS:
            u = b.uart(uid, tx, rx, baudrate=baud)
            _wake_active(b, u, set_pin)
            lst = _listen(b, u, 3000, 2)
            u.deinit()
            if lst.frames:
                d["status"] = "wrong_baud"
                d["baud"] = baud
                break
        uart = b.uart(uid, tx, rx)
    # Leave the sensor asleep and the UART as the station expects it.
    try:
        _send(b, uart, pms5003.CMD_MODE, 0)
        _send(b, uart, pms5003.CMD_SLEEP, 0)
    except OSError:
        pass
    return _emit(d)


# --- DHT22 ----------------------------------------------------------------------------------
def check_dht(cfg=None, board=None):
    from airkit_fw import dht22
    b = board or board_mod.current()
    cfg = cfg if cfg is not None else config.load(b.path(config.CONFIG_FILE))[0]
    d = {"check": "dht"}
    if not config.get(cfg, "dht.enabled", True):
        d["status"] = "skipped"
        return _emit(d)
    pin = config.get(cfg, "dht.pin")
    d["pin"] = pin
    sensor = dht22.DHT22(b.dht22(pin), b, b.feed)
    status = sensor.read()
    if status == dht22.OK:
        status = sensor.read()      # the first conversion after power-up can be stale
    d["temp_c"] = sensor.temp_c
    d["rh"] = sensor.rh
    d["timeouts"] = sensor.timeouts
    d["checksum_errors"] = sensor.checksum_errors
    if status == dht22.FAILED:
        d["status"] = "timeout" if sensor.timeouts >= sensor.checksum_errors else "checksum"
    elif status == dht22.IMPLAUSIBLE:
        d["status"] = "implausible"
    elif sensor.rh is not None and (sensor.rh >= 99.9 or sensor.rh <= 1.0):
        d["status"] = "stuck"
    else:
        d["status"] = "ok"
    return _emit(d)


# --- WiFi, uplinks, clock -----------------------------------------------------------------------
def _status_name(net, code):
    for name in ("STAT_GOT_IP", "STAT_WRONG_PASSWORD", "STAT_NO_AP_FOUND", "STAT_CONNECTING",
                 "STAT_IDLE", "STAT_ASSOC_FAIL", "STAT_HANDSHAKE_TIMEOUT", "STAT_BEACON_TIMEOUT",
                 "STAT_CONNECT_FAIL"):
        if getattr(net, name, None) == code:
            return name
    return str(code)


def check_wifi(cfg=None, board=None, timeout_ms=15000):
    b = board or board_mod.current()
    cfg = cfg if cfg is not None else config.load(b.path(config.CONFIG_FILE))[0]
    d = {"check": "wifi"}
    ssid = config.get(cfg, "wifi.ssid")
    if not ssid:
        d["status"] = "skipped"
        return _emit(d)
    d["ssid"] = ssid
    net = b.network()
    wlan = b.wlan()
    if net is None or wlan is None:
        d["status"] = "no_wifi_hw"
        return _emit(d)
    wlan.active(True)
    if wlan.isconnected():
        d["status"] = "ok"
        d["already_connected"] = True
    else:
        try:
            seen = [r[0].decode("utf-8", "replace") for r in wlan.scan()]
        except OSError:
            seen = []
        d["seen"] = ssid in seen
        d["networks"] = len(seen)
        wlan.connect(ssid, config.get(cfg, "wifi.password") or "")
        start = b.ticks_ms()
        st = wlan.status()
        while b.ticks_diff(b.ticks_ms(), start) < timeout_ms:
            st = wlan.status()
            if st != getattr(net, "STAT_CONNECTING", -1) and st != getattr(net, "STAT_IDLE", -2):
                break
            b.sleep_ms(200)
        name = _status_name(net, st)
        d["wifi_status"] = name
        if name == "STAT_GOT_IP" or wlan.isconnected():
            d["status"] = "ok"
        elif name == "STAT_WRONG_PASSWORD":
            d["status"] = "wrong_password"
        elif name == "STAT_NO_AP_FOUND":
            d["status"] = "no_ap"
        else:
            d["status"] = "failed"
    if d["status"] == "ok":
        try:
            d["rssi"] = wlan.status("rssi")
            d["ip"] = wlan.ifconfig()[0]
        except (OSError, ValueError, TypeError):
            pass
    return _emit(d)


class _Station:
    """What an uplink's constructor reads from the station (id, config), without starting it."""

    def __init__(self, b, cfg):
        self.board = b
        self.cfg = cfg
        self.station_id = config.get(cfg, "device.id") or "airkit-" + "".join(
            "%02x" % x for x in b.unique_id()[-3:])
        self.correction_name = None


def probe_uplink(b, ucfg, station):
    """Ask the uplink's server whether it would accept this station, sending no reading.

    The uplink is built by its own constructor (URL, declared defaults, credentials) and
    probes itself (``Uplink.probe``); which answers prove the server knows the station is
    declared by its type (``PROBE_OK`` in ``uplinks/<type>_spec.py``). Returns a dict with
    ``status``: ok, rejected (``http_status``), unreachable, dns, tls, server_error, bad_url."""
    from airkit_fw.uplinks import registry as uplinks_mod
    from airkit_fw.uplinks.net import NetError
    u = uplinks_mod.make(b, ucfg, station)      # a config it cannot build from: raised (bad_config)
    ok = uplinks_mod.spec(ucfg.get("type")).PROBE_OK
    d = {}
    try:
        u.probe(ok, d)
    except NetError as e:
        d["status"] = {"dns": "dns", "tls": "tls", "auth": "rejected"}.get(e.kind, "unreachable")
        d["error"] = "%s %s" % (e.kind, e.detail)
    except (ValueError, IndexError):
        d["status"] = "bad_url"
    except OSError as e:
        d["status"] = "unreachable"
        d["error"] = str(e)
    return d


def check_uplinks(cfg=None, board=None, wifi_ok=True):
    """A real, storing-nothing exchange with every configured uplink's server (default URLs included)."""
    b = board or board_mod.current()
    cfg = cfg if cfg is not None else config.load(b.path(config.CONFIG_FILE))[0]
    ups = config.get(cfg, "uplinks") or []
    station = _Station(b, cfg)
    out = []
    for i in range(len(ups)):
        u = ups[i]
        d = {"check": "uplink", "index": i, "type": u.get("type")}
        if u.get("enabled", True) is False:
            d["status"] = "skipped"
        elif not wifi_ok:
            d["status"] = "no_wifi"
        else:
            try:
                d.update(probe_uplink(b, u, station))
            except Exception as e:  # an uplink this firmware cannot build: say so, test the others
                d["status"] = "bad_config"
                d["error"] = "%s %s" % (type(e).__name__, e)
        b.feed()
        out.append(_emit(d))
    return out


def check_clock(board=None):
    b = board or board_mod.current()
    t = b.unix_time()
    d = {"check": "clock", "time": b.iso_utc(t) if t is not None else None, "unix": t}
    d["status"] = "ok" if t is not None else "unset"
    return _emit(d)


def run(checks=("pms", "dht", "wifi", "uplinks", "clock")):
    """Run the checks; each prints its ``selftest {json}`` line."""
    b = board_mod.current()
    cfg, problems = config.load(b.path(config.CONFIG_FILE))
    _emit({"check": "config", "status": "ok" if not problems else "problems",
           "problems": problems})
    wifi_ok = False
    for c in checks:
        try:
            if c == "pms":
                check_pms(cfg, b)
                if config.get(cfg, "pms_b.enabled"):
                    check_pms(cfg, b, "pms_b")
            elif c == "dht":
                check_dht(cfg, b)
            elif c == "wifi":
                wifi_ok = check_wifi(cfg, b)["status"] == "ok"
            elif c == "uplinks":
                if "wifi" not in checks:        # the uploads need the WiFi: join it first
                    wifi_ok = check_wifi(cfg, b)["status"] == "ok"
                check_uplinks(cfg, b, wifi_ok)
            elif c == "clock":
                check_clock(b)
        except Exception as e:  # one broken check must not hide the others
            _emit({"check": c, "status": "error", "error": "%s %s" % (type(e).__name__, e)})
