"""``airkit sim --portal``: open a virtual board's setup portal in your own browser.

The virtual board gets an access-point radio and its BOOT button held at start-up,
so the firmware opens the setup portal exactly as a real station does; its web
server (the station's port 80) listens on ``127.0.0.1:--web-port`` (default 8080).
A simulated home network is in range (``airkit-sim``, password ``airkit-sim-wifi``,
plus two neighbours) unless the scenario names one. While the portal is open the
board runs in real time; after you save, it restarts, joins the network and
measures at ``--speed`` (default 60: a 5-minute reading every 5 s) until Ctrl-C.
"""

from __future__ import annotations

import socket
import sys

from airkit.errors import InputError

DEFAULT_PORT = 8080
NEIGHBOURS = [["school-guest", -71], ["Café 咖啡", -83]]


def register_options(p):
    p.add_argument("--portal", action="store_true",
                   help="open the board's setup portal (WiFi, name, position, uplinks) in your browser at "
                        "http://127.0.0.1:PORT/ (see --web-port); runs until Ctrl-C")
    p.add_argument("--web-port", type=int, default=None, metavar="PORT",
                   help="loopback port for the board's web server (its port 80; default 8080 with --portal)")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def apply(args, extra: dict, scenario: dict, sim_ap: dict) -> None:
    """Fill the virtual board's options for --portal / --web-port (before it is made)."""
    port = args.web_port
    if port is not None and not 1024 <= port <= 65535:
        raise InputError("--web-port must be a port number from 1024 to 65535, not %d" % port)
    if port is None and args.portal:
        port = DEFAULT_PORT
    if port is not None:
        if not _free(port):
            raise InputError("port %d on this computer is in use: give another with --web-port" % port)
        extra["web_port"] = port
    if not args.portal:
        return
    extra["ap_radio"] = True
    extra["boot_button"] = True           # held at the first start-up: the portal opens whatever the config
    if extra.get("speed") is None:
        extra["speed"] = 60
    if args.hours == 24.0:                # the default: run until Ctrl-C
        args.hours = 0
    wifi = scenario.setdefault("wifi", {})
    if not wifi.get("ssid"):
        wifi.update(sim_ap)
    wifi.setdefault("neighbours", NEIGHBOURS)
    print("setup portal: open http://127.0.0.1:%d/ in your browser (a phone would join the WiFi the board "
          "opens, airkit-XXXX, and see the page by itself)." % port, file=sys.stderr)
    print("  the simulated network in range: %s, password %s; after you save, the station restarts, joins it "
          "and measures (its status page, if you ticked it, is at the same address). Ctrl-C ends."
          % (wifi["ssid"], wifi["password"] if wifi.get("password") == sim_ap["password"]
             else "as in your scenario (not shown)"), file=sys.stderr, flush=True)
