# The station's periodic update check (the app calls scheduled()): a small report to the collector of
# its airkit JSON uplink. Kept apart from ota.py so that a check loads only this; ota.py (download,
# verification, switch) is loaded only when the collector says an update is waiting.
try:
    import json
except ImportError:  # pragma: no cover
    import ujson as json


def report(board, collector, device, token, fields, cadata=None):
    """Tell the collector this station's update state; its answer ({"update": version or None, ...})."""
    from airkit_fw.uplinks import http

    status, _, body = http.request(board, "POST", collector + "/ota/v1/report/" + device,
                                   (("Authorization", "Bearer " + token), ("Content-Type", "application/json")),
                                   json.dumps(fields), cadata)
    if status == 404:
        return {"update": None}           # a collector that serves no releases
    if status != 200:
        raise OSError("the collector answered HTTP %d to the update report" % status)
    return json.loads(body)


def scheduled(board, station, crashes=None, log=print):
    """The app's periodic check: report to the collector of the airkit JSON uplink, install what it offers.

    Returns the installed version (the caller restarts to run it on trial) or None.
    Nothing here raises: a failed check is a log line and the station measures on.
    """
    import sys
    u = None
    for s in station.services:
        for x in getattr(s, "uplinks", None) or ():
            if getattr(x, "kind", "") == "airkit_json" and getattr(x, "_token", "") and "/api/" in x.url:
                u = x
                break
    if u is None:
        return None
    t = sys.modules.get("otaboot")          # main.py keeps it only while an update is on trial
    if t is not None:
        if t.on_trial():
            return None                     # one update at a time
        sys.modules.pop("otaboot")          # the trial ended (confirmed): free its RAM
        t = None
    try:
        fields = _status()
        fields["heap"] = board.mem_free()
        fields["crashes"] = crashes
        mp = "%d.%d.%d" % tuple(sys.implementation.version[:3])
        collector = u.url.split("/api/")[0]
        answer = report(board, collector, u.device, u._token, fields, u.cadata)
        if not answer.get("update"):
            return None
        from airkit_fw import ota                 # only now: an update is waiting
        v = ota.Updater(ota.http_getter(board, collector + answer["base"], u.cadata), None, mp,
                        log=log).install()
        if v:
            log("airkit: update %s installed; restarting to run it on trial" % v)
        return v
    except Exception as e:      # Refused (the status line), NetError/OSError (network, flash), MemoryError
        log("airkit: update check: %s" % (e,))
        return None


def _status():
    """The update state for the report, read from otaboot's state file without loading otaboot (RAM):
    version, result of the last update and why (a report, not a decision: no hash check needed)."""
    try:
        with open("ota/state.json") as f:
            f.readline()                    # otaboot's hash line
            st = json.load(f)
    except (OSError, ValueError):
        st = {}
    last = st.get("last") or {}
    return {"fw": st.get("version"), "ota": last.get("result") or "none", "trial_of": last.get("version"),
            "ota_why": last.get("why")}
