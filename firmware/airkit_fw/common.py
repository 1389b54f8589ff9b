"""What start-up and the running station both need, without either importing the other.

``app`` (the loop and the crash rule) imports ``services`` (start-up) only while
starting; ``services`` never imports ``app``: the ``Station`` class is handed to
it. Both read the file names, the config getter and the helpers here, so the
config schema (``config.py``) can be dropped after start-up and nothing running
imports it again (an uplink constructor reading ``config.get`` took back 12.5 KB
of the 12.7 KB its drop freed).

Secret masking lives here too (``config.masked`` uses it; the Sensor.Community
uplink shows its URL with it): a URL with credentials is never printed.
"""

SAFE_FILE = "SAFE"           # present on flash: stay in safe mode (airkit deploy --safe)
STATE_FILE = "state.json"    # counters kept across reboots

SECRET_KEYS = ("password", "token", "key", "secret", "api_key", "access_token")
_URL_SECRETS = ("p", "password", "pass", "pwd", "token", "key", "secret", "api_key", "access_token", "auth")


def get(cfg, path, default=None):
    """``cfg["a"]["b"]`` for path ``"a.b"``, or ``default`` when any part is missing."""
    node = cfg
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def describe(e):
    """An exception as ``Name message`` (no traceback)."""
    name = type(e).__name__
    return "%s %s" % (name, e) if str(e) else name


def forget(names):
    """Forget modules of ``airkit_fw`` (``"config"``, ``"uplinks.registry"``) only start-up needs (config schema, set-up of the
    services): on a board without PSRAM every KiB of heap counts. Only on MicroPython
    (returns True): the host tools keep them."""
    import sys
    if sys.implementation.name != "micropython":
        return False
    for name in names:
        sys.modules.pop("airkit_fw." + name, None)
        # the parent package keeps the module as an attribute too: drop that reference
        head, _, tail = ("airkit_fw." + name).rpartition(".")
        parent = sys.modules.get(head)
        if parent is not None:
            try:
                delattr(parent, tail)
            except Exception:      # not there (MicroPython raises KeyError)
                pass
    return True


def is_secret(path):
    last = path.rsplit(".", 1)[-1]
    for s in SECRET_KEYS:
        if last == s or last.endswith("_" + s):
            return True
    return False


def mask_url(url):
    """A URL with any credentials in it masked: ``user:***@host`` and secret query
    parameters (``p=``, ``token=``, ...) as ``***``. Anything else is returned as is."""
    if not isinstance(url, str) or "://" not in url:
        return url
    i = url.find("://") + 3
    j = len(url)
    for c in "/?#":
        k = url.find(c, i)
        if 0 <= k < j:
            j = k
    auth = url[i:j]
    at = auth.rfind("@")
    if at >= 0:
        user = auth[:at].split(":", 1)[0]
        url = url[:i] + user + (":***" if ":" in auth[:at] else "") + url[i + at:]
    q = url.find("?")
    if q < 0:
        return url
    params = url[q + 1:].split("&")
    for n in range(len(params)):
        kv = params[n].split("=", 1)
        if len(kv) == 2 and kv[1] and (kv[0].lower() in _URL_SECRETS or is_secret(kv[0].lower())):
            params[n] = kv[0] + "=***"
    return url[:q + 1] + "&".join(params)
