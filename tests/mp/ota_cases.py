# Application OTA on the real MicroPython unix port: install, verify, switch, trial, rollback,
# and power cuts at every filesystem step of an update (and of the first starts after it).
# Usage: micropython ota_cases.py CASE WORKDIR KEY REL_V1 REL_V2 [REL_OTHER]
#   REL_*: release folders made by 'airkit release build' (the host test makes them).
# Each "start" of the station is a fresh otaboot.choose() as main.py does at boot.
import os
import sys

import mptest
import otaboot
from airkit_fw import ota

CASE, WORK, KEY = sys.argv[1], sys.argv[2], sys.argv[3]
RELS = sys.argv[4:]
sys.argv[1:] = [CASE]
ROOT = WORK + "/ota"
MP = "1.28.0"


class PowerCut(Exception):
    pass


class Cutter:
    """Counts filesystem changes made by otaboot and ota; the k-th one never happens (power cut)."""

    def __init__(self):
        self.n = 0
        self.at = -1

    def step(self):
        self.n += 1
        if self.n == self.at:
            raise PowerCut()


CUT = Cutter()
_real_open = open
_real_os = os


class CutFile:
    def __init__(self, f):
        self.f = f

    def write(self, b):
        CUT.step()
        return self.f.write(b)

    def read(self, *a):
        return self.f.read(*a)

    def close(self):
        self.f.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.f.close()       # what was written is on flash; a cut write is simply missing


def cut_open(path, mode="r"):
    if "w" in mode or "a" in mode:
        CUT.step()
        return CutFile(_real_open(path, mode))
    return _real_open(path, mode)


class CutOs:
    def __getattr__(self, name):
        return getattr(_real_os, name)

    def rename(self, a, b):
        CUT.step()
        _real_os.rename(a, b)

    def remove(self, p):
        CUT.step()
        _real_os.remove(p)

    def mkdir(self, p):
        CUT.step()
        _real_os.mkdir(p)

    def rmdir(self, p):
        CUT.step()
        _real_os.rmdir(p)


otaboot.open = cut_open
otaboot.os = CutOs()
ota.open = cut_open
ota.os = CutOs()


def getter(folder):
    def get(name):
        return _real_open(folder + "/" + name, "rb")
    return get


def rmtree(p):
    try:
        names = _real_os.listdir(p)
    except OSError:
        return
    for n in names:
        q = p + "/" + n
        try:
            _real_os.remove(q)
        except OSError:
            rmtree(q)
    _real_os.rmdir(p)


def copytree(a, b):
    _real_os.mkdir(b)
    for n in _real_os.listdir(a):
        s, d = a + "/" + n, b + "/" + n
        try:
            _real_os.listdir(s)
            copytree(s, d)
        except OSError:
            with _real_open(s, "rb") as f, _real_open(d, "wb") as g:
                g.write(f.read())


def sha(path):
    import hashlib
    h = hashlib.sha256()
    with _real_open(path, "rb") as f:
        while True:
            b = f.read(1024)
            if not b:
                break
            h.update(b)
    return "".join("%02x" % x for x in h.digest())


def boot():
    """A start: the slot main.py would run, and its version, checked file by file."""
    otaboot._state = None
    slot, st = otaboot.choose(ROOT)
    if slot is None:
        return None, "factory"
    import json
    base = ROOT + "/" + slot
    with _real_open(base + "/release.json", "rb") as f:
        m = json.loads(f.read())
    for e in m["files"]:
        p = e["path"][4:] if e["path"].startswith("lib/") else e["path"]
        if sha(base + "/" + p) != e["sha256"]:
            return slot, "BRICKED"
    return slot, m["version"]


def fresh():
    rmtree(WORK)
    _real_os.mkdir(WORK)


def install(rel, key=None):
    return ota.Updater(getter(rel), key or KEY, MP, root=ROOT, log=lambda m: None).install()


def v1_confirmed():
    fresh()
    install(RELS[0])
    boot()
    otaboot.healthy(ROOT)
    mptest.eq(boot()[1], "1.0.0", "v1 runs")


def version_of(rel):
    import json
    with _real_open(rel + "/release.json", "rb") as f:
        return json.loads(f.read())["version"]


def test_install_trial_confirm():
    fresh()
    mptest.raises(ota.Refused, lambda: ota.Updater(getter(RELS[0]), None, MP, root=ROOT).install())   # no key
    _real_os.mkdir(ROOT)
    with _real_open(ROOT + "/key", "w") as f:
        f.write(KEY + "\n")
    mptest.eq(ota.Updater(getter(RELS[0]), None, MP, root=ROOT, log=lambda m: None).install(), "1.0.0")
    v1_confirmed()
    mptest.eq(otaboot.read_state(ROOT)["last"]["result"], "confirmed")
    mptest.eq(install(RELS[1]), "2.0.0")
    slot, v = boot()
    mptest.eq(v, "2.0.0")
    mptest.eq(otaboot.read_state(ROOT)["trial"]["boots"], 1)
    otaboot.healthy(ROOT)
    st = otaboot.read_state(ROOT)
    mptest.eq((st["version"], st["last"]["result"], "trial" in st), ("2.0.0", "confirmed", False))
    mptest.eq(boot()[1], "2.0.0")
    mptest.eq(install(RELS[1]), None)          # the running version again: nothing to do


def test_crash_at_every_start_rolls_back():
    v1_confirmed()
    install(RELS[1])
    seen = [boot()[1] for _ in range(otaboot.TRIAL_BOOTS + 1)]
    mptest.eq(seen, ["2.0.0"] * otaboot.TRIAL_BOOTS + ["1.0.0"])
    st = otaboot.read_state(ROOT)
    mptest.eq(st["last"]["result"], "rolled back")
    assert "started 3 times" in st["last"]["why"], st
    mptest.eq(boot()[1], "1.0.0")


def test_no_upload_within_the_budget_rolls_back():
    v1_confirmed()
    install(RELS[1])
    mptest.eq(boot()[1], "2.0.0")
    otaboot._state = None
    mptest.eq(otaboot.check(otaboot.TRIAL_MS - 1, ROOT), False)
    mptest.eq(otaboot.check(otaboot.TRIAL_MS, ROOT), True)
    mptest.eq(boot()[1], "1.0.0")
    assert "no upload was acknowledged" in otaboot.read_state(ROOT)["last"]["why"]


def refused(rel, key=None, needle=""):
    before = otaboot.read_state(ROOT)
    e = mptest.raises(ota.Refused, install, rel, key)
    assert needle in str(e), str(e)
    mptest.eq(otaboot.read_state(ROOT), before, "state unchanged")
    mptest.eq(boot()[1], "1.0.0")


def test_wrong_key_truncated_and_newer_micropython_are_refused():
    v1_confirmed()
    other_key = RELS[2]          # a public key of another fleet (hex)
    refused(RELS[1], other_key, "not signed by this station's release key")
    refused(RELS[3], None, "does not match")                 # a file changed after signing
    refused(RELS[4], None, "bytes, the manifest says")       # a file cut short
    refused(RELS[5], None, "needs MicroPython 9.0.0")


def test_power_cut_at_every_step():
    """Cut at every filesystem change of: install v2, first start, second start, confirm."""
    v1_confirmed()
    base = WORK + ".base"
    rmtree(base)
    copytree(WORK, base)

    def scenario():
        install(RELS[1])
        boot()
        boot()
        otaboot.healthy(ROOT)

    CUT.n, CUT.at = 0, -1
    scenario()
    total = CUT.n
    bricked, old, new, tried = 0, 0, 0, 0
    stride = int(os.getenv("OTA_CUT_STRIDE") or "1")     # the test suite samples the download; the bench does all
    for k in range(1, total + 1):
        if stride > 1 and k < total - 40 and k % stride:
            continue
        tried += 1
        rmtree(WORK)
        copytree(base, WORK)
        CUT.n, CUT.at = 0, k
        try:
            scenario()
        except PowerCut:
            pass
        CUT.at = -1
        slot, v = boot()
        if v == "1.0.0":
            old += 1
        elif v == "2.0.0":
            new += 1
        else:
            bricked += 1
        # and the station recovers: the update is fetched again and confirmed
        st = otaboot.read_state(ROOT)
        if not st.get("trial") and st.get("version") != "2.0.0":
            install(RELS[1])
            boot()
        otaboot.healthy(ROOT)
        if boot()[1] != "2.0.0":
            bricked += 1
    print("CUTS %d OLD %d NEW %d BRICKED %d OF %d" % (tried, old, new, bricked, total))
    mptest.eq(bricked, 0, "bricked")


mptest.main(globals())
