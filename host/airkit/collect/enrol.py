"""Enrol stations with a collector while they are provisioned: one secret per station, end to end.

``airkit provision class.csv --collect-db airkit-collect.sqlite`` gives every station whose
uplinks point at the collector (``airkit_json``; ``sensor_community`` with a ``url`` that is not
Sensor.Community's own server) a random token, writes it into those uplinks of the station's
config, registers the station (``add-device``) and its Sensor.Community node id (from the MAC
the provisioning read off the board, linked with ``--station`` so its pushes carry the same
token) in the collector's database. The tokens are kept in ``<class>.tokens.json`` beside the
class list (owner-only, never printed or put in a report), so running provision again keeps
them. A token given in the class list (``airkit_json.token``) is used as the station's token.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from airkit.errors import InputError

SC_HOSTS = ("sensor.community", "luftdaten.info")


def to_collector(u: dict) -> bool:
    """Does this uplink write to an airkit collector (so it needs the station's token)?"""
    t = u.get("type")
    if t == "airkit_json":
        return True
    if t == "sensor_community":
        from urllib.parse import urlsplit

        host = (urlsplit(u.get("url") or "").hostname or "").lower()
        return bool(host) and not any(host == h or host.endswith("." + h) for h in SC_HOSTS)
    return False


def load_tokens(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise InputError("cannot read the station tokens %s (%s): restore it from a backup or delete it (new "
                         "tokens will then be made and deployed)" % (path, getattr(e, "strerror", None) or e))
    return data if isinstance(data, dict) else {}


def save_tokens(path: Path, tokens: dict):
    tmp = path.with_name(path.name + ".part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(tokens, f, indent=1, sort_keys=True)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def enrol(store, device_id: str, config: dict, mac: str | None, tokens: dict) -> bool:
    """Put the station's token into its collector uplinks and register it (and its node) with
    ``store``; ``tokens`` (device id -> token) is updated. False when no uplink goes to the collector."""
    ups = [u for u in config.get("uplinks") or [] if isinstance(u, dict) and to_collector(u)]
    if not ups:
        return False
    given = next((u["token"] for u in ups if u.get("type") == "airkit_json" and u.get("token")), None)
    token = given or tokens.get(device_id) or secrets.token_urlsafe(24)
    tokens[device_id] = token
    for u in ups:
        if not u.get("token"):
            u["token"] = token
    store.add_device(device_id, "json", token)
    if mac and any(u["type"] == "sensor_community" for u in ups):
        from airkit_fw.uplinks.sensor_community import chip_id

        node = "esp32-" + chip_id(bytes(int(x, 16) for x in mac.split(":")))
        own = next(u["token"] for u in ups if u["type"] == "sensor_community")
        store.add_device(node, "sc", own if own != token else None, station=device_id)
    return True
