# The delivery loop's overlap under MicroPython: the real firmware (journal on a littlefs2
# image, the Sensor.Community uplink, the HTTP client, select.poll) on the virtual board's
# stand-ins (virtual clock and WiFi, the unix port's real sockets to a loopback server).
#
#   micropython overlap_cases.py PORT N IMAGE [cut]
#
# Journals N readings, delivers them to http://127.0.0.1:PORT (the test's fault proxy in
# front of the Sensor.Community stand-in) and prints one line ``result {json}``. With
# ``cut`` the power is cut right after the first cursor save that holds a gap (the
# station stops there, sockets and all); a second boot on the same flash then delivers
# the rest. The CPython side (tests/test_uplink_overlap.py) checks what the server stored.
import json
import sys
import vfs

import blockdev
import vclock
import vmachine
import vnetwork
import vworld
from airkit_fw import board as board_mod
from airkit_fw import journal as jmod
from airkit_fw.uplinks import registry as uplinks
from airkit_fw.uplinks import base

MAC = b"\x24\x0a\xc4\x12\x34\x56"
T0 = 1767571200
MNT = "/oflash"


class PowerCut(BaseException):
    pass


class Station:
    station_id = "station-1"


def boot(img, w):
    try:
        vfs.umount(MNT)
    except OSError:
        pass
    dev = blockdev.FileBlockDev(img)
    if dev.fresh:
        vfs.VfsLfs2.mkfs(dev)
    vfs.mount(vfs.VfsLfs2(dev), MNT)
    clock = vclock.VirtualClock(w)
    m = vmachine.Machine(w, clock, {}, "power-on", MAC)
    vnetwork.attach(w, {"ssid": "lab", "password": "lab-pass"}, MAC)
    b = board_mod.Board(machine=m, network=vnetwork, clock=clock, fs_root=MNT, name="test")
    wlan = b.wlan()
    wlan.active(True)
    wlan.connect("lab", "lab-pass")
    b.sleep_ms(3000)
    assert wlan.isconnected()
    return b


def reading(i):
    d = {"ticks": 1000 * i, "flags": [], "frames": 9, "checksum_errors": 0, "rh": 40.0 + i % 10,
         "temp_c": 10.0 + i % 7, "pm25_corrected": None}
    for k, key in enumerate(jmod.KEYS):
        d[key] = (i * 13 + k * 7) % 300
    return d


def station(b, port, log):
    j = jmod.Journal(b, log=log)
    u = uplinks.make(b, {"type": "sensor_community", "url": "http://127.0.0.1:%d/v1/push-sensor-data/" % port},
                     Station())
    q = base.Uplinks(b, j, [u], log=log)
    return j, u, q


def deliver(b, q):
    t0 = b.ticks_ms()
    q.poll(b.ticks_add(t0, 600000))
    return b.ticks_diff(b.ticks_ms(), t0)


def main():
    port, n, img = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    cut = len(sys.argv) > 4 and sys.argv[4] == "cut"
    w = vworld.world()
    # network waits in real time: the simulator's default shortens a wait that ends empty
    # (a 5 s timeout waits 1 s of wall time), which would cut off a 2.5 s late answer
    w.opts["net_time_scale"] = 1.0
    b = boot(img, w)
    logs = []
    j, u, q = station(b, port, logs.append)
    for i in range(1, n + 1):
        j.append(reading(i), T0 + 300 * i, 1000 * i)
    j.flush()
    out = {"boots": 1}
    if cut:
        save = q._save_cursor

        def save_then_cut(up):
            save(up)
            if up.gaps:
                with open(q._cursor_path(up)) as f:
                    out["cursor_at_cut"] = f.read()
                raise PowerCut()
        q._save_cursor = save_then_cut
        try:
            deliver(b, q)
        except PowerCut:
            pass
        # the board is off: nothing of this boot survives but the flash
        out["gaps_at_cut"] = [[g.seq, g.bit] for g in u.gaps]
        b = boot(img, w)
        j, u, q = station(b, port, logs.append)
        out["gaps_loaded"] = [[g.seq, g.bit] for g in u.gaps]
        out["boots"] = 2
    out["ms"] = deliver(b, q)
    st = q.status()
    out["pending"] = st["pending"]["sensor_community"]
    out["delivered"] = st["delivered"].get("sensor_community", 0)
    out["gaps"] = [[g.seq, g.bit] for g in u.gaps]
    out["cursor"] = [u.cur, u.parts]
    out["log"] = logs
    with open(q._cursor_path(u)) as f:
        out["cursor_file"] = f.read()
    print("result " + json.dumps(out))


main()
