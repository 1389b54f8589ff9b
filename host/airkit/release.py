"""``airkit release``: signed application releases for stations updated over the air.

Why this exists: a station on a roof can only be trusted to run what its owner
signed. ``airkit release keygen`` makes an Ed25519 key pair (the private key in
an owner-only file, never printed; the public key is printed and goes onto each
station as ``ota/key``); ``airkit release build`` compiles the firmware's file
list (``firmware/manifest.py``) exactly as ``airkit deploy`` does, writes each
file plus a manifest (format, version, minimum MicroPython, path, size and
SHA-256 per file) and signs the manifest's SHA-256. ``airkit release verify``
checks a release folder with the station's own code (``airkit_fw.ota``).
Signing and key handling live in ``airkit.trust``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from airkit.errors import InputError, WouldOverwrite

MIN_MICROPYTHON = "1.23.0"      # .mpy format 6.3 and tls, as the board profiles' oldest


def default_key() -> Path:
    env = os.environ.get("AIRKIT_RELEASE_KEY")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "airkit" / "release-key.pem"


def keygen(key: Path | None = None) -> dict:
    from airkit.trust import make_key

    key = Path(key) if key else default_key()
    pub = make_key(key)
    return {"key_file": str(key), "public_key": pub}


def public_key(key: Path | None = None) -> str:
    from airkit.trust import load_key, public_hex

    return public_hex(load_key(Path(key) if key else default_key()))


def build_release(out: Path, key: Path | None = None, version: str | None = None,
                  min_micropython: str = MIN_MICROPYTHON, src: Path | None = None, force: bool = False) -> dict:
    """Build and sign a release into ``out/<version>/``; returns the manifest (plus where it is)."""
    from airkit.firmware_build import build
    from airkit.trust import load_key, plain_relpath, sha256_bytes, sha256_path, sign

    k = load_key(Path(key) if key else default_key())       # first: no build without a usable key
    if version is None:
        from airkit_fw import VERSION

        version = VERSION
    if not version or not all(c.isalnum() or c in "._+-" for c in version):
        raise InputError("'%s' is not a release version: use letters, digits and . _ + - (e.g. 0.2.0)" % version)
    dest = Path(out) / version
    if dest.exists() and any(dest.iterdir()) and not force:
        raise WouldOverwrite("%s already holds a release: not overwritten; give another --version or --force"
                             % dest)
    files = []
    with tempfile.TemporaryDirectory(prefix="airkit-release-") as tmp:
        built = build(Path(tmp), src)
        staging = Path(tempfile.mkdtemp(prefix=".%s." % version, dir=_mkdir(Path(out))))
        try:
            for board_path, local in sorted(built.items()):
                if board_path in ("main.py", "lib/otaboot.mpy"):
                    continue                    # the boot files stay as deployed: they select the slot
                plain_relpath(board_path, "the firmware build")
                target = staging / board_path
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(local, target)
                files.append({"path": board_path, "size": target.stat().st_size, "sha256": sha256_path(target)})
            manifest = {"format": 1, "version": version, "min_micropython": min_micropython,
                        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "files": files}
            mbytes = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
            (staging / "release.json").write_bytes(mbytes)
            import hashlib

            (staging / "release.sig").write_text(sign(k, hashlib.sha256(mbytes).digest()) + "\n")
            if dest.exists():
                shutil.rmtree(dest)
            os.replace(staging, dest)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
    from airkit.trust import public_hex

    return dict(manifest, folder=str(dest), manifest_sha256=sha256_bytes(mbytes), public_key=public_hex(k))


def _mkdir(p: Path) -> Path:
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        from airkit.trust import os_reason

        raise InputError("the release folder %s cannot be made (%s): give a folder you can write with --out DIR"
                         % (p, os_reason(e, p)))
    return p


def verify_release(folder: Path, public_key_hex: str, micropython: str = "9.9.9") -> dict:
    """Check a release folder as a station would (signature, versions, every file's size and SHA-256)."""
    from airkit_fw.ota import Refused, check_release

    from airkit.trust import child, plain_relpath, sha256_path

    folder = Path(folder)
    try:
        mbytes = (folder / "release.json").read_bytes()
        sig = (folder / "release.sig").read_text()
    except OSError as e:
        raise InputError("%s is not a release folder (%s): give the folder 'airkit release build' made"
                         % (folder, e.strerror or e))
    try:
        m = check_release(mbytes, sig, public_key_hex, micropython)
    except Refused as e:
        raise InputError("%s: %s" % (folder, e))
    for f in m["files"]:
        p = folder / plain_relpath(f["path"], "the release %s" % folder)
        child(p.parent, p.name, "the release %s" % folder)
        if not p.is_file() or p.stat().st_size != f["size"] or sha256_path(p) != f["sha256"]:
            raise InputError("%s: %s is missing or does not match its SHA-256: rebuild the release" % (folder, f["path"]))
    return m


def register(sub):
    p = sub.add_parser("release", help="build and sign firmware releases for over-the-air updates",
                       description="Signed releases for stations updated over the air: make a key once "
                                   "(keygen), build a release from the firmware (build), check one (verify).")
    rsub = p.add_subparsers(dest="release_command", metavar="keygen|build|rollout|verify|public-key")
    rsub.required = True
    k = rsub.add_parser("keygen", help="make a release signing key (owner-only file, never printed)")
    k.add_argument("--key", help="key file (default ~/.config/airkit/release-key.pem or $AIRKIT_RELEASE_KEY)")
    k.set_defaults(func=run_keygen)
    pk = rsub.add_parser("public-key", help="print the public key that stations must trust")
    pk.add_argument("--key", help="key file")
    pk.set_defaults(func=lambda a: print(public_key(a.key)) or 0)
    b = rsub.add_parser("build", help="compile the firmware (as deploy does), write and sign a release")
    b.add_argument("--out", required=True, help="folder of releases (the collector serves it)")
    b.add_argument("--key", help="key file")
    b.add_argument("--version", help="release version (default: the firmware's VERSION)")
    b.add_argument("--min-micropython", default=MIN_MICROPYTHON, help="oldest MicroPython it runs on")
    b.add_argument("--force", action="store_true", help="replace a release of the same version")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=run_build)
    r = rsub.add_parser("rollout", help="roll a release out through the collector: canaries first, then all")
    r.add_argument("version")
    r.add_argument("--releases", required=True, help="the folder 'airkit collect --releases' serves")
    r.add_argument("--canary", default="", help="station ids that get it first, comma-separated (none: all at once)")
    r.set_defaults(func=run_rollout)
    v = rsub.add_parser("verify", help="check a release folder as a station would")
    v.add_argument("folder")
    v.add_argument("--public-key", required=True, help="hex public key the stations trust")
    v.set_defaults(func=run_verify)


def run_keygen(args) -> int:
    r = keygen(args.key)
    print("release key written to %s (owner-only; keep it off shared folders). Public key for the stations:\n%s"
          % (r["key_file"], r["public_key"]))
    return 0


def run_build(args) -> int:
    m = build_release(Path(args.out), args.key, args.version, args.min_micropython, force=args.force)
    if args.json:
        print(json.dumps(m))
    else:
        print("release %s: %d files, %d bytes, signed (manifest SHA-256 %s...) in %s"
              % (m["version"], len(m["files"]), sum(f["size"] for f in m["files"]), m["manifest_sha256"][:12],
                 m["folder"]))
    return 0


def run_verify(args) -> int:
    m = verify_release(Path(args.folder), args.public_key)
    print("release %s: signature and %d files OK" % (m["version"], len(m["files"])), file=sys.stdout)
    return 0


def run_rollout(args) -> int:
    from airkit.collect.ota import set_rollout

    canary = [c.strip() for c in args.canary.split(",") if c.strip()]
    doc = set_rollout(Path(args.releases), args.version, canary)
    print("rollout of %s: %s" % (doc["release"], "canaries %s first, then every station (paused by itself when a "
                                                  "canary rolls back)" % ", ".join(doc["canary"])
                                 if doc["canary"] else "every station now"))
    return 0
