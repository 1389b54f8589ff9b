# MicroPython: heap used by importing every firmware module (from compiled .mpy).
import gc
import sys

names = sys.argv[-1].split(",")
gc.collect()
before = gc.mem_alloc()
for name in names:
    __import__(name)
gc.collect()
print("import_heap", gc.mem_alloc() - before)
