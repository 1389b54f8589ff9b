"""Verified TLS for https uplinks: the firmware's own TLS path (tls.SSLContext,
CERT_REQUIRED, the uplink's CA, server_hostname) against a real https collector
on loopback, on the virtual board under the real MicroPython interpreter."""

import ssl
from pathlib import Path

from airkit.collect.server import Collector
from airkit.collect.store import Store
from airkit_fw import config
from conftest import run_mp
from test_reliability import run_board
from uplink_helpers import TOKEN

TLS = Path(__file__).resolve().parent / "data" / "tls"


def https_collector(tmp_path):
    store = Store(tmp_path / "collect.sqlite")
    store.add_device("station-1", "json", TOKEN)
    return Collector(store, "127.0.0.1", 0, tls_cert=str(TLS / "server.pem"),
                     tls_key=str(TLS / "server.key")).start()


def cfg_for(port, ca, host="localhost"):
    return {"device": {"id": "station-1"}, "wifi": {"ssid": "lab", "password": "lab-wifi-pass"},
            "uplinks": [{"type": "airkit_json", "url": "https://%s:%d/api/v1/batch" % (host, port),
                         "token": TOKEN, "ca": ca}]}


def test_pem_to_der_matches_python_ssl(tmp_path):
    two = (TLS / "ca.pem").read_text() + (TLS / "other-ca.pem").read_text()
    pem = tmp_path / "two.pem"
    pem.write_text(two)
    got = run_mp(source="from airkit_fw.uplinks.net import ca_certificates\n"
                        "for d in ca_certificates(open(%r).read()): print(d.hex())" % str(pem)).split()
    want = [ssl.PEM_cert_to_DER_cert("-----BEGIN" + p.split("-----BEGIN", 1)[1] + "-----END CERTIFICATE-----\n").hex()
            for p in two.split("-----END CERTIFICATE-----") if "BEGIN" in p]
    assert got == want and len(got) == 2


def test_https_upload_with_the_right_ca_delivers_everything(tmp_path):
    coll = https_collector(tmp_path)
    try:
        board, readings, status, lines = run_board(tmp_path, cfg_for(coll.port, (TLS / "ca.pem").read_text()),
                                                   1, {})
        assert len(readings) == 12
        assert status["delivered"] == {"airkit_json": 12} and status["pending"] == {"airkit_json": 0}
        assert sorted(r["time"] for r in coll.store.rows("station-1")) == sorted(r["time"] for r in readings)
    finally:
        coll.stop()


def test_wrong_ca_or_wrong_host_is_refused_and_nothing_is_lost(tmp_path):
    coll = https_collector(tmp_path)
    try:
        for name, cfg in (("other-ca", cfg_for(coll.port, (TLS / "other-ca.pem").read_text())),
                          ("wrong-host", cfg_for(coll.port, (TLS / "ca.pem").read_text(), host="127.0.0.1"))):
            board, readings, status, lines = run_board(tmp_path, cfg, 1, {}, name=name)
            assert len(readings) == 12, name                       # the station keeps measuring
            assert coll.store.count("station-1") == 0, name        # an unverified server gets nothing
            assert status["delivered"].get("airkit_json", 0) == 0
            assert status["pending"]["airkit_json"] == 12, name    # ...and everything waits in the journal
            assert board.restarts == {"reset": 0, "watchdog": 0, "power_cut": 0}
            print(name, status["state"])
            assert "tls" in status["state"]["airkit_json"], status
    finally:
        coll.stop()


def test_https_without_ca_is_a_config_problem():
    problems = config.validate(cfg_for(443, None))
    assert any("uses https but has no 'ca'" in p for p in problems), problems
    assert not config.validate(cfg_for(443, (TLS / "ca.pem").read_text()))
