"""The collector as the fleet's update server: signed releases, a canary rollout, the fleet's update states.

``airkit collect --releases DIR`` serves the release folders that ``airkit release build`` wrote into
DIR (``/ota/v1/releases/<version>/<path>``, read-only; the station checks the signature and every
hash, so the files need no secrecy) and answers each station's report
(``POST /ota/v1/report/<device>``, with the device's Bearer token as for uploads) with the update it
should install now. The rollout policy is ``DIR/rollout.json`` (``airkit release rollout``): a
release, a canary group, a stage. Canaries get the release first; when every canary reports it
confirmed, every station gets it; when a canary reports it rolled back, the rollout is paused and
says why. What stations report (version, update state and why, free heap, crashes, last seen) is
kept in ``DIR/fleet.json`` and shown by ``GET /ota/v1/fleet`` and ``airkit fleet``.
"""

from __future__ import annotations

import hmac
import json
import os
import tempfile
import threading
import time
from pathlib import Path

from airkit.errors import InputError

STATES = ("none", "downloading", "trial", "confirmed", "rolled back")


def _write_json(path: Path, doc):
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _read_json(path: Path, default):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return default


def set_rollout(folder: Path, version: str, canary: list[str]) -> dict:
    """Start a rollout of ``version`` (a release folder in ``folder``) to ``canary`` first."""
    from airkit.trust import child

    folder = Path(folder)
    rel = child(folder, version, "the release version")
    if not (rel / "release.json").is_file():
        raise InputError("%s holds no release %s: build it with 'airkit release build --out %s --version %s'"
                         % (folder, version, folder, version))
    doc = {"release": version, "canary": sorted(set(canary)), "stage": "canary" if canary else "all",
           "why": None, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    _write_json(folder / "rollout.json", doc)
    return doc


class Rollout:
    """Decisions and fleet records, one lock: reports arrive from many stations at once."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.lock = threading.Lock()

    def policy(self) -> dict:
        return _read_json(self.folder / "rollout.json", {})

    def fleet(self) -> dict:
        return _read_json(self.folder / "fleet.json", {})

    def report(self, device: str, fields: dict) -> dict:
        """Record a station's report; returns the answer: {"update": version or None, "why": ...}."""
        rec = {"fw": _text(fields.get("fw")), "ota": fields.get("ota") if fields.get("ota") in STATES else "none",
               "why": _text(fields.get("ota_why"), 200), "heap": _int(fields.get("heap")),
               "crashes": _int(fields.get("crashes")), "trial_of": _text(fields.get("trial_of")),
               "last_seen": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        with self.lock:
            fleet = self.fleet()
            fleet[device] = rec
            _write_json(self.folder / "fleet.json", fleet)
            pol = self.policy()
            if not pol:
                return {"update": None, "why": "no rollout"}
            changed = self._advance(pol, fleet)
            if changed:
                _write_json(self.folder / "rollout.json", pol)
        return self._offer(pol, device, rec)

    @staticmethod
    def _advance(pol, fleet) -> bool:
        if pol.get("stage") != "canary":
            return False
        v = pol["release"]
        for c in pol.get("canary", []):
            r = fleet.get(c) or {}
            if r.get("ota") == "rolled back" and r.get("trial_of") == v:
                pol["stage"] = "paused"
                pol["why"] = "canary %s rolled %s back: %s" % (c, v, r.get("why") or "no reason given")
                return True
        if all((fleet.get(c) or {}).get("fw") == v and (fleet.get(c) or {}).get("ota") == "confirmed"
               for c in pol.get("canary", [])):
            pol["stage"] = "all"
            return True
        return False

    @staticmethod
    def _offer(pol, device, rec) -> dict:
        v = pol.get("release")
        if rec.get("fw") == v:
            return {"update": None, "why": "up to date"}
        if pol.get("stage") == "paused":
            return {"update": None, "why": "rollout paused: %s" % pol.get("why")}
        if pol.get("stage") == "canary" and device not in pol.get("canary", []):
            return {"update": None, "why": "waiting for the canaries"}
        if rec.get("ota") == "rolled back" and rec.get("trial_of") == v:
            return {"update": None, "why": "this station rolled %s back" % v}
        return {"update": v, "base": "/ota/v1/releases/%s/" % v}


def _text(v, n=40):
    return v[:n] if isinstance(v, str) else None


def _int(v):
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def routes(coll) -> list:
    """The OTA routes when the collector was started with --releases DIR (else none)."""
    # taken out of the settings: those are published (/api/v1/config), a folder path of the server is not
    folder = (getattr(coll, "settings", None) or {}).pop("releases", None)
    if not folder:
        return []
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import FileResponse, JSONResponse
    from starlette.routing import Route

    from airkit.collect.ingest import token_hash
    from airkit.trust import child, plain_relpath

    ro = Rollout(Path(folder))

    async def release_file(request):
        version, path = request.path_params["version"], request.path_params["path"]
        try:
            rel = child(ro.folder, version, "the release version")
            f = rel / plain_relpath(path, "the release file")
        except InputError:
            return JSONResponse({"detail": "Not found."}, status_code=404)
        if not f.is_file():
            return JSONResponse({"detail": "Not found."}, status_code=404)
        return FileResponse(f, media_type="application/octet-stream")

    async def report(request):
        device = request.path_params["device"]
        dev = await run_in_threadpool(coll.store.device, device)
        auth = request.headers.get("authorization") or ""
        token = auth[7:] if auth.startswith("Bearer ") else ""
        if dev is None or not dev[2] or not token or not hmac.compare_digest(token_hash(token), dev[2]):
            return JSONResponse({"detail": "missing or wrong device token"}, status_code=401)
        body = await request.body()
        if len(body) > 4096:
            return JSONResponse({"detail": "report too large"}, status_code=413)
        try:
            fields = json.loads(body or b"{}")
        except ValueError:
            fields = None
        if not isinstance(fields, dict):
            return JSONResponse({"detail": "expected a JSON object"}, status_code=400)
        return JSONResponse(await run_in_threadpool(ro.report, device, fields))

    async def fleet(request):
        return JSONResponse({"rollout": ro.policy(), "stations": ro.fleet()})

    return [Route("/ota/v1/releases/{version}/{path:path}", release_file, methods=["GET"]),
            Route("/ota/v1/report/{device}", report, methods=["POST"]),
            Route("/ota/v1/fleet", fleet, methods=["GET"])]
