"""openSenseMap: what this uplink is (code: opensensemap.py; see the registry)."""
CLASS = "OpenSenseMap"
KEYS = {"url": ("str", "https://api.opensensemap.org"), "pm": ("str", "atm"), "box_id": ("str", None),
        "sensors": ("dict", None, '{"pm25": "<sensor id>", ...} with keys among pm25, pm10, pm1, temperature, '
                                  'humidity'), "access_token": ("str", None)}
REQUIRED = ("box_id", "sensors")
CHOICES = {"pm": ("atm", "cf1")}
SENSORS = ("pm25", "pm10", "pm1", "temperature", "humidity")   # what opensensemap.py sends
# an empty CSV upload stores nothing; the API checks the box and token first
PROBE_OK = (400, 422)
REMEDY = {404: "box_id of uplink {index} is not a box on that server: copy it from the box's page",
          None: "the access token of uplink {index} is wrong: copy it from the box's page on openSenseMap and set "
                "it with 'airkit config set FILE uplinks[{index}].access_token=...'"}


def problems(i, u, cfg):
    sensors = u.get("sensors")
    if not sensors or not isinstance(sensors, dict):     # its type is checked with every key's
        return []
    out = []
    for k in sensors:
        if k not in SENSORS:
            out.append("uplinks[%d] (opensensemap): sensor '%s' is not one the station sends; use %s "
                       "(each with the sensor id from the box)" % (i, k, ", ".join(SENSORS)))
        elif sensors[k] and not hex_id(sensors[k]):
            # the API refuses it (422 "Invalid sensor id"): a typo, caught before it costs data
            out.append("uplinks[%d] (opensensemap): sensor id for '%s' is not 24 hex characters: copy it "
                       "from the box's page on opensensemap.org" % (i, k))
    return out


def hex_id(s, n=24):
    """True when ``s`` is ``n`` hex digits (an openSenseMap box or sensor id: a MongoDB ObjectId)."""
    if not isinstance(s, str) or len(s) != n:
        return False
    for c in s:
        if c not in "0123456789abcdefABCDEF":
            return False
    return True
