"""The uplink registry: which uplink types exist, what each needs, and where its code is.

A small table, so that validating a config (on the board or the desk) never
imports an uplink module: an uplink's code is imported only when the station's
config uses it (``make``). Adding an uplink is one module (a class derived
from ``base.Uplink``), one line here, and its section in ``docs/uplinks.md``.

Per type: (module, class, required keys, defaults, other keys it reads). The delivery loop
(journal cursors, back-off, what each server answer means) is in ``base.py``.
"""

# type: (module in airkit_fw.uplinks, class name, required keys, defaults, other keys it reads)
REGISTRY = (
    ("sensor_community", "sensor_community", "SensorCommunity", (),
     {"url": "http://api.sensor.community/v1/push-sensor-data/", "pm": "atm"}, ("token",)),
    ("opensensemap", "opensensemap", "OpenSenseMap", ("box_id", "sensors"),
     {"url": "https://api.opensensemap.org", "pm": "atm"}, ("access_token",)),
    ("lass_mqtt", "lass_mqtt", "LassMqtt", (),
     {"host": "gpssensor.ddns.net", "port": 1883, "topic": "LASS/Test/PM25", "qos": 0}, ("device_id",)),
    ("mqtt_ha", "mqtt_ha", "MqttHA", (), {"url": "mqtt://127.0.0.1:1883", "prefix": "airkit"},
     ("username", "password")),
    ("influx", "influx", "Influx", ("url",), {"db": "airkit", "measurement": "feinstaub", "pm": "atm"},
     ("username", "password", "org", "bucket", "token")),
    ("airkit_json", "airkit_json", "AirkitJson", ("url",), {}, ("token",)),
)
COMMON_KEYS = ("type", "name", "ca", "enabled")

TYPES = tuple(r[0] for r in REGISTRY)


def entry(t):
    """(module, class, required, defaults) of an uplink type, or None."""
    for r in REGISTRY:
        if r[0] == t:
            return r[1:]
    return None


def required(t):
    e = entry(t)
    return e[2] if e else ()


def defaults(t):
    e = entry(t)
    return e[3] if e else {}


def keys(t):
    """Every key an uplink of type t reads (a key not in it is a typo)."""
    e = entry(t)
    return COMMON_KEYS + e[2] + tuple(e[3]) + e[4] if e else COMMON_KEYS


def make(board, ucfg, station):
    """The uplink object for one config entry; imports only that uplink's module."""
    t = ucfg.get("type")
    e = entry(t)
    if e is None:
        raise ValueError("unknown uplink type %s" % t)
    mod = __import__("airkit_fw.uplinks." + e[0], None, None, (e[1],))
    cfg = dict(e[3])
    for k in ucfg:
        if ucfg[k] is not None:
            cfg[k] = ucfg[k]
    u = getattr(mod, e[1])(board, cfg, station)
    u.name = ucfg.get("name") or t
    return u


def hex_id(s, n=24):
    """True when ``s`` is ``n`` hex digits (an openSenseMap box or sensor id: a MongoDB ObjectId)."""
    if not isinstance(s, str) or len(s) != n:
        return False
    for c in s:
        if c not in "0123456789abcdefABCDEF":
            return False
    return True
