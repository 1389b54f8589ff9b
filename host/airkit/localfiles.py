"""Writing the user's station config on the desk (``config set``, ``calibrate push --config``).

The write itself is ``airkit.outfile`` (the one safe way every command writes):
a symbolic link is followed (the shared file it points to is updated), a file
the user made read-only is refused unless ``force``, and the temporary file is
created owner-only (mode 0600: it may hold a WiFi password). Reading is ``airkit.files``.
"""

from __future__ import annotations

import json

from airkit import outfile


def write_json(path: str, obj, private: bool = True, force: bool = False, what: str = "config"):
    """Write ``obj`` as JSON over ``path`` (which may exist); ``private``: mode 0600."""
    dest = outfile.check_file(path, edit=True, force=force, private=private, what=what)
    dest.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
    return dest.path
