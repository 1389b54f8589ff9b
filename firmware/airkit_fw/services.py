"""Builds the station's services from its config: journal, WiFi, time, uplinks.

``attach(station)`` is called by the app at start-up. Order matters: the
journal comes first (every reading is on flash before anything else sees
it), then WiFi, then NTP, then the uplinks. At start-up one bounded attempt
is made to join the WiFi and set the clock (at most ``wifi.CONNECT_MS`` +
2 NTP timeouts, before the watchdog is armed) so the first reading usually
has its time; later attempts happen between readings.
"""

from airkit_fw import config
from airkit_fw.journal import Journal


def attach(station):
    b = station.board
    cfg = station.cfg
    j = Journal(b)
    station.services.append(j)
    station.journal = j
    wifi = None
    ssid = config.get(cfg, "wifi.ssid")
    if ssid and b.network() is not None:
        from airkit_fw.wifi import WiFi
        wifi = WiFi(b, ssid, config.get(cfg, "wifi.password") or "", j, hostname=station.station_id)
        station.services.append(wifi)
    from airkit_fw.timesync import TimeSync
    servers = config.get(cfg, "ntp.servers") or ["pool.ntp.org"]
    ts = None
    if wifi is not None:
        ts = TimeSync(b, wifi, j, tuple(servers))
        station.services.append(ts)
    ups = []
    for ucfg in config.get(cfg, "uplinks") or []:
        if ucfg.get("enabled", True) is False:
            continue
        from airkit_fw import uplinks as uplinks_mod
        ups.append(uplinks_mod.make(b, ucfg, station))
    if ups:
        from airkit_fw.uplinks.base import Uplinks
        station.services.append(Uplinks(b, j, ups, wifi))
    if wifi is not None and wifi.connect():
        ts.sync()
