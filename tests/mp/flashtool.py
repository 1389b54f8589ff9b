# Write files into a virtual board's flash image (littlefs2), as 'airkit deploy'
# would on a real board.
# Usage: micropython flashtool.py FLASH_IMG NAME TEXT
#        micropython flashtool.py FLASH_IMG --file HOST_FILE NAME       (copy a file)
#        micropython flashtool.py FLASH_IMG --tree HOST_DIR FLASH_DIR   (copy a folder's .py files)
#        micropython flashtool.py FLASH_IMG --tree-all HOST_DIR FLASH_DIR   (every file, bytes)
#        micropython flashtool.py FLASH_IMG --cat NAME                  (print a file)
# (The unix port wrapper crashes on command-line arguments longer than ~256
# bytes, so longer texts go through --file.)
import os
import sys
import vfs
import blockdev

img = sys.argv[1]
dev = blockdev.FileBlockDev(img)
if dev.fresh:
    vfs.VfsLfs2.mkfs(dev)
vfs.mount(vfs.VfsLfs2(dev), "/flash")


def mkdirs(path):
    part = ""
    for p in path.strip("/").split("/"):
        part += "/" + p
        try:
            os.mkdir(part)
        except OSError:
            pass


def copy_tree(src, dst):
    mkdirs(dst)
    for name, kind, *_ in os.ilistdir(src):
        if kind == 0x4000:
            if name != "__pycache__":
                copy_tree(src + "/" + name, dst + "/" + name)
        elif name.endswith(".py"):
            with open(src + "/" + name) as f:
                text = f.read()
            with open(dst + "/" + name, "w") as f:
                f.write(text)


def copy_all(src, dst):
    """Every file, byte for byte (an OTA folder: .mpy, state, key)."""
    mkdirs(dst)
    for name, kind, *_ in os.ilistdir(src):
        if kind == 0x4000:
            copy_all(src + "/" + name, dst + "/" + name)
        else:
            with open(src + "/" + name, "rb") as f, open(dst + "/" + name, "wb") as g:
                g.write(f.read())


if sys.argv[2] == "--file":
    with open(sys.argv[3], "rb") as f:
        data = f.read()
    with open("/flash/" + sys.argv[4], "wb") as f:
        f.write(data)
    print("copied", sys.argv[3])
elif sys.argv[2] == "--tree-all":
    copy_all(sys.argv[3], "/flash" + sys.argv[4])
    print("copied", sys.argv[3])
elif sys.argv[2] == "--cat":            # print a file from the flash (or MISSING)
    try:
        with open("/flash/" + sys.argv[3]) as f:
            print(f.read())
    except OSError:
        print("MISSING")
elif sys.argv[2] == "--tree":
    copy_tree(sys.argv[3], "/flash" + sys.argv[4])
    print("copied", sys.argv[3])
else:
    name, text = sys.argv[2], sys.argv[3]
    with open("/flash/" + name, "w") as f:
        f.write(text)
    print("wrote", name)
vfs.umount("/flash")
