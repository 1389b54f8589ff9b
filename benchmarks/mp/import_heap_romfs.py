# MicroPython: heap used by importing firmware modules that run in place from a
# ROMFS image (as on a MicroPython 1.25+ board with a ROMFS partition). The image
# is loaded before measuring: on a board it is memory-mapped flash, not heap.
import gc
import sys
import vfs

with open(sys.argv[-2], "rb") as f:
    image = f.read()
vfs.mount(vfs.VfsRom(image), "/rom")
sys.path.insert(0, "/rom")
with open(sys.argv[-1]) as f:
    names = f.read().split()
gc.collect()
before = gc.mem_alloc()
for name in names:
    __import__(name)
gc.collect()
print("import_heap", gc.mem_alloc() - before)
