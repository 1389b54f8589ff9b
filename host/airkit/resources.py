"""Where the toolkit finds what it ships: the board firmware and the board profiles.

Why this exists: a wheel installed outside the checkout must carry ``main.py``,
``manifest.py``, the ``airkit_fw`` package as it goes onto a board, and
``boards/*.json``. They are package data of ``airkit`` (``airkit/firmware``,
``airkit/boards``, see pyproject.toml) found through ``importlib.resources``;
in a source checkout (editable install) the repository's own folders are used.
Every module asks here instead of building paths relative to its own file.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

from airkit.errors import InputError


def _shipped(name: str) -> Path:
    data = files("airkit") / name
    if data.is_dir():                               # an installed wheel: package data
        return Path(str(data))
    checkout = Path(str(files("airkit"))).resolve().parents[1] / name   # host/airkit -> repository root
    return checkout


def from_checkout() -> bool:
    """True when running from a source checkout (editable install), False from an installed wheel."""
    return not (files("airkit") / "firmware").is_dir()


def firmware_dir() -> Path:
    """The firmware folder as it goes onto a board: ``main.py``, ``manifest.py``, ``airkit_fw/``."""
    return _shipped("firmware")


def boards_dir() -> Path:
    """The board profiles (``*.json``); ``AIRKIT_BOARDS_DIR`` points elsewhere (tests, custom boards)."""
    override = os.environ.get("AIRKIT_BOARDS_DIR")
    return Path(override) if override else _shipped("boards")


def board_names() -> list[str]:
    return sorted(p.stem for p in boards_dir().glob("*.json"))


def load_profile(name: str) -> dict:
    """A board profile by name (e.g. ``esp32-devkitc``); ``InputError`` naming the known ones."""
    from airkit.files import load_json_file

    known = board_names()
    if isinstance(name, str):          # 'ESP32-DevKitC' or 'esp32-devkitc.json' (tab completion in boards/)
        name = {n.lower(): n for n in known}.get(name.strip().lower().removesuffix(".json"), name)
    path = boards_dir() / ("%s.json" % name)
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or not path.is_file():
        import difflib

        near = difflib.get_close_matches(str(name).lower(), known, n=1, cutoff=0.6)
        raise InputError("unknown board '%s'%s: use one of %s" % (name, " (did you mean %s?)" % near[0] if near else "",
                                                                  ", ".join(known) or "(none found)"))
    profile = load_json_file(str(path), "board profile")
    if not isinstance(profile, dict) or not profile.get("chip"):
        raise InputError("board profile %s names no chip: fix it (copy the closest file in %s)" % (path, boards_dir()))
    return profile


def config_from_profile(profile: dict) -> dict:
    """The pin settings a board profile implies."""
    cfg: dict = {}
    pins = profile.get("pins", {})
    pms = pins.get("pms")
    if pms:
        cfg["pms"] = {"uart": pms["uart"], "tx": pms["tx"], "rx": pms["rx"], "set": pms.get("set")}
    if pins.get("dht"):
        cfg["dht"] = {"pin": pins["dht"]["pin"]}
    if pins.get("led"):
        cfg["led"] = {"pin": pins["led"]["pin"]}
    return cfg
