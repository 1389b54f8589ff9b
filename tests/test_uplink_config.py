"""Uplink settings as an owner writes them with `airkit config`: no credential is ever echoed."""

import json

from airkit.cli import main

SECRET = "s3cret-Pw9"
URL = "http://admin:%s@127.0.0.1:8086/write?db=airkit&u=admin&p=%s" % (SECRET, SECRET)


def test_set_uplinks_never_echoes_url_credentials(tmp_path, capsys):
    f = str(tmp_path / "station.json")
    assert main(["config", "init", f, "--device-id", "st-1"]) == 0
    ups = json.dumps([{"type": "influx", "url": URL}])
    assert main(["config", "set", f, "uplinks=" + ups]) == 0
    out = capsys.readouterr()
    assert SECRET not in out.out + out.err and "uplinks=" in out.out
    assert json.load(open(f))["uplinks"][0]["url"] == URL      # the file keeps the real value
    # a broken JSON list: the error names the setting but never repeats what was typed
    assert main(["config", "set", f, 'uplinks=[{"type": "influx", "url": "%s"' % URL]) == 2
    out = capsys.readouterr()
    assert SECRET not in out.out + out.err and "uplinks" in out.err
    # a token typed into an uplink is masked too
    assert main(["config", "set", f, 'uplinks=[{"type": "airkit_json", "url": "http://h/x", "token": "%s"}]'
                 % SECRET]) == 0
    out = capsys.readouterr()
    assert SECRET not in out.out + out.err


def test_validate_and_show_mask_a_typo_key(tmp_path, capsys):
    f = tmp_path / "station.json"
    f.write_text(json.dumps({"uplinks": [{"type": "opensensemap", "box_id": "b", "sensors": {"pm25": "s"},
                                          "acess_token": SECRET}]}))
    assert main(["config", "validate", str(f)]) != 0
    out = capsys.readouterr()
    assert "acess_token" in out.out + out.err and SECRET not in out.out + out.err
    main(["config", "show", str(f)])
    out = capsys.readouterr()
    assert SECRET not in out.out + out.err


def test_every_opensensemap_sensor_the_station_sends_is_accepted_by_validation():
    from airkit_fw import config as fw
    from airkit_fw.uplinks.opensensemap import _FIELDS

    box = {"type": "opensensemap", "box_id": "b", "url": "http://h", "sensors": {f[0]: "5f2b56f4263635001c1dd1a%d" % i for i, f in enumerate(_FIELDS)}}
    assert fw.validate({"uplinks": [box]}) == []


def test_doctor_uplink_check_never_shows_url_credentials(capsys):
    # Bug: the host tested (and printed) for 'http://admin:pw@db.example:8086' was 'admin:pw@db.example'
    from types import SimpleNamespace

    from airkit_fw import selftest

    def getaddrinfo(host, port, *a):
        raise OSError(-2, "no such name")

    mac = b"\x24\x0a\xc4\x12\x34\x56"
    board = SimpleNamespace(socket_module=lambda: SimpleNamespace(getaddrinfo=getaddrinfo, SOCK_STREAM=1),
                            mac=lambda: mac, unique_id=lambda: mac, feed=lambda: None, ticks_ms=lambda: 0,
                            ticks_add=lambda a, b: a + b, ticks_diff=lambda a, b: a - b)
    cfg = {"uplinks": [{"type": "influx", "url": "http://admin:%s@db.example:8086" % SECRET}]}
    out = selftest.check_uplinks(cfg, board)
    assert out[0]["host"] == "db.example" and out[0]["port"] == 8086
    assert SECRET not in capsys.readouterr().out


def test_validate_refuses_an_opensensemap_sensor_id_that_is_not_24_hex(tmp_path, capsys):
    # Bug: a typo'd id got 422 "Invalid sensor id" from the API and every reading was skipped
    ok = "5f2b56f4263635001c1dd1ac"
    f = tmp_path / "station.json"
    for bad in (ok + "d", ok[:-1] + "x"):
        f.write_text(json.dumps({"uplinks": [{"type": "opensensemap", "box_id": "b", "url": "http://h",
                                              "sensors": {"pm25": ok, "humidity": bad}}]}))
        assert main(["config", "validate", str(f)]) != 0
        out = capsys.readouterr()
        assert "'humidity'" in out.out + out.err and "24 hex" in out.out + out.err
    f.write_text(json.dumps({"uplinks": [{"type": "opensensemap", "box_id": "b", "url": "http://h",
                                          "sensors": {"pm25": ok, "humidity": ok.upper()}}]}))
    assert main(["config", "validate", str(f)]) == 0
