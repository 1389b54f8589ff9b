"""Sensor.Community: what this uplink is (code: sensor_community.py; see the registry)."""
CLASS = "SensorCommunity"
# key: (type, default); airrohr's URL: port 80, no CA needed
# token: only for an airkit collector (sent as X-Airkit-Token; a Sensor.Community server never sees it)
KEYS = {"url": ("str", "http://api.sensor.community/v1/push-sensor-data/"), "pm": ("str", "atm"),
        "token": ("str", None)}
REQUIRED = ()
CHOICES = {"pm": ("atm", "cf1")}
# an empty push stores nothing: 400 for a registered node, 403 for an unknown one
PROBE_OK = (400,)
# what to do when the server refuses the station (by HTTP status; None: any other refusal)
REMEDY = {None: "register node {node} at https://devices.sensor.community (sensor PMS5003 on pin 1, DHT22 on "
                "pin 7); if uplink {index} goes to an airkit collector: 'airkit collect add-node {node} --station "
                "STATION' there and the station's token in the uplink ('airkit config set FILE "
                "uplinks[{index}].token=...'); then run the doctor again"}
# what a passing probe cannot prove: the server cannot be asked how many sensors the node has; with
# one, it answers the DHT22 push with 201 and files temperature and humidity under the PMS sensor
OK_NOTE = ("the node must have both sensors registered (PMS5003 on pin 1, DHT22 on pin 7), else the DHT22's "
           "values are filed under the PMS sensor")
