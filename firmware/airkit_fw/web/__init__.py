"""The station's web pages: the setup portal and the local status page.

Only the decision lives here (small, loaded at every boot and then dropped):
- ``portal_if_wanted(board)``: at start-up, open the setup portal (``portal.py``,
  run *instead of* the measuring loop) when no WiFi is configured (no config,
  or an empty ``wifi.ssid``), when the BOOT button (GPIO0) is held while the
  station starts, or when the station asked for it after WiFi failed for
  ``web.portal_after_s`` (the ``PORTAL`` file). The portal ends in a reset.
- ``attach(station, cfg, wifi)``: in station mode, the status page
  (``web.status``) and the WiFi watch behind ``web.portal_after_s``.
"""


PORTAL_FILE = "PORTAL"        # the next boot opens the portal (written by the WiFi watch)
SKIP_FILE = "NOPORTAL"        # the portal just closed unused: measure this boot


def _take(board, name):
    import os
    try:
        os.remove(board.path(name))
        return True
    except OSError:
        return False


def _boot_held(board):
    m = board.machine
    try:
        return m.Pin(0, m.Pin.IN, m.Pin.PULL_UP).value() == 0
    except Exception:
        return False


def _no_wifi(board):
    import json
    try:
        with open(board.path("config.json")) as f:
            cfg = json.loads(f.read())
        return not (cfg.get("wifi") or {}).get("ssid")
    except Exception:        # missing, unreadable, not JSON, not an object: nothing configured
        return True


def why_portal(board):
    """Why the portal should open now ('' when it should not)."""
    if board.network() is None:
        return ""
    if _take(board, PORTAL_FILE):
        return "wifi failed"
    if _boot_held(board):
        return "boot button"
    if _no_wifi(board):
        return "" if _take(board, SKIP_FILE) else "no wifi"
    return ""


def portal_if_wanted(board=None):
    """Run the setup portal when wanted (it resets the board when done). Returns when
    it is not wanted or cannot start (the station then measures as usual), having
    forgotten the portal's modules (this one included) to give the station its heap."""
    if board is None:
        from airkit_fw import board as board_mod
        board = board_mod.current()
    why = why_portal(board)
    if why:
        try:
            from airkit_fw.web import portal
            portal.run(board, why)
        except Exception as e:          # no AP, no memory: never a dead station
            print("airkit: the setup portal could not start (%r); measuring instead" % (e,))
    from airkit_fw.common import forget
    forget(("web.portal", "web.page", "web.server", "config", "uplinks.fmt", "uplinks", "pms5003", "web"))
    import gc
    gc.collect()


def attach(station, cfg_get, wifi):
    """Station mode: the status page and the WiFi watch, when configured."""
    b = station.board
    after = cfg_get("web.portal_after_s") or 0
    if after and wifi is not None:
        station.services.append(WifiWatch(station, wifi, after * 1000))
    if cfg_get("web.status"):
        from airkit_fw.web.status import StatusPage
        station.services.append(StatusPage(b, station, wifi, cfg_get("web.password") or ""))


class WifiWatch:
    """After WiFi has failed for ``limit_ms`` (counted across the wrap of ticks),
    restart into the setup portal (readings stay in the journal)."""

    def __init__(self, station, wifi, limit_ms):
        self.station = station
        self.board = board = station.board
        self.wifi = wifi
        self.limit_ms = limit_ms
        self.down_ms = 0
        self.at = board.ticks_ms()

    def on_reading(self, d):
        pass

    def poll(self, deadline):
        b = self.board
        now = b.ticks_ms()
        step = b.ticks_diff(now, self.at)
        self.at = now
        if self.wifi.isconnected():
            self.down_ms = 0
            return
        self.down_ms += step
        if self.down_ms >= self.limit_ms:
            print("airkit: WiFi has failed for %d s: restarting into the setup portal" % (self.down_ms // 1000))
            with open(b.path(PORTAL_FILE), "w") as f:
                f.write("1")
            st = self.station                  # readings and counters stay on flash, as before a crash reset
            j = getattr(st, "journal", None)
            if j is not None:
                j.flush()
                j.save_meta()
            st.save_state()
            b.reset()
