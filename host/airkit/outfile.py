"""Writing the user's output files: one safe way, used by every command that writes.

Why this exists: a command that works for minutes and then cannot write its
result (a full disk, a read-only stick, ``/proc``, a file the user made
read-only) must say so in one sentence, before the work where it can, and
never leave half a file behind (a 0-byte CSV would block the re-run with
"already exists"). So every output goes through here:

1. ``check_file(path, force=...)`` before any work: an existing file without
   ``--force`` is refused (``WouldOverwrite``, exit 5), so is a file the user
   made read-only (its mode is kept when ``--force`` replaces it); a missing,
   read-only or system folder (``/proc``) is refused (``InputError``, exit 2),
   found by really creating (and removing) a file there, which is the only test
   that also holds for root and for read-only mounts. A symbolic link is
   followed: the file it points to is updated, the link stays.
2. ``OutFile.open()`` / ``write_text()`` / ``write_bytes()``: a temporary file
   in the same folder, flushed and fsync'ed, then renamed over the target; on
   any failure (``ENOSPC``, ``EROFS``, ``EACCES`` ...) the temporary file is
   removed and one sentence is raised (``InputError``).

Folders a command fills (``build --out``, ``sim --board-dir``, report folders)
are checked with ``check_dir`` and written under ``writing(...)``, which turns
an ``OSError`` into the same one sentence.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from airkit.errors import InputError, WouldOverwrite

_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the disk is read-only",
    errno.EACCES: "no permission to write there",
    errno.EPERM: "no permission to write there",
    errno.EFBIG: "the file is larger than this system allows",
}


def reason(e: OSError) -> str:
    """A few words for an ``OSError`` from writing a file."""
    return _REASONS.get(e.errno, e.strerror or type(e).__name__)


def _remedy(e: OSError) -> str:
    if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return "free some space or choose another place; nothing was written"
    return "choose another place; nothing was written"


def _folder_problem(folder: Path, what: str, shown: str) -> None:
    """Create and remove a file in ``folder``: the one test that holds for root, read-only mounts and /proc."""
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".airkit-", suffix=".probe")
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ENOTDIR, errno.EINVAL, errno.EOPNOTSUPP):
            why = "%s is a system folder (like /proc), not one files can be saved in" % folder
        else:
            why = "%s (the folder %s)" % (reason(e), folder)
        raise InputError("cannot write %s %s: %s; choose another place" % (what, shown, why))
    os.close(fd)
    try:
        os.unlink(probe)
    except OSError:
        pass


@dataclass
class OutFile:
    """A checked destination: ``path`` is where the bytes go (a link's target), ``shown`` what the user typed."""

    path: Path
    shown: str
    what: str = "--out"
    mode: int | None = None          # keep this mode (the replaced file's), else the umask's default
    private: bool = False            # 0600: it may hold a secret

    @contextlib.contextmanager
    def open(self, mode: str = "w", encoding: str | None = "utf-8", newline: str | None = None):
        """A file object on a temporary file beside the target; renamed over it when the block ends
        without an exception, removed otherwise. An ``OSError`` becomes one sentence (``InputError``)."""
        binary = "b" in mode
        tmp = None
        try:
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix="." + self.path.name + ".", suffix=".tmp")
            f = os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": encoding, "newline": newline}))
            with f:
                yield f
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, self._final_mode())
            os.replace(tmp, self.path)
            tmp = None
            _fsync_dir(self.path.parent)
        except OSError as e:
            raise InputError("cannot write %s %s: %s" % (self.what, self.shown, reason(e)),
                             remedy=_remedy(e)) from None
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)

    def write_text(self, text: str, newline: str | None = None) -> Path:
        with self.open("w", newline=newline) as f:
            f.write(text)
        return self.path

    def write_bytes(self, data: bytes) -> Path:
        with self.open("wb") as f:
            f.write(data)
        return self.path

    def _final_mode(self) -> int:
        if self.private:                 # owner-only; a read-only file stays read-only
            return 0o600 if self.mode is None else self.mode & 0o700
        if self.mode is not None:
            return self.mode
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_dir(folder: Path):
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def check_file(path, *, force: bool = False, edit: bool = False, what: str = "--out",
               private: bool = False) -> OutFile:
    """Check before any work that ``path`` can be written; returns the ``OutFile`` to write it with.

    ``force``: an existing file (also one made read-only) may be replaced; ``edit``: the
    command changes an existing file in place (``config set``), so it may exist, but a
    read-only one still needs ``force``.
    """
    shown = str(path)
    p = Path(os.path.expanduser(str(path)))
    target = Path(os.path.realpath(p)) if p.is_symlink() else Path(os.path.abspath(p))
    mode = None
    if target.is_dir():
        raise InputError("cannot write %s %s: it is a folder; give a file name" % (what, shown))
    if os.path.lexists(target):
        st = os.stat(target)
        if not stat.S_ISREG(st.st_mode):
            raise InputError("cannot write %s %s: it is not an ordinary file (a device or a system file); "
                             "choose a file in one of your folders" % (what, shown))
        if not (force or edit):
            raise WouldOverwrite("%s already exists: pass --force to overwrite it, or choose another name" % shown)
        if not st.st_mode & stat.S_IWUSR and not force:
            raise WouldOverwrite("%s is read-only (its owner made it so): make it writable (chmod u+w %s) or pass "
                                 "--force to replace it anyway" % (shown, shown))
        mode = stat.S_IMODE(st.st_mode)
    folder = target.parent
    if not folder.is_dir():
        raise InputError("cannot write %s %s: the folder %s does not exist; create it or choose another place"
                         % (what, shown, folder))
    _folder_problem(folder, what, shown)
    return OutFile(target, shown, what, mode, private)


def check_dir(path, *, what: str = "--out") -> Path:
    """Check before any work that files can be written in folder ``path`` (created later if missing)."""
    shown = str(path)
    p = Path(os.path.abspath(os.path.expanduser(str(path))))
    if p.exists() and not p.is_dir():
        raise InputError("cannot write %s %s: it is a file, not a folder; give a folder" % (what, shown))
    probe = p
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise InputError("cannot write %s %s: %s is a file, not a folder" % (what, shown, probe))
    _folder_problem(probe, what, shown)
    return p


@contextlib.contextmanager
def writing(path, what: str = "--out"):
    """Turn an ``OSError`` raised while filling ``path`` into one sentence (``InputError``)."""
    try:
        yield
    except OSError as e:
        if isinstance(e, (ConnectionError, TimeoutError)) or e.errno not in _REASONS and e.errno != errno.ENOENT:
            raise
        raise InputError("cannot write %s %s: %s" % (what, path, reason(e)), remedy=_remedy(e)) from None
