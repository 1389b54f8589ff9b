"""The station's main loop, safe mode and the reading log line.

Why this exists: it ties the board, the sampler and the optional services
(journal, uplinks: anything with ``on_reading(reading_dict)`` and
``poll(deadline_ticks)``) together, and it owns two rules. A bad config (or the
``SAFE`` file) never causes a boot loop: the board enters *safe mode*, prints
what is wrong (secrets masked) and keeps the REPL free for the host tools.
Anything else that goes wrong, at start-up or in the loop (a MemoryError on a
board short of RAM, a bug), never leaves a dead station: it is counted, printed
and retried after a bounded wait and a reset (``Board.crashed``).

The free heap is printed at boot and in the status line (``status {json}``,
every ``_STATE_EVERY`` readings), so a board short of RAM shows it.

Each reading is printed as one log line ``reading {json}``: this is what
``airkit sim`` and ``airkit monitor`` parse.
"""

import gc
import json
import sys

try:
    from micropython import const
except ImportError:  # CPython
    def const(value):
        return value

from airkit_fw import VERSION
from airkit_fw import board as board_mod
from airkit_fw import sampler as sampler_mod
from airkit_fw.pms5003 import KEYS

from airkit_fw.flags import TIME_UNSYNCED, AB_DISAGREE, CORRECTION_OUT_OF_RANGE, names as flag_names
from airkit_fw.common import STATE_FILE, describe as _describe, forget, get
from airkit_fw.console import READING as READING_PREFIX, SAFE as SAFE_PREFIX, HEALTH as STATUS_PREFIX   # the console line protocol
_OTA_EVERY = const(72)       # readings between update checks (6 h at the default 5 min)
_STATE_EVERY = const(12)     # readings between state saves (flash wear) and status lines
_TURN_MS = const(5000)       # WiFi and NTP start an attempt only with 3 s left before the next reading


def _write_state(board, state):
    import os
    tmp = board.path(STATE_FILE + ".tmp")
    with open(tmp, "w") as f:
        f.write(json.dumps(state))
    os.rename(tmp, board.path(STATE_FILE))


def reading_dict(board, r, station_id, correction=None):
    """The reading as a plain dict (raw PMS values always kept)."""
    d = {}
    t = board.unix_time()
    d["time"] = board.iso_utc(t) if t is not None else None
    d["ticks"] = r.ticks
    d["seq"] = r.seq
    d["device"] = station_id
    # No frame means no value (None), never a 0 that looks like clean air.
    vals = r.values
    for k in range(len(KEYS)):
        d[KEYS[k]] = vals[k] if r.frames else None
    if r.has_b:
        for k in range(len(KEYS)):
            d[KEYS[k] + "_b"] = r.values_b[k] if r.frames_b else None
    d["rh"] = r.rh
    d["temp_c"] = r.temp_c
    flags = r.flags
    if t is None:
        flags |= TIME_UNSYNCED
    d["flags_bits"] = flags          # the bits travel (journal, correction); names are for the console
    d["frames"] = r.frames
    if r.has_b:
        d["frames_b"] = r.frames_b
    d["checksum_errors"] = r.checksum_errors
    d["warmup_ok"] = r.warmup_ok
    d["laser_on_s"] = r.laser_on_s
    if correction is not None:
        correction(d)
    d["flags"] = flag_names(d["flags_bits"])
    return d


class Station:
    """Built at start-up by ``services.start`` (which is handed this class, reads the
    counters and the id; it never imports this module: no import cycle)."""

    def __init__(self, board, cfg, station_id, state):
        self.board = board
        self.cfg = cfg
        self.interval_ms = get(cfg, "interval_s", 300) * 1000
        self.watchdog_ms = get(cfg, "watchdog_s", 60) * 1000
        self.sampler = sampler_mod.Sampler(board, cfg)
        self.services = []
        self.turn_ms = _TURN_MS          # the services' time between readings, at least (uplinks: more)
        self.preload = ()
        self.station_id = station_id
        self.correction, self.correction_name = _correction_for(cfg)
        self.state = state
        self.sampler.laser_on_ms = self.state.get("laser_on_s", 0) * 1000
        self.sampler.reading.seq = self.state.get("seq", 0)

    def save_state(self):
        self.state["laser_on_s"] = self.sampler.laser_on_ms // 1000
        self.state["seq"] = self.sampler.reading.seq
        _write_state(self.board, self.state)

    def step(self):
        """Take a reading and hand it to the log and the services."""
        r = self.sampler.sample()
        d = reading_dict(self.board, r, self.station_id, self.correction)
        # written straight to the console: the line never exists as one string in the heap
        print(READING_PREFIX, end="")
        json.dump(d, sys.stdout)
        print()
        for s in self.services:
            s.on_reading(d)
        if r.seq % _STATE_EVERY == 0:
            self.save_state()
            self.print_status()
        return d

    def print_status(self):
        gc.collect()
        print(STATUS_PREFIX + json.dumps({"seq": self.sampler.reading.seq, "free_heap": self.board.mem_free(),
                                          "crashes": self.state.get("crashes", 0)}))

    def wait_until(self, deadline):
        b = self.board
        for s in self.services:
            if b.ticks_diff(deadline, b.ticks_ms()) <= 0:
                break
            s.poll(deadline)
        left = b.ticks_diff(deadline, b.ticks_ms())
        if left > 0:
            b.sleep_ms(left)

    def run(self, readings=-1):
        b = self.board
        b.start_watchdog(self.watchdog_ms)
        next_at = b.ticks_ms()
        started = next_at
        readings_done = 1
        first = True
        while readings != 0:
            self.step()
            trial = sys.modules.get("otaboot")    # loaded only while an update runs on trial (main.py)
            if trial is not None and trial.check(b.ticks_diff(b.ticks_ms(), started)):
                b.reset()                         # no upload acknowledged in time: rolled back, restart
            if readings_done % _OTA_EVERY == 1 and _ota_check(self):
                b.reset()                         # an update was installed: start it on trial
            readings_done += 1
            if first:
                n = b.crash_streak()
                if n:                     # a good reading: the crash streak is over
                    b.crash_streak(0)
                    self.state["crashes"] = self.state.get("crashes", 0) + n
                    self.save_state()
                    self.print_status()
                first = False
            readings -= 1
            next_at = b.ticks_add(next_at, self.interval_ms)
            if b.ticks_diff(next_at, b.ticks_ms()) < self.turn_ms:
                # fell behind (a slow reading at a short interval): the services still get their
                # turn, so uploads and the status line never starve; the next reading waits
                next_at = b.ticks_add(b.ticks_ms(), self.turn_ms)
            self.wait_until(next_at)


def _correction_for(cfg):
    """(callable adding the on-device corrected PM2.5 beside the raw values, model name), or (None, None).

    The formula module is shared with the host (``airkit calibrate``), so the
    board and the desk compute identical numbers. Raw values are never replaced.
    """
    c = cfg.get("correction")
    if not c:
        return None, None
    from airkit_fw import correction

    model = correction.from_config(cfg)
    if model is None:
        print("airkit: correction kind %r is unknown to this firmware; uploading raw values only"
              % (c.get("kind") if isinstance(c, dict) else c,))
        return None, None
    name = correction.label(model)

    def apply(d):
        pm = d["pm25_cf1"]
        pm_b = d.get("pm25_cf1_b")
        if pm is not None and pm_b is not None and not d["flags_bits"] & AB_DISAGREE:
            pm = (pm + pm_b) / 2          # the published corrections use the A/B mean
        y = correction.correct(model, pm, d["rh"], d["temp_c"])
        d["pm25_corrected"] = None if y is None else int(y * 100 + 0.5) / 100
        d["model"] = name
        if y is not None and correction.out_of_range(model, pm, d["rh"], d["temp_c"]):
            d["flags_bits"] |= CORRECTION_OUT_OF_RANGE

    return apply, name


def main(board=None):
    """Start the station; returns only in safe mode (or when interrupted)."""
    board = board or board_mod.current()
    gc.collect()
    print("airkit %s starting (reset cause: %s)" % (VERSION, board.reset_cause()))
    print("airkit: free heap %d bytes at boot" % board.mem_free())
    station = None
    try:
        from airkit_fw import services     # start-up only: config, safe mode, the services

        station = services.start(board, Station)    # None: safe mode (printed)
        services = None
    except Exception as e:
        station = None
        _drop_start_up_modules()
        gc.collect()
        return board.crashed("start-up failed: %s" % _describe(e))
    _drop_start_up_modules()
    if station is None:
        return False
    gc.collect()
    try:
        for name in station.preload:    # run-time modules best loaded before the heap fragments
            __import__(name)
    except MemoryError:
        pass                            # then loaded at first use (an uplink copes with a MemoryError)
    gc.collect()
    print("airkit: started, free heap %d bytes" % board.mem_free())
    try:
        station.run()
    except Exception as e:
        # Crashed while running: save the counters, then count, wait, reset, retry.
        what = "crashed: %s" % _describe(e)
        try:
            station.save_state()
        except Exception:
            pass
        station = None
        gc.collect()
        board.crashed(what)


def _ota_check(st):
    """Ask the airkit JSON uplink's collector for an update (ota.py is loaded for this only).
    Never fatal: the station measures on whatever happens here."""
    try:
        from airkit_fw import otacheck
        return otacheck.scheduled(st.board, st, (st.state or {}).get("crashes", 0))
    except Exception as e:       # MemoryError while loading it, a bug: one line, no crash
        print("airkit: update check failed: %r" % (e,))
        return None
    finally:
        _drop_start_up_modules(("otacheck", "ota", "ed25519"))


def _drop_start_up_modules(names=("config", "services")):
    """Forget the modules only start-up needs (``common.forget``)."""
    return forget(names)
