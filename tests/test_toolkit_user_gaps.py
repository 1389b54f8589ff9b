"""The toolkit's last user-error gaps (issue 21): each case fails without its fix."""

import json
import subprocess
import sys

import pytest

from airkit.errors import InputError
from airkit.provision import check_device_id, check_mac, read_class


def airkit(*args, cwd=None, timeout=60):
    return subprocess.run([sys.executable, "-m", "airkit.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


def test_add_device_never_replaces_a_token_silently(tmp_path):
    db = tmp_path / "c.sqlite"
    (tmp_path / "old.token").write_text("the-first-long-token\n")
    (tmp_path / "new.token").write_text("another-long-token\n")
    assert airkit("collect", "add-device", "yard", "--token-file", tmp_path / "old.token", "--db", db).returncode == 0
    from airkit.collect.store import open_store, token_hash
    before = open_store(db).device("yard")[2]
    for tf in (tmp_path / "new.token", tmp_path / "fresh.token"):        # another file, or a new one made for it
        r = airkit("collect", "add-device", "yard", "--token-file", tf, "--db", db)
        assert r.returncode == 5 and "--force" in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert "another-long-token" not in r.stderr
        assert open_store(db).device("yard")[2] == before
    assert not (tmp_path / "fresh.token").exists()
    # the same token again is fine (a re-run); --force replaces it
    assert airkit("collect", "add-device", "yard", "--token-file", tmp_path / "old.token", "--db", db).returncode == 0
    r = airkit("collect", "add-device", "yard", "--token-file", tmp_path / "new.token", "--db", db, "--force")
    assert r.returncode == 0, r.stderr
    assert open_store(db).device("yard")[2] == token_hash("another-long-token")


@pytest.mark.parametrize("bad", ["1-Mar", "Mar-01", "45352", "1.00E+03", "3/1/2026", "2026-03-01"])
def test_excel_mangled_device_ids_are_refused_with_the_row(tmp_path, bad):
    (tmp_path / "c.csv").write_text("device_id,name\nst-01,A\n%s,B\n" % bad)
    with pytest.raises(InputError, match="line 3.*%s.*Text" % bad.replace(".", r"\.").replace("+", r"\+")):
        read_class(str(tmp_path / "c.csv"))
    r = airkit("collect", "add-device", bad, "--token-file", tmp_path / "t", "--db", tmp_path / "c.sqlite")
    assert r.returncode == 2 and "Text" in r.stderr, r.stderr


def test_good_ids_and_macs_pass_malformed_macs_are_refused(tmp_path):
    for ok in ("st-01", "lab_3", "101", "A1", "station-2026"):
        assert check_device_id(ok, "x") == ok
    assert check_mac("24-0A-C4-12-34-56", "x") == "24:0a:c4:12:34:56" == check_mac("240ac4123456", "x")
    for bad in ("24:0a:c4:12:34", "24:0a:c4:12:34:5g", "2.40E+11", "yes"):
        (tmp_path / "c.csv").write_text("device_id,mac\nst-01,%s\n" % bad)
        with pytest.raises(InputError, match="line 2.*mac"):
            read_class(str(tmp_path / "c.csv"))


def test_a_port_another_program_has_open_names_it(tmp_path):
    import os
    import pty

    from airkit.boardlink import BoardLink
    from airkit.errors import BoardError
    from airkit.ports import port_holders

    master, slave = pty.openpty()
    name = os.ttyname(slave)
    assert port_holders(name, users_only=True) == []          # whoever made the pty is no user of it
    other = subprocess.Popen([sys.executable, "-c", "import os, sys, time\n"          # screen, minicom, Thonny...
                              "fd = os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY)\nprint('open', flush=True)\n"
                              "time.sleep(60)\n", name], stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip() == "open"
        link = BoardLink(name)
        try:
            with pytest.raises(BoardError) as e:
                link.enter(silent_s=1.0, alive_s=1.0)
        finally:
            link.close()
    finally:
        other.kill()
        other.wait(10)
        os.close(master)
        os.close(slave)
    assert "pid %d" % other.pid in str(e.value) and "close it" in str(e.value), str(e.value)


def test_monitor_into_a_closed_pipe_ends_quietly(tmp_path):
    """`airkit monitor --json | head -1`: the reader goes away; that is the normal end, not a lost board."""
    from toolkit_helpers import RunningBoard

    with RunningBoard(tmp_path, "m1", config={"device": {"id": "m1"}}, extra={"speed": 600}) as b:
        proc = subprocess.Popen([sys.executable, "-m", "airkit.cli", "monitor", "--port", b.port, "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        first = proc.stdout.readline()              # head -1
        proc.stdout.close()
        err = proc.stderr.read().decode()
        code = proc.wait(30)
    assert json.loads(first)["seq"] >= 0
    assert code == 0 and err == "", (code, err)


@pytest.mark.parametrize("argv,word", [(["--count", "0"], "--count must be 1 or more"),
                                       (["--seconds", "-1"], "--seconds must be more than 0"),
                                       (["--seconds", "nan"], "--seconds must be more than 0")])
def test_monitor_count_and_seconds_are_clear(argv, word):
    r = airkit("monitor", "--port", "/dev/ttyNOPE", *argv)
    assert r.returncode == 2 and word in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_output_to_a_full_disk_is_one_sentence():
    """`airkit pms decode capture.bin > /dev/full`: the disk is full; said in one sentence, exit 2."""
    from pathlib import Path

    capture = Path(__file__).resolve().parents[1] / "examples" / "pms-capture.bin"
    with open("/dev/full", "w") as full:
        r = subprocess.run([sys.executable, "-m", "airkit.cli", "pms", "decode", str(capture), "--json"],
                           stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    assert r.returncode == 2 and "disk is full" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
