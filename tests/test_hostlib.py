"""The host as a library and the CLI as a thin layer: cheap imports, one sentence per mistake,
exit codes as the README documents them."""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
HEAVY = ("pandas", "numpy", "scipy", "matplotlib", "sklearn", "serial", "esptool", "mpremote", "rich")


def airkit(*args, cwd=None, timeout=120, stdin=subprocess.DEVNULL):
    return subprocess.run([sys.executable, "-m", "airkit.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, stdin=stdin)


def one_line_error(proc, code, *words):
    """One ``airkit: ...`` line on stderr naming ``words``, no traceback, and exit code ``code``."""
    from test_cli_errors import one_line_error as one_line

    assert proc.returncode == code, (proc.returncode, proc.stderr)
    return one_line(proc, *words)


def imported_after(code: str) -> set:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return {m.split(".")[0] for m in json.loads(out.stdout.splitlines()[-1])}


# ----------------------------------------------------------------- library

def test_import_airkit_is_cheap_and_the_api_loads_on_use():
    assert not imported_after("import airkit") & set(HEAVY)
    mods = imported_after("import airkit\nassert airkit.VirtualBoard.__name__ == 'VirtualBoard'\n"
                          "assert callable(airkit.flash.identify) and callable(airkit.deploy.deploy)\n"
                          "assert callable(airkit.doctor.run_doctor) and callable(airkit.provision.read_class)\n"
                          "assert callable(airkit.fit) and callable(airkit.apply) and callable(airkit.open_board)")
    assert "esptool" not in mods or "airkit" in mods     # loaded only because flash was asked for


def test_library_errors_are_the_error_tree(tmp_path):
    import airkit

    with pytest.raises(airkit.InputError) as e:
        airkit.load_profile("esp32-nope")
    assert "esp32-devkitc" in str(e.value) and e.value.exit_code == 2
    with pytest.raises(airkit.AirkitError):
        airkit.fit(str(tmp_path / "missing.csv"), str(tmp_path / "missing-ref.csv"))
    assert issubclass(airkit.WouldOverwrite, airkit.UserError)


def test_fit_and_apply_as_functions(tmp_path):
    from test_calibrate_workbench import write

    import airkit

    sp, rp = write(tmp_path, days=30)
    doc = airkit.fit(str(sp), str(rp), out=tmp_path / "m.json", flexible=False)
    assert doc["correction"]["kind"] and json.loads((tmp_path / "m.json").read_text())["correction"]
    with pytest.raises(airkit.WouldOverwrite):                        # never replaced without asking
        airkit.fit(str(sp), str(rp), out=tmp_path / "m.json", flexible=False)
    with pytest.raises(TypeError):                                    # a typo is a TypeError, as in Python
        airkit.fit(str(sp), str(rp), no_flexible=True)
    table = airkit.apply(tmp_path / "m.json", str(sp), out=tmp_path / "c.csv")
    head = (tmp_path / "c.csv").read_text().splitlines()[0].split(",")
    assert head[0] == "time" and "pm25" in head and "pm25_raw" in head
    assert list(table.columns) == head
    same = airkit.apply(doc, sp)                                       # the model object itself, no file
    assert same["pm25"].tolist() == table["pm25"].tolist()


def test_firmware_and_boards_found_through_resources():
    from airkit import resources

    fw = resources.firmware_dir()
    assert (fw / "main.py").is_file() and (fw / "airkit_fw" / "pms5003.py").is_file()
    assert "esp32-devkitc" in resources.board_names()
    # No host module builds paths from its own location into the checkout any more.
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "host" / "airkit").rglob("*.py")
                 if p.name != "resources.py" and "parents[" in p.read_text()]
    assert not offenders, offenders


# ----------------------------------------------------------------- CLI layer

def test_help_lists_every_command_without_importing_them():
    from airkit import cli

    mods = imported_after("import sys\nfrom airkit import cli\ntry:\n    cli.main(['--help'])\n"
                          "except SystemExit:\n    pass")
    assert not mods & set(HEAVY), mods & set(HEAVY)
    proc = airkit("--help")
    assert proc.returncode == 0
    for name in cli.COMMANDS:
        assert re.search(r"^\s+%s\s" % name, proc.stdout, re.M), name


def test_command_table_matches_the_modules():
    """Each table entry's module registers exactly that command (the lazy parser relies on it)."""
    import argparse
    import importlib

    from airkit import cli

    for name, (modname, _help) in cli.COMMANDS.items():
        parser = argparse.ArgumentParser()
        sub = parser.add_subparsers(dest="command")
        importlib.import_module(modname).register(sub)
        assert set(sub.choices) == {name}, (modname, set(sub.choices))


def test_ports_does_not_load_the_heavy_libraries():
    mods = imported_after("from airkit import cli\ntry:\n    cli.main(['ports', '--json'])\n"
                          "except SystemExit:\n    pass")
    assert not mods & {"pandas", "numpy", "scipy", "matplotlib", "esptool", "mpremote"}


def test_an_error_and_its_remedy_are_one_line(capsys, monkeypatch):
    from airkit import cli, errors

    def fail(args):
        raise errors.BoardError("nothing answers on /dev/ttyX", remedy="press EN on the board and try again")

    monkeypatch.setitem(cli.COMMANDS, "ports", ("airkit.ports", "list serial ports"))
    monkeypatch.setattr("airkit.ports.run", fail)
    assert cli.main(["ports"]) == 3
    err = capsys.readouterr().err
    assert err == "airkit: nothing answers on /dev/ttyX: press EN on the board and try again\n"


def test_no_command_and_unknown_command():
    proc = airkit()
    assert proc.returncode == 2 and "COMMAND" in proc.stderr and "Traceback" not in proc.stderr
    proc = airkit("simulate")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr and "Traceback" not in proc.stderr
    proc = airkit("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("airkit ")



def test_an_unknown_option_names_the_command_it_was_given_to():
    """argparse printed the top-level usage ('airkit [-h] [--version] COMMAND ...') for a command's typo."""
    for argv, cmd in ((["flash", "--list", "--jsn"], "airkit flash"),
                      (["pms", "decode", "x.bin", "--jsn"], "airkit pms decode"),
                      (["sim", "--hours", "1", "extra"], "airkit sim")):
        proc = airkit(*argv)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.strip().splitlines() == ["airkit: '%s' does not know %s: see '%s --help'"
                                                    % (cmd, argv[-1], cmd)]


def test_readme_exit_codes_match_the_error_tree_and_behaviour(tmp_path):
    from airkit import errors

    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Errors and exit codes"):]
    section = section[:section.find("\n## ", 5)]
    documented = {int(code): name for code, name in re.findall(r"^\| (\d+) +\| `?(\w+)", section, re.M)}
    for code, name in documented.items():
        if hasattr(errors, name):
            assert getattr(errors, name).exit_code == code, name
    assert {1: "CheckFailed", 2: "InputError", 3: "BoardError", 4: "NetworkError",
            5: "WouldOverwrite"}.items() <= documented.items()
    # ... and a few commands behave as documented
    (tmp_path / "s.json").write_text('{"pms": {"silnet": [[1, 2]]}}')
    one_line_error(airkit("sim", "--hours", 1, "--scenario", tmp_path / "s.json"), 2)
    (tmp_path / "notromfs.bin").write_text("keep me")
    one_line_error(airkit("build", "--out", tmp_path / "b", "--romfs", tmp_path / "notromfs.bin"), 5, "--force")
    assert (tmp_path / "notromfs.bin").read_text() == "keep me"
    one_line_error(airkit("config", "init", tmp_path / "c.json", "--board", "esp32-nope"), 2, "esp32-devkitc")


# ----------------------------------------------------------------- sim, pms, build: mistakes

def test_misspelt_or_wrongly_shaped_scenario_keys(tmp_path):
    cases = {'{"pms": {"silnet": [[1, 2]]}}': ["pms.silnet", "silent"],
             '{"dht": {"failure": 0.2}}': ["dht.failure", "failure_rate"],
             '{"wifi": {"down": [6, 54]}}': ["wifi.down", "[start, end]"],
             '{"pms": {"garbage_rate": 3}}': ["pms.garbage_rate", "0 to 1"],
             '{"power_cuts": "3.25"}': ["power_cuts"],
             '{"pms": []}': ["pms", "object"],
             '{"wifi": {"password": 12345678}}': ["wifi.password", "a string"]}
    for i, (text, words) in enumerate(cases.items()):
        (tmp_path / ("s%d.json" % i)).write_text(text)
        line = one_line_error(airkit("sim", "--hours", 1, "--scenario", tmp_path / ("s%d.json" % i)), 2, *words)
        assert "MicroPython" not in line and "12345678" not in line


def test_non_utf8_and_non_json_files(tmp_path):
    (tmp_path / "latin1.json").write_bytes('{"device": {"name": "Caf\xe9"}}'.encode("latin-1"))
    (tmp_path / "empty.json").write_text("")
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "bom.json").write_bytes(b"\xef\xbb\xbf" + b'{"interval_s": 300}')
    one_line_error(airkit("sim", "--hours", 1, "--config", tmp_path / "latin1.json"), 2, "not UTF-8", "UTF-8")
    one_line_error(airkit("sim", "--hours", 1, "--scenario", tmp_path / "latin1.json"), 2, "not UTF-8")
    one_line_error(airkit("sim", "--hours", 1, "--config", tmp_path / "empty.json"), 2, "empty")
    one_line_error(airkit("sim", "--hours", 1, "--config", tmp_path / "list.json"), 2, "JSON object")
    one_line_error(airkit("sim", "--hours", 1, "--config", tmp_path), 2, "folder")
    one_line_error(airkit("config", "validate", tmp_path / "latin1.json"), 2, "not UTF-8")
    proc = airkit("sim", "--hours", 0.5, "--config", tmp_path / "bom.json")
    assert proc.returncode == 0, proc.stderr


def test_sim_option_mistakes(tmp_path):
    one_line_error(airkit("sim", "--hours", -1), 2, "--hours")
    one_line_error(airkit("sim", "--hours", "nan"), 2, "--hours")       # ran forever
    one_line_error(airkit("sim", "--hours", "inf"), 2, "--hours")       # the interpreter's exit code 2
    one_line_error(airkit("sim", "--hours", 1, "--speed", "nan"), 2, "--speed")
    one_line_error(airkit("sim", "--hours", 1, "--heap-kb", 99999999), 2, "--heap-kb", "at most")   # crashed
    for url in ("http://127.0.0.1:abc/x", "http://u:S3cret@127.0.0.1:99999/x", "http:///x"):    # a traceback,
        proc = airkit("sim", "--hours", 1, "--endpoint", url)                  # or silently nothing delivered
        one_line_error(proc, 2, "--endpoint", "port from 1 to 65535")
        assert "S3cret" not in proc.stderr
    one_line_error(airkit("sim", "--hours", 1, "--start", "yesterday"), 2, "--start", "ISO 8601")
    (tmp_path / "f").write_text("x")
    one_line_error(airkit("sim", "--hours", 1, "--board-dir", tmp_path / "f"), 2, "is a file")
    one_line_error(airkit("sim", "--hours", 1, "--board-dir", tmp_path / "f" / "board"), 2, "cannot write --board-dir")


def test_port_link_in_a_missing_folder_is_refused_not_created(tmp_path):
    link = tmp_path / "nope" / "x"
    one_line_error(airkit("sim", "--hours", 1, "--port-link", link), 2, str(tmp_path / "nope"), "does not exist")
    assert not link.parent.exists()


def test_port_link_never_replaces_a_file(tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("my notes")
    one_line_error(airkit("sim", "--hours", 1, "--port-link", f), 5, "not a port link")   # a refused overwrite
    assert f.read_text() == "my notes"


def test_port_link_of_a_running_simulator_is_refused(tmp_path):
    link = tmp_path / "vb"
    link.symlink_to("/dev/null")
    (tmp_path / "vb.pid").write_text("%d\n" % os.getpid())          # alive: this test process
    one_line_error(airkit("sim", "--hours", 1, "--port-link", link), 3, "still running")
    assert os.readlink(link) == "/dev/null"


def test_stale_port_link_of_a_killed_simulator_is_replaced(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    link = tmp_path / "vb"
    link.symlink_to("/dev/pts/999")                 # what a killed simulator leaves: a link to a pty now gone
    (tmp_path / "vb.pid").write_text("%d\n" % dead.pid)
    proc = subprocess.Popen([sys.executable, "-m", "airkit.cli", "sim", "--hours", "0.2", "--speed", "0",
                             "--port-link", str(link), "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    import threading

    err_lines = []
    reader = threading.Thread(target=lambda: err_lines.extend(iter(proc.stderr.readline, "")), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any("REPL on" in line for line in err_lines):
            time.sleep(0.05)
        assert link.is_symlink() and os.readlink(link) != "/dev/pts/999", "the stale link was not replaced"
        assert (tmp_path / "vb.pid").read_text().strip() == str(proc.pid)
    finally:
        proc.terminate()
        out = proc.stdout.read()
        proc.wait(timeout=30)
        reader.join(10)
    err = "".join(err_lines)
    assert proc.returncode == 0, err
    assert "replacing the stale port link" in err and "REPL on %s" % link in err
    assert json.loads(out.splitlines()[-1])["summary"]
    assert not link.is_symlink() and not (tmp_path / "vb.pid").exists()    # cleaned up after itself


def test_pms_decode_empty_and_stdin_mistakes(tmp_path):
    (tmp_path / "empty.bin").write_bytes(b"")
    one_line_error(airkit("pms", "decode", tmp_path / "empty.bin"), 2, "empty")
    with open(tmp_path / "empty.bin") as f:
        one_line_error(airkit("pms", "decode", "-", stdin=f), 2, "standard input")
    (tmp_path / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    proc = airkit("pms", "decode", tmp_path / "photo.png")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines()[-1].startswith("airkit: no valid PMS5003 frame")


def test_build_json_and_out_mistakes(tmp_path):
    proc = airkit("build", "--out", tmp_path / "fw", "--json")
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    assert res["files"] > 10 and res["bytes"] > 0 and (tmp_path / "fw" / "main.py").exists()
    (tmp_path / "file").write_text("x")
    one_line_error(airkit("build", "--out", tmp_path / "file"), 2, "is a file")
    one_line_error(airkit("build", "--out", tmp_path / "fw", "--romfs", str(tmp_path / "new") + "/"), 2, "folder")
    assert not (tmp_path / "new").exists()


# ----------------------------------------------------------------- examples

def test_example_files_work_as_the_readme_says(tmp_path):
    ex = ROOT / "examples"
    proc = airkit("pms", "decode", ex / "pms-capture.bin", "--json")
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) >= 5
    proc = airkit("sim", "--hours", 2, "--scenario", ex / "faults.json", "--config", ex / "station.json", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1])["readings"] >= 10
    proc = airkit("config", "validate", ex / "station.json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    readme = (ROOT / "README.md").read_text()
    for name in ("pms-capture.bin", "faults.json", "station.json"):
        assert "examples/" + name in readme, name


@pytest.mark.slow
def test_provision_as_a_function(tmp_path):
    from toolkit_helpers import RunningBoard

    import airkit

    from airkit.collect.server import Collector
    from airkit.collect.store import Store

    store = Store(tmp_path / "c.sqlite")           # a station without an uplink is not "ok": give it one
    store.add_device("lib-01", "json", "tok-lib-01")
    coll = Collector(store, "127.0.0.1", 0).start()
    (tmp_path / "class.csv").write_text("device_id,name,wifi_ssid,wifi_password,airkit_json.url,airkit_json.token\n"
                                        "lib-01,Library,lab,lab-pass-1,http://127.0.0.1:%d/api/v1/batch,tok-lib-01\n"
                                        % coll.port)
    try:
        with RunningBoard(tmp_path, "p1", firmware_from="flash", scenario={"wifi": {"ssid": "lab",
                                                                                     "password": "lab-pass-1"}}) as b:
            rep = airkit.provision_class(tmp_path / "class.csv", ports=b.port)
    finally:
        coll.stop()
    assert [(x["device_id"], x["ok"]) for x in rep.boards] == [("lib-01", True)], rep.boards
    assert rep.ok and rep.state_path.exists()
    with pytest.raises(TypeError):
        airkit.provision_class(tmp_path / "class.csv", ports=b.port, no_such_option=True)


def test_series_csv_mistakes(tmp_path):
    cases = {"head.csv": ("time,pm25\n", "no rows"),
             "text.csv": ("time,pm25\n2026-01-05T00:00:00Z,abc\n2026-01-05T01:00:00Z,12\n", "pm25=abc"),
             "rh.csv": ("time,pm25,rh\n2026-01-05T00:00:00Z,5,250\n", "rh=250"),
             "inf.csv": ("time,pm25\n2026-01-05T00:00:00Z,inf\n", "pm25=inf"),
             "when.csv": ("time,pm25\nmonday,5\n", "ISO 8601"),
             "empty.csv": ("", "empty")}
    for name, (text, word) in cases.items():
        (tmp_path / name).write_text(text)
        one_line_error(airkit("sim", "--hours", 1, "--series", tmp_path / name), 2, name, word)
    # What Excel writes in much of Europe: ';' between columns, an empty humidity column
    (tmp_path / "excel.csv").write_text("time;pm25;rh\n2026-01-05T00:00:00Z;5;\n2026-01-05T01:00:00Z;40;\n")
    proc = airkit("sim", "--hours", 1, "--series", tmp_path / "excel.csv", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1])["readings"] >= 10


def test_sim_from_an_empty_flash_says_so(tmp_path):
    line = one_line_error(airkit("sim", "--hours", 0.2, "--firmware", "flash", "--board-dir", tmp_path / "b"), 2,
                          "no airkit firmware", "airkit deploy")
    assert str(tmp_path / "b") in line


def test_readme_scenario_example_passes_the_scenario_check():
    from airkit.simcmd import check_scenario

    text = (ROOT / "README.md").read_text()
    block = text[text.index("Scenario file"):]
    block = block[block.index("```json") + len("```json"):]
    example = json.loads(block[:block.index("```")])
    assert check_scenario(example) is example
    assert check_scenario(json.loads((ROOT / "examples" / "faults.json").read_text()))


def test_the_docstrings_virtual_board_example_measures(tmp_path):
    """The public API's example, as written (it once gave a board with no config: safe mode, 0 readings)."""
    import airkit as api

    line = next(ln for ln in api.__doc__.splitlines() if "airkit.VirtualBoard(" in ln)
    call = re.search(r"airkit\.VirtualBoard\(.*\)", line.split("#")[0]).group(0)
    board = eval(call.replace('"/tmp/vb"', repr(str(tmp_path / "vb"))), {"airkit": api})
    board.run()
    assert len(board.readings()) >= 10
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert "airkit.VirtualBoard(dir, config=" in readme


def test_library_calls_take_paths_and_lists(tmp_path):
    """A Python caller passes Path objects and lists of ports (a Path crashed fit/apply with a TypeError)."""
    import airkit

    with pytest.raises(airkit.AirkitError, match="nope.csv"):
        airkit.fit(tmp_path / "nope.csv", tmp_path / "ref.csv")
    with pytest.raises(airkit.AirkitError, match="m.json"):
        airkit.apply(tmp_path / "m.json", tmp_path / "nope.csv", out=tmp_path / "o.csv")
    (tmp_path / "class.csv").write_text("device_id,name,wifi_ssid,wifi_password\nlib-01,Library,lab,pw-123456\n")
    port = str(tmp_path / "ttyUSB0")
    with pytest.raises(airkit.AirkitError, match="listed twice"):
        airkit.provision_class(tmp_path / "class.csv", ports=[port, port])
