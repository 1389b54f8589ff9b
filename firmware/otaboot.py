# Which firmware a station boots, and the trial of a new one (application OTA).
#
# Updates never touch /lib (what 'airkit deploy' put there, the factory copy): a
# release goes into a slot folder, ota/a or ota/b, and this module puts the chosen
# slot in front of sys.path before airkit_fw is imported. It lives outside
# airkit_fw so that a release cannot replace it.
#
# The state file says which slot runs and whether it is on trial. It is written
# to a temporary file and renamed; the previous one is kept as state.bak. Each
# copy carries its own SHA-256, so a torn write is detected and the other copy
# (or, failing both, the factory /lib) is booted: old or new, never neither.
#
# A slot on trial gets TRIAL_BOOTS starts to become healthy (a reading taken and
# an upload acknowledged: healthy() is called); it is rolled back when it starts
# more often than that (crashes, resets) or when a trial runs longer than
# TRIAL_MS without becoming healthy (check()).
import os
import sys

try:
    import hashlib
except ImportError:  # pragma: no cover
    import uhashlib as hashlib
try:
    import json
except ImportError:  # pragma: no cover
    import ujson as json

ROOT = "ota"
TRIAL_BOOTS = 3
TRIAL_MS = 15 * 60 * 1000
_state = None


def _digest(b):
    return "".join("%02x" % x for x in hashlib.sha256(b).digest()[:8])


def _path(name, root=None):
    return (root or ROOT) + "/" + name


def _read(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    nl = data.find(b"\n")
    if nl != 16 or _digest(data[17:]) != data[:16].decode():
        return None
    try:
        st = json.loads(data[17:])
    except ValueError:
        return None
    return st if isinstance(st, dict) else None


def read_state(root=None):
    """The newest intact state ({} when none): state.json, else state.bak."""
    return _read(_path("state.json", root)) or _read(_path("state.bak", root)) or {}


def save_state(st, root=None):
    """Write ``st`` so that a power cut at any point leaves the old or the new state readable."""
    global _state
    body = json.dumps(st).encode()
    tmp = _path("state.tmp", root)
    with open(tmp, "wb") as f:
        f.write(_digest(body).encode())
        f.write(b"\n")
        f.write(body)
    cur = _path("state.json", root)
    if _read(cur) is not None:
        try:
            os.remove(_path("state.bak", root))
        except OSError:
            pass
        os.rename(cur, _path("state.bak", root))
    os.rename(tmp, cur)
    _state = st


def slot_ok(slot, root=None):
    """A slot is bootable when its release.json is there (written last, after every file was verified)."""
    try:
        os.stat(_path(slot + "/release.json", root))
        return True
    except OSError:
        return False


def choose(root=None):
    """At boot: the slot to run (None: the factory /lib), counting a start of a slot on trial.

    Returns (slot, state). A trial slot started more than TRIAL_BOOTS times without
    becoming healthy is rolled back here, before it runs again.
    """
    st = read_state(root)
    trial = st.get("trial")
    if trial:
        trial["boots"] = trial.get("boots", 0) + 1
        if trial["boots"] > TRIAL_BOOTS or not slot_ok(st.get("current"), root):
            why = ("it started %d times without a healthy upload (crashed or reset)" % (trial["boots"] - 1)
                   if slot_ok(st.get("current"), root) else "its files are missing")
            st = rolled_back(st, why)
        save_state(st, root)
    slot = st.get("current")
    if slot and not slot_ok(slot, root):
        slot = st.get("previous") if st.get("previous") and slot_ok(st.get("previous"), root) else None
    return slot, st


def rolled_back(st, why):
    trial = st.get("trial") or {}
    prev = trial.get("previous")
    return {"current": prev, "previous": None, "version": trial.get("previous_version"),
            "last": {"version": trial.get("version"), "result": "rolled back", "why": why}}


_selected = None


def select(root=None):
    """Call first thing in main.py: put the chosen slot in front of sys.path (once per start)."""
    global _state, _selected
    if _selected is not None:
        return _selected or None
    slot, _state = choose(root)
    _selected = slot or ""
    if slot:
        sys.path.insert(0, _path(slot, root))     # relative: the board's cwd is its filesystem root
    return slot


def state():
    global _state
    if _state is None:
        _state = read_state()
    return _state


def on_trial():
    return bool(state().get("trial"))


def healthy(root=None):
    """The station took a reading and an upload was acknowledged: a trial ends, confirmed."""
    st = state() if root is None else read_state(root)
    trial = st.get("trial")
    if not trial:
        return False
    st = {"current": st.get("current"), "previous": trial.get("previous"), "version": trial.get("version"),
          "last": {"version": trial.get("version"), "result": "confirmed"}}
    save_state(st, root)
    return True


def check(uptime_ms, root=None):
    """During a trial: True when the budget is spent (rolled back; the caller resets the board)."""
    st = state() if root is None else read_state(root)
    trial = st.get("trial")
    if not trial or uptime_ms + trial.get("ms", 0) < TRIAL_MS:
        return False
    save_state(rolled_back(st, "no upload was acknowledged within %d min" % (TRIAL_MS // 60000)), root)
    return True


def status():
    """For the uploads the station already makes: version, update state and why."""
    st = state()
    out = {"fw": st.get("version"), "ota": "none"}
    if st.get("trial"):
        out["ota"], out["fw"], out["trial_of"] = "trial", st["trial"].get("version"), st["trial"].get("version")
    elif st.get("last"):
        out["ota"] = st["last"].get("result")
        out["trial_of"] = st["last"].get("version")
        if st["last"].get("why"):
            out["ota_why"] = st["last"]["why"]
    return out
