"""Byte-exact uplink payloads, against the wire formats in the upload-protocols
reference (expected bytes written out by hand, never produced by the code
under test), and the airrohr chip id rule against MAC -> id pairs."""

import time

import pytest

from airkit_fw import board as board_mod
from airkit_fw import flags
from airkit_fw.uplinks import airkit_json, http, influx, lass_mqtt, mqtt, mqtt_ha, opensensemap
from airkit_fw.uplinks import sensor_community as sc
from airkit_fw.uplinks.net import parse_url, userinfo

T = 1767571500          # 2026-01-05T00:05:00Z


class _Machine:
    pass


@pytest.fixture
def board():
    return board_mod.Board(machine=_Machine(), clock=time, name="format-test")


def rec(**kw):
    r = {"seq": 7, "time": T, "ticks": 26795810, "boot": 2, "flags_bits": 0, "frames": 9, "checksum_errors": 0,
         "pm1_cf1": 4, "pm25_cf1": 8, "pm10_cf1": 9, "pm1_atm": 3, "pm25_atm": 6, "pm10_atm": 8,
         "n0_3": 850, "n0_5": 255, "n1_0": 56, "n2_5": 5, "n5_0": 1, "n10": 0,
         "rh": 55.2, "temp_c": 21.3, "pm25_corrected": None}
    r.update(kw)
    return r


@pytest.mark.parametrize("mac,expected", [
    ("24:0a:c4:12:34:56", "563412c40a24"),
    ("30:ae:a4:07:0d:64", "640d7a4ae30"),      # lower 32 bits 0x07a4ae30: no zero padding
    ("00:00:00:00:00:01", "1000"),            # upper 0x0100 -> "100", lower 0 -> "0"
    ("a4:cf:12:0b:00:00", "0b12cfa4"),          # upper 0 -> "0", lower 0x0b12cfa4 -> "b12cfa4"
])
def test_chip_id_rule(mac, expected):
    assert sc.chip_id(bytes(int(x, 16) for x in mac.split(":"))) == expected


def test_sensor_community_pm_and_dht_pushes(board):
    assert sc.pm_body(rec(), board) == (
        '{"software_version": "airkit-0.1.0", "sensordatavalues": [{"value_type": "P0", "value": "3.00"}, '
        '{"value_type": "P1", "value": "8.00"}, {"value_type": "P2", "value": "6.00"}], '
        '"timestamp": "2026-01-05T00:05:00Z"}')
    assert sc.pm_body(rec(), board, "cf1").count('"value": "') == 3 and '"P1", "value": "9.00"' in \
        sc.pm_body(rec(), board, "cf1")
    assert sc.dht_body(rec(), board) == (
        '{"software_version": "airkit-0.1.0", "sensordatavalues": [{"value_type": "temperature", "value": "21.30"}, '
        '{"value_type": "humidity", "value": "55.20"}], "timestamp": "2026-01-05T00:05:00Z"}')
    assert sc.pm_body(rec(pm1_atm=None, pm25_atm=None, pm10_atm=None), board) is None
    mac = bytes.fromhex("240ac4123456")
    req = http.build_request("POST", "api.sensor.community", 80, "/v1/push-sensor-data/", sc.headers(mac, 1),
                             b"{}", 80)
    assert req == (b"POST /v1/push-sensor-data/ HTTP/1.1\r\nHost: api.sensor.community\r\n"
                   b"Content-Type: application/json\r\nX-Sensor: esp32-563412c40a24\r\n"
                   b"X-MAC-ID: esp32-240ac4123456\r\nX-PIN: 1\r\n"
                   b"User-Agent: airkit-0.1.0/563412c40a24/240ac4123456\r\nX-Airkit-PM: atm\r\n"
                   b"Content-Length: 2\r\nConnection: close\r\n\r\n{}")
    assert ("X-PIN", "7") in sc.headers(mac, 7)
    # which PM the push carries is said on the PM push only (the collector files P0/P1/P2 by it)
    assert ("X-Airkit-PM", "cf1") in sc.headers(mac, 1, "cf1")
    assert not any(k == "X-Airkit-PM" for k, v in sc.headers(mac, 7, "cf1"))


def test_opensensemap_csv(board):
    sensors = {"pm25": "5a1", "pm10": "5a2", "temperature": "5a3"}
    assert opensensemap.csv_lines(rec(), sensors, board) == [
        "5a1,6.0,2026-01-05T00:05:00Z", "5a2,8.0,2026-01-05T00:05:00Z", "5a3,21.30,2026-01-05T00:05:00Z"]


def test_lass_line(board):
    # position as LASS's parsers read it: degrees + minutes/100 (reference: 25.0330 -> 25.019800), no FAKE_GPS
    line = lass_mqtt.payload(rec(), "AK_0001", board, 25.0330, 121.5654, 2)
    assert line == (
        "|ver_format=3|fmt_opt=1|app=PM25|ver_app=0.1.0|device_id=AK_0001|tick=26795810|date=2026-01-05"
        "|time=00:05:00|device=ESP32|s_d0=6.00|s_d1=8.00|s_d2=3.00|s_t0=21.30|s_h0=55.20"
        "|gps_lat=25.019800|gps_lon=121.339240|gps_fix=1|gps_num=0|gps_alt=2|")
    assert "FAKE_GPS" not in line


def _lass_dms2dd(v):
    # what LASS's importer does with gps_lat/gps_lon (NMEA ddmm.mmmm after x100), values above 90/180 negative
    return int(v) + (v - int(v)) * 100 / 60


@pytest.mark.parametrize("lat,lon,text", [
    (-33.8688, 151.2093, "gps_lat=123.521280|gps_lon=151.125580"),     # Sydney: south is 90 + |lat|
    (40.7128, -74.0060, "gps_lat=40.427680|gps_lon=254.003600"),       # New York: west is 180 + |lon|
])
def test_lass_south_and_west(board, lat, lon, text):
    line = lass_mqtt.payload(rec(), "AK_0001", board, lat, lon, 0)
    assert text in line
    la = float(line.split("gps_lat=")[1].split("|")[0])
    lo = float(line.split("gps_lon=")[1].split("|")[0])
    la = -_lass_dms2dd(la - 90) if la > 90 else _lass_dms2dd(la)
    lo = -_lass_dms2dd(lo - 180) if lo > 180 else _lass_dms2dd(lo)
    assert la == pytest.approx(lat, abs=1e-5) and lo == pytest.approx(lon, abs=1e-5)


def test_lass_default_topic_is_where_lass_reads():
    class St:
        station_id = "ak-1"
        cfg = {}
    from airkit_fw.uplinks import registry as uplinks
    u = uplinks.make(board_mod.Board(machine=_Machine(), clock=time), {"type": "lass_mqtt"}, St())
    assert u.topic == "LASS/Test/PM25" and u.port == 1883


def test_influx_escapes_names():
    r = rec()
    assert influx.line(r, "esp32-1", measurement="air quality,lab").startswith(
        "air\\ quality\\,lab,node=esp32-1 PMS_P0=3.00,")
    assert influx.line(r, "a b=c,d").startswith("feinstaub,node=a\\ b\\=c\\,d ")


def test_influx_line_with_timestamp():
    assert influx.line(rec(), "esp32-563412c40a24") == (
        "feinstaub,node=esp32-563412c40a24 PMS_P0=3.00,PMS_P1=8.00,PMS_P2=6.00,temperature=21.30,humidity=55.20 "
        "1767571500")


def test_home_assistant_discovery_and_state(board):
    cfgs = mqtt_ha.discovery("ak_1", "Yard", "airkit/ak_1/state", 900)
    assert [t for t, _ in cfgs] == ["homeassistant/sensor/ak_1/%s/config" % o
                                    for o in ("pm1", "pm25", "pm10", "temperature", "humidity")]
    assert cfgs[1][1] == (
        '{"name": "PM2.5", "state_topic": "airkit/ak_1/state", "unit_of_measurement": "\u00b5g/m\u00b3", '
        '"device_class": "pm25", "state_class": "measurement", "value_template": "{{ value_json.pm25 }}", '
        '"unique_id": "ak_1_pm25", "expire_after": 900, "json_attributes_topic": "airkit/ak_1/state", '
        '"device": {"identifiers": ["ak_1"], "name": "Yard", '
        '"model": "airkit PMS5003 + DHT22", "manufacturer": "airkit", "sw_version": "0.1.0"}}')
    assert mqtt_ha.state(rec(flags_bits=flags.DHT_STUCK), board) == (
        '{"time": "2026-01-05T00:05:00Z", "seq": 7, "pm1": 3, "pm25": 6, "pm10": 8, "pm1_cf1": 4, "pm25_cf1": 8, '
        '"pm10_cf1": 9, "temperature": 21.3, "humidity": 55.2, "flags": ["dht_stuck"]}')


def test_airkit_json_batch(board):
    body = airkit_json.batch_body("school-1", [rec(), rec(seq=8, time=None, rh=None)], board)
    assert body.startswith('{"device": "school-1", "fw": "0.1.0", "records": [{"seq": 7, '
                           '"time": "2026-01-05T00:05:00Z", "ticks": 26795810, "boot": 2, "flags": [], '
                           '"pm1_cf1": 4, "pm25_cf1": 8, "pm10_cf1": 9, "pm1_atm": 3, ')
    assert '"seq": 8, "time": null' in body and '"rh": null' in body
    import json
    assert len(json.loads(body)["records"]) == 2


def test_mqtt_packets_match_the_311_spec():
    # CONNECT: protocol name MQTT, level 4, clean session, keep-alive 60, client id "ak"
    assert mqtt.connect_packet("ak") == b"\x10\x0e\x00\x04MQTT\x04\x02\x00\x3c\x00\x02ak"
    assert mqtt.connect_packet("ak", "u", "p") == \
        b"\x10\x14\x00\x04MQTT\x04\xc2\x00\x3c\x00\x02ak\x00\x01u\x00\x01p"
    # PUBLISH QoS 1 retained, packet id 5
    assert mqtt.publish_packet("a/b", b"xy", 1, True, 5) == b"\x33\x09\x00\x03a/b\x00\x05xy"
    # remaining length over 127 uses two bytes
    p = mqtt.publish_packet("t", b"z" * 200)
    assert p[:3] == b"\x30\xcb\x01"          # 203 = 0x4b | 0x80, then 1


def test_url_parsing():
    assert parse_url("http://127.0.0.1:8000/api/v1/batch") == ("http", "127.0.0.1", 8000, "/api/v1/batch")
    assert parse_url("https://api.sensor.community/v1/push-sensor-data/")[2] == 443
    assert parse_url("mqtts://broker.example")[1:3] == ("broker.example", 8883)
    with pytest.raises(ValueError):
        parse_url("ftp://x/")
    # credentials in a URL are never part of the host (it would be looked up, and logged, with them)
    assert parse_url("mqtt://ha:pw@broker.local:1884") == ("mqtt", "broker.local", 1884, "/")
    assert parse_url("http://me:p@ss@db:8086/write?db=a") == ("http", "db", 8086, "/write?db=a")
    assert userinfo("mqtt://ha:pw@broker.local:1884") == ("ha", "pw")
    assert userinfo("http://me:p@ss@db:8086/x") == ("me", "p@ss")
    assert userinfo("http://db:8086/x?u=a@b") is None and userinfo("http://tok@h/") == ("tok", "")


def test_mqtt_ha_takes_user_and_password_from_the_url():
    from airkit_fw.uplinks.mqtt_ha import MqttHA
    from types import SimpleNamespace

    st = SimpleNamespace(station_id="st-1", cfg={})
    u = MqttHA(SimpleNamespace(mac=lambda: b"\x24\x0a\xc4\x12\x34\x56"), {"url": "mqtt://ha:pw@b.local",
                                                                          "prefix": "airkit"}, st)
    assert (u.host, u.username, u._password) == ("b.local", "ha", "pw")
    u = MqttHA(SimpleNamespace(), {"url": "mqtt://ha:pw@b.local", "username": "x", "password": "y",
                                   "prefix": "airkit"}, st)
    assert (u.username, u._password) == ("x", "y")
