# Plantower frames built byte by byte from the datasheet layout (independent of
# the firmware's code). Runs under MicroPython and CPython.
#
#   bytes 0-1  start 0x42 0x4D
#   bytes 2-3  frame length (28 for the PMS5003: 13 data words + 2 checksum bytes)
#   then big-endian 16-bit words: PM1/2.5/10 CF=1, PM1/2.5/10 atm, 6 counts,
#   reserved word (high byte version, low byte error code)
#   last 2 bytes: 16-bit sum of every byte before them

KEYS = ("pm1_cf1", "pm25_cf1", "pm10_cf1", "pm1_atm", "pm25_atm", "pm10_atm",
        "n0_3", "n0_5", "n1_0", "n2_5", "n5_0", "n10")


def _checksum(f):
    s = 0
    for b in f:
        s += b
    f.append((s >> 8) & 0xFF)
    f.append(s & 0xFF)
    return f


def plantower(length, words):
    """A frame with this length field and these 16-bit data words, valid checksum."""
    f = bytearray()
    f.append(0x42)
    f.append(0x4D)
    f.append((length >> 8) & 0xFF)
    f.append(length & 0xFF)
    for w in words:
        f.append((w >> 8) & 0xFF)
        f.append(w & 0xFF)
    return _checksum(f)


def data_frame(values, version=0x97, error=0):
    """A PMS5003 32-byte data frame with the 12 values."""
    assert len(values) == 12
    words = list(values) + [(version << 8) | error]
    f = plantower(28, words)
    assert len(f) == 32
    return f


def pms3003_frame(values9):
    # PMS3003: length 20 -> 24 bytes (9 data words)
    f = plantower(20, values9)
    assert len(f) == 24
    return f


def pms5003st_frame(values17):
    # PMS5003ST: length 36 -> 40 bytes (17 data words)
    f = plantower(36, values17)
    assert len(f) == 40
    return f


def reply(cmd, data):
    """The 8-byte answer to a mode/sleep command: 42 4D 00 04 CMD DATA CKH CKL."""
    f = bytearray((0x42, 0x4D, 0x00, 0x04, cmd, data))
    return _checksum(f)


def values_for(i):
    """Twelve distinct values for frame number i (exercising both bytes of each word)."""
    out = []
    for k in range(12):
        out.append((i * 977 + k * 4099 + 257) & 0xFFFF)
    return out


def bad(frame, pos=30):
    """A copy with one byte changed (default: the checksum's high byte)."""
    f = bytearray(frame)
    f[pos] ^= 0x01
    return f


def decode_all(dec, data, chunk=0):
    """Feed ``data`` (in chunks of ``chunk`` bytes, 0 = all at once); list of accepted value lists."""
    out = []
    n = len(data)
    step = chunk if chunk > 0 else n
    base = 0
    while base < n:
        end = base + step
        if end > n:
            end = n
        pos = base
        while pos < end:
            pos = dec.feed(data, pos, end)
            if dec.ready:
                out.append(list(dec.values))
        base = end
    return out
