"""The virtual board's flash: a littlefs2 block device backed by an image file.

Why a littlefs image and not a host folder: the ESP32 runs littlefs v2, and its
behaviour (rename atomicity, copy-on-write, wear) is what the journal must
survive. The device counts bytes written and blocks erased for the benchmarks,
and a scheduled power cut lands in the middle of a block write (half the block
written, then the process is killed), which is what a torn write looks like.
"""

_BLOCK = 4096
_BLOCKS = 512          # 2 MiB, the filesystem partition of a 4 MB ESP32 board
_BLANK = 256           # an erase writes 0xFF in pieces of this size from one buffer: a real
                       # board erases in its flash chip, so the stand-in must not take a
                       # 4 KiB heap block per erase (it would be counted against the firmware)


class FileBlockDev:
    def __init__(self, path, world=None, block_size=_BLOCK, blocks=_BLOCKS):
        self.bs = block_size
        self.n = blocks
        self.world = world
        self.fresh = False
        try:
            self.f = open(path, "r+b")
        except OSError:
            self.f = open(path, "w+b")
            blank = b"\xff" * _BLANK
            for _ in range(blocks * block_size // _BLANK):
                self.f.write(blank)
            self.f.flush()
            self.fresh = True
        self.bytes_written = 0
        self.erases = 0
        self._blank = b"\xff" * _BLANK

    def readblocks(self, block, buf, offset=0):
        self.f.seek(block * self.bs + offset)
        self.f.readinto(buf)

    def writeblocks(self, block, buf, offset=None):
        if offset is None:
            offset = 0
        w = self.world
        self.f.seek(block * self.bs + offset)
        if w is not None and w.power_cut_due():
            if w.cut_on_write and w.cut_skip is None:
                w.cut_skip = w.randint(0, 3)             # which of the next writes the cut hits
            if w.cut_skip:
                w.cut_skip -= 1
            else:
                n = len(buf)
                cut = w.randint(1, n - 1) if w.cut_on_write and n > 1 else n // 2
                self.f.write(bytes(buf[:cut]))           # torn write
                self.f.flush()
                w.power_cut()
        self.f.write(buf)
        self.f.flush()
        self.bytes_written += len(buf)
        if w is not None:
            w.count("flash_bytes_written", len(buf))

    def ioctl(self, op, arg):
        if op == 4:
            return self.n
        if op == 5:
            return self.bs
        if op == 6:
            self.erases += 1
            if self.world is not None:
                self.world.count("flash_erases")
            self.f.seek(arg * self.bs)
            blank = self._blank
            for _ in range(self.bs // _BLANK):
                self.f.write(blank)
            self.f.flush()
            return 0
        return None
