"""Headers with a frame length no supported model uses are reported, not silently dropped."""

import subprocess
import sys


def frame(values, length=28):
    body = bytes([0x42, 0x4D, length >> 8, length & 0xFF])
    for v in values:
        body += bytes([v >> 8, v & 0xFF])
    s = sum(body)
    return body + bytes([s >> 8 & 0xFF, s & 0xFF])


def test_unknown_lengths_counted_and_intact_frames_kept():
    from airkit_fw.pms5003 import FrameDecoder, iter_frames

    good = frame(list(range(1, 14)))
    odd = frame([7] * 10, length=22)            # a 26-byte frame: no model we know
    dec = FrameDecoder()
    out = list(iter_frames(odd + good + odd + odd, dec))
    assert len(out) == 1 and out[0]["pm1_cf1"] == 1
    assert dec.unknown_lengths == 3 and dec.unknown_length == 22
    assert dec.frames == 1


def test_pms_decode_says_unsupported_model(tmp_path):
    cap = tmp_path / "cap.bin"
    cap.write_bytes(frame([5] * 10, length=22) * 4)
    r = subprocess.run([sys.executable, "-m", "airkit.cli", "pms", "decode", str(cap)],
                       capture_output=True, text=True)
    assert r.returncode != 0
    assert "unsupported sensor model" in r.stderr
    assert "Traceback" not in r.stderr
