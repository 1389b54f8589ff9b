# PMS5003 frame decoder tests. Run under MicroPython (tests/test_fw_pms_decoder.py
# drives them through the unix port) and imported as-is under CPython.
from pmsframes import (KEYS, data_frame, pms3003_frame, pms5003st_frame, reply, values_for, bad,
                       decode_all)
from airkit_fw.pms5003 import FrameDecoder, iter_frames, command, KEYS as FW_KEYS

# A frame as a sensor sends it (values from a real indoor reading), written out
# from the datasheet table: 42 4D | 00 1C | CF=1: 5 7 8 | atm: 5 7 8 |
# counts: 969 283 46 4 2 2 | 97 00 | checksum 0x0288 (sum of bytes 0..29).
CAPTURE = bytes((
    0x42, 0x4D, 0x00, 0x1C,
    0x00, 0x05, 0x00, 0x07, 0x00, 0x08,
    0x00, 0x05, 0x00, 0x07, 0x00, 0x08,
    0x03, 0xC9, 0x01, 0x1B, 0x00, 0x2E, 0x00, 0x04, 0x00, 0x02, 0x00, 0x02,
    0x97, 0x00,
    0x02, 0x88))
CAPTURE_VALUES = [5, 7, 8, 5, 7, 8, 969, 283, 46, 4, 2, 2]


def check(cond, msg=""):
    if not cond:
        raise AssertionError(msg)


def test_capture_checksum_is_the_datasheet_sum():
    s = 0
    for b in CAPTURE[:30]:
        s += b
    check(s == 0x0288, "sum %x" % s)


def test_known_frame_every_value():
    dec = FrameDecoder()
    pos = dec.feed(CAPTURE, 0, len(CAPTURE))
    check(pos == 32, "consumed %d" % pos)
    check(dec.ready, "frame not ready")
    check(list(dec.values) == CAPTURE_VALUES, "values %r" % (dec.values,))
    check(dec.version == 0x97 and dec.error_code == 0, "version/error %r %r" % (dec.version, dec.error_code))
    check(dec.frames == 1 and dec.checksum_errors == 0 and dec.bytes_skipped == 0, "counters")


def test_value_order_and_both_bytes():
    vals = [0x0102, 0x0304, 0xFFFF, 0x0000, 0x8000, 0x00FF, 0xFF00, 0x1234, 0xABCD, 0x4242, 0x424D, 0x001C]
    f = data_frame(vals, version=0x80, error=0x07)
    frames = list(iter_frames(bytes(f)))
    check(len(frames) == 1, "frames %d" % len(frames))
    d = frames[0]
    for k in range(12):
        check(d[KEYS[k]] == vals[k], "%s = %r, want %r" % (KEYS[k], d[KEYS[k]], vals[k]))
    check(d["version"] == 0x80 and d["error_code"] == 0x07, "version/error")
    check(tuple(FW_KEYS) == KEYS, "key names/order %r" % (FW_KEYS,))


def test_feed_stops_after_each_frame():
    a = data_frame(values_for(1))
    b = data_frame(values_for(2))
    stream = a + b
    dec = FrameDecoder()
    pos = dec.feed(stream, 0, len(stream))
    check(pos == 32 and dec.ready and list(dec.values) == values_for(1), "first frame")
    pos = dec.feed(stream, pos, len(stream))
    check(pos == 64 and dec.ready and list(dec.values) == values_for(2), "second frame")
    pos2 = dec.feed(stream, pos, len(stream))
    check(pos2 == 64 and not dec.ready, "nothing more")
    check(dec.frames == 2, "frames")


def test_resync_when_reading_starts_mid_frame():
    f0 = data_frame(values_for(0))
    f1 = data_frame(values_for(1))
    f2 = data_frame(values_for(2))
    for cut in range(1, 32):
        dec = FrameDecoder()
        got = decode_all(dec, f0[cut:] + f1 + f2)
        check(got == [values_for(1), values_for(2)], "cut %d: %r" % (cut, got))
        check(dec.checksum_errors <= 1, "cut %d" % cut)


def test_bad_checksum_never_accepted():
    f = data_frame(values_for(5))
    good = data_frame(values_for(6))
    for pos in range(2, 32):
        for bit in (0x01, 0x80):
            c = bytearray(f)
            c[pos] ^= bit
            dec = FrameDecoder()
            got = decode_all(dec, c)
            check(got == [], "corrupted byte %d accepted" % pos)
            # and an intact frame right behind it is still found
            dec = FrameDecoder()
            got = decode_all(dec, c + good)
            check(got == [values_for(6)], "byte %d bit %x: %r" % (pos, bit, got))


def test_checksum_errors_counted():
    dec = FrameDecoder()
    stream = bad(data_frame(values_for(1))) + data_frame(values_for(2)) + bad(data_frame(values_for(3)), 12)
    got = decode_all(dec, stream)
    check(got == [values_for(2)], "got %r" % (got,))
    check(dec.checksum_errors == 2, "checksum_errors %d" % dec.checksum_errors)
    check(dec.frames == 1, "frames")


def test_noise_with_false_starts_before_frame():
    good = data_frame(values_for(7))
    noises = [
        b"\x42\x4d\x00\x1c\x11\x22",                # false header with the right length
        b"\x42\x4d\x00\x1c" + b"\x42\x4d" * 3,       # false header then more false starts
        b"\x42\x42\x42\x4d",                         # repeated 0x42
        b"\x42\x4d\x00\x04\x01",                     # false reply header
        b"\x42\x4d\x00\x24\x00\x00\x00",             # false ST header (40-byte frame)
        b"\x42\x4d\x00\x14",                         # false PMS3003 header
        b"\x42\x4d\xff\xff",                         # unknown length
        b"\x4d\x42\x00\x42",
        b"\x00" * 50,
    ]
    for noise in noises:
        dec = FrameDecoder()
        got = decode_all(dec, noise + good + noise + good)
        check(got == [values_for(7), values_for(7)], "noise %r: %r" % (noise, got))
        for chunk in (1, 3, 7, 31):
            dec = FrameDecoder()
            got = decode_all(dec, noise + good + noise + good, chunk)
            check(got == [values_for(7), values_for(7)], "noise %r chunk %d: %r" % (noise, chunk, got))


def test_truncated_frame_then_intact_frame():
    cut = data_frame(values_for(8))
    good = data_frame(values_for(9))
    for n in range(1, 32):
        for chunk in (0, 1, 5):
            dec = FrameDecoder()
            got = decode_all(dec, cut[:n] + good, chunk)
            check(got == [values_for(9)], "truncated at %d chunk %d: %r" % (n, chunk, got))


def test_intact_frame_inside_rejected_longer_frame():
    # A false 40-byte (ST) header swallows a whole intact frame: it must still be found.
    good = data_frame(values_for(10))
    for gap in range(0, 4):
        stream = b"\x42\x4d\x00\x24" + b"\x01" * gap + good + b"\x00" * 8
        dec = FrameDecoder()
        got = decode_all(dec, stream)
        check(got == [values_for(10)], "gap %d: %r" % (gap, got))


def test_unsupported_models_counted():
    dec = FrameDecoder()
    old = pms3003_frame([1, 2, 3, 4, 5, 6, 7, 8, 9])
    st = pms5003st_frame(list(range(100, 117)))
    good = data_frame(values_for(11))
    got = decode_all(dec, old + good + st)
    check(got == [values_for(11)], "got %r" % (got,))
    check(dec.unsupported_frames == 2, "unsupported_frames %d" % dec.unsupported_frames)
    check(dec.unsupported_length == 40, "unsupported_length %d" % dec.unsupported_length)
    check(dec.checksum_errors == 0 and dec.frames == 1, "counters")
    dec = FrameDecoder()
    decode_all(dec, old)
    check(dec.unsupported_frames == 1 and dec.unsupported_length == 24 and dec.frames == 0, "pms3003")
    check(dec.bytes_skipped == 0, "an unsupported frame is not noise")


def test_unsupported_frame_with_bad_checksum_is_a_checksum_error():
    dec = FrameDecoder()
    decode_all(dec, bad(pms3003_frame([1] * 9), 22))
    check(dec.unsupported_frames == 0 and dec.checksum_errors == 1, "counters")


def test_command_replies():
    dec = FrameDecoder()
    good = data_frame(values_for(12))
    stream = reply(0xE1, 0) + good + reply(0xE4, 0)
    got = decode_all(dec, stream)
    check(got == [values_for(12)], "got %r" % (got,))
    check(dec.replies == 2, "replies %d" % dec.replies)
    check(dec.reply_cmd == 0xE4 and dec.reply_data == 0, "last reply")
    # a reply alone completes no data frame
    dec = FrameDecoder()
    pos = dec.feed(reply(0xE1, 1), 0, 8)
    check(pos == 8 and not dec.ready and dec.replies == 1, "reply alone")
    check(dec.reply_cmd == 0xE1 and dec.reply_data == 1, "reply content")
    # a reply with a bad checksum is rejected
    dec = FrameDecoder()
    decode_all(dec, bad(reply(0xE1, 0), 7))
    check(dec.replies == 0 and dec.checksum_errors == 1, "bad reply")


def test_counters_exact():
    dec = FrameDecoder()
    noise = b"\x01\x02\x03"                      # 3 skipped
    stream = noise + data_frame(values_for(1)) + b"\x42\x00" + data_frame(values_for(2))
    got = decode_all(dec, stream)
    check(len(got) == 2, "frames")
    check(dec.frames == 2, "frames counter")
    check(dec.bytes_skipped == 5, "bytes_skipped %d" % dec.bytes_skipped)
    check(dec.checksum_errors == 0 and dec.unsupported_frames == 0 and dec.replies == 0, "others")
    # a half frame left in the decoder is counted as skipped when cleared
    dec.feed(b"\x42\x4d\x00\x1c\x00", 0, 5)
    dec.clear()
    check(dec.bytes_skipped == 10, "after clear %d" % dec.bytes_skipped)
    got = decode_all(dec, data_frame(values_for(3)))
    check(got == [values_for(3)], "after clear")
    dec.reset_counters()
    check(dec.frames == 0 and dec.bytes_skipped == 0 and dec.checksum_errors == 0, "reset")


def test_bytes_accounted_for():
    # every byte is either in an accepted frame/reply/unsupported frame or counted as skipped
    stream = (b"\x42\x4d\x00\x1c\x42\x4d" + data_frame(values_for(1)) + bad(data_frame(values_for(2)))
              + reply(0xE1, 0) + b"\x42" + pms3003_frame([3] * 9) + data_frame(values_for(3))[:20]
              + data_frame(values_for(4)) + b"\x42\x4d\x00\x24")
    dec = FrameDecoder()
    got = decode_all(dec, stream)
    check(got == [values_for(1), values_for(4)], "got %r" % (got,))
    dec.clear()
    used = 32 * dec.frames + 8 * dec.replies + 24 * dec.unsupported_frames
    check(used + dec.bytes_skipped == len(stream), "%d + %d != %d" % (used, dec.bytes_skipped, len(stream)))


def test_chunking_does_not_matter():
    stream = (b"\x00\x42" + data_frame(values_for(1)) + b"\x42\x4d\x00\x1c\x09" + data_frame(values_for(2))
              + reply(0xE2, 0) + bad(data_frame(values_for(3))) + data_frame(values_for(4)))
    ref = decode_all(FrameDecoder(), stream)
    check(ref == [values_for(1), values_for(2), values_for(4)], "ref %r" % (ref,))
    for chunk in range(1, 40):
        dec = FrameDecoder()
        check(decode_all(dec, stream, chunk) == ref, "chunk %d" % chunk)


def test_feed_with_start_and_end_in_a_larger_buffer():
    f = data_frame(values_for(3))
    buf = bytearray(100)
    buf[10:42] = f
    dec = FrameDecoder()
    pos = dec.feed(buf, 10, 42)
    check(pos == 42 and dec.ready and list(dec.values) == values_for(3), "slice feed")
    mv = memoryview(buf)
    dec = FrameDecoder()
    pos = dec.feed(mv, 10, 30)
    check(not dec.ready and pos == 30, "partial")
    pos = dec.feed(mv, 30, 42)
    check(dec.ready and list(dec.values) == values_for(3), "memoryview continues")


def test_command_bytes_match_the_datasheet():
    table = (
        (0xE1, 0, b"\x42\x4d\xe1\x00\x00\x01\x70"),   # passive mode
        (0xE1, 1, b"\x42\x4d\xe1\x00\x01\x01\x71"),   # active mode
        (0xE2, 0, b"\x42\x4d\xe2\x00\x00\x01\x71"),   # passive read
        (0xE4, 0, b"\x42\x4d\xe4\x00\x00\x01\x73"),   # sleep
        (0xE4, 1, b"\x42\x4d\xe4\x00\x01\x01\x74"),   # wake
    )
    for cmd, data, want in table:
        check(bytes(command(cmd, data)) == want, "command %x %d" % (cmd, data))
        out = bytearray(7)
        r = command(cmd, data, out)
        check(r is out and bytes(out) == want, "into buffer")


if __name__ == "__main__":
    import mptest
    mptest.main(globals())
