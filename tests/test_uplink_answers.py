"""What each uplink makes of a server's answer (the verdicts ``airkit doctor`` shows and
the delivery loop acts on), per the reference's "How the real servers answer"; and
the registry: validating a config imports no uplink module."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from airkit_fw import board as board_mod
from airkit_fw.uplinks import registry as uplinks
from airkit_fw.uplinks import base, influx

ROOT = Path(__file__).resolve().parents[1]


class _Machine:
    pass


class _Board(board_mod.Board):
    def mac(self):
        return bytes.fromhex("240ac4123456")


class _Station:
    station_id = "station-1"
    cfg = {"device": {"name": "Yard"}, "interval_s": 300}


def make(**ucfg):
    return uplinks.make(_Board(machine=_Machine(), clock=time), ucfg, _Station())


@pytest.mark.parametrize("ucfg,status,body,verdict,words", [
    ({"type": "sensor_community"}, 201, b"{}", base.OK, ""),
    ({"type": "sensor_community"}, 403, b'{"detail":"Node not found in database."}', base.CONFIG,
     "esp32-563412c40a24"),
    ({"type": "sensor_community"}, 400, b'["sensor could not be selected."]', base.REJECTED, "could not be selected"),
    ({"type": "sensor_community"}, 503, b"", base.RETRY, ""),
    ({"type": "sensor_community"}, 429, b"", base.RETRY, ""),
    ({"type": "opensensemap", "box_id": "b1", "sensors": {"pm25": "s25", "pm10": "s10"}}, 400,
     b'{"message":"sensor s10 is not in box"}', base.CONFIG, "s10"),
    ({"type": "opensensemap", "box_id": "b1", "sensors": {"pm25": "s25"}}, 422, b"{}", base.REJECTED, ""),
    # an id that is not 24 hex characters: the API's decoder answers 422, a config typo (data kept)
    ({"type": "opensensemap", "box_id": "b1", "sensors": {"pm25": "5f2b56f4263635001c1dd1ac", "pm10": "s10"}}, 422,
     b'{"code":"UnprocessableEntity","message":"Invalid sensor id"}', base.CONFIG, "'pm10'"),
    ({"type": "opensensemap", "box_id": "b1", "sensors": {"pm25": "s25"}}, 401, b"{}", base.CONFIG, "token"),
    ({"type": "influx", "url": "http://h:8086"}, 401, b'{"error":"unable to parse authentication credentials"}',
     base.CONFIG, "username"),
    ({"type": "influx", "url": "http://h:8086"}, 404, b'{"error":"database not found: \\"x\\""}', base.CONFIG,
     "database"),
    ({"type": "influx", "url": "http://h:8086"}, 400,
     b'{"error":"partial write: points beyond retention policy dropped=3"}', base.OK, "retention"),
    ({"type": "influx", "url": "http://h:8086"}, 400, b'{"error":"unable to parse \'x\': missing fields"}',
     base.REJECTED, "missing fields"),
    ({"type": "airkit_json", "url": "http://h/api/v1/batch"}, 401, b"", base.CONFIG, ""),
])
def test_each_server_answer_means_what_that_server_means(ucfg, status, body, verdict, words):
    v, msg = make(**ucfg).classify(status, body)
    assert v == verdict, msg
    assert words in msg


def test_partial_write_dropped_count():
    assert influx.dropped(b'{"error":"partial write: field type conflict: input field \\"temperature\\" on '
                          b'measurement \\"feinstaub\\" is type float, already exists as type integer dropped=2"}') == 2
    assert influx.dropped(b'{"error":"unable to parse"}') is None


def test_influx_urls_and_auth():
    u = make(type="influx", url="http://h:8086", db="air q", username="me", password="pw")
    assert u.url == "http://h:8086/write?db=air%20q&precision=s"
    assert ("Authorization", "Basic bWU6cHc=") in u._hdrs
    u = make(type="influx", url="https://h:8086", org="school", bucket="air", token="t0k")
    assert u.url == "https://h:8086/api/v2/write?org=school&bucket=air&precision=s"
    assert ("Authorization", "Token t0k") in u._hdrs
    u = make(type="influx", url="http://h:8086/write?db=x&u=a&p=b")
    assert u.url == "http://h:8086/write?db=x&u=a&p=b&precision=s"


def test_ha_device_is_named_after_the_station_not_the_uplink():
    u = make(type="mqtt_ha", name="ha-uplink")
    assert u.name == "ha-uplink" and u.device_name == "Yard" and u.expire_after == 900


def test_config_validation_imports_no_uplink_module(tmp_path):
    src = ("import sys\nfrom airkit_fw import config\n"
           "p = config.validate({'location': {'lat': 25.0, 'lon': 121.5},"
           " 'uplinks': [{'type': 'influx', 'url': 'http://h:8086', 'bucket': 'b'},"
           " {'type': 'lass_mqtt'}, {'type': 'nope'}]})\n"
           "print(len(p))\nprint(sorted(k for k in sys.modules if k.startswith('airkit_fw.uplinks')))\n")
    mp = Path(sys.executable).parent / "micropython"
    (tmp_path / "v.py").write_text(src)       # through a file: long arguments crash the wrapper
    out = subprocess.run([str(mp), str(tmp_path / "v.py")], cwd=ROOT / "firmware", capture_output=True, text=True,
                         timeout=60, env={"MICROPYPATH": str(ROOT / "firmware")})
    assert out.returncode == 0, out.stderr
    n, mods = out.stdout.split("\n")[:2]
    assert n == "2"                                   # bucket without org/token; unknown type
    # only the registry and the types' tiny declarations (uplinks/<type>_spec.py), never their code
    assert mods == ("['airkit_fw.uplinks', 'airkit_fw.uplinks.influx_spec', 'airkit_fw.uplinks.lass_mqtt_spec', "
                    "'airkit_fw.uplinks.registry']")
