# Helpers for MicroPython tests that use the virtual board's stand-ins
# (world, vclock, vmachine, pms_sim, vdht) directly, without the launcher.
from world import World
import vclock
import vmachine
import pms_sim

START_UNIX = 1767571200          # 2026-01-05T00:00:00Z


def world(scenario=None, ticks_start=0, seed=1):
    opts = {"start_unix": START_UNIX, "hours": None, "seed": seed, "scenario": scenario or {},
            "ticks_start": ticks_start}
    return World(opts, {})


class LoggingPMS(pms_sim.PMSDevice):
    """The simulated sensor, also noting every command it receives (time, cmd, data)."""

    def __init__(self, w, faults=None):
        pms_sim.PMSDevice.__init__(self, w, faults)
        self.log = []

    def _command(self, cmd, data, now):
        self.log.append((now, cmd, data))
        pms_sim.PMSDevice._command(self, cmd, data, now)


def pms_rig(faults=None, ticks_start=0):
    """(world, clock, uart, sensor) with the sensor wired to UART2 (TX 17, RX 16)."""
    w = world({"pms": faults or {}}, ticks_start)
    clock = vclock.VirtualClock(w)
    dev = LoggingPMS(w, faults or {})
    wiring = {"uart": {(17, 16): dev}, "set_pins": {4: dev}}
    m = vmachine.Machine(w, clock, wiring, "power-on", b"\x24\x0a\xc4\x01\x02\x03")
    uart = m.UART(2, baudrate=9600, tx=17, rx=16, rxbuf=512, timeout=0, timeout_char=0)
    return w, clock, uart, dev, m
