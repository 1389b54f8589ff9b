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
#   1. manifest streamed to ota/incoming.json (bounded size, hashed on the way) and
#      the signature fetched; signature, format and MicroPython version checked;
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


def check_signature(digest, sig_hex, key_hex):
    """Refused unless ``sig_hex`` signs ``digest`` (the manifest's SHA-256) with ``key_hex``."""
    from airkit_fw import ed25519

    try:
        ok = ed25519.verify(bytes.fromhex(key_hex), digest, bytes.fromhex(sig_hex.strip()))
    except (ValueError, TypeError):
        ok = False
    if not ok:
        raise Refused("release refused: not signed by this station's release key")


def check_manifest(m, mp_version):
    """The manifest (a dict) when its format, files and MicroPython version fit; else Refused."""
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


def check_release(manifest_bytes, sig_hex, key_hex, mp_version):
    """A release's manifest from its bytes and signature (the host's check; the station streams)."""
    if len(manifest_bytes) > MAX_MANIFEST:
        raise Refused("release refused: its manifest is larger than %d bytes" % MAX_MANIFEST)
    check_signature(hashlib.sha256(manifest_bytes).digest(), sig_hex, key_hex)
    try:
        m = json.loads(manifest_bytes)
    except ValueError:
        raise Refused("release refused: its manifest is not JSON")
    return check_manifest(m, mp_version)


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
    """``get(name)`` returns a readable stream (``readinto``) of a release file, or raises OSError.
    ``key_hex`` None: the station's own key file ``ota/key``.

    ``log`` gets status lines. ``root`` is the OTA folder (tests use a temporary one).
    """

    def __init__(self, get, key_hex, mp_version, root=None, log=print):
        import otaboot     # top-level on the station (outside airkit_fw: a release cannot replace it)

        self.boot = otaboot
        self.get, self.key, self.mp, self.log = get, key_hex, mp_version, log
        self.root = root or otaboot.ROOT
        if not self.key:
            try:         # ota/key: the public key printed by 'airkit release keygen', one line of hex
                with open(self.root + "/key") as f:
                    self.key = f.read().strip()
            except OSError:
                raise Refused("no update possible: this station has no release key (%s/key); put the public key "
                              "from 'airkit release public-key' there" % self.root)
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
        """Fetch, verify and switch to the release; returns its version (None: already running).

        Raises Refused (the status line) or OSError (the network or the flash); the
        running slot and the state are then as they were.
        """
        boot = self.boot
        _makedirs(self.root)
        incoming = self.root + "/incoming.json"
        digest = self._stream("release.json", incoming, MAX_MANIFEST)
        sig = self._read_small("release.sig", 256).decode()
        check_signature(digest, sig, self.key)
        try:
            with open(incoming) as f:
                m = json.load(f)
        except ValueError:
            raise Refused("release refused: its manifest is not JSON")
        check_manifest(m, self.mp)
        st = boot.read_state(self.root)
        if st.get("trial"):
            raise Refused("update %s waits: version %s is still on trial" % (m.get("version"),
                                                                           st["trial"].get("version")))
        if m.get("version") == st.get("version"):
            return None
        cur = st.get("current")
        slot = "b" if cur == "a" else "a"
        base = self.root + "/" + slot
        _rmtree(base)
        os.mkdir(base)
        for f in m["files"]:
            self._fetch(f, base)
        os.rename(incoming, base + "/release.json")      # last: only now is the slot bootable
        trial = {"version": m["version"], "previous": cur, "previous_version": st.get("version"), "boots": 0}
        boot.save_state({"current": slot, "previous": cur, "version": st.get("version"), "trial": trial,
                         "last": st.get("last")}, self.root)
        self.log("update %s installed in slot %s: on trial from the next start" % (m["version"], slot))
        return m["version"]

    def _stream(self, name, dest, limit):
        """Copy a release file to ``dest`` in small pieces; its SHA-256 (never more than ``limit`` bytes)."""
        h = hashlib.sha256()
        n = 0
        s = self.get(name)
        buf = self.buf
        try:
            with open(dest, "wb") as out:
                while True:
                    k = s.readinto(buf)
                    if not k:
                        break
                    n += k
                    if n > limit:
                        raise Refused("release refused: %s is larger than %d bytes" % (name, limit))
                    mv = memoryview(buf)[:k]
                    h.update(mv)
                    out.write(mv)
        finally:
            try:
                s.close()
            except Exception:
                pass
        self.n = n
        return h.digest()

    def _fetch(self, f, base):
        path = f["path"]
        if path.startswith("lib/"):
            path = path[4:]
        if "/" in path:
            _makedirs(base + "/" + path.rsplit("/", 1)[0])
        dest = base + "/" + path
        try:
            digest = self._stream(f["path"], dest + ".part", f["size"])
        except Refused:
            self.n = f["size"] + 1
            digest = b""
        if self.n != f["size"]:
            raise Refused("release refused: %s is %s bytes, the manifest says %d" % (f["path"], self.n, f["size"]))
        if _hex(digest) != f["sha256"]:
            raise Refused("release refused: %s does not match its SHA-256" % f["path"])
        os.rename(dest + ".part", dest)


# --- from the collector (airkit collect --releases DIR) ------------------------------------------------
class _Body:
    """The body of an HTTP answer, read straight from the socket (never more than Content-Length)."""

    def __init__(self, board, sock, length):
        self.b, self.s, self.left = board, sock, length

    def readinto(self, buf):
        if self.left is not None and self.left <= 0:
            return 0
        self.b.feed()
        n = len(buf) if self.left is None or self.left > len(buf) else self.left
        try:
            k = self.s.readinto(memoryview(buf)[:n])
        except OSError as e:
            raise OSError("release download broke off (%s)" % (e,))
        if k is None:
            raise OSError("release download timed out")
        if self.left is not None:
            self.left -= k
        return k

    def read(self, n):
        buf = bytearray(n)
        k = self.readinto(buf)
        return bytes(buf[:k])

    def close(self):
        self.s.close()


def http_getter(board, base_url, cadata=None):
    """``get(name)`` for Updater: a GET of ``base_url + name`` (the socket, after the head, as a stream).

    Uses the uplinks' bounded connection code: each wait is bounded by the socket
    timeout, the head by the exchange deadline; the body is never held in RAM.
    """
    from airkit_fw.uplinks import http, net

    def get(name):
        scheme, host, port, path = net.parse_url(base_url + name)
        secure = scheme == "https"
        s = net.open_conn(board, host, port, secure, cadata)
        try:
            net.send_all(s, http.build_head("GET", host, port, path, (), None, 443 if secure else 80))
            deadline = board.ticks_add(board.ticks_ms(), http.EXCHANGE_MS)
            line = net.read_line(board, s, deadline)
            try:
                status = int(line.split(None, 2)[1])
            except (IndexError, ValueError):
                raise OSError("bad answer to %s" % name)
            length = None
            while True:
                h = net.read_line(board, s, deadline)
                if h in (b"\r\n", b"\n"):
                    break
                if h[:15].lower() == b"content-length:":
                    length = int(h[15:].strip())
            if status != 200:
                raise OSError("HTTP %d for %s" % (status, name))
            return _Body(board, s, length)
        except Exception:
            s.close()
            raise
    return get


def check_and_install(board, collector, device, token, mp_version, fields, cadata=None, log=print):
    """Report, and install the release the collector offers (None when there is none). Refused/OSError raise."""
    from airkit_fw.otacheck import report
    answer = report(board, collector, device, token, fields, cadata)
    if not answer.get("update"):
        return None
    get = http_getter(board, collector + answer["base"], cadata)
    return Updater(get, None, mp_version, log=log).install()
