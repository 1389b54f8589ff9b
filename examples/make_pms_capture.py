"""Regenerate examples/pms-capture.bin with the virtual board's own PMS5003 frame builder.

What a USB-serial adapter on the sensor's TX pin records at 9600 baud: a few
seconds of frames as PM2.5 rises, a burst of line noise, one frame with a bad
checksum (the decoder must skip it) and a frame cut short at the end.
Run: .venv/bin/python examples/make_pms_capture.py
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "host" / "airkit" / "vboard"))

from pms_sim import build_frame, frame_values  # noqa: E402

out = bytearray()
for i, pm in enumerate([12, 12, 13, 15, 18, 22, 27, 31, 30, 28]):
    frame = build_frame(frame_values(pm / 0.68, 1.0))
    if i == 3:
        out += bytes([0x00, 0xFF, 0x42, 0x13, 0x4D, 0x00])      # line noise, a false start byte among it
    if i == 6:
        frame[31] ^= 0x5A                                       # corrupted on the wire: bad checksum
    out += frame
out += build_frame(frame_values(40, 1.0))[:17]                  # capture stopped mid-frame
(HERE / "pms-capture.bin").write_bytes(bytes(out))
print("wrote %s (%d bytes)" % (HERE / "pms-capture.bin", len(out)))
