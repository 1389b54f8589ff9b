"""Official MicroPython images: the download site's listing, verified downloads, a lock file, bundles.

Why this exists: a blank board needs the right ``.bin`` from micropython.org, and
a class needs the *same* verified file on every board, also without internet.
The official site publishes no checksums, so an image is trusted this way:

1. a SHA-256 pinned in the board profile (``boards/*.json``) wins;
2. otherwise the hash recorded in the lock file ``airkit-images.lock`` (trust on
   first use: the first download's hash is recorded and printed; every later use
   of that file, on any board or day, must match it or is refused);
3. a bundle (``airkit flash bundle --out DIR``) carries its own lock file, so a
   teacher can hand the whole class the same verified images offline.

Downloads use ``requests`` (certificate verification on by default with the
certifi CA bundle, which also works on macOS/Windows Pythons whose ``ssl``
module has no system CAs; streaming for the progress bar; honours proxies).
Verification is never switched off: a school's HTTPS-inspecting proxy or a test
server is trusted by giving its CA (``--ca-file`` / ``AIRKIT_CA_FILE``).
Every download goes to a temporary file, is checked (length, esptool's image
checks, SHA-256) and only then renamed into the cache: a cut-off or changed
file is never flashed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from airkit.errors import InputError, NetworkError, WouldOverwrite
from airkit.trust import (LOCK_NAME, ImageLock, check_image, child, https_get, https_session, os_reason, pinned_image,
                          plain_name, safe_url, sha256_path)
from airkit.trust import file_lock as _locked

DEFAULT_BASE_URL = "https://micropython.org"
CONNECT_TIMEOUT_S = 10
READ_TIMEOUT_S = 30
STALE_PART_S = 600          # a download writes every few seconds (READ_TIMEOUT_S at most): older parts are dead

# /resources/firmware/<BOARD>[-<VARIANT>]-<YYYYMMDD>-v<version>.bin, as on the official download pages.
FILE_RE = re.compile(r"(?P<board>[A-Za-z0-9_]+(?:-[A-Za-z0-9_]+)*?)-(?P<date>\d{8})-v(?P<version>\d+\.\d+(?:\.\d+)?"
                     r"(?:-preview\.\d+(?:\.g[0-9a-f]+)?)?)\.bin$")


def base_url() -> str:
    return (os.environ.get("AIRKIT_FIRMWARE_URL") or DEFAULT_BASE_URL).rstrip("/")


def ca_file() -> str | None:
    return os.environ.get("AIRKIT_CA_FILE") or None


def cache_dir() -> Path:
    base = os.environ.get("AIRKIT_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "airkit")
    return Path(base) / "firmware"


def default_lock() -> Path:
    return Path(os.environ.get("AIRKIT_IMAGES_LOCK") or cache_dir() / LOCK_NAME)


def board_id(profile: dict) -> str:
    """MicroPython's board id for a profile, with its variant: ESP32_GENERIC, ESP32_GENERIC-SPIRAM."""
    mp = profile.get("micropython") or {}
    bid = mp.get("port")
    if not bid:
        raise InputError("board profile %s names no MicroPython board (micropython.port): fix boards/%s.json"
                         % (profile.get("name"), profile.get("name")))
    return bid + ("-" + mp["variant"] if mp.get("variant") else "")


# --- versions ---------------------------------------------------------------------------------------
def version_key(v: str) -> tuple:
    """Sort key: stable releases above previews, newest first within each (use with reverse=True)."""
    m = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?(?:-preview\.(\d+))?", v)
    if not m:
        return (0, (0, 0, 0), 0)
    nums = (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))
    preview = m.group(4)
    return (0 if preview else 1, nums, int(preview or 0))


def release_tuple(v: str) -> tuple:
    m = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", v)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)) if m else (0, 0, 0)


def is_preview(v: str) -> bool:
    return "-preview" in v


@dataclass
class Release:
    version: str
    file: str
    url: str
    date: str

    @property
    def preview(self) -> bool:
        return is_preview(self.version)


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            for k, v in attrs:
                if k == "href" and v:
                    self.hrefs.append(v)


def _release(m: re.Match, name: str, url: str) -> Release:
    """A Release from a FILE_RE match of an image's file name."""
    d, v = m.group("date"), m.group("version")
    if re.match(r"\d+\.\d+(-|$)", v):
        v = v.replace("-", ".0-", 1) if "-" in v else v + ".0"       # v1.18 -> 1.18.0, as users write it
    return Release(v, name, url, "%s-%s-%s" % (d[:4], d[4:6], d[6:]))


def parse_listing(html: str, board: str, page_url: str) -> list[Release]:
    """The .bin images of one board (exact id, variant included) linked from a download page.

    Sorted stable releases first, newest first, then previews newest first.
    """
    p = _Links()
    p.feed(html)
    seen, out = set(), []
    for href in p.hrefs:
        path = urlsplit(href).path
        if "/resources/firmware/" not in path:
            continue
        name = path.rsplit("/", 1)[-1]
        m = FILE_RE.match(name)
        if not m or m.group("board") != board or name in seen:
            continue
        seen.add(name)
        out.append(_release(m, name, urljoin(page_url, href)))
    out.sort(key=lambda r: version_key(r.version), reverse=True)
    return out


# --- esptool's checks on a downloaded image ---------------------------------------------------------------
def check_image_structure(path: Path, chip: str, flash_offset: int, strict: bool = True):
    """The whole merged image checked as the chip reads it (``airkit.trust.check_image``).

    ``strict=False`` for an image whose SHA-256 matched a pin: the pin already proves it is
    the official file, so only esptool's checks of its parts run (a layout detail of a future
    official build must not make the genuine file unusable)."""
    return check_image(path, chip, flash_offset, strict=strict)


# --- the image source ------------------------------------------------------------------------------------
@dataclass
class Resolved:
    path: Path
    version: str
    sha256: str
    trust: str          # "pinned" | "lock" | "first use"
    source: str         # "cache" | "bundle" | URL

    def as_dict(self):
        d = asdict(self)
        d["path"] = str(self.path)
        return d


class Images:
    """Where images come from (cache, bundle, download site) and how they are trusted."""

    def __init__(self, base: str | None = None, cafile: str | None = None, lock: str | Path | None = None,
                 bundle: str | Path | None = None, allow_download: bool = True, progress: bool = True,
                 log=None):
        self.base = (base or base_url()).rstrip("/")
        parts = urlsplit(self.base)
        if parts.scheme != "https":
            raise InputError("the download site %s is not https://: images are only fetched over HTTPS with a "
                             "verified certificate (give an https:// URL, and its CA with --ca-file if needed)"
                             % safe_url(self.base))
        try:
            parts.port                          # a port that is not a number or above 65535 raises here
            ok = bool(parts.hostname) and not any(c.isspace() for c in self.base)
        except ValueError:
            ok = False
        if not ok:
            raise InputError("the download site %s is not a valid URL: give one like https://micropython.org "
                             "(--base-url or AIRKIT_FIRMWARE_URL)" % ("'%s'" % safe_url(self.base)))
        self.cafile = cafile or ca_file()
        if self.cafile:
            check_ca_file(self.cafile)
        folder = bool(lock) and str(lock).endswith(("/", os.sep))       # --lock class/ : a folder, maybe new
        lock = Path(lock) if lock else default_lock()
        self.lock = ImageLock(lock / LOCK_NAME if folder or lock.is_dir() else lock)
        self.bundle = Path(bundle) if bundle else None
        if self.bundle is not None and not self.bundle.is_dir():
            raise InputError("the bundle folder %s does not exist: make one with 'airkit flash bundle --out %s' "
                             "on a computer with internet" % (self.bundle, self.bundle))
        self.bundle_lock = ImageLock(self.bundle / LOCK_NAME) if self.bundle else None
        self.allow_download = allow_download
        self.progress = progress
        self.log = log or (lambda m: print(m, file=sys.stderr, flush=True))
        self.cache = cache_dir()
        self._session = None

    # -- HTTP --
    def session(self):
        if self._session is None:
            self._session = https_session(self.cafile, "airkit-flash")
        return self._session

    def _get(self, url: str, stream: bool = False, not_found: str | None = None):
        import requests

        try:
            # --ca-file adds a CA to the usual ones (the session's SSL context); redirects are
            # followed only to https://.
            r = https_get(self.session(), url, stream=stream, timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S))
        except requests.exceptions.SSLError as e:
            raise NetworkError("the HTTPS certificate of %s could not be verified (%s): nothing was downloaded; "
                               "behind a school proxy that inspects HTTPS, give its CA with --ca-file FILE"
                               % (urlsplit(url).netloc.rsplit("@", 1)[-1], _reason(e)))
        except requests.exceptions.RequestException as e:
            raise NetworkError("cannot reach %s (%s): without internet, flash a .bin you already have with "
                               "--firmware FILE, or a bundle made on a connected computer with --bundle DIR"
                               % (urlsplit(url).netloc.rsplit("@", 1)[-1], _reason(e)))
        if r.status_code == 404 and not_found:
            r.close()
            raise NetworkError(not_found)
        if r.status_code != 200:
            r.close()
            raise NetworkError("%s answered HTTP %d for %s: check the version with 'airkit flash --list', or use "
                               "--firmware FILE / --bundle DIR" % (urlsplit(url).netloc.rsplit("@", 1)[-1],
                                                                   r.status_code, safe_url(url)))
        return r

    # -- listing --
    def page_url(self, board: str) -> str:
        """The board's download page (variants such as -SPIRAM are listed on the base board's page)."""
        return "%s/download/%s/" % (self.base, board)

    def releases(self, profile: dict) -> tuple[list[Release], str | None]:
        """(releases, None) from the site, or (releases, 'date') from the offline copy when the site is out of reach."""
        board = board_id(profile)
        cached = self.cache / "listings" / (board + ".json")
        if self.allow_download:
            try:
                url = self.page_url((profile.get("micropython") or {}).get("port") or board)
                r = self._get(url, not_found="%s has no download page %s: check --base-url (the download "
                                             "site, e.g. https://micropython.org) and the board profile's "
                                             "micropython.port" % (urlsplit(url).netloc.rsplit("@", 1)[-1],
                                                                   safe_url(url)))
                try:
                    rel = parse_listing(r.text, board, safe_url(url))
                finally:
                    r.close()
                if rel:
                    self._save_listing(cached, url, rel)
                    return rel, None
                if not cached.exists():
                    raise NetworkError("the download page %s lists no %s images (a school proxy may have answered "
                                       "in its place: open the page in a browser); otherwise check the board "
                                       "profile's micropython.port, or use --firmware FILE" % (safe_url(url), board))
            except NetworkError as e:
                if not cached.exists():
                    raise
                self.log("%s); showing the list saved earlier" % str(e).split("): ")[0])
        if cached.exists():
            try:
                doc = json.loads(cached.read_text())
                return [Release(**x) for x in doc["releases"]], doc.get("fetched")
            except (OSError, ValueError, TypeError, KeyError, AttributeError):
                cached.unlink(missing_ok=True)
                raise NetworkError("the list of MicroPython versions for %s saved earlier was damaged (deleted) and "
                                   "the download site is out of reach: run again with internet, or use "
                                   "--firmware FILE / --bundle DIR" % board)
        if self.bundle is not None:
            return self._bundle_releases(board), "bundle %s" % self.bundle
        raise NetworkError("no list of MicroPython versions for %s is saved yet and downloads are off: run "
                           "'airkit flash --list' once with internet, or use --firmware FILE / --bundle DIR" % board)

    def _save_listing(self, cached: Path, url: str, rel: list[Release]):
        """Keep the listing for offline use; a cache that cannot be written only loses that copy."""
        tmp = None
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=cached.parent, prefix=cached.name + ".", suffix=".tmp")
            with os.fdopen(fd, "w") as f:
                json.dump({"fetched": _now(), "page": safe_url(url), "releases": [asdict(x) for x in rel]}, f,
                          indent=1)
            os.replace(tmp, cached)
        except OSError as e:
            self.log("the list of versions could not be saved for offline use in %s (%s); set AIRKIT_CACHE to a "
                     "folder you can write" % (cached.parent, e.strerror or e))
        finally:
            if tmp:
                Path(tmp).unlink(missing_ok=True)

    def _bundle_releases(self, board: str) -> list[Release]:
        """What a bundle holds for a board (its files, as the download site names them)."""
        out = []
        for f in sorted(self.bundle.glob("%s-*.bin" % board)):
            m = FILE_RE.match(f.name)
            if m and m.group("board") == board:
                out.append(_release(m, f.name, str(f)))
        out.sort(key=lambda r: version_key(r.version), reverse=True)
        return out

    # -- one image --
    def resolve(self, profile: dict, version: str | None = None) -> Resolved:
        """A verified image for the profile (cache, then bundle, then download); never an unverified one."""
        board = board_id(profile)
        fw = profile.get("firmware") or {}
        version = check_version(profile, version)
        self.check_cache()
        pinned = pinned_image(profile, version)
        lock_e = self.lock.find(board, version)
        bundle_e = self.bundle_lock.find(board, version) if self.bundle_lock else None
        name = pinned.get("file") or (lock_e or {}).get("file") or (bundle_e or {}).get("file")
        if not name and self.bundle:
            hits = sorted(self.bundle.glob("%s-*-v%s.bin" % (board, version)))
            name = hits[-1].name if hits else None
        release = None
        if not name:
            if not self.allow_download:
                raise InputError("MicroPython %s for %s is not in %s: add it to the bundle ('airkit flash bundle "
                                 "--out DIR --board %s --version %s' on a connected computer)"
                                 % (version, board, self.bundle or self.cache, profile.get("name"), version))
            rel, _ = self.releases(profile)
            release = next((r for r in rel if r.version == version or r.version.startswith(version + ".g")), None)
            if release is None:
                ok = [r.version for r in rel if release_tuple(r.version) >= release_tuple(fw.get("oldest") or "0")]
                raise InputError("MicroPython %s is not published for %s (available: %s): pick one with "
                                 "--version" % (version, board, ", ".join(ok[:6]) or "none"))
            name, version = release.file, release.version
        name = plain_name(name, "the image name for %s %s" % (board, version))
        self.check_cache()
        if not pinned.get("sha256") and not self.lock.get(name):
            self.lock.check_writable()          # first use records the hash: fail before downloading
        with _locked(self.cache / name, log=self.log):      # one download per file, however many boards flash
            return self._fetch(profile, board, version, name, pinned)

    def check_cache(self):
        """The image cache must be a folder airkit can write; one sentence otherwise."""
        try:
            self.cache.mkdir(parents=True, exist_ok=True)
            os.unlink(self._tmp(".write-test"))
            for part in self.cache.glob("*.part"):   # left by a killed airkit: untouched for 10 minutes
                try:
                    if time.time() - part.stat().st_mtime > STALE_PART_S:
                        part.unlink()
                except OSError:
                    pass
        except OSError as e:
            raise InputError("the image cache %s cannot be used (%s): set AIRKIT_CACHE to a folder you can write"
                             % (self.cache, os_reason(e, self.cache)))

    def _fetch(self, profile, board, version, name, pinned) -> Resolved:
        # Which hash must it have?
        if pinned.get("sha256"):
            want, trust, where = pinned["sha256"].lower(), "pinned", "boards/%s.json" % profile.get("name")
        else:
            lock_e = self.lock.get(name)
            bundle_e = self.bundle_lock.get(name) if self.bundle_lock else None
            if lock_e and bundle_e and lock_e["sha256"] != bundle_e["sha256"]:
                raise InputError("the bundle's lock file and %s disagree about %s (SHA-256 %s... vs %s...): one of "
                                 "the two images is not the one you trusted; use the teacher's lock file with "
                                 "--lock FILE" % (self.lock.path, name, bundle_e["sha256"][:12],
                                                  lock_e["sha256"][:12]))
            if lock_e:
                want, trust, where = lock_e["sha256"], "lock", str(self.lock.path)
            elif bundle_e:
                want, trust, where = bundle_e["sha256"], "lock", str(self.bundle_lock.path)
            else:
                want, trust, where = None, "first use", str(self.lock.path)
        chip = profile["chip"]
        off = int(profile.get("flash_offset", 0))
        cached = child(self.cache, name, "the image cache")
        if cached.exists():
            got = sha256_path(cached)
            if want is None or got == want:
                try:
                    check_image_structure(cached, chip, off, strict=trust != "pinned")
                    return self._accept(cached, board, version, got, want, trust, where, "cache")
                except InputError:
                    if want is not None:
                        raise
            cached.unlink()
            self.log("the cached %s was damaged (SHA-256 %s..., expected %s from %s): deleted, not flashed"
                     % (name, got[:12], (want or "a complete image")[:12], where))
        if self.bundle:
            cand = child(self.bundle, name, "the bundle %s" % self.bundle)
            if cand.exists():
                got = sha256_path(cand)
                if want is not None and got != want:
                    raise InputError("%s in the bundle %s has SHA-256 %s..., but %s expects %s...: the copy is "
                                     "damaged or another build; not flashed" % (name, self.bundle, got[:12], where,
                                                                                want[:12]))
                check_image_structure(cand, chip, off, strict=trust != "pinned")
                tmp = ""
                try:
                    tmp = self._tmp(name)
                    shutil.copyfile(cand, tmp)
                    os.replace(tmp, cached)
                except OSError as e:
                    raise InputError("the image cache %s cannot hold %s (%s): nothing was flashed; free some "
                                     "space or set AIRKIT_CACHE to another folder"
                                     % (self.cache, name, os_reason(e, self.cache)))
                finally:
                    if tmp:
                        Path(tmp).unlink(missing_ok=True)
                return self._accept(cached, board, version, got, want, trust, where, "bundle")
        if not self.allow_download:
            raise InputError("%s is not in the bundle %s nor in the cache: add it to the bundle ('airkit flash "
                             "bundle --out DIR --board %s --version %s')" % (name, self.bundle or self.cache,
                                                                             profile.get("name"), version))
        url = "%s/resources/firmware/%s" % (self.base, name)      # the official layout (listing links are relative)
        got, final_url = self._download(url, name, cached, want, where, chip, off, strict=trust != "pinned")
        return self._accept(cached, board, version, got, want, trust, where, safe_url(final_url))

    def _tmp(self, name: str) -> str:
        fd, tmp = tempfile.mkstemp(dir=self.cache, prefix=name + ".", suffix=".part")
        os.close(fd)
        return tmp

    def _accept(self, path, board, version, got, want, trust, where, source) -> Resolved:
        if want is None:
            self.lock.record(path.name, {"board": board, "version": version, "sha256": got,
                                         "size": path.stat().st_size, "first_seen": _now()})
            self.log("first use of %s: SHA-256 %s recorded in %s; every later flash of it must match (share "
                     "this file with the class)" % (path.name, got, self.lock.path))
        else:
            if trust == "lock" and where != str(self.lock.path) and not self.lock.get(path.name):
                self.lock.record(path.name, dict(self.bundle_lock.get(path.name), first_seen=_now()))
            self.log("%s (%s): SHA-256 %s... matches %s" % (path.name, source, got[:12], where))
        return Resolved(path, version, got, trust, source)

    def _download(self, url, name, dest: Path, want, where, chip, off, strict: bool = True) -> tuple[str, str]:
        r = self._get(url, stream=True)
        total = int(r.headers.get("Content-Length") or 0) or None
        tmp = ""
        h = hashlib.sha256()
        n = 0
        try:
            import requests

            tmp = self._tmp(name)

            try:
                with open(tmp, "wb") as f, _progress(self.progress, name, total) as advance:
                    chunks = r.iter_content(1 << 16)
                    while True:
                        try:
                            chunk = next(chunks, None)
                        except (requests.exceptions.RequestException, OSError) as e:
                            raise NetworkError("the download of %s broke off after %d bytes (%s): nothing was "
                                               "flashed; run again" % (name, n, _reason(e)))
                        if chunk is None:
                            break
                        f.write(chunk)
                        h.update(chunk)
                        n += len(chunk)
                        advance(len(chunk))
            except OSError as e:            # writing, not the network: a full disk or USB stick
                raise InputError("the image cache %s cannot hold %s (%s): nothing was flashed; free some space "
                                 "or set AIRKIT_CACHE to another folder" % (self.cache, name, os_reason(e, self.cache)))
            if total is not None and n != total:
                raise NetworkError("the download of %s was cut short (%d of %d bytes): nothing was flashed; run "
                                   "again" % (name, n, total))
            got = h.hexdigest()
            if want is not None and got != want:
                raise NetworkError("the downloaded %s has SHA-256 %s..., but %s expects %s...: the file on the "
                                   "server changed or was altered on the way; not flashed (if the build was "
                                   "re-published on purpose, remove its entry from %s and run again)"
                                   % (name, got[:12], where, want[:12], where))
            check_image_structure(Path(tmp), chip, off, strict=strict)
            os.replace(tmp, dest)
            return got, r.url
        finally:
            r.close()
            if tmp:
                Path(tmp).unlink(missing_ok=True)

    # -- bundles --
    def make_bundle(self, profiles: list[dict], version: str | None, out: Path, force: bool = False) -> list[dict]:
        """Copy verified images for these profiles into OUT with a lock file (for --bundle DIR offline)."""
        out = Path(out)
        try:
            out.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise InputError("%s is a file, not a folder: give a folder for the bundle with --out DIR" % out)
        except OSError as e:
            raise InputError("the bundle folder %s cannot be made (%s): give a folder you can write with --out DIR"
                             % (out, os_reason(e, out)))
        out_lock = ImageLock(out / LOCK_NAME, remedy="give a bundle folder you can write with --out DIR")
        out_lock.check_writable()
        rows = []
        for prof in profiles:
            res = self.resolve(prof, version)
            dst = out / res.path.name
            if dst.exists() and sha256_path(dst) != res.sha256 and not force:
                raise WouldOverwrite("%s already holds a different %s: not overwritten; use another --out or "
                                     "--force" % (out, dst.name))
            if not dst.exists() or sha256_path(dst) != res.sha256:
                tmp = dst.with_name(dst.name + ".part")
                try:
                    shutil.copyfile(res.path, tmp)
                    os.replace(tmp, dst)
                except OSError as e:
                    raise InputError("%s could not be copied into the bundle %s (%s): free some space or use "
                                     "another --out, and run again" % (dst.name, out, e.strerror or e))
                finally:
                    tmp.unlink(missing_ok=True)
            if not out_lock.get(dst.name):
                out_lock.record(dst.name, {"board": board_id(prof), "version": res.version, "sha256": res.sha256,
                                           "size": dst.stat().st_size, "first_seen": _now()})
            rows.append({"board": prof.get("name"), "version": res.version, "file": dst.name, "sha256": res.sha256,
                         "trust": res.trust})
        return rows


def check_ca_file(path: str):
    """The CA file must exist and hold PEM certificates (else every download fails with a vague TLS error)."""
    import ssl

    if not Path(path).is_file():
        raise InputError("the CA file %s does not exist: give the PEM file of the CA to trust" % path)
    try:
        ssl.create_default_context(cafile=path)
    except (ssl.SSLError, ValueError, UnicodeDecodeError):
        raise InputError("the CA file %s holds no PEM certificate (-----BEGIN CERTIFICATE-----): export the CA "
                         "of your school's proxy as PEM (Base64) and give that file" % path)


def check_version(profile: dict, version: str | None) -> str:
    """The version to flash: the asked one (not older than the oldest supported) or the recommended one."""
    fw = profile.get("firmware") or {}
    rec = fw.get("recommended")
    version = (version or rec or "").lstrip("v")
    if re.fullmatch(r"\d+\.\d+", version):
        version += ".0"                 # "1.28" is published as v1.28.0
    if not version:
        raise InputError("board profile %s recommends no MicroPython version: give --version X (see "
                         "'airkit flash --list')" % profile.get("name"))
    if not re.fullmatch(r"\d+\.\d+\.\d+(-preview[0-9a-z.]*)?", version):
        raise InputError("'%s' is not a MicroPython version: give one like %s (the versions published for %s: "
                         "'airkit flash --list --board %s')" % (version, rec or "1.28.0", profile.get("name"),
                                                                profile.get("name")))
    oldest = fw.get("oldest")
    if oldest and release_tuple(version) < release_tuple(oldest):
        raise InputError("MicroPython %s is older than %s, the oldest airkit's firmware runs on for %s (%s): "
                         "pick %s or newer" % (version, oldest, profile.get("name"),
                                               fw.get("oldest_reason", "see the README"), oldest))
    return version


def _reason(e: BaseException) -> str:
    """A short, secret-free reason for a requests/urllib3 error."""
    s = str(e)
    for pat, say in (("CERTIFICATE_VERIFY_FAILED", "certificate verify failed"),
                     ("hostname", "the certificate is for another host name"),
                     ("Connection refused", "connection refused"),
                     ("Name or service not known", "name not found (DNS)"),
                     ("Temporary failure in name resolution", "name not found (DNS)"),
                     ("timed out", "timed out"),
                     ("IncompleteRead", "connection closed early"),
                     ("Connection broken", "connection closed early")):
        if pat.lower() in s.lower():
            return say
    return type(e).__name__


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class _progress:
    """A rich progress bar on stderr (bytes, speed), or nothing."""

    def __init__(self, on: bool, name: str, total: int | None):
        self.on, self.name, self.total = on, name, total
        self.bar = None

    def __enter__(self):
        if not self.on:
            return lambda n: None
        from rich.console import Console
        from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                                   TransferSpeedColumn)

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                            TimeRemainingColumn(), console=Console(stderr=True), transient=False)
        self.bar.start()
        task = self.bar.add_task(self.name, total=self.total)
        return lambda n: self.bar.advance(task, n)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()
