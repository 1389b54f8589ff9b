"""Reading the user's files: one sentence for every way a file can be wrong.

Shared by every command that reads a JSON file the user wrote (configs,
scenarios), so each gives the same answer to the same mistake.
"""

from __future__ import annotations

import json
from pathlib import Path

from airkit.errors import InputError


def read_text_file(path: str, what: str) -> str:
    """The text of a UTF-8 file (a BOM is accepted), or ``InputError`` saying what is wrong with it."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError("%s file %s does not exist: check the path" % (what, path))
    except IsADirectoryError:
        raise InputError("%s is a folder, not a %s file: give the file's path" % (path, what))
    except OSError as e:
        raise InputError("cannot read %s file %s (%s)" % (what, path, e.strerror))
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError("%s file %s is not UTF-8 text (byte %d): save it as UTF-8 and run again"
                         % (what, path, e.start))


def load_json_file(path: str, what: str):
    """Parsed JSON from ``path``; ``InputError`` (one sentence, with the line) when it is not JSON."""
    text = read_text_file(path, what)
    if not text.strip():
        raise InputError("%s file %s is empty: it must hold a JSON object" % (what, path))
    try:
        return json.loads(text)
    except ValueError as e:
        raise InputError("%s file %s is not valid JSON (line %d: %s): fix it and run again"
                         % (what, path, e.lineno, e.msg))
    except RecursionError:
        raise InputError("%s file %s is nested too deeply to be a %s" % (what, path, what))


def data_dir():
    """The user's data folder for airkit (``AIRKIT_DATA_DIR``, else the platform's: XDG on Linux)."""
    import os
    import sys

    if os.environ.get("AIRKIT_DATA_DIR"):
        return Path(os.environ["AIRKIT_DATA_DIR"])
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / "airkit"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "airkit"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "airkit"
