"""``airkit deploy``: compile the firmware, copy what changed, verify everything by hash.

Why this exists: copying files with a generic tool leaves a board in an unknown
state when a cable wobbles or a file arrives damaged. Here every file is
written beside its target (``.new``), hashed *on the board*, and only then
renamed into place, so a board never runs half a file and never gets half a
config. A manifest of SHA-256 hashes (``/airkit_manifest.json``) records what
was deployed; a second deploy of unchanged firmware sends no file bytes, and
``airkit doctor`` checks the board's files against it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
import json
import sys
import tempfile
import time
from pathlib import Path

from airkit.errors import InputError, UserError
from airkit.results import Result



def firmware_digest(files: dict[str, str]) -> str:
    """One hash for a set of {path: sha256}: what the class report calls the firmware hash."""
    h = hashlib.sha256()
    for p in sorted(files):
        h.update(("%s %s\n" % (p, files[p])).encode())
    return h.hexdigest()


def public_config_hash(cfg: dict) -> str:
    """SHA-256 of the config with every secret masked: safe to print and report.

    A hash of the real file would let anyone holding the report test password
    guesses offline (the rest of the config is in the report), so reports
    never carry it; the board-side comparison uses the real file's hash."""
    from airkit_fw.config import masked

    return hashlib.sha256(config_bytes(masked(cfg))).hexdigest()


def config_bytes(cfg: dict) -> bytes:
    """The exact bytes written to /config.json (stable, so its hash is stable)."""
    return json.dumps(cfg, sort_keys=True, separators=(",", ":")).encode()


def check_config(cfg, source="the config") -> dict:
    from airkit_fw import config as fwconfig

    problems = fwconfig.validate(cfg)
    if problems:
        raise UserError("%s has problems: %s" % (source, "; ".join(problems)))
    return cfg


def load_config_file(path: str) -> dict:
    from airkit.files import load_json_file

    cfg = load_json_file(path, "config")
    if not isinstance(cfg, dict):
        raise InputError("config file %s must hold a JSON object ({...})" % path)
    return check_config(cfg, "config file %s" % path)


def correction_label(corr) -> str:
    if not isinstance(corr, dict):
        return "?"
    return "'%s' (%s)" % (corr.get("name") or corr.get("kind"), corr.get("kind"))


def merge_board_correction(config: dict, board_text: str | None):
    """(config to write, what happened) keeping the correction already on the board.

    A correction pushed by 'airkit calibrate push' lives in the board's config; a
    local config without one must not erase it. What happened: None (nothing to
    keep), 'kept' (the board's correction carried over), 'replaced' (the local
    config holds a different one, which wins), 'same'."""
    try:
        board_cfg = json.loads(board_text) if board_text else None
    except ValueError:
        board_cfg = None
    board_corr = board_cfg.get("correction") if isinstance(board_cfg, dict) else None
    if not board_corr:
        return config, None, None
    local = config.get("correction")
    if not local:
        merged = dict(config)
        merged["correction"] = board_corr
        return merged, "kept", board_corr
    return config, ("same" if local == board_corr else "replaced"), board_corr


class Progress:
    """A rich progress bar on a terminal, silence otherwise (or when quiet)."""

    def __init__(self, total: int, label: str, quiet: bool = False, callback=None):
        import sys

        self.bar = None
        self.total, self.label, self.callback = total, label, callback
        if not quiet and sys.stderr.isatty():
            from rich.progress import BarColumn, DownloadColumn, Progress as RP, TextColumn

            self.bar = RP(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), transient=True)
            self.bar.start()
            self.task = self.bar.add_task(label, total=total)
        self.done = 0

    def set_label(self, label):
        self.label = label
        if self.bar:
            self.bar.update(self.task, description=label)

    def advance_to(self, base, n):
        if self.callback:
            self.callback(self.label, base + n, self.total)
        if self.bar:
            self.bar.update(self.task, completed=base + n)

    def close(self):
        if self.bar:
            self.bar.stop()


@dataclass
class DeployResult(Result):
    """What ``deploy`` did: files in the firmware, files sent, bytes, hashes (verified on the board)."""

    files: int
    files_sent: int
    stale_removed: int
    file_bytes_sent: int
    config_sent: bool
    wire_bytes: int
    firmware_hash: str
    config_hash: str | None
    verified: bool
    version: str
    correction: str | None = None
    board_correction: str | None = None
    local_correction: str | None = None
    reset: bool | None = None          # set when the board was reset afterwards
    seconds: float | None = None


def deploy(link, config: dict | None = None, build_dir: Path | None = None, quiet: bool = True,
           keep_safe: bool = False, built: dict | None = None, reset: bool | None = None,
           progress=None) -> DeployResult:
    """Deploy the firmware (and optionally a config) to a board: ``link`` is an open ``BoardLink`` or
    a port name (then the board is opened, and reset afterwards unless ``reset=False``).

    Returns a ``DeployResult``: files, files_sent, file_bytes_sent, wire_bytes, firmware_hash,
    config_hash, verified. ``progress(path, bytes_done, bytes_total)`` is called as files are sent.
    """
    from airkit.boardlink import MANIFEST
    from airkit.firmware_build import build, sha256_file

    if isinstance(link, (str, bytes)) or hasattr(link, "__fspath__"):
        from airkit.boardlink import open_board

        t0 = time.monotonic()
        with open_board(str(link)) as opened:
            result = deploy(opened, config, build_dir, quiet, keep_safe, built, progress=progress)
            if reset is not False:
                opened.reset()
            result.reset = reset is not False
        result.seconds = round(time.monotonic() - t0, 2)
        return result

    wire0 = link.bytes_sent
    tmp = None
    if build_dir is None and built is None:
        tmp = tempfile.TemporaryDirectory(prefix="airkit-build-")
        build_dir = Path(tmp.name)
    try:
        if built is None:
            built = build(Path(build_dir))
        built = {p: Path(f) for p, f in built.items()}
        local = {p: (f, sha256_file(f)) for p, f in built.items()}
        want = {p: h for p, (_, h) in local.items()}

        # What is on the board now (hashed on the board).
        on_board_fw = [p for p in link.list_tree("lib/airkit_fw")]
        check = sorted(set(want) | set(on_board_fw))
        have = link.hash_files(check + ["config.json"])
        correction, board_corr = None, None
        if config is not None and have.get("config.json"):
            config, correction, board_corr = merge_board_correction(config, link.read_text("config.json"))
        cfg_data = config_bytes(config) if config is not None else None
        todo = [p for p in sorted(want) if have.get(p) != want[p]]
        stale = [p for p in on_board_fw if p not in want]
        total = sum(local[p][0].stat().st_size for p in todo) + (len(cfg_data) if cfg_data else 0)
        bar = Progress(total, "deploy", quiet=quiet or total < 4096, callback=progress)
        sent_bytes = 0
        try:
            if todo:
                # The firmware is being replaced: drop the old manifest first so an
                # interrupted deploy is reported as such by 'airkit doctor'.
                link.remove([MANIFEST])
                dirs = {str(Path(p).parent) for p in todo if "/" in p}
                for d in sorted(dirs):
                    parts = d.split("/")
                    dirs |= {"/".join(parts[:i]) for i in range(1, len(parts))}
                link.makedirs(sorted(dirs, key=lambda d: (d.count("/"), d)))
            for p in todo:
                data = local[p][0].read_bytes()
                bar.set_label(p)
                base = sent_bytes
                link.write_atomic(p, data, progress=lambda n, base=base: bar.advance_to(base, n))
                sent_bytes += len(data)
            link.remove(stale)
            cfg_hash = None
            cfg_sent = False
            if cfg_data is not None:
                cfg_hash = hashlib.sha256(cfg_data).hexdigest()
                if have.get("config.json") != cfg_hash:
                    bar.set_label("config.json")
                    link.write_atomic("config.json", cfg_data)
                    sent_bytes += len(cfg_data)
                    cfg_sent = True
            # Verify every file by hash on the board, then record the manifest.
            final = link.hash_files(sorted(want) + ["config.json"])
            bad = [p for p in want if final.get(p) != want[p]]
            if bad:
                raise UserError("%d file(s) do not match after copying (%s): check the USB cable and run "
                                "'airkit deploy' again" % (len(bad), ", ".join(bad[:3])))
            if cfg_hash is not None and final.get("config.json") != cfg_hash:
                raise UserError("config.json does not match after copying: run 'airkit deploy' again")
            cfg_hash = None
            if config is not None:
                cfg_hash = public_config_hash(config)
            else:
                text = link.read_text("config.json")
                try:
                    cfg_hash = public_config_hash(json.loads(text)) if text else None
                except ValueError:
                    cfg_hash = None
            manifest = {"firmware_hash": firmware_digest(want), "files": want,
                        "version": _fw_version()}
            mdata = json.dumps(manifest, sort_keys=True).encode()
            current_manifest = link.hash_files([MANIFEST])[MANIFEST]
            if current_manifest != hashlib.sha256(mdata).hexdigest():
                link.write_atomic(MANIFEST, mdata)
            if not keep_safe:
                link.remove(["SAFE"])
        finally:
            bar.close()
    finally:
        if tmp:
            tmp.cleanup()
    return DeployResult(files=len(want), files_sent=len(todo), stale_removed=len(stale),
                        file_bytes_sent=sent_bytes, config_sent=cfg_sent, wire_bytes=link.bytes_sent - wire0,
                        firmware_hash=manifest["firmware_hash"], config_hash=cfg_hash, verified=True,
                        version=manifest["version"], correction=correction,
                        board_correction=correction_label(board_corr) if board_corr else None,
                        local_correction=correction_label(config.get("correction"))
                        if config is not None and config.get("correction") else None)


def _fw_version() -> str:
    from airkit_fw import VERSION

    return VERSION


def register(sub):
    p = sub.add_parser("deploy", help="copy the firmware and config to a board, verified by hash",
                       description="Compile firmware/ to .mpy (mpy-cross), copy only what changed through "
                                   "the board's REPL, verify every file by SHA-256 on the board, then reset it.")
    p.add_argument("--port", required=True, help="serial port of the board (see 'airkit ports')")
    p.add_argument("--config", help="station config JSON to install (validated first; written then renamed)")
    p.add_argument("--safe", action="store_true",
                   help="recover a board stuck in a crash loop: catch its REPL, put it in safe mode, deploy")
    p.add_argument("--keep-safe", action="store_true", help="leave the SAFE file on the board (stays in safe mode)")
    p.add_argument("--no-reset", action="store_true", help="do not reset the board after deploying")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from airkit.boardlink import open_board

    cfg = load_config_file(args.config) if args.config else None
    t0 = time.monotonic()
    with open_board(args.port, safe=args.safe) as link:
        if args.safe:
            # Stop the loop first: the next boots stay in safe mode until we are done.
            link.exec("f = open('/SAFE', 'w')\nf.write('deploy')\nf.close()")
        summary = deploy(link, cfg, quiet=args.json, keep_safe=args.keep_safe)
        if not args.no_reset:
            link.reset()
        summary["reset"] = not args.no_reset
    summary["seconds"] = round(time.monotonic() - t0, 2)
    if args.json:
        print(json.dumps(summary.to_dict()))
    else:
        print(deploy_sentence(summary, args.port))
    if summary.get("correction") == "kept":
        print("kept the board's correction %s: %s has none (it was pushed with 'airkit calibrate push'; add "
              "--config %s to that command to keep it in your file too)"
              % (summary["board_correction"], args.config, args.config), file=sys.stderr)
    elif summary.get("correction") == "replaced":
        print("note: the board's correction %s was replaced by %s from %s"
              % (summary["board_correction"], summary["local_correction"], args.config), file=sys.stderr)
    if not summary["reset"]:
        print("the station on %s is stopped at the REPL (--no-reset): press its reset button to restart it"
              % args.port, file=sys.stderr)
    return 0


def deploy_sentence(summary: dict, port: str) -> str:
    """'deployed ... : 3 of 26 files changed, sent (12 KB)' / 'firmware already current (26 files)'."""
    n, sent = summary["files"], summary["files_sent"]
    if sent:
        what = "%d of %d files changed and sent (%s)" % (sent, n, _size(summary["file_bytes_sent"]))
    else:
        what = "firmware already current, no file sent"
    if summary["config_sent"]:
        what += "; config.json updated"
    return ("deployed airkit %s to %s: %s; all %d files verified by SHA-256 on the board (firmware %s)%s"
            % (summary["version"], port, what, n, summary["firmware_hash"][:12],
               "; board reset, the station runs again" if summary["reset"] else ""))


def _size(n: int) -> str:
    return "%d bytes" % n if n < 10240 else "%.0f KB" % (n / 1024)
