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
_softap = None      # the board's own access point (setup portal), when active
_paced = None       # the world's speed before the access point came up


def ap_up():
    """True while the board's own access point (IF_AP) is active."""
    return _softap is not None and _softap._active


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
        global _sta, _softap
        self._if = interface
        self._essid = None
        self._active = False
        self._status = STAT_IDLE
        self._ssid = None
        self._since = 0
        self._hostname = "airkit"
        if interface == 0:
            _sta = self
        else:
            _softap = self

    def active(self, on=None):
        global _paced
        if on is None:
            return self._active
        if self._if == 1 and bool(on) != self._active:
            # The setup portal: a person is using it, so while the access point is up time
            # runs at real speed ("ap_speed" in sim.json, default 1); a board without the "ap_radio" option has no AP (as a
            # chip whose AP cannot start: the firmware must carry on measuring).
            if on and not _world.opts.get("ap_radio"):
                raise OSError("AP start failed (virtual board without ap_radio)")
            if on:
                _paced = _world.speed
                _world.speed = _world.opts.get("ap_speed", 1)
            else:
                _world.speed = _paced or 0
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
        if self._if == 1:
            return ("192.168.4.1", "255.255.255.0", "192.168.4.1", "192.168.4.1")
        return ("10.0.0.23", "255.255.255.0", "10.0.0.1", "10.0.0.1")

    def ipconfig(self, *a, **kw):
        return None

    def scan(self):
        _world.advance(1500)
        if self._outage():
            return []
        out = []
        if _ap.get("ssid"):
            out.append((_ap["ssid"].encode(), b"\x11\x22\x33\x44\x55\x66", 6, -58, AUTH_WPA2_PSK, False))
        for n in _ap.get("neighbours", ()):      # other networks in range: [ssid, rssi]
            out.append((n[0].encode(), b"\x11\x22\x33\x44\x55\x67", 11, n[1], AUTH_WPA2_PSK, False))
        return out

    def config(self, *args, **kw):
        if args and args[0] == "mac":
            return _mac
        if args and args[0] == "hostname":
            return self._hostname
        if args and args[0] == "essid":
            return self._essid
        if "hostname" in kw:
            self._hostname = kw["hostname"]
        if "essid" in kw or "ssid" in kw:
            self._essid = kw.get("essid", kw.get("ssid"))
            print("virtual board: access point %s is up" % self._essid)
        return None


def socket_module():
    """Sockets for the firmware (board.socket_module()): fail while the WiFi is down."""
    import vsocket
    return vsocket


def select_module():
    """``select.poll`` for the firmware (board.select_module()): waits in virtual time."""
    import vselect
    return vselect
