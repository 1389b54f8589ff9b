"""Provision three virtual boards in parallel from a class list; the report is correct and password-free."""

import csv
import json

from airkit.cli import main
from airkit.provision import sensor_community_id
from toolkit_helpers import RunningBoard


def test_sensor_community_id_airrohr_rule():
    assert sensor_community_id("24:0a:c4:12:34:56") == "esp32-563412c40a24"
    assert sensor_community_id("30:ae:a4:07:0d:64") == "esp32-640d7a4ae30"


def _collector(tmp_path, ids):
    from airkit.collect.server import Collector
    from airkit.collect.store import Store
    store = Store(tmp_path / "c.sqlite")
    for d in ids:
        store.add_device(d, "json", "tok-" + d)
    return Collector(store, "127.0.0.1", 0).start()


def test_provision_three_boards(tmp_path, capsys):
    wifi = {"wifi": {"ssid": "school", "password": "pw-class-7"}}
    coll = _collector(tmp_path, ["st-01", "st-02", "st-03"])
    url = "http://127.0.0.1:%d/api/v1/batch" % coll.port
    (tmp_path / "class.csv").write_text(
        "device_id,name,lat,lon,wifi_ssid,wifi_password,uplinks,airkit_json.url,airkit_json.token\n"
        "st-01,Window,52.5,13.4,school,pw-class-7,airkit_json,%s,tok-st-01\n"
        "st-02,Yard,52.5,13.41,school,pw-class-7,airkit_json,%s,tok-st-02\n"
        "st-03,Gym,52.5,13.42,school,not-the-pw,airkit_json,%s,tok-st-03\n" % (url, url, url))
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
        from airkit.provision import read_class, state_file
        state = state_file(read_class(str(tmp_path / "class.csv")))
        for f in (tmp_path / "class-report.csv", tmp_path / "class-report.html", state):
            text = f.read_text()
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
        # Another class list must not take these boards over without --force (exit 5, boards untouched).
        (tmp_path / "other").mkdir()
        (tmp_path / "other" / "class.csv").write_text(
            "device_id;wifi_ssid;wifi_password;uplinks;airkit_json.url;airkit_json.token\n"
            "x-01;school;pw-class-7;airkit_json;%s;tok\n" % url)
        rc = main(["provision", str(tmp_path / "other" / "class.csv"), "--ports", boards[0].port, "--json"])
        cap = capsys.readouterr()
        assert rc == 5 and "--force" in cap.err and "another class list" in cap.err
        assert json.loads(cap.out)["boards"] == []
    finally:
        for b in boards:
            b.stop()
        coll.stop()


def test_class_list_as_excel_writes_it(tmp_path):
    from airkit.provision import read_class
    text = ("device_id;name;lat;lon;wifi_ssid;wifi_password;uplinks;influx.url;influx.token\r\n"
            "st-01;Fenêtre Süd;52,52;13,40;école;pässwort;sensor_community influx;http://10.0.0.2:8086/write?db=air;"
            "tok\r\n;;;;;;;;\r\n")
    for name, data in (("cp1252.csv", text.encode("cp1252")), ("bom.csv", b"\xef\xbb\xbf" + text.encode()),
                       ("utf8.csv", text.encode()), ("comma.csv", text.replace(";", ",").replace("52,52", '"52.52"')
                                                      .replace("13,40", '"13.40"').encode())):
        (tmp_path / name).write_bytes(data)
        rows = read_class(str(tmp_path / name))
        assert len(rows) == 1, name
        cfg = rows[0]["config"]
        assert rows[0]["name"] == "Fenêtre Süd" and cfg["wifi"] == {"ssid": "école", "password": "pässwort"}
        assert cfg["location"] == {"lat": 52.52, "lon": 13.40}
        assert [u["type"] for u in cfg["uplinks"]] == ["sensor_community", "influx"]
        assert cfg["uplinks"][1] == {"type": "influx", "url": "http://10.0.0.2:8086/write?db=air", "token": "tok"}


def test_class_list_mistakes_are_clear(tmp_path, capsys):
    f = tmp_path / "c.csv"
    f.write_text("device_id,uplinks\nst-01,[{bad json\n")
    assert main(["provision", str(f), "--ports", "/dev/null"]) == 2
    err = capsys.readouterr().err
    assert "uplinks cell is not valid JSON" in err and "lat" not in err
    f.write_text("device_id,uplinks\nst-01,sensor_comunity\n")
    assert main(["provision", str(f), "--ports", "/dev/null"]) == 2
    assert "unknown uplink 'sensor_comunity'" in capsys.readouterr().err
    from airkit.provision import read_class
    f.write_text("device_id,wifi_ssid\nst-01,\n")
    w = read_class(str(f))[0]["warnings"]
    assert any("no WiFi" in x for x in w) and any("no uplink" in x for x in w)


def test_example_class_list_reads():
    from pathlib import Path
    from airkit.provision import read_class
    rows = read_class(str(Path(__file__).resolve().parents[1] / "examples" / "class-list.csv"))
    assert len(rows) == 3 and all(not r["warnings"] or "password" in r["warnings"][0] for r in rows)


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


def test_provision_enrols_stations_with_the_collector_end_to_end(tmp_path, capsys):
    """One command: the station gets a token in its collector uplinks, is registered with its
    Sensor.Community node, and the kit test's real uploads to the collector pass; the token is in
    no report, and a second run keeps it."""
    from airkit.collect.ingest import secret_ok
    from airkit.collect.server import Collector
    from airkit.collect.store import Store
    db = tmp_path / "c.sqlite"
    store = Store(db)
    coll = Collector(store, "127.0.0.1", 0).start()
    base = "http://127.0.0.1:%d" % coll.port
    (tmp_path / "class.csv").write_text(
        "device_id,wifi_ssid,wifi_password,uplinks,airkit_json.url,sensor_community.url\n"
        "st-09,school,pw-class-7,airkit_json sensor_community,%s/api/v1/batch,%s/v1/push-sensor-data/\n"
        % (base, base))
    board = RunningBoard(tmp_path, "e1", firmware_from="flash", scenario={"wifi": {"ssid": "school",
                                                                                  "password": "pw-class-7"}})
    try:
        rc = main(["provision", str(tmp_path / "class.csv"), "--ports", board.port, "--json",
                   "--collect-db", str(db)])
        out = json.loads(capsys.readouterr().out)
        assert rc == 0, out
        tokens = json.loads((tmp_path / "class.tokens.json").read_text())
        assert (tmp_path / "class.tokens.json").stat().st_mode & 0o077 == 0
        tok = tokens["st-09"]
        node = out["rows"][0]["sensor_community_id"]
        assert secret_ok(tok, store.secret_hash("st-09")) and secret_ok(tok, store.secret_hash(node))
        from airkit.provision import read_class, state_file
        state_path = state_file(read_class(str(tmp_path / "class.csv")))      # the class state (data folder)
        state = json.loads(state_path.read_text())
        ups = [c for c in state["boards"]["st-09"]["doctor"]["checks"] if c["check"] == "uplink"]
        assert len(ups) == 2 and all(c["passed"] for c in ups), ups      # both accepted by the collector
        for f in ("class-report.csv", "class-report.html", state_path):
            assert tok not in (tmp_path / f).read_text()
        rc = main(["provision", str(tmp_path / "class.csv"), "--ports", board.port, "--json",
                   "--collect-db", str(db)])
        again = json.loads(capsys.readouterr().out)
        assert rc == 0 and json.loads((tmp_path / "class.tokens.json").read_text())["st-09"] == tok
        assert "firmware already current" in again["boards"][0]["steps"]
        assert not any("config written" in s for s in again["boards"][0]["steps"])
    finally:
        board.stop()
        coll.stop()
