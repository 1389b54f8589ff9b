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

from airkit_fw.console import READING as READING_PREFIX, SAFE as SAFE_PREFIX, HEALTH as STATUS_PREFIX   # the console line protocol
SAFE_FILE = "SAFE"           # present on flash: stay in safe mode (airkit deploy --safe)
STATE_FILE = "state.json"    # counters kept across reboots
_STATE_EVERY = const(12)     # readings between state saves (flash wear) and status lines


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
        flags |= sampler_mod.TIME_UNSYNCED
    d["flags"] = sampler_mod.flag_names(flags)
    d["frames"] = r.frames
    if r.has_b:
        d["frames_b"] = r.frames_b
    d["checksum_errors"] = r.checksum_errors
    d["warmup_ok"] = r.warmup_ok
    d["laser_on_s"] = r.laser_on_s
    if correction is not None:
        correction(d)
    return d


class Station:
    """Built at start-up by ``services.start`` (which also reads the counters and the id)."""

    def __init__(self, board, cfg, station_id, state):
        from airkit_fw import config

        self.board = board
        self.cfg = cfg
        self.interval_ms = config.get(cfg, "interval_s", 300) * 1000
        self.watchdog_ms = config.get(cfg, "watchdog_s", 60) * 1000
        self.sampler = sampler_mod.Sampler(board, cfg)
        self.services = []
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
        print(STATUS_PREFIX + json.dumps({"seq": self.sampler.reading.seq, "free_heap": gc.mem_free(),
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
        first = True
        while readings != 0:
            self.step()
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
            if b.ticks_diff(next_at, b.ticks_ms()) < 0:   # fell behind: start again from now
                next_at = b.ticks_ms()
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
        if pm is not None and pm_b is not None and "ab_disagree" not in d["flags"]:
            pm = (pm + pm_b) / 2          # the published corrections use the A/B mean
        y = correction.correct(model, pm, d["rh"], d["temp_c"])
        d["pm25_corrected"] = None if y is None else int(y * 100 + 0.5) / 100
        d["model"] = name
        if y is not None and correction.out_of_range(model, pm, d["rh"], d["temp_c"]):
            d["flags"].append("correction_out_of_range")

    return apply, name


def main(board=None):
    """Start the station; returns only in safe mode (or when interrupted)."""
    board = board or board_mod.current()
    gc.collect()
    print("airkit %s starting (reset cause: %s)" % (VERSION, board.reset_cause()))
    print("airkit: free heap %d bytes at boot" % gc.mem_free())
    station = None
    try:
        from airkit_fw import services     # start-up only: config, safe mode, the services

        station = services.start(board)    # None: safe mode (printed)
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
    print("airkit: started, free heap %d bytes" % gc.mem_free())
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


def _drop_start_up_modules(names=("config", "services")):
    """Forget the modules only start-up needs (config schema, set-up of the services):
    on a board without PSRAM every KiB of heap counts. Only on MicroPython (True): the
    host tools keep them."""
    if sys.implementation.name != "micropython":
        return False
    import airkit_fw

    for name in names:
        sys.modules.pop("airkit_fw." + name, None)
        try:
            delattr(airkit_fw, name)
        except Exception:      # not there (MicroPython raises KeyError)
            pass
    return True


def _describe(e):
    name = type(e).__name__
    return "%s %s" % (name, e) if str(e) else name
