"""Quality flags: one bit each, the same bits everywhere.

The sampler sets them, the journal stores them (u16 per record), the uplinks
and the collector carry them, calibration filters on them. Names exist only at
the edges where people or other programs read them: the console line, the
JSON an uplink sends, the CSV the collector exports. Runs on both interpreters:
the host imports this module (``airkit_fw.flags``), so nothing keeps a copy.

Bit 15 (``TIME_FIXED``) is the journal's historic place for "the time was
computed later from an NTP anchor"; records on boards keep it there.
"""

try:
    from micropython import const
except ImportError:  # CPython
    def const(value):
        return value

PMS_MISSING = const(1)
PMS_FEW_FRAMES = const(2)
WARMUP_SHORT = const(4)
DHT_FAILED = const(8)
DHT_STUCK = const(16)
DHT_IMPLAUSIBLE = const(32)
PMS_B_MISSING = const(64)
AB_DISAGREE = const(128)
PMS_UNSUPPORTED = const(256)
PMS_STUCK = const(512)
TIME_UNSYNCED = const(1024)
CORRECTION_OUT_OF_RANGE = const(2048)   # set where the correction runs: inputs outside the model's valid range
TIME_FIXED = const(0x8000)              # time computed after the reading from an NTP anchor (journal)

# bit position -> name (None: unused)
NAMES = ("pms_missing", "pms_few_frames", "warmup_short", "dht_failed", "dht_stuck", "dht_implausible",
         "pms_b_missing", "ab_disagree", "pms_unsupported", "pms_stuck", "time_unsynced",
         "correction_out_of_range", None, None, None, "time_fixed")
ALL = const(0x8FFF)


def names(bits):
    """The names of the set bits, in bit order (a new list: for the edges only)."""
    out = []
    for i in range(len(NAMES)):
        if bits & (1 << i) and NAMES[i] is not None:
            out.append(NAMES[i])
    return out


def bits(seq, unknown=None):
    """The bits of names (an edge that receives names: JSON, CSV). A name this firmware
    does not know is left out, or appended to the list ``unknown`` when one is given."""
    b = 0
    for n in seq:
        for i in range(len(NAMES)):
            if NAMES[i] == n:
                b |= 1 << i
                break
        else:
            if unknown is not None:
                unknown.append(n)
    return b


def bit(name):
    """The bit of one name (0 when unknown)."""
    return bits((name,))


def write_json(b, write):
    """``["name", ...]`` written piece by piece (no list, no joined string)."""
    write("[")
    first = True
    for i in range(len(NAMES)):
        if b & (1 << i) and NAMES[i] is not None:
            write('"' if first else ', "')
            write(NAMES[i])
            write('"')
            first = False
    write("]")
