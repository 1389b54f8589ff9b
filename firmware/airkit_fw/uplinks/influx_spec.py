"""InfluxDB (1.x and 2.x): what this uplink is (code: influx.py; see the registry)."""
CLASS = "Influx"
KEYS = {"url": ("str", None), "db": ("str", "airkit"), "measurement": ("str", "feinstaub"), "pm": ("str", "atm"),
        "username": ("str", None), "password": ("str", None), "org": ("str", None), "bucket": ("str", None),
        "token": ("str", None)}
REQUIRED = ("url",)
CHOICES = {"pm": ("atm", "cf1")}
PROBE_OK = (400,)       # an empty write: credentials and database are checked first
REMEDY = {404: "the database in uplink {index}'s URL does not exist: create it (CREATE DATABASE ...) or fix ?db=",
          None: "InfluxDB refused the credentials of uplink {index}: set its 'username' and 'password' (1.x) "
                "or fix its token"}


def problems(i, u, cfg):
    if u.get("bucket") and not (u.get("token") and u.get("org")):
        return ["uplinks[%d] (influx) writes to bucket '%s' (InfluxDB 2.x): it also needs 'org' and 'token'"
                % (i, u.get("bucket"))]
    return []
