"""``airkit fleet``: per station its firmware version, update state (and why), last seen, free heap and
crashes, and the rollout, from a collector started with ``--releases`` (``GET /ota/v1/fleet``)."""

from __future__ import annotations

import json

from airkit.errors import NetworkError


def fleet(collector: str, timeout_s: float = 10) -> dict:
    import requests

    from airkit.trust import host_of

    url = collector.rstrip("/") + "/ota/v1/fleet"
    try:
        r = requests.get(url, timeout=timeout_s)
    except requests.exceptions.RequestException as e:
        raise NetworkError("cannot reach the collector %s (%s): is 'airkit collect --releases DIR' running?"
                           % (host_of(url), type(e).__name__))
    if r.status_code == 404:
        raise NetworkError("the collector %s serves no releases: start it with 'airkit collect --releases DIR'"
                           % host_of(url))
    if r.status_code != 200:
        raise NetworkError("the collector %s answered HTTP %d" % (host_of(url), r.status_code))
    return r.json()


def register(sub):
    p = sub.add_parser("fleet", help="the stations' firmware and update states (from the collector)",
                       description="Per station: firmware version, update state (none, downloading, trial, "
                                   "confirmed, rolled back and why), last seen, free heap, crashes; and the rollout.")
    p.add_argument("--collector", default="http://127.0.0.1:8000", help="the collector's URL")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    doc = fleet(args.collector)
    if args.json:
        print(json.dumps(doc))
        return 0
    pol = doc.get("rollout") or {}
    if pol:
        print("rollout of %s: %s%s" % (pol.get("release"), pol.get("stage"),
                                       (" (%s)" % pol["why"]) if pol.get("why") else ""))
    for dev, r in sorted(doc.get("stations", {}).items()):
        print("%-16s %-10s %-12s %s heap %s crashes %s%s" % (dev, r.get("fw") or "?", r.get("ota"), r.get("last_seen"),
                                                         r.get("heap"), r.get("crashes"),
                                                         ("  why: " + r["why"]) if r.get("why") else ""))
    return 0
