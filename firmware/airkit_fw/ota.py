# Application OTA: fetch a signed release file by file into the free slot, verify, switch.
#
# Loaded only when an update is waiting (the collector's answer says so, or the
# schedule asks), and dropped afterwards: nothing here stays in RAM while the
# station measures. The host side (airkit release) builds and signs releases;
# check_release() is shared with it (the host imports this module).
#
# A release is a folder: release.json (the manifest: format, version,
# min_micropython, files with path, size, sha256), release.sig (hex Ed25519
# signature of the manifest's SHA-256) and the files. Order on the station:
#   1. manifest + signature fetched (bounded size), signature and versions checked;
#   2. the free slot is emptied, each file streamed to <path>.part with its
#      SHA-256 computed on the way, checked (size + hash), renamed into place;
#   3. the manifest is written last into the slot (a slot without it is never booted);
#   4. the state (otaboot) is switched in one rename: the new slot runs on trial.
# Anything refused leaves the running slot and the state untouched.
import os

try:
    import hashlib
except ImportError:  # pragma: no cover
    import uhashlib as hashlib
try:
    import json
except ImportError:  # pragma: no cover
    import ujson as json

FORMAT = 1
MAX_MANIFEST = 8192
_CHUNK = 1024


class Refused(Exception):
    """A release that must not be installed; the message is the status line."""


def version_tuple(v):
    out = []
    for part in str(v).split("-")[0].split("."):
        try:
            out.append(int(part))
        except ValueError:
            out.append(0)
    while len(out) < 3:
        out.append(0)
    return tuple(out[:3])


def _plain_path(p):
    if not isinstance(p, str) or not p or len(p) > 120 or p[0] == "/":
        return False
    for part in p.split("/"):
        if not part or part[0] == "." or not all(c.isalpha() or c.isdigit() or c in "_-.+" for c in part):
            return False
    return True


def _hex(b):
    return "".join("%02x" % x for x in b)


def check_release(manifest_bytes, sig_hex, key_hex, mp_version):
    """The manifest (a dict) of a release signed by ``key_hex`` that runs on ``mp_version``; else Refused."""
    if len(manifest_bytes) > MAX_MANIFEST:
        raise Refused("release refused: its manifest is larger than %d bytes" % MAX_MANIFEST)
    from airkit_fw import ed25519

    try:
        ok = ed25519.verify(bytes.fromhex(key_hex), hashlib.sha256(manifest_bytes).digest(),
                            bytes.fromhex(sig_hex.strip()))
    except (ValueError, TypeError):
        ok = False
    if not ok:
        raise Refused("release refused: not signed by this station's release key")
    try:
        m = json.loads(manifest_bytes)
    except ValueError:
        raise Refused("release refused: its manifest is not JSON")
    if not isinstance(m, dict) or m.get("format") != FORMAT or not isinstance(m.get("files"), list):
        raise Refused("release refused: unknown manifest format %r" % (m.get("format") if isinstance(m, dict)
                                                                         else None,))
    need = m.get("min_micropython") or "0"
    if version_tuple(need) > version_tuple(mp_version):
        raise Refused("release %s refused: it needs MicroPython %s, this station runs %s"
                      % (m.get("version"), need, mp_version))
    for f in m["files"]:
        if not isinstance(f, dict) or not _plain_path(f.get("path")) or not isinstance(f.get("size"), int) \
                or not isinstance(f.get("sha256"), str) or len(f["sha256"]) != 64:
            raise Refused("release refused: a file entry is malformed")
    return m


def _rmtree(path):
    try:
        names = os.listdir(path)
    except OSError:
        return
    for n in names:
        p = path + "/" + n
        try:
            os.remove(p)
        except OSError:
            _rmtree(p)
    try:
        os.rmdir(path)
    except OSError:
        pass


def _makedirs(path):
    cur = "/" if path.startswith("/") else ""
    for part in path.split("/"):
        if not part:
            continue
        cur = cur + part
        try:
            os.mkdir(cur)
        except OSError:
            pass
        cur += "/"


class Updater:
    """``get(name)`` returns a readable stream (``read(n)``) of a release file, or raises OSError.

    ``log`` gets status lines. ``root`` is the OTA folder (tests use a temporary one).
    """

    def __init__(self, get, key_hex, mp_version, root=None, log=print):
        import otaboot     # top-level on the station (outside airkit_fw: a release cannot replace it)

        self.boot = otaboot
        self.get, self.key, self.mp, self.log = get, key_hex, mp_version, log
        self.root = root or otaboot.ROOT
        self.buf = bytearray(_CHUNK)

    def _read_small(self, name, limit):
        s = self.get(name)
        try:
            out = s.read(limit + 1)
        finally:
            try:
                s.close()
            except Exception:
                pass
        if len(out) > limit:
            raise Refused("release refused: %s is larger than %d bytes" % (name, limit))
        return out

    def install(self):
        """Fetch, verify and switch to the release; returns its version. Raises Refused or OSError."""
        mbytes = self._read_small("release.json", MAX_MANIFEST)
        sig = self._read_small("release.sig", 256).decode()
        m = check_release(mbytes, sig, self.key, self.mp)
        st = self.boot.read_state(self.root)
        if st.get("trial"):
            raise Refused("update %s waits: version %s is still on trial" % (m.get("version"),
                                                                           st["trial"].get("version")))
        if m.get("version") == st.get("version"):
            return None
        cur = st.get("current")
        slot = "b" if cur == "a" else "a"
        base = self.root + "/" + slot
        _makedirs(self.root)
        _rmtree(base)
        os.mkdir(base)
        for f in m["files"]:
            self._fetch(f, base)
        with open(base + "/release.json", "wb") as out:
            out.write(mbytes)
        trial = {"version": m["version"], "previous": cur, "previous_version": st.get("version"), "boots": 0}
        self.boot.save_state({"current": slot, "previous": cur, "version": st.get("version"), "trial": trial,
                            "last": st.get("last")}, self.root)
        self.log("update %s installed in slot %s: on trial from the next start" % (m["version"], slot))
        return m["version"]

    def _fetch(self, f, base):
        path = f["path"]
        if path.startswith("lib/"):
            path = path[4:]
        if "/" in path:
            _makedirs(base + "/" + path.rsplit("/", 1)[0])
        dest = base + "/" + path
        h = hashlib.sha256()
        n = 0
        s = self.get(f["path"])
        buf = self.buf
        try:
            with open(dest + ".part", "wb") as out:
                while True:
                    k = s.readinto(buf) if hasattr(s, "readinto") else None
                    if k is None:
                        chunk = s.read(_CHUNK)
                        k = len(chunk)
                        buf[:k] = chunk
                    if not k:
                        break
                    n += k
                    if n > f["size"]:
                        break
                    mv = memoryview(buf)[:k]
                    h.update(mv)
                    out.write(mv)
        finally:
            try:
                s.close()
            except Exception:
                pass
        if n != f["size"]:
            raise Refused("release refused: %s is %s bytes, the manifest says %d" % (f["path"], n, f["size"]))
        if _hex(h.digest()) != f["sha256"]:
            raise Refused("release refused: %s does not match its SHA-256" % f["path"])
        os.rename(dest + ".part", dest)
