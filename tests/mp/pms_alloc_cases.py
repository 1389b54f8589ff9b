# Zero heap allocation per decoded frame in steady state (MicroPython gc counters).
import gc
from pmsframes import data_frame, values_for
from airkit_fw.pms5003 import FrameDecoder

N_FRAMES = 200


def check(cond, msg=""):
    if not cond:
        raise AssertionError(msg)


def make_stream(noise):
    s = bytearray()
    for i in range(N_FRAMES):
        s += data_frame(values_for(i))
        if noise and i % 5 == 2:
            s += b"\x00\x42\x13\x42"       # noise the decoder skips (no checksum failure)
    return s


def run(dec, buf, n):
    frames = 0
    pos = 0
    while pos < n:
        pos = dec.feed(buf, pos, n)
        if dec.ready:
            frames += 1
    return frames


def measure(buf):
    dec = FrameDecoder()
    n = len(buf)
    run(dec, buf, n)                 # warm-up
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        frames = run(dec, buf, n)
        frames += run(dec, buf, n)
        after = gc.mem_alloc()
    finally:
        gc.enable()
    return frames, after - before


def test_zero_bytes_per_frame_clean_stream():
    buf = make_stream(False)
    frames, grew = measure(buf)
    check(frames == 2 * N_FRAMES, "frames %d" % frames)
    check(grew == 0, "heap grew %d bytes over %d frames (%.2f per frame)" % (grew, frames, grew / frames))


def test_zero_bytes_per_frame_with_noise_and_memoryview():
    buf = memoryview(make_stream(True))
    frames, grew = measure(buf)
    check(frames == 2 * N_FRAMES, "frames %d" % frames)
    check(grew == 0, "heap grew %d bytes over %d frames" % (grew, frames))


def test_measurement_detects_allocation():
    # the same measurement sees an allocation per frame when there is one
    buf = make_stream(False)
    dec = FrameDecoder()
    n = len(buf)
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        pos = 0
        keep = []
        while pos < n:
            pos = dec.feed(buf, pos, n)
            if dec.ready:
                keep.append(list(dec.values))
        after = gc.mem_alloc()
    finally:
        gc.enable()
    check(after - before >= 16 * N_FRAMES, "allocation not visible: %d" % (after - before))


def test_aggregation_allocates_nothing():
    from airkit_fw import sampler

    class Driver:                      # carries a decoder, as PMS5003 does
        def __init__(self):
            self.decoder = FrameDecoder()

    ch = sampler.Channel(Driver(), 9)
    out = [0] * 12
    vals = ch.pms.decoder.values
    for i in range(9):
        for k in range(12):
            vals[k] = (i * 37 + k * 11) % 50
        ch.keep(9)
    ch.aggregate(out)
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        for _ in range(20):
            ch.n = 9
            ch.aggregate(out)
        after = gc.mem_alloc()
    finally:
        gc.enable()
    check(after - before == 0, "aggregation allocated %d bytes" % (after - before))


if __name__ == "__main__":
    import mptest
    mptest.main(globals())
