"""Reading and writing the user's files on the desk: JSON configs, atomically, with one-sentence errors.

Why this exists: deploy, config, provision and calibrate push all read the
user's station config and some write it back; each used to borrow a helper
from another command. Here a missing, unreadable, non-UTF-8 or broken JSON
file is one sentence (never a traceback), and a write goes to a temporary
file that is renamed into place, so an interrupted write never leaves half
a config.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from airkit.errors import InputError


def read_json(path: str, what: str = "config"):
    """The parsed JSON in ``path``; InputError (one sentence) for anything a user can get wrong."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError("%s file %s does not exist: check the path" % (what, path))
    except IsADirectoryError:
        raise InputError("%s file %s is a folder: give the path of a .json file" % (what, path))
    except OSError as e:
        raise InputError("cannot read %s file %s (%s): check the path and its permissions"
                         % (what, path, e.strerror))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError("%s file %s is not UTF-8 text (byte %d): save it as UTF-8 (or recreate it with "
                         "'airkit config init')" % (what, path, e.start))
    try:
        return json.loads(text)
    except ValueError as e:
        raise InputError("%s file %s is not valid JSON (line %d: %s): fix it and run again"
                         % (what, path, getattr(e, "lineno", 0), getattr(e, "msg", e)))


def write_json(path: str, obj, private: bool = True):
    """Write-then-rename; ``private``: mode 0600 (it may hold a WiFi password)."""
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    try:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
        if private:
            os.chmod(tmp, 0o600)
        os.replace(tmp, p)
    except OSError as e:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise InputError("cannot write %s (%s): check the folder exists and is writable" % (path, e.strerror))
