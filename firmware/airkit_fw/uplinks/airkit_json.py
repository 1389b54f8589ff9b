"""airkit JSON: batched POSTs of journal records to an airkit collector.

Body (one line, keys in this order)::

    {"device": "<id>", "fw": "<version>", ["model": "<correction name>",] ["pending": N,] "records": [
      {"seq": 12, "time": "2026-01-05T00:55:00Z" or null, "ticks": 3300123, "boot": 1,
       "flags": ["..."], "pm1_cf1": 5, ... "n10": 0, ["pm1_cf1_b": ...,]
       "rh": 61.2, "temp_c": 18.3, "pm25_corrected": 6.1 or null, "frames": 9,
       "checksum_errors": 0}, ...]}

``model`` names the on-device correction that produced ``pm25_corrected``
(present only when the station has one: ``airkit calibrate push``).
``pending``: the readings still waiting in the station's journal after this
batch (the collector's dashboard shows it as the station's backlog).

Header ``Authorization: Bearer <device token>`` (the collector keeps one token
per device). All raw fields, the quality flags and the corrected value go up,
so the collector can export a calibration-ready CSV. The collector
de-duplicates by (device, time), so at-least-once delivery is safe.
"""

from airkit_fw import VERSION
from airkit_fw.flags import write_json as write_flags
from airkit_fw.pms5003 import KEYS
from airkit_fw.uplinks.base import Uplink
from airkit_fw.uplinks.fmt import jstr, jnum


def record_json(rec, board, write=None):
    """One record's JSON, as a string or written piece by piece to ``write``."""
    out = [] if write is None else None
    w = out.append if write is None else write
    t = rec["time"]
    w('{"seq": %d, "time": %s, "ticks": %d, "boot": %d, "flags": '
      % (rec["seq"], '"%s"' % board.iso_utc(t) if t else "null", rec["ticks"], rec["boot"]))
    write_flags(rec["flags_bits"], w)         # bits in the journal, names on the wire
    for k in KEYS:
        w(', "%s": %s' % (k, jnum(rec[k])))
    if (KEYS[0] + "_b") in rec:
        for k in KEYS:
            w(', "%s_b": %s' % (k, jnum(rec[k + "_b"])))
    w(', "rh": %s, "temp_c": %s, "pm25_corrected": %s, "frames": %d, "checksum_errors": %d}'
      % (jnum(rec["rh"]), jnum(rec["temp_c"]), jnum(rec["pm25_corrected"]), rec["frames"],
         rec["checksum_errors"]))
    return "".join(out) if write is None else None


def batch_body(device, records, board, model=None, write=None, pending=None):
    """The batch as one string, or written piece by piece to ``write`` (what ``send`` does:
    the records are only iterated, so a journal ``Batch`` is read record by record)."""
    out = [] if write is None else None
    w = out.append if write is None else write
    w('{"device": %s, "fw": "%s", %s%s"records": [' % (
        jstr(device), VERSION, ('"model": %s, ' % jstr(model)) if model else "",
        ('"pending": %d, ' % pending) if pending is not None else ""))
    first = True
    for r in records:
        if not first:
            w(", ")
        first = False
        record_json(r, board, w)
    w("]}")
    return "".join(out) if write is None else None


class AirkitJson(Uplink):
    kind = "airkit_json"
    batch = 48
    streamed = True

    def __init__(self, board, ucfg, station):
        super().__init__(board, ucfg, station)
        self.url = ucfg.get("url")            # keys: airkit_json_spec.py
        self._token = ucfg.get("token") or ""
        self.device = station.station_id
        self.model = getattr(station, "correction_name", None)
        hdrs = [("Content-Type", "application/json")]
        if self._token:
            hdrs.append(("Authorization", "Bearer " + self._token))
        self._hdrs = hdrs

    def probe_request(self):
        # an empty batch: the collector checks the device and its token first
        return self.url, self._hdrs, batch_body(self.device, [], self.board, None)

    def send(self, records, parts):
        b = self.board
        dev = self.device
        model = self.model
        # the readings still waiting on the station after this batch: the collector shows it
        j = self.sink.journal if self.sink is not None else None
        pending = None
        if j is not None:
            pending = j.last_seq - self.cur - len(records)
            if pending < 0:
                pending = 0

        def body(w):
            batch_body(dev, records, b, model, w, pending)

        status, retry, resp = self.post(records, self.url, self._hdrs, body)
        self.check(status, retry, resp)
        self.ack(records[-1]["seq"])
