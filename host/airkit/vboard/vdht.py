"""Stand-in for the ESP32 ``dht`` module: a DHT22 on a pin of the virtual board.

Like the real sensor: ``measure()`` blocks ~270 ms, fails with OSError ETIMEDOUT
(by name: the number differs between ports) when nothing answers on the pin,
raises a plain ``Exception("checksum error")`` on a corrupted read, answers
nothing within 1 s of power-up, and returns the previous conversion when read
faster than every 2 s. Faults (scenario ``dht`` keys): ``failure_rate``,
``stuck`` windows (humidity stuck at 99.9 %), ``missing`` windows (unplugged),
``low_stuck`` windows (humidity stuck at 1 %).
"""

import errno

from world import in_windows

_world = None
_wired_pin = None
_faults = {}
_powered_ms = 0


def attach(world, pin, faults):
    global _world, _wired_pin, _faults, _powered_ms
    _world = world
    _wired_pin = pin
    _faults = faults or {}
    _powered_ms = world.now_ms


class DHT22:
    def __init__(self, pin):
        self.pin = pin
        self._t = None
        self._h = None
        self._last_ms = None

    def measure(self):
        w = _world
        now = w.now_ms
        w.advance(270)
        hour = w.hour(now)
        if self.pin.id != _wired_pin or in_windows(_faults.get("missing", []), hour) or now - _powered_ms < 1000:
            raise OSError(errno.ETIMEDOUT)
        rate = _faults.get("failure_rate", 0)
        if rate and w.random() < rate:
            if w.random() < 0.5:
                raise OSError(errno.ETIMEDOUT)
            raise Exception("checksum error")
        if self._last_ms is not None and now - self._last_ms < 2000:
            return          # too soon: the sensor hands back the previous conversion
        self._last_ms = now
        _, rh, tc = w.env(now)
        rh += (w.random() - 0.5) * 0.6
        tc += (w.random() - 0.5) * 0.2
        if in_windows(_faults.get("stuck", []), hour):
            rh = 99.9
        elif in_windows(_faults.get("low_stuck", []), hour):
            rh = 1.0
        self._t = int(tc * 10 + (0.5 if tc >= 0 else -0.5)) / 10
        self._h = int(min(99.9, max(0.0, rh)) * 10 + 0.5) / 10

    def temperature(self):
        return self._t

    def humidity(self):
        return self._h


class DHT11(DHT22):
    pass
