"""Class state that survives teachers: kept in the user's data folder, named by the class list's content,
saved after every board (an interrupted run continues), and a read-only stick refused before any board."""

import json
import shutil
import subprocess
import sys

import pytest

from airkit.provision import provision_class, read_class, state_file
from test_outfile import CAN_MOUNT
from toolkit_helpers import RunningBoard

WIFI = {"wifi": {"ssid": "school", "password": "pw-class-7"}}


def _class_list(path, url, ids):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("device_id,wifi_ssid,wifi_password,uplinks,airkit_json.url,airkit_json.token\n" +
                    "".join("%s,school,pw-class-7,airkit_json,%s,tok-%s\n" % (d, url, d) for d in ids))
    return path


def test_state_saved_per_board_interrupt_continues_and_a_copied_list_is_the_same_class(tmp_path):
    from airkit.collect.server import Collector
    from airkit.collect.store import Store

    store = Store(tmp_path / "c.sqlite")
    for d in ("st-01", "st-02"):
        store.add_device(d, "json", "tok-" + d)
    coll = Collector(store, "127.0.0.1", 0).start()
    url = "http://127.0.0.1:%d/api/v1/batch" % coll.port
    first = _class_list(tmp_path / "stick-a" / "class.csv", url, ["st-01", "st-02"])
    state_path = state_file(read_class(str(first)))
    boards = [RunningBoard(tmp_path, "b%d" % i, firmware_from="flash", scenario=WIFI) for i in (1, 2)]
    ports = [b.port for b in boards]
    seen = {}

    class TeacherPressesCtrlC:
        """stderr of `airkit provision`: Ctrl-C arrives just as the first board is reported done."""

        def write(self, text):
            if text.rstrip().endswith((": ok", ": FAILED")) and "state" not in seen:
                # the board is in the saved state the moment it is reported, before the run ends
                seen["state"] = json.loads(state_path.read_text())
                raise KeyboardInterrupt
            seen.setdefault("err", []).append(text)

        def flush(self):
            pass

        def isatty(self):
            return False

    try:
        from airkit.cli import main
        real, sys.stderr = sys.stderr, TeacherPressesCtrlC()
        try:
            code = main(["provision", str(first), "--ports", ",".join(ports)])
        finally:
            sys.stderr = real
        assert code == 130, seen.get("err")
        said = "".join(seen["err"])
        assert "interrupted: 1 board(s) of this class are done" in said and "run the same command again" in said
        report = (tmp_path / "stick-a" / "class-report.csv").read_text()
        assert report.count(",ok,") == 1, report                      # the finished board's row is not lost
        done = [d for d, s in seen["state"]["boards"].items() if s.get("ok")]
        assert len(done) == 1, seen
        # The same list, copied to another stick: the same class (no "another class list"), and it
        # continues where it stopped: the finished board's tests are not repeated.
        second = tmp_path / "stick-b" / "copy.csv"
        second.parent.mkdir()
        shutil.copy(first, second)
        rep = provision_class(str(second), ports)
        assert not rep.skipped, rep.skipped
        by_id = {b["device_id"]: b for b in rep.boards}
        assert set(by_id) == {"st-01", "st-02"} and all(b["ok"] for b in rep.boards), rep.boards
        assert "tests already passed" in by_id[done[0]]["steps"]
        assert rep.state_path == state_path
        assert not list((tmp_path / "stick-a").glob("*.json")) and not list((tmp_path / "stick-b").glob("*.json"))
    finally:
        for b in boards:
            b.stop()
        coll.stop()


@pytest.mark.skipif(not CAN_MOUNT, reason="needs user+mount namespaces (unshare) for a real read-only stick")
def test_class_list_on_a_read_only_stick(tmp_path):
    stick = tmp_path / "stick"
    stick.mkdir()
    src = _class_list(tmp_path / "src" / "class.csv", "http://127.0.0.1:9/x", ["st-01"])
    script = ('mount -t tmpfs tmpfs "%s" || exit 99; cp "%s" "%s/class.csv"; mount -o remount,ro "%s" || exit 99; '
              'exec "$@"' % (stick, src, stick, stick))
    proc = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh",
                           sys.executable, "-m", "airkit.cli", "provision", str(stick / "class.csv"),
                           "--ports", str(tmp_path / "ttyNOBOARD")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "read-only" in lines[0] and "--out" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
