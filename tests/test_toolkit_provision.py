"""Provision three virtual boards in parallel from a class list; the report is correct and password-free."""

import csv
import json

from airkit.cli import main
from airkit.provision import sensor_community_id
from toolkit_helpers import RunningBoard


def test_sensor_community_id_airrohr_rule():
    assert sensor_community_id("24:0a:c4:12:34:56") == "esp32-563412c40a24"
    assert sensor_community_id("30:ae:a4:07:0d:64") == "esp32-640d7a4ae30"


def test_provision_three_boards(tmp_path, capsys):
    wifi = {"wifi": {"ssid": "school", "password": "pw-class-7"}}
    (tmp_path / "class.csv").write_text(
        "device_id,name,lat,lon,wifi_ssid,wifi_password,uplinks\n"
        "st-01,Window,52.5,13.4,school,pw-class-7,\n"
        "st-02,Yard,52.5,13.41,school,pw-class-7,\n"
        "st-03,Gym,52.5,13.42,school,not-the-pw,\n")
    boards = [RunningBoard(tmp_path, "b%d" % i, firmware_from="flash", scenario=wifi) for i in (1, 2, 3)]
    try:
        ports = ",".join(b.port for b in boards)
        rc = main(["provision", str(tmp_path / "class.csv"), "--ports", ports, "--json"])
        first = json.loads(capsys.readouterr().out)
        assert rc == 1                                   # st-03 has the wrong WiFi password
        by_id = {b["device_id"]: b for b in first["boards"]}
        assert by_id["st-01"]["ok"] and by_id["st-02"]["ok"] and not by_id["st-03"]["ok"]
        assert all(any(s.startswith("deployed") for s in b["steps"]) for b in first["boards"])
        rows = {r["device_id"]: r for r in csv.DictReader(open(tmp_path / "class-report.csv"))}
        assert set(rows) == {"st-01", "st-02", "st-03"}
        macs = {r["mac"] for r in rows.values()}
        assert len(macs) == 3
        for r in rows.values():
            assert r["sensor_community_id"] == sensor_community_id(r["mac"])
            assert len(r["firmware_hash"]) == 64 and len(r["config_hash"]) == 64
        assert "wifi:FAIL" in rows["st-03"]["tests"] and "refused the password" in rows["st-03"]["problems"]
        assert rows["st-01"]["status"] == "ok" and "pms:pass" in rows["st-01"]["tests"]
        assert len({r["firmware_hash"] for r in rows.values()}) == 1
        html = (tmp_path / "class-report.html").read_text()
        assert html.count('<div class="label ') == 3 and rows["st-02"]["sensor_community_id"] in html
        for f in ("class-report.csv", "class-report.html", "class.state.json"):
            text = (tmp_path / f).read_text()
            assert "pw-class-7" not in text and "not-the-pw" not in text
        # Re-run with the ports in another order: boards keep their rows (followed by MAC),
        # nothing is re-deployed, passed tests are not repeated.
        rc = main(["provision", str(tmp_path / "class.csv"), "--ports", ",".join(b.port for b in boards[::-1]),
                   "--json"])
        second = json.loads(capsys.readouterr().out)
        rows2 = {r["device_id"]: r for r in csv.DictReader(open(tmp_path / "class-report.csv"))}
        assert {k: r["mac"] for k, r in rows2.items()} == {k: r["mac"] for k, r in rows.items()}
        for b in second["boards"]:
            assert "firmware already current" in b["steps"] and not any("config written" in s for s in b["steps"])
            if b["device_id"] != "st-03":
                assert "tests already passed" in b["steps"]
    finally:
        for b in boards:
            b.stop()


def test_reported_config_hash_hides_secrets():
    """The report's config hash must not let anyone test password guesses offline."""
    import hashlib

    from airkit.deploy import config_bytes, public_config_hash

    a = {"device": {"id": "st-01"}, "wifi": {"ssid": "school", "password": "pw-class-7"},
         "uplinks": [{"type": "airkit_json", "url": "http://x/api", "token": "tok-123456"}]}
    b = json.loads(json.dumps(a))
    b["wifi"]["password"] = "another-pw"
    b["uplinks"][0]["token"] = "tok-999999"
    assert public_config_hash(a) == public_config_hash(b)
    assert public_config_hash(a) != hashlib.sha256(config_bytes(a)).hexdigest()
    c = json.loads(json.dumps(a))
    c["wifi"]["ssid"] = "library"
    assert public_config_hash(a) != public_config_hash(c)
