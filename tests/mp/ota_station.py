# One start of a station that updates from its collector (MicroPython unix port, cwd = the station's flash).
# Usage: micropython ota_station.py COLLECTOR_URL DEVICE TOKEN
# As main.py: the slot is chosen (otaboot), the firmware imported; a crash at import ends the start
# (on a board main.py waits and resets). Then, as the station's upload cycle would: a trial is
# confirmed (this stands in for "a reading taken and an upload acknowledged": the uplink hook is not
# wired yet), the update state is reported to the collector and an offered release installed.
import json
import sys

import otaboot

URL, DEV, TOKEN = sys.argv[1:4]
slot = otaboot.select()
print("SLOT", slot)
try:
    from airkit_fw import app  # noqa: F401  (the release's own modules)
except Exception as e:
    print("CRASH", e)
    raise SystemExit(0)
if otaboot.on_trial():
    otaboot.healthy()
    otaboot._state = None

from vworld import pms_rig  # noqa: E402
from airkit_fw import board as board_mod  # noqa: E402
from airkit_fw import ota  # noqa: E402

w, clock, uart, dev, m = pms_rig(None)
b = board_mod.Board(machine=m, network=None, dht=None, clock=clock, fs_root=".", name="test")
fields = otaboot.status()
fields["heap"] = b.mem_free()
try:
    print("INSTALLED", ota.check_and_install(b, URL, DEV, TOKEN, "1.28.0", fields, log=lambda s: None))
except ota.Refused as e:
    print("REFUSED", e)
print("STATE", json.dumps(otaboot.read_state()))
