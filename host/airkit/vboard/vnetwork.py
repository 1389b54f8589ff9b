"""Stand-in for the ESP32 ``network`` module: one access point, outages, a MAC.

The station connects only to the simulated AP (scenario ``wifi``: ``ssid``,
``password``; default: whatever the board's config asks for), takes a couple of
virtual seconds to associate, reports ``STAT_WRONG_PASSWORD`` /
``STAT_NO_AP_FOUND`` by name, loses the link during ``down`` windows, and
hangs at ``wedge_at`` hours until the board reboots (a stuck driver).
Traffic itself uses the unix port's real sockets (loopback servers in tests).
"""

from world import in_windows

STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010
STAT_NO_AP_FOUND = 201
STAT_WRONG_PASSWORD = 202
STAT_BEACON_TIMEOUT = 200
STAT_ASSOC_FAIL = 203
STAT_HANDSHAKE_TIMEOUT = 204
AUTH_OPEN = 0
AUTH_WPA2_PSK = 3

_world = None
_ap = {}
_mac = b"\x24\x0a\xc4\x00\x00\x01"
_sta = None


def attach(world, ap, mac):
    global _world, _ap, _mac
    _world = world
    _ap = ap or {}
    _mac = mac


def link_up():
    """True when the virtual WiFi is associated and not in an outage window."""
    return _sta is not None and _sta.isconnected()


class WLAN:
    IF_STA = 0
    IF_AP = 1
    PM_NONE = 0

    def __init__(self, interface=0):
        global _sta
        self._active = False
        self._status = STAT_IDLE
        self._ssid = None
        self._since = 0
        self._hostname = "airkit"
        if interface == 0:
            _sta = self

    def active(self, on=None):
        if on is None:
            return self._active
        self._active = bool(on)
        if not on:
            self._status = STAT_IDLE

    def _outage(self):
        return in_windows(_world.scenario.get("wifi", {}).get("down", []), _world.hour())

    def connect(self, ssid=None, key=None, **kw):
        if not self._active:
            raise OSError("WiFi Internal Error")
        self._ssid = ssid
        self._since = _world.now_ms
        if self._outage() or (_ap.get("ssid") is not None and ssid != _ap.get("ssid")):
            self._target = STAT_NO_AP_FOUND
        elif _ap.get("password") is not None and key != _ap.get("password"):
            self._target = STAT_WRONG_PASSWORD
        else:
            self._target = STAT_GOT_IP
        self._status = STAT_CONNECTING

    def disconnect(self):
        self._status = STAT_IDLE

    def _wedged(self):
        # The driver hangs at each scenario "wedge_at" hour and stays hung until the
        # chip restarts (only a reboot clears it): the AP stays visible in scans.
        for h in _world.scenario.get("wifi", {}).get("wedge_at", []):
            t = _world.start_ms + int(h * 3600000)
            if _world.boot_ms < t <= _world.now_ms:
                return True
        return False

    def status(self, param=None):
        if param == "rssi":
            return -61
        if self._wedged():
            return STAT_IDLE if self._status == STAT_IDLE else STAT_CONNECTING
        if self._status == STAT_CONNECTING and _world.now_ms - self._since >= 2500:
            self._status = self._target
        if self._status == STAT_GOT_IP and self._outage():
            self._status = STAT_BEACON_TIMEOUT
        return self._status

    def isconnected(self):
        return self.status() == STAT_GOT_IP

    def ifconfig(self, cfg=None):
        return ("10.0.0.23", "255.255.255.0", "10.0.0.1", "10.0.0.1")

    def ipconfig(self, *a, **kw):
        return None

    def scan(self):
        _world.advance(1500)
        if self._outage() or not _ap.get("ssid"):
            return []
        return [(_ap["ssid"].encode(), b"\x11\x22\x33\x44\x55\x66", 6, -58, AUTH_WPA2_PSK, False)]

    def config(self, *args, **kw):
        if args and args[0] == "mac":
            return _mac
        if args and args[0] == "hostname":
            return self._hostname
        if "hostname" in kw:
            self._hostname = kw["hostname"]
        return None


def socket_module():
    """Sockets for the firmware (board.socket_module()): fail while the WiFi is down."""
    import vsocket
    return vsocket


def select_module():
    """``select.poll`` for the firmware (board.select_module()): waits in virtual time."""
    import vselect
    return vselect
