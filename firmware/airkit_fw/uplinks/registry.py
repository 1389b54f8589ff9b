"""The uplink registry: which uplink types exist and where each one is described.

A module of its own (the package's ``__init__`` is empty): only start-up, config
validation and the self-test read it, so the station forgets it once its
uplinks are built, like the declarations.

One line per type: the type name and its module. Everything else about a type
is declared once, by the type itself, in a tiny declaration module beside its
code (``<module>_spec``): its config keys with their types and defaults, the
required ones, the allowed choices, its own validation rules (``problems``),
which answers to a storing-nothing probe prove the server knows the station
(``PROBE_OK``), the remedy for each refusal (``REMEDY``, read by the host's
doctor) and the name of its class. Config validation, the self-test, the
doctor and ``make`` read it from there; none of them knows any type by name.

Why a declaration module apart from the code: validating a config (on the
board, at start-up, with the config schema loaded) must not import an uplink's
code. Measured on the 32-bit port as ``.mpy``: an uplink module with what it
imports takes 18.6-28.1 KB of heap (Sensor.Community 25.5, Home Assistant 28.1),
a declaration about 1-2 KB, and ``make`` forgets it once the uplink is built.

Adding an uplink: its module (a class derived from ``base.Uplink``), its
``_spec`` declaration, and one line in ``REGISTRY`` (or ``register()``).
The delivery loop (journal cursors, back-off, what each verdict does) is in
``base.py``.
"""

# type, module (its declaration is the module + "_spec")
REGISTRY = [
    ("sensor_community", "airkit_fw.uplinks.sensor_community"),
    ("opensensemap", "airkit_fw.uplinks.opensensemap"),
    ("lass_mqtt", "airkit_fw.uplinks.lass_mqtt"),
    ("mqtt_ha", "airkit_fw.uplinks.mqtt_ha"),
    ("influx", "airkit_fw.uplinks.influx"),
    ("airkit_json", "airkit_fw.uplinks.airkit_json"),
]
# keys every uplink has: (type, default[, what a value looks like, for the type's problem line])
COMMON = {"type": ("str", None), "name": ("str", None), "ca": ("str", None), "enabled": ("bool", True)}

TYPES = [r[0] for r in REGISTRY]


def register(t, module):
    """Add an uplink type (its module and ``module + "_spec"`` must be importable)."""
    if t not in TYPES:
        REGISTRY.append((t, module))
        TYPES.append(t)


def module(t):
    for r in REGISTRY:
        if r[0] == t:
            return r[1]
    return None


def spec(t):
    """The declaration module of type t, or None for an unknown type."""
    m = module(t)
    if m is None:
        return None
    return __import__(m + "_spec", None, None, ("CLASS",))


def forget_specs():
    """Forget the declarations (a running station needs none of them)."""
    from airkit_fw.common import forget
    for r in REGISTRY:
        if r[1].startswith("airkit_fw."):
            forget((r[1][10:] + "_spec",))


def keys(t):
    """Every key an uplink of type t reads, as {key: (type, default)} (a key not in it is a typo)."""
    s = spec(t)
    out = dict(COMMON)
    if s is not None:
        out.update(s.KEYS)
    return out


def required(t):
    s = spec(t)
    return s.REQUIRED if s is not None else ()


def defaults(t):
    """{key: default} of type t (keys without a default left out)."""
    s = spec(t)
    out = {}
    if s is not None:
        for k in s.KEYS:
            d = s.KEYS[k][1]
            if d is not None:
                out[k] = d
    return out


def make(board, ucfg, station):
    """The uplink object for one config entry: its declared defaults overlaid with the
    entry's values; imports only that uplink's code."""
    t = ucfg.get("type")
    s = spec(t)
    if s is None:
        raise ValueError("unknown uplink type %s" % t)
    cfg = defaults(t)
    for k in ucfg:
        if ucfg[k] is not None:
            cfg[k] = ucfg[k]
    cls = s.CLASS
    s = None
    mod = __import__(module(t), None, None, (cls,))
    u = getattr(mod, cls)(board, cfg, station)
    u.name = ucfg.get("name") or t
    return u
