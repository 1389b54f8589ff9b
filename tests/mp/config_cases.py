# Config validation, masking and loading. Runs under MicroPython and CPython.
import json
from airkit_fw import config


def check(cond, msg=""):
    if not cond:
        raise AssertionError(msg)


SID1 = "5f2b56f4263635001c1dd1ac"      # openSenseMap sensor ids: 24 hex characters
SID2 = "5f2b56f4263635001c1dd1ad"


def problems(cfg):
    p = config.validate(cfg)
    for line in p:
        check("\n" not in line and line.strip() == line and line, "not one clean line: %r" % line)
    return p


def one(cfg, *words):
    p = problems(cfg)
    check(len(p) == 1, "want one problem for %r, got %r" % (cfg, p))
    for w in words:
        check(w in p[0], "%r not in %r" % (w, p[0]))
    return p[0]


def test_empty_and_defaults_are_valid():
    check(problems({}) == [], "empty config")
    check(problems(config.defaults()) == [], "defaults: %r" % problems(config.defaults()))
    cfg = {"device": {"id": "st-1", "name": "garden"}, "wifi": {"ssid": "home", "password": "hunter22"},
           "location": {"lat": 52.1, "lon": 5.1}, "interval_s": 600,
           "pms": {"set": 4}, "led": {"pin": 2}, "uplinks": [{"type": "airkit_json", "url": "http://collector.local/in"}]}
    check(problems(cfg) == [], "valid: %r" % problems(cfg))


def test_not_an_object():
    for bad in ([], "x", 3, None):
        p = problems(bad)
        check(len(p) == 1 and "JSON object" in p[0], "%r -> %r" % (bad, p))


def test_unknown_keys_one_line_each():
    p = problems({"intervall_s": 300, "wifi": {"ssid": "a", "pasword": "secretvalue"}, "foo": {"bar": 1}})
    check(len(p) == 3, "%r" % (p,))
    joined = "\n".join(p)
    for k in ("'intervall_s'", "'wifi.pasword'", "'foo.bar'"):
        check(k in joined, "%s not named in %r" % (k, p))
    check("secretvalue" not in joined, "value of an unknown key printed")


def test_types():
    one({"interval_s": "300"}, "'interval_s'", "whole number")
    one({"interval_s": 300.5}, "'interval_s'", "whole number")
    one({"pms": {"enabled": 1}}, "'pms.enabled'", "true or false")
    one({"dht": {"pin": True}}, "'dht.pin'", "whole number")
    one({"location": {"lat": "52"}}, "'location.lat'", "number")
    one({"uplinks": {}}, "'uplinks'", "list")


def test_ranges():
    one({"interval_s": 59}, "'interval_s'", "60", "3600")
    one({"interval_s": 3601}, "'interval_s'")
    one({"pms": {"warmup_s": 10}}, "'pms.warmup_s'", "30")
    one({"pms": {"reads": 1}}, "'pms.reads'")
    one({"location": {"lat": 91}}, "'location.lat'")
    one({"watchdog_s": 5}, "'watchdog_s'")
    one({"dht": {"pin": 49}}, "'dht.pin'", "GPIO")
    one({"pms": {"mode": "sometimes"}}, "'pms.mode'", "cycle", "continuous")
    check(problems({"interval_s": 60}) == [] and problems({"interval_s": 3600}) == [], "bounds inclusive")


def test_several_problems_one_line_each():
    p = problems({"interval_s": 5, "pms": {"reads": 100, "tx": "17"}, "bogus": 1})
    check(len(p) == 4, "%r" % (p,))


def test_duplicate_pins():
    p = one({"dht": {"pin": 17}}, "GPIO 17", "'pms.tx'", "'dht.pin'")
    one({"pms": {"set": 16}}, "GPIO 16")
    # the second sensor's pins count only when it is enabled
    check(problems({"pms_b": {"tx": 17}}) == [], "disabled pms_b pins checked")
    one({"pms_b": {"enabled": True, "tx": 17}}, "GPIO 17")
    one({"pms_b": {"enabled": True, "uart": 2}}, "'pms_b.uart'", "other UART")


def test_null_only_where_allowed():
    # null is "not set" for optional keys (pins that may be absent, location) ...
    check(problems({"pms": {"set": None}, "location": {"lat": None}, "led": {"pin": None}}) == [], "optional")
    # ... but a required number set to null would crash the station at start-up
    one({"interval_s": None}, "'interval_s'")
    one({"dht": {"pin": None}}, "'dht.pin'")
    one({"pms": {"reads": None}}, "'pms.reads'")


def test_group_that_is_not_an_object():
    p = one({"wifi": "home"}, "'wifi'")
    check("unknown" not in p, "a known group reported as unknown: %r" % p)


def test_password_never_printed():
    secret = "s3cr3t-Pa55"
    cfgs = ({"wifi": {"password": 12345}}, {"wifi": {"password": secret}},
            {"wifi": {"ssid": "", "password": secret}, "interval_s": 1},
            {"uplinks": [{"type": "http", "token": secret}, "x"]},
            {"wifi": {"password": [secret]}})
    for cfg in cfgs:
        text = "\n".join(problems(cfg))
        check(secret not in text and "12345" not in text, "secret in %r" % text)
    one({"wifi": {"password": secret}}, "'wifi.ssid'")


def test_masked():
    cfg = {"wifi": {"ssid": "home", "password": "pw-123456"},
           "uplinks": [{"type": "x", "token": "tok-abcdef", "api_key": "k-123456", "url": "http://h"}],
           "device": {"id": "a"}}
    m = config.masked(cfg)
    text = json.dumps(m)
    for s in ("pw-123456", "tok-abcdef", "k-123456"):
        check(s not in text, "%s shown in %s" % (s, text))
    check(m["wifi"]["ssid"] == "home" and m["uplinks"][0]["url"] == "http://h", "non-secrets kept")
    check(m["wifi"]["password"] == "***", "masked marker")
    check(cfg["wifi"]["password"] == "pw-123456", "original changed")
    check(config.masked({"wifi": {"password": ""}})["wifi"]["password"] == "", "empty stays empty")


def test_merged_keeps_defaults():
    cfg = config.merged({"pms": {"reads": 5}})
    check(config.get(cfg, "pms.reads") == 5 and config.get(cfg, "pms.warmup_s") == 30, "merge")
    check(config.get(cfg, "interval_s") == 300, "default interval")


def test_load_missing_invalid_and_good(tmp="/tmp"):
    import os
    base = "%s/airkit_cfg_test_%d" % (tmp, id(check) & 0xFFFF)
    cfg, p = config.load(base + "_missing.json")
    check(len(p) == 1 and "no " in p[0] and cfg == config.defaults(), "missing: %r" % (p,))
    with open(base + "_bad.json", "w") as f:
        f.write('{"interval_s": 300,')
    cfg, p = config.load(base + "_bad.json")
    check(len(p) == 1 and "not valid JSON" in p[0], "invalid: %r" % (p,))
    with open(base + "_good.json", "w") as f:
        f.write('{"interval_s": 600, "wifi": {"ssid": "x", "password": "y"}}')
    cfg, p = config.load(base + "_good.json")
    check(p == [] and cfg["interval_s"] == 600 and cfg["pms"]["reads"] == 9, "good: %r" % (p,))
    config.save({"interval_s": 120}, base + "_saved.json")
    cfg, p = config.load(base + "_saved.json")
    check(p == [] and cfg["interval_s"] == 120, "saved")
    for suffix in ("_bad.json", "_good.json", "_saved.json"):
        os.remove(base + suffix)


def test_uplink_key_typo_is_named():
    # an owner who types 'acess_token' would otherwise see 401 forever with a correct token
    p = one({"uplinks": [{"type": "opensensemap", "box_id": "b1", "sensors": {"pm25": SID1}, "url": "http://h",
                          "acess_token": "tok-secret-1"}]},
            "uplinks[0]", "'acess_token'", "access_token")
    check("tok-secret-1" not in p, "a secret value shown: %r" % p)
    one({"uplinks": [{"type": "influx", "url": "http://h:8086", "pasword": "x"}]}, "'pasword'", "password")
    # every key an uplink reads is known
    check(problems({"location": {"lat": 1.0, "lon": 2.0}, "uplinks": [
        {"type": "sensor_community", "name": "sc", "url": "http://h/", "pm": "cf1", "enabled": True},
        {"type": "opensensemap", "box_id": "b", "sensors": {"pm25": SID1}, "access_token": "t", "url": "http://h"},
        {"type": "lass_mqtt", "host": "h", "port": 1883, "topic": "t", "device_id": "d", "qos": 1},
        {"type": "mqtt_ha", "url": "mqtt://h", "username": "u", "password": "p", "prefix": "a"},
        {"type": "influx", "url": "http://h", "db": "d", "username": "u", "password": "p", "measurement": "m",
         "org": "o", "bucket": "b", "token": "t", "pm": "atm"},
        {"type": "airkit_json", "url": "http://h", "token": "t"}]}) == [], "known keys refused")


def test_two_uplinks_with_one_cursor_name():
    # the same type twice (production + the school's collector) would share one journal cursor
    sc = {"type": "sensor_community", "url": "http://api.sensor.community/v1/push-sensor-data/"}
    one({"uplinks": [sc, {"type": "sensor_community", "url": "http://school.local:8000/"}]},
        "uplinks[1]", "uplinks[0]", "'name'")
    check(problems({"uplinks": [sc,
                                {"type": "sensor_community", "name": "school", "url": "http://s/"}]}) == [],
          "distinct names are fine")
    one({"uplinks": [{"type": "influx", "url": "http://a", "name": "x"},
                     {"type": "airkit_json", "url": "http://b", "name": "x"}]}, "'x'")



def test_default_https_url_needs_a_ca_too():
    # an uplink left at its default (https) url could never verify the server: every upload a TLS failure
    one({"uplinks": [{"type": "opensensemap", "box_id": "b", "sensors": {"pm25": SID1}}]}, "'ca'", "default")
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    check(problems({"uplinks": [{"type": "opensensemap", "box_id": "b", "sensors": {"pm25": SID1}, "ca": pem}]})
          == [], "default url with a CA")
    # Sensor.Community's default is plain HTTP on port 80, as airrohr sends (no secret in a push)
    check(problems({"uplinks": [{"type": "sensor_community"}]}) == [], "sensor_community default url")
    one({"uplinks": [{"type": "sensor_community", "url": "https://api.sensor.community/v1/push-sensor-data/"}]},
        "'ca'", "http://api.sensor.community")



def test_lass_needs_the_station_position():
    # without one every reading was filed at 0, 0 (in the sea off Africa) on LASS's map
    one({"uplinks": [{"type": "lass_mqtt"}]}, "lass_mqtt", "location.lat", "location.lon")
    one({"location": {"lat": 25.03}, "uplinks": [{"type": "lass_mqtt"}]}, "location.lon")
    check(problems({"location": {"lat": 25.033, "lon": 121.5654}, "uplinks": [{"type": "lass_mqtt"}]}) == [],
          "position given")



def test_opensensemap_sensor_names_are_checked():
    # {"pm2.5": id} matched nothing the station sends: no PM2.5 value ever reached the box
    box = {"type": "opensensemap", "box_id": "b", "url": "http://h"}
    box["sensors"] = {"pm2.5": SID1, "pm10": SID2}
    one({"uplinks": [box]}, "'pm2.5'", "pm25")
    box["sensors"] = [SID1]
    one({"uplinks": [box]}, "'sensors'", "pm25")
    box["sensors"] = {"pm25": SID1, "humidity": SID2.upper()}
    check(problems({"uplinks": [box]}) == [], "good sensor names")


def test_opensensemap_sensor_ids_are_24_hex():
    # the API answers 422 "Invalid sensor id" to anything else: a typo that used to cost every reading
    box = {"type": "opensensemap", "box_id": "b", "url": "http://h"}
    for bad in (SID1[:-1], SID1 + "0", SID1[:-1] + "g", "s1", " " + SID1[1:]):
        box["sensors"] = {"pm25": SID2, "pm10": bad}
        one({"uplinks": [box]}, "'pm10'", "24 hex")


if __name__ == "__main__":
    import mptest
    mptest.main(globals())
