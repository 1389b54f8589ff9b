# MicroPython: heap used by importing firmware modules.
# Usage: micropython import_heap.py [IMAGE.romfs] NAMES_FILE
# With a ROMFS image the modules run in place from it (as on a MicroPython 1.25+
# board with a ROMFS partition); the image is loaded before measuring, because on
# a board it is memory-mapped flash, not heap. The module list comes in a file:
# the unix port wrapper crashes on long arguments.
import gc
import sys

if sys.argv[-2].endswith(".romfs"):
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
