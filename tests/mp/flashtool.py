# Write one file into a virtual board's flash image (littlefs2), as 'airkit deploy'
# would on a real board. Usage: micropython flashtool.py FLASH_IMG NAME TEXT
import sys
import vfs
import blockdev

img, name, text = sys.argv[1], sys.argv[2], sys.argv[3]
dev = blockdev.FileBlockDev(img)
if dev.fresh:
    vfs.VfsLfs2.mkfs(dev)
vfs.mount(vfs.VfsLfs2(dev), "/flash")
with open("/flash/" + name, "w") as f:
    f.write(text)
vfs.umount("/flash")
print("wrote", name)
