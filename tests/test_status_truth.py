"""What the station says stays true across power cuts (issue: the sim summary's
``pending`` was a stale copy of the last ``uplinks`` line, ``delivered`` rolled back at
a power cut, the console ``seq`` repeated after one). Real firmware on the virtual
board, killed processes for the cuts, the real collector as the server."""

import json

from airkit.vboard import VirtualBoard
from test_reliability import station_config
from uplink_helpers import start_collector


def test_pending_delivered_and_seq_are_true_across_power_cuts(tmp_path):
    coll = start_collector(tmp_path)
    try:
        lines = []
        board = VirtualBoard(tmp_path / "b", config=station_config(coll.port, sc=False), hours=12,
                             scenario={"power_cuts": [1.53, 3.71, 5.02, 7.4, 9.9],
                                       "wifi": {"ssid": "lab", "password": "lab-wifi-pass",
                                                "down": [[2.0, 3.9], [10.05, 12]]}},
                             rtc_preset=False, on_line=lines.append)
        board.run()
        assert board.restarts["power_cut"] == 5
        readings = [json.loads(ln[8:]) for ln in lines if ln.startswith("reading ")]
        status = [json.loads(ln[8:]) for ln in lines if ln.startswith("uplinks {")]
        seqs = [r["seq"] for r in readings]
        assert len(set(seqs)) == len(seqs), "a seq printed twice"
        assert seqs == sorted(seqs)
        stored = coll.store.rows("station-1")
        last = status[-1]
        # pending: the real backlog (the readings taken since the WiFi went down at 10.05 h)
        assert last["pending"]["airkit_json"] == last["last_seq"] - len(stored) > 12
        assert last["last_seq"] == seqs[-1]
        # delivered: what the server has, never less (a power cut does not roll it back)
        assert last["delivered"]["airkit_json"] == len(stored)
        shown = [s["delivered"].get("airkit_json", 0) for s in status]
        assert all(b >= a for a, b in zip(shown, shown[1:])), "delivered went back"
    finally:
        coll.stop()
