"""Home Assistant over MQTT (discovery): what this uplink is (code: mqtt_ha.py; see the registry)."""
CLASS = "MqttHA"
KEYS = {"url": ("str", "mqtt://127.0.0.1:1883"), "prefix": ("str", "airkit"), "username": ("str", None),
        "password": ("str", None)}
REQUIRED = ()
CHOICES = {}
PROBE_OK = ()
REMEDY = {None: "the broker refused the station's login: check the user name and password of uplink {index} "
                "(and that the broker allows this client)"}
