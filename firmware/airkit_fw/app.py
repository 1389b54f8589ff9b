"""The station's main loop, safe mode and the reading log line.

Why this exists: it ties the board, the sampler and the optional services
(journal, uplinks: anything with ``on_reading(reading_dict)`` and
``poll(deadline_ticks)``) together, and it owns the rule that a bad config or a
start-up crash never causes a boot loop: the board enters *safe mode*, prints
what is wrong (secrets masked) and keeps the REPL free for the host tools.

Each reading is printed as one log line ``reading {json}``: this is what
``airkit sim`` and ``airkit monitor`` parse.
"""

import json

from airkit_fw import VERSION
from airkit_fw import board as board_mod
from airkit_fw import config
from airkit_fw import sampler as sampler_mod
from airkit_fw.pms5003 import KEYS

from airkit_fw.console import READING as READING_PREFIX, SAFE as SAFE_PREFIX   # the console line protocol
SAFE_FILE = "SAFE"           # present on flash: stay in safe mode (airkit deploy --safe)
STATE_FILE = "state.json"    # counters kept across reboots
_CRASH_LIMIT = 3             # crashes in a row (RTC memory) before staying in safe mode
_STATE_EVERY = 12            # readings between state saves (flash wear)


def safe_mode(board, problems):
    """Print what is wrong and return to the REPL. Never resets."""
    for p in problems:
        print(SAFE_PREFIX + p)
    print(SAFE_PREFIX + "the station is stopped; the REPL is free for 'airkit doctor' / 'airkit deploy'")
    return False


def _read_state(board):
    """Counters kept across reboots; a damaged file is ignored, never fatal."""
    try:
        with open(board.path(STATE_FILE)) as f:
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


def _write_state(board, state):
    import os
    tmp = board.path(STATE_FILE + ".tmp")
    with open(tmp, "w") as f:
        f.write(json.dumps(state))
    os.rename(tmp, board.path(STATE_FILE))


def _crash_count(board, value=None):
    # RTC memory survives the reset that follows a crash, not a power cut.
    try:
        mem = board.rtc_memory()
        n = mem[0] if len(mem) == 1 else 0
        if value is not None:
            board.rtc_memory(bytes((value,)))
        return n
    except Exception:
        return 0


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
    def __init__(self, board, cfg):
        self.board = board
        self.cfg = cfg
        self.interval_ms = config.get(cfg, "interval_s", 300) * 1000
        self.sampler = sampler_mod.Sampler(board, cfg)
        self.services = []
        self.station_id = config.get(cfg, "device.id") or default_station_id(board)
        self.correction, self.correction_name = _correction_for(cfg)
        self.state = _read_state(board)
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
        print(READING_PREFIX + json.dumps(d))
        for s in self.services:
            s.on_reading(d)
        if r.seq % _STATE_EVERY == 0:
            self.save_state()
        return d

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
        b.start_watchdog(config.get(self.cfg, "watchdog_s", 60) * 1000)
        next_at = b.ticks_ms()
        first = True
        while readings != 0:
            self.step()
            if first:
                _crash_count(b, 0)        # a good reading: the crash streak is over
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
    c = config.get(cfg, "correction")
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


def main(board=None):
    """Start the station; returns only in safe mode (or when interrupted)."""
    board = board or board_mod.current()
    print("airkit %s starting (reset cause: %s)" % (VERSION, board.reset_cause()))
    if _exists(board, SAFE_FILE):
        return safe_mode(board, ["the SAFE file is on the board (remove it with 'airkit deploy')"])
    crashes = _crash_count(board)
    if crashes >= _CRASH_LIMIT:
        _crash_count(board, 0)
        return safe_mode(board, ["the station crashed %d times in a row; fix the cause shown above, then reset" % crashes])
    try:
        cfg, problems = config.load(board.path(config.CONFIG_FILE))
    except Exception as e:  # e.g. a config file that is not text at all
        return safe_mode(board, ["the config file cannot be read (%s): write a new one with 'airkit config init'"
                                 % _describe(e)])
    if problems:
        return safe_mode(board, problems)
    try:
        station = Station(board, cfg)
        _setup_services(station)
    except Exception as e:
        return safe_mode(board, ["start-up failed: %s" % _describe(e)])
    try:
        station.run()
    except Exception as e:
        # Crashed while running: remember it, save counters, reset (the watchdog is armed).
        print(SAFE_PREFIX + "crashed: %s; resetting" % _describe(e))
        _crash_count(board, crashes + 1)
        try:
            station.save_state()
        except Exception:
            pass
        board.reset()


def _setup_services(station):
    """Attach optional modules (journal, uplinks, on-device correction) when present."""
    try:
        from airkit_fw import services
    except ImportError:
        return
    services.attach(station)


def _describe(e):
    name = type(e).__name__
    return "%s %s" % (name, e) if str(e) else name
