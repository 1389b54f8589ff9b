"""Start-up: the config, safe mode, the station and its services (journal, WiFi, time,
uplinks). Only start-up uses this module; the app forgets it (and the config schema)
once the station runs, so their code does not hold a board's heap.

``start(board, make_station)`` returns the running-ready ``Station`` (built by
``make_station``: the app hands its class over, so this module never imports the
app), or None after printing safe mode: only a missing/invalid config or the ``SAFE``
file do that (anything else that fails is raised, and the app retries it after a wait
and a reset).

``attach(station)``: order matters: the journal comes first (every reading is on
flash before anything else sees it), then WiFi, then NTP, then the uplinks. At
start-up one bounded attempt is made to join the WiFi and set the clock (at most
``wifi.CONNECT_MS`` + 2 NTP timeouts, before the watchdog is armed) so the first
reading usually has its time; later attempts happen between readings.
"""

import json

from airkit_fw import config
from airkit_fw.common import SAFE_FILE, STATE_FILE, describe, forget, get as _get
from airkit_fw.journal import Journal


def start(board, make_station):
    global config

    if _exists(board, SAFE_FILE):
        return safe_mode(board, ["the SAFE file is on the board (remove it with 'airkit deploy')"])
    try:
        cfg, problems = config.load(board.path(config.CONFIG_FILE))
    except MemoryError:
        raise
    except Exception as e:  # e.g. a config file that is not text at all
        return safe_mode(board, ["the config file cannot be read (%s): write a new one with 'airkit config init'"
                                 % describe(e)])
    if problems:
        return safe_mode(board, problems)
    station = make_station(board, cfg, config.get(cfg, "device.id") or default_station_id(board),
                           read_state(board, STATE_FILE))
    # the config schema is done with: forget it before the services load, so start-up
    # never holds both (on a board without PSRAM that peak is what fails first)
    if forget(("config",)):
        config = None
    import gc
    gc.collect()
    attach(station)
    station.cfg = None           # what the services need they keep; the rest goes
    return station


def safe_mode(board, problems):
    """Print what is wrong and return to the REPL. Never resets."""
    from airkit_fw.console import SAFE as SAFE_PREFIX

    for p in problems:
        print(SAFE_PREFIX + p)
    print(SAFE_PREFIX + "the station is stopped; the REPL is free for 'airkit doctor' / 'airkit deploy'")
    return None


def read_state(board, name):
    """Counters kept across reboots; a damaged file is ignored, never fatal."""
    try:
        with open(board.path(name)) as f:
            s = json.loads(f.read())
    except (OSError, ValueError):
        return {}
    if not isinstance(s, dict):
        return {}
    for k in ("laser_on_s", "seq"):
        v = s.get(k)
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            s[k] = 0
    return s


def default_station_id(board):
    mac = board.unique_id()
    return "airkit-" + "".join("%02x" % x for x in mac[-3:])


def _exists(board, name):
    import os
    try:
        os.stat(board.path(name))
        return True
    except OSError:
        return False


def attach(station):
    b = station.board
    cfg = station.cfg
    j = Journal(b)
    station.services.append(j)
    station.journal = j
    # the console's seq is the journal's (on flash with every reading): after a power cut it
    # goes on from the last reading stored, never repeats one (state.json is saved less often)
    station.sampler.reading.seq = j.last_seq
    wifi = None
    ssid = _get(cfg, "wifi.ssid")
    if ssid and b.network() is not None:
        from airkit_fw.wifi import WiFi
        wifi = WiFi(b, ssid, _get(cfg, "wifi.password") or "", j, hostname=station.station_id)
        station.services.append(wifi)
    from airkit_fw.timesync import TimeSync
    servers = _get(cfg, "ntp.servers") or ["pool.ntp.org"]
    ts = None
    if wifi is not None:
        ts = TimeSync(b, wifi, j, tuple(servers))
        station.services.append(ts)
    ups = []
    for ucfg in _get(cfg, "uplinks") or []:
        if ucfg.get("enabled", True) is False:
            continue
        from airkit_fw.uplinks import registry
        ups.append(registry.make(b, ucfg, station))
    if ups:
        registry.forget_specs()     # the types' declarations and the registry: start-up only
        registry = None
        forget(("uplinks.registry",))
        if any("mqtt" not in u.kind for u in ups):
            # the HTTP client is loaded right after start-up (app.main), while the heap is
            # still in one piece: loaded at the first upload, its code needs blocks a
            # fragmented heap may no longer have
            station.preload = ("airkit_fw.uplinks.http",)
        from airkit_fw.uplinks.base import Uplinks, MARGIN_MS
        station.services.append(Uplinks(b, j, ups, wifi))
        station.turn_ms = MARGIN_MS + 2000    # room to start at least one exchange after every reading
    if _get(cfg, "web.status") or _get(cfg, "web.portal_after_s"):
        from airkit_fw import web          # status page, WiFi watch: polled last (they wait)
        web.attach(station, lambda k: _get(cfg, k), wifi)
    if wifi is not None and wifi.connect():
        ts.sync()
