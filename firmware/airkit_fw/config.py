"""The station's one JSON config: schema, defaults, validation, safe loading.

Why this exists: a bad config must never brick a board or loop it through
reboots. ``load()`` returns the merged config plus one clear line per problem;
the app enters safe mode when there are problems. The host (``airkit config``)
imports this same schema, so board and desk agree on every key.

Secrets (``wifi.password``, uplink tokens and keys) are never printed:
``masked()`` replaces them before anything is shown.
"""

import json

CONFIG_FILE = "config.json"

# key path -> (type, default). Types: int, float, str, bool, list, dict.
# What each key means is in config_doc.py (read by the host tools, never loaded on the board).
SCHEMA = {
    "device.id": ("str", ""),
    "device.name": ("str", ""),
    "wifi.ssid": ("str", ""),
    "wifi.password": ("str", ""),
    "location.lat": ("float", None),
    "location.lon": ("float", None),
    "location.alt": ("float", None),
    "interval_s": ("int", 300),
    "pms.enabled": ("bool", True),
    "pms.uart": ("int", 2),
    "pms.tx": ("int", 17),
    "pms.rx": ("int", 16),
    "pms.set": ("int", None),
    "pms.mode": ("str", "cycle"),
    "pms.warmup_s": ("int", 30),
    "pms.reads": ("int", 9),
    "pms.read_gap_ms": ("int", 1000),
    "pms_b.enabled": ("bool", False),
    "pms_b.uart": ("int", 1),
    "pms_b.tx": ("int", 26),
    "pms_b.rx": ("int", 25),
    "pms_b.set": ("int", None),
    "dht.enabled": ("bool", True),
    "dht.pin": ("int", 15),
    "led.pin": ("int", None),
    "watchdog_s": ("int", 60),
    "uplinks": ("list", []),
    "ntp.servers": ("list", ["pool.ntp.org"]),
    "correction": ("dict", None),
    "web.status": ("bool", False),
    "web.password": ("str", ""),
    "web.portal_idle_s": ("int", 600),
    "web.portal_after_s": ("int", 0),
}

# the getter, secret rules and URL masking are shared with the running station (common.py)
from airkit_fw.common import get, SECRET_KEYS, mask_url, is_secret as _is_secret  # noqa: F401

_RANGES = {
    "interval_s": (60, 3600),
    "pms.uart": (1, 2),
    "pms_b.uart": (1, 2),
    "pms.warmup_s": (30, 600),
    "pms.reads": (3, 30),
    "pms.read_gap_ms": (200, 5000),
    "watchdog_s": (30, 120),
    "location.lat": (-90, 90),
    "location.lon": (-180, 180),
    "web.portal_idle_s": (60, 3600),
    "web.portal_after_s": (0, 604800),
}
_CHOICES = {"pms.mode": ("cycle", "continuous")}
_PINS = ("pms.tx", "pms.rx", "pms.set", "pms_b.tx", "pms_b.rx", "pms_b.set", "dht.pin", "led.pin")


def put(cfg, path, value):
    parts = path.split(".")
    node = cfg
    for part in parts[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            node[part] = nxt
        node = nxt
    node[parts[-1]] = value


def defaults():
    cfg = {}
    for path in SCHEMA:
        d = SCHEMA[path][1]
        if isinstance(d, list):
            d = []
        put(cfg, path, d)
    return cfg


def _type_ok(kind, v):
    if v is None:
        return True
    if kind == "int":
        return isinstance(v, int) and not isinstance(v, bool)
    if kind == "float":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if kind == "str":
        return isinstance(v, str)
    if kind == "bool":
        return isinstance(v, bool)
    if kind == "list":
        return isinstance(v, list)
    if kind == "dict":
        return isinstance(v, dict)
    return False


def _known_paths(cfg, prefix, out):
    for k in cfg:
        path = prefix + k
        v = cfg[k]
        if isinstance(v, dict) and path not in SCHEMA:
            _known_paths(v, path + ".", out)
        else:
            out.append(path)


def validate(cfg):
    """One clear line per problem (empty list: the config is good)."""
    problems = []
    if not isinstance(cfg, dict):
        return ["the config must be a JSON object ({...})"]
    paths = []
    _known_paths(cfg, "", paths)
    for path in paths:
        if path in _GROUPS:
            problems.append("'%s' must be an object {...} with its settings inside" % path)
        elif path not in SCHEMA:
            problems.append("unknown setting '%s' (typo? see the config schema)" % path)
    for path in SCHEMA:
        kind = SCHEMA[path][0]
        v = get(cfg, path)
        if v is None and SCHEMA[path][1] is not None and _has(cfg, path):
            # null means "not set" only for optional settings; a required one would crash start-up
            problems.append("'%s' must be %s, not null (leave it out for the default %s)"
                            % (path, _KIND_WORDS[kind], json.dumps(SCHEMA[path][1])))
            continue
        if not _type_ok(kind, v):
            problems.append("'%s' must be %s, not %r" % (path, _KIND_WORDS[kind], _shown(path, v)))
            continue
        if v is None:
            continue
        r = _RANGES.get(path)
        if r and not (r[0] <= v <= r[1]):
            problems.append("'%s' is %s; it must be between %s and %s" % (path, v, r[0], r[1]))
        c = _CHOICES.get(path)
        if c and v not in c:
            problems.append("'%s' is '%s'; use one of: %s" % (path, v, ", ".join(c)))
        if path in _PINS and not (0 <= v <= 48):
            problems.append("'%s' is %s, which is not a GPIO number (0..48)" % (path, v))
    if get(cfg, "wifi.password") and not get(cfg, "wifi.ssid"):
        problems.append("'wifi.password' is set but 'wifi.ssid' is empty: add the network name")
    # Pins and UARTs clash with the defaults too (the board runs the merged config).
    user = cfg
    cfg = merged(cfg)
    pins = {}
    for path in _PINS:
        if path.startswith("pms_b") and not get(cfg, "pms_b.enabled"):
            continue
        v = get(cfg, path)
        if isinstance(v, int) and not isinstance(v, bool):
            if v in pins:
                problems.append("'%s' and '%s' both use GPIO %d: each needs its own pin" % (pins[v], path, v))
            pins[v] = path
    if get(cfg, "pms_b.enabled") and get(cfg, "pms_b.uart") == get(cfg, "pms.uart"):
        problems.append("'pms.uart' and 'pms_b.uart' are both %s: the second sensor needs the other UART"
                        % get(cfg, "pms.uart"))
    ups = get(user, "uplinks")
    if isinstance(ups, list):
        names = {}
        for i, u in enumerate(ups):
            if not isinstance(u, dict) or not isinstance(u.get("type"), str):
                problems.append("uplinks[%d] must be an object with a \"type\"" % i)
                continue
            problems.extend(_uplink_problems(i, u, user))
            # each uplink keeps its place in the journal under its name: two of one name would share it
            n = u.get("name") or u["type"]
            if n in names:
                problems.append("uplinks[%d] and uplinks[%d] are both named '%s' (each uplink keeps its own place "
                                "in the journal): give one a different 'name'" % (names[n], i, n))
            names[n] = i
    return problems


def _uplink_problems(i, u, user):
    """An uplink entry's problems, from what its type declares (``uplinks/<type>_spec.py``:
    keys, types, required keys, choices, its own rules): nothing here knows a type by name."""
    from airkit_fw.uplinks import registry as reg
    t = u["type"]
    spec = reg.spec(t)
    if spec is None:
        return ["uplinks[%d] has type '%s'; use one of: %s" % (i, t, ", ".join(reg.TYPES))]
    out = []
    known = reg.keys(t)
    for k in u:
        if k not in known:
            out.append("uplinks[%d] (%s) has unknown key '%s' (typo?); its keys are: %s"
                       % (i, t, k, ", ".join(n for n in known if n != "type")))
        elif not _type_ok(known[k][0], u[k]):
            out.append("uplinks[%d] (%s): '%s' must be %s, not %r%s"
                       % (i, t, k, _KIND_WORDS[known[k][0]], _shown(k, u[k]),
                          (": " + known[k][2]) if len(known[k]) > 2 else ""))
    for k in spec.REQUIRED:
        if not u.get(k):
            out.append("uplinks[%d] (%s) needs '%s'" % (i, t, k))
    for k in spec.CHOICES:
        c = spec.CHOICES[k]
        if k in u and u[k] is not None and u[k] not in c:
            out.append("uplinks[%d] (%s): '%s' must be %s" % (i, t, k, " or ".join(json.dumps(v) for v in c)))
    v = u.get("url")
    if v is not None and (not isinstance(v, str) or v.split("://")[0] not in ("http", "https", "mqtt", "mqtts")):
        out.append("uplinks[%d] (%s): 'url' must start with http://, https://, mqtt:// or mqtts://" % (i, t))
    default = known.get("url", ("str", None))[1]
    url = u.get("url") or default     # the default URL (https) needs a CA too
    if isinstance(url, str) and url.split("://")[0] in ("https", "mqtts"):
        ca = u.get("ca")
        if not isinstance(ca, str) or "-----BEGIN CERTIFICATE-----" not in ca:
            plain = isinstance(default, str) and default.split("://")[0] in ("http", "mqtt")
            out.append("uplinks[%d] (%s) uses %s%s but has no 'ca': paste the server's root certificate (PEM text) "
                       "so the board can verify it%s" % (i, t, url.split("://")[0], "" if u.get("url") else
                                                         " (its default url)",
                       ", or set 'url' to %s (plain, as its default)" % default if plain else ""))
    rules = getattr(spec, "problems", None)
    if rules is not None:
        out.extend(rules(i, u, user))
    return out


_GROUPS = {}
for _p in SCHEMA:
    if "." in _p:
        _GROUPS[_p.split(".", 1)[0]] = True


_MISSING = object()


def _has(cfg, path):
    return get(cfg, path, _MISSING) is not _MISSING


_KIND_WORDS = {"int": "a whole number", "float": "a number", "str": "text in quotes",
               "bool": "true or false", "list": "a list [...]", "dict": "an object {...}"}


def _shown(path, v):
    return "***" if _is_secret(path) else v


def merged(user):
    """Defaults overlaid with the user's values (user's dicts merged key by key)."""
    cfg = defaults()
    _overlay(cfg, user)
    return cfg


def _overlay(base, user):
    for k in user:
        v = user[k]
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _overlay(base[k], v)
        else:
            base[k] = v


def masked(cfg):
    """A copy with every secret replaced by '***' (for printing and reports),
    credentials inside URLs included."""
    if isinstance(cfg, dict):
        out = {}
        for k in cfg:
            v = cfg[k]
            if _is_secret(k) and v not in (None, ""):
                out[k] = "***"
            else:
                out[k] = masked(v)
        return out
    if isinstance(cfg, list):
        return [masked(v) for v in cfg]
    if isinstance(cfg, str) and "://" in cfg:
        return mask_url(cfg)
    return cfg


def load(path=CONFIG_FILE):
    """(config, problems). A missing or broken file gives defaults plus a problem line."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return defaults(), ["no %s on the board: run 'airkit config init' then 'airkit deploy'" % path]
    except ValueError:  # UnicodeError: not a text file
        return defaults(), ["%s is not a text file: write a new one with 'airkit config init'" % path]
    try:
        user = json.loads(text)
    except (ValueError, TypeError):
        return defaults(), ["%s is not valid JSON: fix it or write a new one with 'airkit config init'" % path]
    problems = validate(user)
    if not isinstance(user, dict):
        return defaults(), problems
    return merged(user), problems


def save(cfg, path=CONFIG_FILE):
    """Write-then-rename, so a power cut never leaves half a config."""
    import os
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps(cfg))
    os.rename(tmp, path)
