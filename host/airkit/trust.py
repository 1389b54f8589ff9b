"""What may run on a board: the one trust chain for flash, deploy, class bundles and releases.

Every path that puts code on a board asks this module, and only this module:

- **names** that come from files someone else wrote (a lock file, a class bundle, a
  release manifest) are plain file names or plain relative paths, never ``../x`` or
  ``/etc/x``: :func:`plain_name`, :func:`plain_relpath`, :func:`child`;
- **hashes**: :func:`sha256_path`, :func:`sha256_hex` (a pinned or recorded value);
- **pins and lock files**: :class:`ImageLock` (``airkit-images.lock``, trust on first
  use; a SHA-256 pinned in ``boards/*.json`` wins over it, see ``airkit.mpimages``);
- **images**: :func:`check_image` reads a merged MicroPython image the way the chip's
  ROM and bootloader will (esptool's image checks of the bootloader and the app, the
  partition table with its MD5, the 0xFF padding between them, nothing after the
  app), and :func:`check_flashable` refuses an app-only ``.app-bin`` at the boot offset;
- **downloads**: :func:`https_get` follows redirects only to ``https://``, and
  :func:`ca_bundle` *adds* a CA (a school's HTTPS proxy) to the trusted set;
- **signatures** (releases): :func:`make_key`, :func:`sign`, :func:`verify_signature`
  (Ed25519 from the ``cryptography`` package; the private key file is owner-only and
  is never printed).

Nothing here writes outside the folder it is given, and every refusal is one
sentence (``InputError``/``NetworkError``) saying what to do.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
from pathlib import Path
from urllib.parse import urljoin, urlsplit, urlunsplit

from airkit.errors import InputError, NetworkError

LOCK_NAME = "airkit-images.lock"
MAX_REDIRECTS = 5

# A plain file name: letters, digits and . _ + -, not starting with a dot (no "..", no hidden file).
_NAME_RE = re.compile(r"[A-Za-z0-9_+-][A-Za-z0-9._+-]{0,199}")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


# --- names ----------------------------------------------------------------------------------------
def plain_name(name, where: str) -> str:
    """``name`` if it is a plain file name; else one sentence naming ``where`` it came from."""
    if isinstance(name, str) and _NAME_RE.fullmatch(name):
        return name
    raise InputError("%s names %r, which is not a plain file name (a path such as ../x or /x would write "
                     "outside airkit's folders): refused, nothing written; remove that entry or use a file you "
                     "trust" % (where, name if isinstance(name, str) else type(name).__name__))


def plain_relpath(path, where: str) -> str:
    """A relative path of plain names joined by '/' (a release's ``lib/airkit_fw/app.mpy``)."""
    if isinstance(path, str) and 0 < len(path) <= 240 and not path.startswith("/"):
        parts = path.split("/")
        if all(_NAME_RE.fullmatch(p) for p in parts):
            return path
    raise InputError("%s names the path %r, which is not a plain relative path (no '..', no leading '/'): "
                     "refused, nothing written" % (where, path if isinstance(path, str) else type(path).__name__))


def child(folder: Path, name: str, where: str) -> Path:
    """``folder/name`` for a plain ``name`` (checked again after resolving links)."""
    p = Path(folder) / plain_name(name, where)
    base = Path(folder).resolve()
    if p.resolve().parent != base:
        raise InputError("%s: %s would land outside %s: refused, nothing written" % (where, name, folder))
    return p


# --- hashes ---------------------------------------------------------------------------------------
def sha256_path(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_hex(value, where: str) -> str:
    """A SHA-256 written by someone (a pin, a lock entry): 64 hex digits, lower case."""
    if isinstance(value, str) and _HEX64.fullmatch(value.strip()):
        return value.strip().lower()         # PowerShell's Get-FileHash writes upper case
    raise InputError("%s has no valid SHA-256 (64 hex digits expected): fix that entry or remove it" % where)


def pinned_image(profile: dict, version: str) -> dict:
    """The pin of a profile for a version ({} when none): a plain file name, a SHA-256, maybe a size."""
    fw = profile.get("firmware") or {}
    pin = (fw.get("images") or {}).get(version) or {}
    if not pin:
        return {}
    where = "boards/%s.json (firmware.images.%s)" % (profile.get("name"), version)
    out = {"file": plain_name(pin.get("file"), where), "sha256": sha256_hex(pin.get("sha256"), where)}
    if pin.get("size") is not None:
        out["size"] = int(pin["size"])
    return out


# --- the lock file -----------------------------------------------------------------------------------
def os_reason(e: OSError, folder: Path) -> str:
    """Why a folder cannot be made or written, in words (a file in the way says which)."""
    if isinstance(e, (FileExistsError, NotADirectoryError)):
        p = Path(folder)
        while p != p.parent and not p.exists():
            p = p.parent
        if p.exists() and not p.is_dir():
            return "%s is a file, not a folder" % p
    return e.strerror or str(e)


class ImageLock:
    """``airkit-images.lock``: file name -> SHA-256 recorded on first use (JSON, shareable).

    ``remedy`` is what a user does when it cannot be written: for the user's own
    lock, another ``--lock FILE``; for a bundle's lock, another ``--out DIR``.
    """

    def __init__(self, path: Path, remedy: str = "give a lock file in a folder you can write with --lock FILE"):
        self.path = Path(path)
        self.remedy = remedy

    def load(self) -> dict:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8-sig"))
        except (FileNotFoundError, NotADirectoryError):
            return {}
        except IsADirectoryError:
            raise InputError("the lock file %s is a folder: give the file (%s inside it) with --lock"
                             % (self.path, LOCK_NAME))
        except (OSError, ValueError) as e:
            raise InputError("the lock file %s cannot be read (%s): fix or delete it (it is rebuilt on the next "
                             "download, trusting that download)" % (self.path, e))
        images = data.get("images") if isinstance(data, dict) else None
        if not isinstance(images, dict):
            raise InputError("the lock file %s is not an airkit image lock: delete it or give another one with "
                             "--lock FILE" % self.path)
        out = {}
        for name, e in images.items():
            plain_name(name, "the lock file %s" % self.path)
            sha = e.get("sha256") if isinstance(e, dict) else None
            if not isinstance(sha, str) or not _HEX64.fullmatch(sha.strip()):
                raise InputError("the lock file %s has no valid SHA-256 for %s (64 hex digits expected): fix that "
                                 "entry or remove it (the next download is then trusted again)" % (self.path, name))
            out[name] = dict(e, sha256=sha.strip().lower())     # PowerShell's Get-FileHash writes upper case
        return out

    def check_writable(self):
        """Raise one sentence now when the lock file could not be written (before a download is wasted)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name + ".", suffix=".tmp")
            os.close(fd)
            os.unlink(tmp)
        except OSError as e:
            raise InputError("the lock file %s cannot be written (%s): %s"
                             % (self.path, os_reason(e, self.path.parent), self.remedy))

    def get(self, name: str) -> dict | None:
        return self.load().get(name)

    def find(self, board: str, version: str) -> dict | None:
        for name, e in sorted(self.load().items()):
            if e.get("board") == board and e.get("version") == version:
                return dict(e, file=name)
        return None

    def record(self, name: str, entry: dict):
        plain_name(name, "the entry for the lock file %s" % self.path)
        self.check_writable()
        with file_lock(self.path):
            images = self.load()
            old = images.get(name)
            if old and old.get("sha256") != entry["sha256"]:
                raise InputError("%s already records another SHA-256 for %s: not changed" % (self.path, name))
            images[name] = entry
            doc = {"comment": "SHA-256 of MicroPython images as first downloaded (trust on first use). Share this "
                              "file with a bundle so every board gets the same image. Written by airkit flash.",
                   "images": dict(sorted(images.items()))}
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name + ".", suffix=".tmp")
            try:
                with os.fdopen(fd, "w") as f:
                    json.dump(doc, f, indent=1)
                    f.write("\n")
                os.replace(tmp, self.path)
            except OSError as e:
                raise InputError("the lock file %s cannot be written (%s): %s"
                                 % (self.path, os_reason(e, self.path.parent), self.remedy))
            finally:
                Path(tmp).unlink(missing_ok=True)


class file_lock:
    """An advisory cross-process lock (provision flashes from one process per board), bounded wait."""

    def __init__(self, path: Path, wait_s: float = 600, log=None):
        key = hashlib.sha256(str(Path(path).resolve()).encode()).hexdigest()[:16]
        self.path = Path(tempfile.gettempdir()) / ("airkit-images-%s.lck" % key)
        self.name = Path(path).name
        self.wait_s = wait_s
        self.log = log
        self.f = None

    def __enter__(self):
        self.f = open(self.path, "a")
        try:
            import fcntl
        except ImportError:         # Windows: one flashing process per lock is the documented use
            return self
        t0 = time.monotonic()
        t_end = t0 + self.wait_s
        said = False
        while True:
            try:
                fcntl.flock(self.f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except BlockingIOError:
                if self.log and not said and time.monotonic() - t0 > 1.0:
                    said = True         # a silent wait looks like a hang
                    self.log("waiting for another airkit that is fetching %s (at most %d s)"
                             % (self.name, self.wait_s))
                if time.monotonic() > t_end:
                    self.f.close()
                    raise NetworkError("another airkit has been fetching the same image for %d s: let it finish, "
                                       "then run again" % self.wait_s)
                time.sleep(0.1)

    def __exit__(self, *exc):
        self.f.close()


# --- images ---------------------------------------------------------------------------------------------
PART_TABLE = 0x8000          # ESP-IDF's partition table offset (every official MicroPython ESP32 image)
PART_TABLE_LEN = 0xC00
_MD5_ENTRY = b"\xeb\xeb" + b"\xff" * 14


def _first_line(e: BaseException) -> str:
    s = str(e).strip()
    return s.splitlines()[0] if s else type(e).__name__


def _load(data: bytes, at: int, chip: str, what: str, name: str):
    """esptool's image object for the image at ``at`` (header, segments, checksum, digest checked)."""
    from esptool.bin_image import LoadFirmwareImage

    try:
        img = LoadFirmwareImage(chip.lower().replace("-", ""), data[at:])
    except Exception as e:       # esptool raises FatalError, struct.error, ValueError, IndexError, ... on a bad image
        raise InputError("%s is not a complete %s image (%s at 0x%x: %s): not flashed; download it again"
                         % (name, chip, what, at, _first_line(e)))
    if img.checksum != img.calculate_checksum() or (
            getattr(img, "append_digest", False) and img.stored_digest != img.calc_digest):
        raise InputError("%s is damaged (the %s's checksum does not match its contents): not flashed; "
                         "download it again" % (name, what))
    return img


def _image_len(img) -> int:
    """Bytes an ESP image takes: header, segments, padding + checksum to 16, digest."""
    if getattr(img, "append_digest", False) and img.data_length:
        return img.data_length + 32
    n = 24 + sum(8 + len(s.data) for s in img.segments)
    return n - n % 16 + 16


def partition_table(data: bytes, at: int, name: str, strict: bool = True) -> list[dict]:
    """The entries of an ESP-IDF partition table at ``at`` in ``data``, its MD5 checked.

    ESP-IDF's ``gen_esp32part.py`` writes 32-byte entries (magic AA 50, type, subtype,
    offset, size, label, flags), then an MD5 entry (EB EB, 14 x FF, the MD5 of the
    entries), then 0xFF. The bootloader refuses a table whose MD5 does not match.
    """
    out, raw = [], b""
    for i in range(at, at + PART_TABLE_LEN, 32):
        e = data[i:i + 32]
        if len(e) < 32:
            break
        if e[:2] == b"\xaa\x50":
            raw += e
            out.append({"type": e[2], "subtype": e[3], "offset": int.from_bytes(e[4:8], "little"),
                        "size": int.from_bytes(e[8:12], "little"),
                        "label": e[12:28].split(b"\0", 1)[0].decode("ascii", "replace")})
            continue
        if e[:16] == _MD5_ENTRY:
            if hashlib.md5(raw).digest() != e[16:]:
                raise InputError("%s has a damaged or altered partition table (its MD5 does not match): not "
                                 "flashed; download it again" % name)
            end = i + 32
            if data[end:at + PART_TABLE_LEN].count(b"\xff") != len(data[end:at + PART_TABLE_LEN]):
                raise InputError("%s has unexpected bytes after its partition table: not flashed; download it "
                                 "again" % name)
            break
        if not strict and out and e == b"\xff" * 32:       # a table written without its MD5 entry
            break
        raise InputError("%s has no valid partition table at 0x%x (%s): not flashed; download the full .bin "
                         "for your board again" % (name, PART_TABLE, "no entries" if not out else
                                                   "no MD5 entry after %d entries" % len(out)))
    else:
        raise InputError("%s has a partition table without an end: not flashed; download it again" % name)
    if not out:
        raise InputError("%s has no partition table at 0x%x: not flashed; download the full .bin for your board "
                         "(not the .app-bin)" % (name, PART_TABLE))
    spans = sorted((p["offset"], p["offset"] + p["size"], p["label"]) for p in out)
    for (a0, a1, la), (b0, b1, lb) in zip(spans, spans[1:]):
        if b0 < a1:
            raise InputError("%s has overlapping partitions (%s and %s): not flashed; download it again"
                             % (name, la, lb))
    if spans[0][0] < PART_TABLE + 0x1000 or spans[-1][1] > 128 << 20:
        raise InputError("%s has a partition outside the flash (0x%x): not flashed; download it again"
                         % (name, spans[0][0]))
    for p in out:
        if p["type"] == 0 and p["offset"] % 0x10000:
            raise InputError("%s has an app partition at 0x%x (apps start on 64 KiB boundaries): not flashed; "
                             "download it again" % (name, p["offset"]))
    return out


def check_image(path, chip: str, flash_offset: int, data: bytes | None = None, strict: bool = True) -> dict:
    """Check a merged MicroPython image as the chip will read it; one sentence when it is not right.

    The file holds, from the boot offset: the bootloader, 0xFF up to the partition
    table at 0x8000, the table (with its MD5), 0xFF up to the app partition, the
    app image, and nothing after it. Each image passes esptool's own checks
    (header, segments, checksum, SHA-256 digest); padding must be 0xFF (flash
    that is written with anything else is not "empty"); bytes appended after the
    app are refused. ``strict=False`` (a file whose SHA-256 matched a pin) keeps
    esptool's checks of each part and skips the MD5, padding and end checks.
    Returns {"apps": [...], "end": bytes used}.
    """
    path = Path(path)
    name = path.name
    data = path.read_bytes() if data is None else data
    boot = _load(data, 0, chip, "bootloader", name)
    boot_end = _image_len(boot)
    table_at = PART_TABLE - flash_offset
    if _maps_flash(boot) and data[table_at:table_at + 2] != b"\xaa\x50":
        raise InputError(app_only_sentence(name, flash_offset))
    if table_at < boot_end:
        raise InputError("%s: its bootloader (%d bytes) runs into the partition table at 0x%x: not flashed; "
                         "download it again" % (name, boot_end, PART_TABLE))
    if len(data) < table_at + 32:
        raise InputError("%s holds only a bootloader (no partition table, no app): not flashed; download the full "
                         ".bin for your board" % name)
    parts = partition_table(data, table_at, name, strict)
    covered = [(0, boot_end), (table_at, table_at + PART_TABLE_LEN)]
    apps = []
    for p in parts:
        at = p["offset"] - flash_offset
        if p["type"] != 0 or at >= len(data):
            continue
        img = _load(data, at, chip, "app (%s)" % p["label"], name)
        n = _image_len(img)
        if n > p["size"]:
            raise InputError("%s: its app (%d bytes) does not fit its partition %s (%d bytes): not flashed; "
                             "download it again" % (name, n, p["label"], p["size"]))
        covered.append((at, at + n))
        apps.append({"label": p["label"], "offset": p["offset"], "size": n})
    if not apps:
        raise InputError("%s holds no app (MicroPython itself) after its partition table: not flashed; download "
                         "the full .bin for your board again" % name)
    end = max(b for _, b in covered)
    if not strict:
        return {"apps": apps, "end": end, "partitions": parts}
    if len(data) > end:
        raise InputError("%s has %d bytes appended after the image (it ends at byte %d): altered or not an "
                         "official build; not flashed; download it again" % (name, len(data) - end, end))
    pos = 0
    for a, b in sorted(covered):
        if a > pos and data.count(b"\xff", pos, a) != a - pos:
            raise InputError("%s has data between its parts (at file offset 0x%x, where flash must stay empty): "
                             "altered or not an official build; not flashed; download it again" % (name, pos))
        pos = max(pos, b)
    return {"apps": apps, "end": end, "partitions": parts}


def _maps_flash(img) -> bool:
    """True for an app image (segments mapped from flash); a bootloader runs from RAM only."""
    return any(img.is_flash_addr(s.addr) for s in img.segments)


def app_only_sentence(name: str, flash_offset: int) -> str:
    return ("%s is an app-only image (an .app-bin: MicroPython without the bootloader and partition table): "
            "written at 0x%x the board would not boot; flash the full .bin for your board instead (the file "
            "without '.app-' in its name), or use 'airkit flash --version X'" % (name, flash_offset))


def check_flashable(path, chip: str, flash_offset: int) -> dict:
    """``--firmware FILE``: what airkit writes at the boot offset must be a full image."""
    path = Path(path)
    if path.suffix == ".app-bin":
        raise InputError(app_only_sentence(path.name, flash_offset))
    return check_image(path, chip, flash_offset)


# --- downloads --------------------------------------------------------------------------------------------
def safe_url(url: str) -> str:
    """The URL without user:password@ (never printed or logged)."""
    p = urlsplit(url)
    if "@" in p.netloc:
        p = p._replace(netloc=p.netloc.rsplit("@", 1)[-1])
    return urlunsplit(p)


def host_of(url: str) -> str:
    return urlsplit(url).netloc.rsplit("@", 1)[-1]


def https_get(session, url: str, **kw):
    """``session.get`` that follows at most MAX_REDIRECTS redirects, and only to https:// addresses.

    requests follows an https -> http redirect by itself: the image would then come
    over plain HTTP (anyone on the network could change it on first use) while the
    report still named the https URL.
    """
    kw["allow_redirects"] = False
    for _ in range(MAX_REDIRECTS + 1):
        r = session.get(url, **kw)
        if not r.is_redirect:
            return r
        target = urljoin(r.url, r.headers.get("location", ""))
        r.close()
        if urlsplit(target).scheme != "https":
            raise NetworkError("%s redirected the download to a plain http:// address (%s): refused, nothing was "
                               "downloaded (an image must come over HTTPS with a verified certificate); try "
                               "another network, or give an https:// mirror with --base-url"
                               % (host_of(url), safe_url(target)))
        url = target
    raise NetworkError("%s redirected the download more than %d times: refused, nothing was downloaded; try again "
                       "later" % (host_of(url), MAX_REDIRECTS))


def base_ca_file() -> str:
    """The CAs trusted without --ca-file: $REQUESTS_CA_BUNDLE / $CURL_CA_BUNDLE (as requests reads them), else certifi."""
    env = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if env and os.path.isfile(env):
        return env
    import certifi

    return certifi.where()


def https_session(extra_ca: str | None = None, user_agent: str = "airkit"):
    """A requests session that verifies certificates against the usual CAs *plus* ``extra_ca``.

    A school's HTTPS proxy needs its CA trusted in addition to the public ones (a
    mirror elsewhere still uses a public CA); requests' ``verify=FILE`` would trust
    only that one CA. The extra CA goes into the session's SSL context, in memory.
    """
    import ssl

    import requests
    from requests.adapters import HTTPAdapter

    s = requests.Session()
    s.headers["User-Agent"] = user_agent
    if not extra_ca:
        return s
    ctx = ssl.create_default_context(cafile=base_ca_file())
    ctx.load_verify_locations(cafile=extra_ca)

    class _PlusOneCA(HTTPAdapter):
        def build_connection_pool_key_attributes(self, request, verify, cert=None):
            host, pool = super().build_connection_pool_key_attributes(request, verify, cert)
            if verify is not False:
                pool.pop("ca_certs", None)
                pool.pop("ca_cert_dir", None)
                pool["ssl_context"] = ctx
            return host, pool

    s.mount("https://", _PlusOneCA())
    return s


# --- signatures (releases) ---------------------------------------------------------------------------------
def make_key(path: Path) -> str:
    """A new Ed25519 signing key in ``path`` (owner-only, never printed); returns the public key (hex)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from airkit.errors import WouldOverwrite

    path = Path(path)
    if path.exists():
        raise WouldOverwrite("%s already holds a key: not overwritten (a new key cannot sign updates for stations "
                             "that trust the old one); give another --key FILE" % path)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
    except OSError as e:
        raise InputError("the key file %s cannot be written (%s): give a --key FILE in a folder you can write"
                         % (path, os_reason(e, path.parent)))
    return public_hex(key)


def public_hex(key) -> str:
    from cryptography.hazmat.primitives import serialization

    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def load_key(path: Path):
    """The private key, refused when others can read its file."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = Path(path)
    try:
        st = path.stat()
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError("the key file %s does not exist: make one with 'airkit release keygen --key %s'"
                         % (path, path))
    except OSError as e:
        raise InputError("the key file %s cannot be read (%s)" % (path, e.strerror or e))
    if os.name == "posix" and st.st_mode & 0o077:
        raise InputError("the key file %s can be read by other users (mode %o): run 'chmod 600 %s' and make a new "
                         "key if others may have copied it" % (path, st.st_mode & 0o777, path))
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError("%s is not an airkit release key (Ed25519, PEM): make one with 'airkit release keygen'"
                         % path)
    return key


def sign(key, data: bytes) -> str:
    return key.sign(data).hex()


def verify_signature(public_hex_key: str, data: bytes, signature_hex: str) -> bool:
    """True when ``signature_hex`` is ``data`` signed by the key whose public half is ``public_hex_key``."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex_key)).verify(bytes.fromhex(signature_hex), data)
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False
