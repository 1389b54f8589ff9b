"""LASS / AirBox MQTT: what this uplink is (code: lass_mqtt.py; see the registry)."""
CLASS = "LassMqtt"
KEYS = {"host": ("str", "gpssensor.ddns.net"), "port": ("int", 1883), "topic": ("str", "LASS/Test/PM25"),
        "qos": ("int", 0), "device_id": ("str", None)}
REQUIRED = ()
CHOICES = {"qos": (0, 1)}
PROBE_OK = ()
REMEDY = {None: "the broker refused the station's login: check uplink {index}'s host and port (and that the "
                "broker allows this client)"}


def problems(i, u, cfg):
    loc = cfg.get("location") if isinstance(cfg, dict) else None
    if not isinstance(loc, dict) or loc.get("lat") is None or loc.get("lon") is None:
        # LASS files a station where its payload says: without a position it would be at 0, 0
        return ["uplinks[%d] (lass_mqtt) puts the station on LASS's map by its position: "
                "set location.lat and location.lon" % i]
    return []
