"""Quality flags: one module (firmware/airkit_fw/flags.py) carries them as bits from the
sampler to the journal, the uplinks, the collector and calibration; names only at the edges."""

import json

from airkit_fw import flags


def test_names_and_bits_round_trip_every_flag_time_fixed_included():
    every = [n for n in flags.NAMES if n]
    assert "time_fixed" in every and "correction_out_of_range" in every
    b = flags.bits(every)
    assert b == flags.ALL and flags.names(b) == every
    unknown = []
    assert flags.bits(["ab_disagree", "from_the_future"], unknown) == flags.AB_DISAGREE
    assert unknown == ["from_the_future"]
    out = []
    flags.write_json(flags.TIME_FIXED | flags.DHT_STUCK, out.append)
    assert json.loads("".join(out)) == ["dht_stuck", "time_fixed"]


def test_the_sampler_and_the_journal_use_the_flags_module():
    from airkit_fw import journal, sampler

    assert sampler.AB_DISAGREE == flags.AB_DISAGREE and journal.TIME_FIXED == flags.TIME_FIXED
    assert not hasattr(journal, "flag_list") and not hasattr(sampler, "FLAG_NAMES")


def _reading(**kw):
    from types import SimpleNamespace

    from airkit_fw.pms5003 import KEYS

    r = SimpleNamespace(ticks=1, seq=1, values=[20] * len(KEYS), frames=9, has_b=False, rh=97.0, temp_c=20.0,
                        flags=0, checksum_errors=0, warmup_ok=True, laser_on_s=30)
    r.__dict__.update(kw)
    return r


def test_correction_out_of_range_is_a_bit_that_reaches_the_journal_record():
    # Bug: declared as a bit, appended as a string to the names list; the journal turned names
    # back into bits. Now the correction sets the bit and the console line names it.
    from airkit_fw import app, journal

    class B:
        def unix_time(self):
            return 1767571200

        def iso_utc(self, t):
            return "2026-01-05T00:00:00Z"

    cfg = {"correction": {"kind": "linear", "name": "t", "coef": {"intercept": 0.0, "pm": 0.5},
                          "valid": {"pm": [0, 10]}}}
    apply, name = app._correction_for(cfg)
    assert apply is not None
    d = app.reading_dict(B(), _reading(), "st-1", apply)
    assert d["flags_bits"] & flags.CORRECTION_OUT_OF_RANGE, d
    assert "correction_out_of_range" in d["flags"]
    buf = bytearray(journal.REC_SIZE)
    journal.encode(buf, 1, 1767571200, 1, 1, d)
    assert journal.decode(buf)["flags_bits"] & flags.CORRECTION_OUT_OF_RANGE


def test_collector_stores_the_firmware_names_in_bit_order():
    from airkit.collect.ingest import flag_text

    assert flag_text(["time_fixed", "ab_disagree"]) == "ab_disagree;time_fixed"
    assert flag_text(["ab_disagree", "new_in_fw_9"]) == "ab_disagree;new_in_fw_9"


def test_calibration_drops_warm_up_and_ab_disagreeing_readings_and_says_how_many(tmp_path):
    from airkit.calibrate import ingest

    rows = ["time,pm25_cf1,rh,temp_c,flags"]
    for h in range(6):
        f = {0: "warmup_short", 1: "ab_disagree;time_fixed", 2: "dht_stuck"}.get(h, "")
        rows.append("2026-01-05T%02d:00:00Z,%d,50,20,%s" % (h, 10 + h, f))
    p = tmp_path / "s.csv"
    p.write_text("\n".join(rows) + "\n")
    t = ingest.load_sensor(str(p), fmt="airkit")
    assert list(t.frame["pm25_cf1"]) == [12, 13, 14, 15]          # dht_stuck is not a PM problem: kept
    assert "1 readings dropped: warm-up not honoured (flag warmup_short)" in t.notes
    assert "1 readings dropped: A/B channels disagree (flag ab_disagree)" in t.notes
