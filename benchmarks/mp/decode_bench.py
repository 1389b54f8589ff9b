# MicroPython: allocation and speed of the PMS5003 frame decoder in steady state.
import gc
import sys
import time

from airkit_fw.pms5003 import FrameDecoder

N = 2000


def frame(pm):
    f = bytearray(32)
    f[0] = 0x42
    f[1] = 0x4D
    f[3] = 28
    for k in range(12):
        f[4 + 2 * k] = 0
        f[5 + 2 * k] = (pm + k) & 0xFF
    f[28] = 0x97
    s = sum(f[:30])
    f[30] = s >> 8
    f[31] = s & 0xFF
    return f


stream = bytearray()
for i in range(64):
    stream += frame(i)
    if i % 8 == 3:
        stream += b"\x00\x42\x13"          # a little noise between frames
buf = memoryview(stream)
n = len(stream)
dec = FrameDecoder()


def run(rounds):
    frames = 0
    for _ in range(rounds):
        pos = 0
        while pos < n:
            pos = dec.feed(buf, pos, n)
            if dec.ready:
                frames += 1
    return frames


run(2)                       # warm-up
gc.collect()
gc.disable()
before = gc.mem_alloc()
frames = run(N // 64)
after = gc.mem_alloc()
gc.enable()
t0 = time.ticks_us()
frames_t = run(N // 64)
dt = time.ticks_diff(time.ticks_us(), t0)
print("alloc_per_frame", (after - before) / frames)
print("us_per_frame", dt / frames_t)
print("frames", frames)
