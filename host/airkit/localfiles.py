"""Writing the user's station config on the desk, atomically, with a one-sentence error.

Why this exists: ``config set`` and ``calibrate push --config`` write the
user's station config back; a write goes to a temporary file that is renamed
into place (mode 0600: it may hold a WiFi password), so an interrupted write
never leaves half a config. Reading is ``airkit.files``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from airkit.errors import InputError


def write_json(path: str, obj, private: bool = True):
    """Write-then-rename; ``private``: mode 0600 (it may hold a WiFi password)."""
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    try:
        text = json.dumps(obj, indent=2, sort_keys=True) + "\n"
        # created owner-only from the start: the password is never in a world-readable file
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        if private:
            os.chmod(tmp, 0o600)         # a leftover .tmp from an older run kept its old mode
        os.replace(tmp, p)
    except OSError as e:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise InputError("cannot write %s (%s): check the folder exists and is writable" % (path, e.strerror))
