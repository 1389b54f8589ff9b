"""Stand-in for the ESP32 ``machine`` module: what the unix port lacks.

UART (wired to simulated sensors, with a receive FIFO that overflows like the
real one), Pin, WDT (fires in virtual time), RTC (time and 2 KB of memory that
survive resets but not power cuts), reset_cause, reset, unique_id, sleeps.
"""

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5
_CAUSES = {"power-on": PWRON_RESET, "hard": HARD_RESET, "watchdog": WDT_RESET,
           "deep-sleep": DEEPSLEEP_RESET, "soft": SOFT_RESET}

from world import EXIT_RESET


class Machine:
    """One instance per virtual board; the firmware sees it as ``machine``."""

    PWRON_RESET = PWRON_RESET
    HARD_RESET = HARD_RESET
    WDT_RESET = WDT_RESET
    DEEPSLEEP_RESET = DEEPSLEEP_RESET
    SOFT_RESET = SOFT_RESET

    def __init__(self, world, clock, wiring, reset_cause, mac, rtc_memory=b""):
        self.world = world
        self.clock = clock
        self.wiring = wiring            # {"uart": {(tx, rx): device}, "dht_pin": n, "set_pins": {n: device}}
        self._reset_cause = _CAUSES.get(reset_cause, PWRON_RESET)
        self._mac = mac
        self.rtc_mem = rtc_memory
        machine = self

        class Pin:
            IN = 1
            OUT = 3
            OPEN_DRAIN = 7
            PULL_UP = 1
            PULL_DOWN = 2
            IRQ_RISING = 1
            IRQ_FALLING = 2

            def __init__(self, id, mode=-1, pull=-1, value=None):
                self.id = id
                self.mode = mode
                self._value = 0 if value is None else value
                if value is not None:
                    self._drive()

            def init(self, mode=-1, pull=-1, value=None):
                if value is not None:
                    self.value(value)

            def _drive(self):
                dev = machine.wiring.get("set_pins", {}).get(self.id)
                if dev is not None:
                    dev.set_pin(self._value)

            def value(self, v=None):
                if v is None:
                    inputs = machine.wiring.get("inputs")     # buttons: pin -> level read
                    if inputs and self.id in inputs:
                        return inputs[self.id]
                    return self._value
                self._value = 1 if v else 0
                self._drive()

            def on(self):
                self.value(1)

            def off(self):
                self.value(0)

            def __call__(self, v=None):
                return self.value(v)

        class UART:
            def __init__(self, id, baudrate=115200, bits=8, parity=None, stop=1, tx=None, rx=None,
                         rxbuf=256, timeout=0, timeout_char=0, **kw):
                self.id = id
                self.init(baudrate=baudrate, tx=tx, rx=rx, rxbuf=rxbuf, timeout=timeout)

            def init(self, baudrate=9600, tx=None, rx=None, rxbuf=256, timeout=0, **kw):
                self.baudrate = baudrate
                self.tx = tx
                self.rx = rx
                self.rxbuf = rxbuf
                self.timeout = timeout
                self.fifo = bytearray()
                # A sensor is connected when its TX goes to our RX and our TX to its RX.
                self.device = machine.wiring.get("uart", {}).get((tx, rx))

            def _pull(self):
                dev = self.device
                if dev is None:
                    return
                room = self.rxbuf - len(self.fifo)
                data = dev.take(machine.world.now_ms, room if room > 0 else 0)
                if data:
                    if self.baudrate != getattr(dev, "baud", 9600):
                        # wrong baud rate: the bits arrive, the bytes are nonsense
                        data = bytearray((b * 37 + 11) & 0xFF for b in data)
                    self.fifo += data

            def _wait(self):
                if self.timeout and not self.fifo:
                    left = self.timeout
                    while left > 0 and not self.fifo:
                        machine.world.advance(2)
                        left -= 2
                        self._pull()

            def any(self):
                self._pull()
                return len(self.fifo)

            def read(self, n=-1):
                self._pull()
                self._wait()
                if not self.fifo:
                    return None
                if n < 0 or n > len(self.fifo):
                    n = len(self.fifo)
                out = bytes(self.fifo[:n])
                self.fifo = self.fifo[n:]
                return out

            def readinto(self, buf, n=-1):
                self._pull()
                self._wait()
                if not self.fifo:
                    return None
                if n < 0 or n > len(buf):
                    n = len(buf)
                if n > len(self.fifo):
                    n = len(self.fifo)
                buf[:n] = self.fifo[:n]
                self.fifo = self.fifo[n:]
                return n

            def readline(self):
                return self.read()

            def write(self, data):
                if self.device is not None and self.baudrate == getattr(self.device, "baud", 9600):
                    self.device.write(bytes(data))
                return len(data)

            def flush(self):
                pass

            def txdone(self):
                return True

            def deinit(self):
                self.device = None

        class WDT:
            def __init__(self, id=0, timeout=5000):
                machine.world.wdt_timeout_ms = timeout
                machine.world.wdt_fed_ms = machine.world.now_ms

            def feed(self):
                machine.world.wdt_fed_ms = machine.world.now_ms

        class RTC:
            def __init__(self):
                pass

            def datetime(self, dt=None):
                c = machine.clock
                if dt is None:
                    tm = c.gmtime()
                    return (tm[0], tm[1], tm[2], tm[6], tm[3], tm[4], tm[5], 0)
                secs = c.mktime((dt[0], dt[1], dt[2], dt[4], dt[5], dt[6], 0, 0))
                c.set_time(secs)

            def init(self, dt):
                self.datetime(dt)

            def memory(self, data=None):
                if data is None:
                    return machine.rtc_mem
                if len(data) > 2048:
                    raise ValueError("RTC memory holds 2048 bytes")
                machine.rtc_mem = bytes(data)

        self.Pin = Pin
        self.UART = UART
        self.WDT = WDT
        self.RTC = RTC

    def reset_cause(self):
        return self._reset_cause

    def unique_id(self):
        return self._mac

    def reset(self):
        self.world.exit(EXIT_RESET, "hard")

    def soft_reset(self):
        self.world.exit(EXIT_RESET, "soft")

    def freq(self, hz=None):
        return 240000000

    def idle(self):
        self.world.advance(1)

    def lightsleep(self, ms=0):
        self.world.advance(ms)

    def deepsleep(self, ms=0):
        self.world.advance(ms)
        self.world.exit(EXIT_RESET, "deep-sleep")
