# MicroPython: heap used by importing every firmware module (from compiled .mpy).
import gc
import sys

# The module list comes in a file: the unix port wrapper crashes on long arguments.
with open(sys.argv[-1]) as f:
    names = f.read().split()
gc.collect()
before = gc.mem_alloc()
for name in names:
    __import__(name)
gc.collect()
print("import_heap", gc.mem_alloc() - before)
