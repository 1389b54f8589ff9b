"""A station that uploads through two uplinks (airkit JSON and the Sensor.Community
API) lands as one row per reading when its node id is registered for the station."""

from airkit.collect.server import Collector
from airkit.collect.store import Store
from test_reliability import run_board, station_config
from uplink_helpers import NODE, TOKEN


def test_sc_pushes_merge_into_the_station_rows(tmp_path):
    store = Store(tmp_path / "collect.sqlite")
    store.add_device("station-1", "json", TOKEN)
    store.add_device(NODE, "sc", station="station-1")
    coll = Collector(store, "127.0.0.1", 0).start()
    try:
        board, readings, status, lines = run_board(tmp_path, station_config(coll.port, sc=True), 2, {})
        assert status["delivered"] == {"airkit_json": 24, "sensor_community": 24}
        assert store.count() == 24 and store.count(NODE) == 0      # one row per reading, under the station
        rows = {r["time"]: r for r in store.rows("station-1")}
        for r in readings:
            row = rows[r["time"]]
            assert row["pm25_cf1"] == r["pm25_cf1"] and row["pm25_atm"] == r["pm25_atm"]
            assert row["seq"] == r["seq"]
    finally:
        coll.stop()


def test_unregistered_station_alias_keeps_node_rows_apart(tmp_path):
    store = Store(tmp_path / "collect.sqlite")
    store.add_device("station-1", "json", TOKEN)
    store.add_device(NODE, "sc", TOKEN)
    alias = store.device(NODE)[3]                    # a random public id, never the node id
    assert alias.startswith("sc-") and alias != NODE
    coll = Collector(store, "127.0.0.1", 0).start()
    try:
        run_board(tmp_path, station_config(coll.port, sc=True), 1, {})
        assert store.count("station-1") == 12 and store.count(alias) == 12 and store.count(NODE) == 0
    finally:
        coll.stop()
