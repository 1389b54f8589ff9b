"""Every command that writes a file writes it one safe way (``airkit.outfile``): checked before the
work, a temporary file beside the target, fsync, rename; one sentence and nothing partial left on a
full disk, a read-only folder or a system folder; symbolic links followed; read-only files respected."""

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from airkit import outfile
from airkit.errors import InputError, WouldOverwrite

ROOT = Path(__file__).resolve().parent.parent
SENSOR = ROOT / "examples" / "sensor.csv"
REFERENCE = ROOT / "examples" / "reference.csv"
CAPTURE = ROOT / "examples" / "pms-capture.bin"


def airkit(*args, cwd=None, prefix=()):
    return subprocess.run([*prefix, sys.executable, "-m", "airkit.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=120, cwd=cwd)


class Ran:
    """``main(argv)`` in this process, shaped like a finished subprocess (no interpreter start-up)."""

    def __init__(self, argv, capsys):
        from airkit.cli import main
        self.returncode = main([str(a) for a in argv])
        out = capsys.readouterr()
        self.stdout, self.stderr = out.out, out.err


def one_line(proc, code, *words):
    assert proc.returncode == code, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("airkit: ")]   # (fit reports its inputs first)
    assert len(lines) == 1 and proc.stderr.rstrip().endswith(lines[0]), proc.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


def _can_mount() -> bool:
    if not shutil.which("unshare") or sys.platform != "linux":
        return False
    try:
        return subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "true"],
                              capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


CAN_MOUNT = _can_mount()
needs_mount = pytest.mark.skipif(not CAN_MOUNT, reason="needs user+mount namespaces (unshare) for a real small "
                                                       "or read-only disk")


def small_disk(mnt: Path, size="16k", read_only=False, fill=False):
    """A command prefix: run in a private mount namespace where ``mnt`` is a real tmpfs of ``size``
    (read-only when asked): a full disk or a read-only stick, made by the kernel, not faked.
    What is left on that disk afterwards is listed in ``mnt``.listing."""
    mnt.mkdir(exist_ok=True)
    opts = "size=%s%s" % (size, ",ro" if read_only else "")
    fill = 'cat /dev/zero > "%s/fill" 2>/dev/null; ' % mnt if fill else ""
    return ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
            'mount -t tmpfs -o %s tmpfs "%s" || exit 99; %s"$@"; rc=$?; ls -A "%s" > "%s.listing"; exit $rc'
            % (opts, mnt, fill, mnt, mnt), "sh"]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("model")
    proc = airkit("calibrate", "fit", "--sensor", SENSOR, "--reference", REFERENCE, "--no-flexible",
                  "--out", d / "m.json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return d / "m.json"


# --- the library --------------------------------------------------------------------------------------
def test_a_failed_write_leaves_nothing_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    dest = outfile.check_file(target, force=True)
    with pytest.raises(RuntimeError):
        with dest.open() as f:
            f.write("half")
            raise RuntimeError("the work failed half way")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_existing_file_symlink_and_read_only(tmp_path):
    (tmp_path / "a.json").write_text("{}")
    with pytest.raises(WouldOverwrite):
        outfile.check_file(tmp_path / "a.json")
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "master.json").write_text("old")
    (tmp_path / "link.json").symlink_to(shared / "master.json")
    outfile.check_file(tmp_path / "link.json", edit=True).write_text("new")
    assert (tmp_path / "link.json").is_symlink() and (shared / "master.json").read_text() == "new"
    (shared / "master.json").chmod(0o444)
    with pytest.raises(WouldOverwrite, match="read-only"):
        outfile.check_file(tmp_path / "link.json", edit=True)
    outfile.check_file(tmp_path / "link.json", edit=True, force=True).write_text("forced")
    assert (shared / "master.json").read_text() == "forced"
    assert stat.S_IMODE((shared / "master.json").stat().st_mode) == 0o444      # still read-only


def test_folder_missing_a_folder_a_device_and_proc(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        outfile.check_file(tmp_path / "nope" / "x.csv")
    with pytest.raises(InputError, match="is a folder"):
        outfile.check_file(tmp_path)
    with pytest.raises(InputError, match="not an ordinary file"):
        outfile.check_file("/dev/full", force=True)
    if os.path.isdir("/proc"):
        with pytest.raises(InputError, match="system folder"):
            outfile.check_file("/proc/x.json")


# --- every command: existing file -> 5, /proc -> 2 before any work -----------------------------------
def test_refused_overwrites_are_exit_5(tmp_path, model, capsys):
    (tmp_path / "exists.csv").write_text("keep\n")
    (tmp_path / "exists.json").write_text("{}\n")
    ex_csv, ex_json = tmp_path / "exists.csv", tmp_path / "exists.json"
    cases = [
        ("calibrate", "fit", "--sensor", SENSOR, "--reference", REFERENCE, "--out", model),
        ("calibrate", "apply", "--model", model, "--sensor", SENSOR, "--out", ex_csv),
        ("pms", "decode", CAPTURE, "--out", ex_csv),
        ("collect", "export", "--db", tmp_path / "none.db", "--out", ex_csv),
        ("config", "init", ex_json),
        ("build", "--out", tmp_path / "b", "--romfs", ex_csv),
    ]
    for argv in cases:
        one_line(Ran(argv, capsys), 5, "--force")
    assert ex_csv.read_text() == "keep\n" and ex_json.read_text() == "{}\n"


def test_proc_and_missing_folders_are_refused_before_the_work(tmp_path, model, capsys):
    # the sensor file does not exist: a refusal naming the output shows the output was checked first
    missing = tmp_path / "no-such-sensor.csv"
    cases = [
        ("calibrate", "fit", "--sensor", missing, "--reference", missing, "--out", "/proc/x.json"),
        ("calibrate", "apply", "--model", model, "--sensor", missing, "--out", "/proc/x.csv"),
        ("calibrate", "report", "--sensor", missing, "--reference", missing, "--out", "/proc/rep"),
        ("pms", "decode", missing, "--out", "/proc/x.txt"),
        ("collect", "export", "--db", missing, "--out", "/proc/x.csv"),
        ("sim", "--board-dir", "/proc/board", "--hours", "1"),
        ("build", "--out", "/proc/fw"),
        ("calibrate", "apply", "--model", model, "--sensor", missing, "--out", tmp_path / "nope" / "x.csv"),
    ]
    for argv in cases:
        line = one_line(Ran(argv, capsys), 2)
        assert "no-such-sensor" not in line, line
    assert not list(tmp_path.glob("**/*.tmp"))


def test_config_set_follows_a_symlink_and_respects_read_only(tmp_path):
    master = tmp_path / "shared" / "station.json"
    master.parent.mkdir()
    assert airkit("config", "init", master).returncode == 0
    link = tmp_path / "mine.json"
    link.symlink_to(master)
    assert airkit("config", "set", link, "interval_s=600").returncode == 0
    assert link.is_symlink(), "the link was replaced by a private copy"
    assert json.loads(master.read_text())["interval_s"] == 600
    master.chmod(0o400)
    one_line(airkit("config", "set", link, "interval_s=900"), 5, "read-only", "--force")
    assert json.loads(master.read_text())["interval_s"] == 600
    assert airkit("config", "set", link, "interval_s=900", "--force").returncode == 0
    assert json.loads(master.read_text())["interval_s"] == 900
    assert stat.S_IMODE(master.stat().st_mode) == 0o400 and link.is_symlink()


# --- a real full disk and a real read-only disk ----------------------------------------------------
@needs_mount
def test_full_disk_one_sentence_nothing_partial(tmp_path, model):
    disk = tmp_path / "disk"
    cases = [
        ("calibrate", "apply", "--model", model, "--sensor", SENSOR, "--out", disk / "corrected.csv"),
        ("pms", "decode", CAPTURE, "--json", "--out", disk / "frames.txt"),
        ("build", "--out", disk / "fw"),
    ]
    for argv in cases:
        proc = airkit(*argv, prefix=small_disk(disk, size="8k", fill=True))
        assert proc.returncode != 99, "could not mount"
        one_line(proc, 2, "disk is full", "nothing was written")
        left = set((tmp_path / "disk.listing").read_text().split()) - {"fill", "fw"}
        assert not left, (argv, left)     # no partial file, no temporary file


@needs_mount
def test_read_only_disk_refused_before_the_work(tmp_path, model):
    disk = tmp_path / "stick"
    missing = tmp_path / "no-such-sensor.csv"
    cases = [
        ("calibrate", "fit", "--sensor", missing, "--reference", missing, "--out", disk / "m.json"),
        ("calibrate", "apply", "--model", model, "--sensor", missing, "--out", disk / "c.csv"),
        ("pms", "decode", missing, "--out", disk / "f.txt"),
        ("sim", "--board-dir", disk / "board", "--hours", "1"),
        ("build", "--out", disk / "fw"),
    ]
    for argv in cases:
        proc = airkit(*argv, prefix=small_disk(disk, read_only=True))
        assert proc.returncode != 99, "could not mount"
        line = one_line(proc, 2, "read-only")
        assert "no-such-sensor" not in line
