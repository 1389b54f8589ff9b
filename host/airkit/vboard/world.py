"""The simulated world around a virtual board: time, air, weather and faults.

Runs under the MicroPython unix port, beside the unchanged firmware. Virtual
time only moves when the firmware sleeps or waits (``advance``), so a
simulated day takes seconds of wall time. The watchdog, the end of the run and
scheduled power cuts are all checked here, because they are events in time.

The air is a deterministic function of time (seeded), so two runs with the same
seed see the same pollution whatever the firmware does in between.
"""

import math
import os
import random
import sys
import time

PERIOD = 1 << 30          # ESP32 ticks_ms wrap-around
EXIT_RESET = 75           # machine.reset(): the host restarts the board
EXIT_WATCHDOG = 76        # the watchdog fired: the host restarts the board


class SimulationEnd(BaseException):
    """Raised from inside a sleep when the simulated period is over."""


def in_windows(windows, hour):
    for w in windows:
        if w[0] <= hour < w[1]:
            return True
    return False


class World:
    def __init__(self, opts, state):
        self.opts = opts
        self.start_ms = opts["start_unix"] * 1000
        self.end_ms = self.start_ms + int(opts.get("hours", 24) * 3600000) if opts.get("hours") is not None else None
        # Virtual "now" continues across resets and power cuts.
        self.now_ms = state.get("now_ms", self.start_ms)
        self.boot_ms = self.now_ms
        self.seed = opts.get("seed", 1)
        self.rng = random.Random(self.seed * 7919 + state.get("boots", 0)) if hasattr(random, "Random") else None
        if self.rng is None:
            random.seed(self.seed * 7919 + state.get("boots", 0))
        self.scenario = opts.get("scenario") or {}
        self.state = state
        self.wdt_timeout_ms = 0
        self.wdt_fed_ms = 0
        self.on_exit = None        # callback(code) set by the launcher to save state
        self.cuts_ms = [self.start_ms + int(h * 3600000) for h in self.scenario.get("power_cuts", [])]
        self.cuts_done = state.get("cuts_done", 0)
        self.cut_on_write = bool(self.scenario.get("power_cut_on_write"))
        self.cut_skip = None       # flash writes still to let through before a due cut tears one
        self.series = opts.get("series")  # optional measured series (pm25, rh, temp_c per step)
        self.ticks_start = state.get("ticks_start", opts.get("ticks_start", 0))
        self.devices = {}          # uart id -> device (set up by the launcher)
        self.pins = {}             # pin number -> callback(value) for wired inputs
        self.counters = state.setdefault("counters", {})
        self.speed = opts.get("speed", 0)   # 0: as fast as possible; N: N virtual seconds per real second

    # --- randomness (MicroPython's random has no Random class) ---------------
    def random(self):
        if self.rng is not None:
            return self.rng.random()
        return random.random()

    def randint(self, a, b):
        return a + int(self.random() * (b - a + 1))

    # --- time -------------------------------------------------------------
    def hour(self, t_ms=None):
        """Hours since the start of the simulation."""
        if t_ms is None:
            t_ms = self.now_ms
        return (t_ms - self.start_ms) / 3600000

    def advance(self, ms, paced=True):
        """Move virtual time on by ms (paced: sleep for it at ``speed``; not for a wait
        that really took that long)."""
        if ms < 0:
            ms = 0
        target = self.now_ms + int(ms)
        # Watchdog: fires if not fed within its timeout.
        if self.wdt_timeout_ms and target - self.wdt_fed_ms > self.wdt_timeout_ms:
            self.now_ms = self.wdt_fed_ms + self.wdt_timeout_ms
            self.count("watchdog_resets")
            self.exit(EXIT_WATCHDOG, "watchdog")
        if self.cuts_done < len(self.cuts_ms) and target >= self.cuts_ms[self.cuts_done]:
            if not self.cut_on_write:
                self.now_ms = self.cuts_ms[self.cuts_done]
                self.power_cut()
            # "power_cut_on_write": the cut lands inside the next flash write (blockdev.py)
        if self.end_ms is not None and target >= self.end_ms:
            self.now_ms = self.end_ms
            raise SimulationEnd()
        if paced and self.speed > 0 and target > self.now_ms:
            time.sleep((target - self.now_ms) / 1000 / self.speed)   # paced: real time / speed
        self.now_ms = target

    def power_cut_due(self):
        return self.cuts_done < len(self.cuts_ms) and self.now_ms >= self.cuts_ms[self.cuts_done]

    def power_cut(self):
        """Really kill this process (SIGKILL), after recording that the cut happened."""
        self.cuts_done += 1
        self.count("power_cuts")
        if self.on_exit:
            self.on_exit(None, "power-on")
        sys.stdout.write("\n")
        os.system("kill -9 $PPID")  # the shell's parent is this MicroPython process
        while True:  # not reached: SIGKILL cannot be caught
            pass

    def exit(self, code, cause):
        if self.on_exit:
            self.on_exit(code, cause)
        sys.exit(code)

    def count(self, name, n=1):
        self.counters[name] = self.counters.get(name, 0) + n

    # --- the air and the weather -----------------------------------------
    def env(self, t_ms=None):
        """(reference PM2.5 ug/m3, RH %, temperature C) at virtual time t."""
        if t_ms is None:
            t_ms = self.now_ms
        s = self.series
        if s:
            k = (t_ms - s["t0_ms"]) / s["step_ms"]
            n = len(s["pm25"])
            if k < 0:
                k = 0
            if k > n - 1:
                k = n - 1
            i = int(k)
            j = i + 1 if i + 1 < n else i
            f = k - i
            pm = s["pm25"][i] * (1 - f) + s["pm25"][j] * f
            rh = s["rh"][i] * (1 - f) + s["rh"][j] * f if s.get("rh") else 60.0
            tc = s["temp_c"][i] * (1 - f) + s["temp_c"][j] * f if s.get("temp_c") else 20.0
            return pm, rh, tc
        h = (t_ms / 3600000) % 24            # UTC hour of day
        d = t_ms / 86400000
        ph = self.seed * 1.37
        # Two traffic peaks, slow multi-day episodes and a wildfire-smoke day now and then.
        pm = 7 + 6 * math.exp(-((h - 7.5) ** 2) / 3) + 8 * math.exp(-((h - 19) ** 2) / 5)
        pm *= 1 + 0.6 * math.sin(d * 1.3 + ph) * math.sin(d * 0.31 + 2 * ph)
        pm += 40 * max(0.0, math.sin(d * 0.45 + ph) - 0.93) * 14
        tc = 16 + 7 * math.sin((h - 9) / 24 * 2 * math.pi) + 3 * math.sin(d * 0.7 + ph)
        rh = 62 - 22 * math.sin((h - 9) / 24 * 2 * math.pi) + 10 * math.sin(d * 0.5 + 3 * ph)
        rh = min(98.0, max(12.0, rh))
        return max(0.5, pm), rh, tc
