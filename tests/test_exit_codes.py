"""Exit codes as documented (README "Errors and exit codes"), command by command: one failing case per
code a command can end with, and for every command an unexpected exception is a bug (its own code,
never 1, the traceback saved to a file the sentence names)."""

import json
import os
import re

import pytest

from airkit.cli import BUG_EXIT, COMMANDS, main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EX = os.path.join(ROOT, "examples")


@pytest.fixture
def files(tmp_path):
    (tmp_path / "exists.csv").write_text("keep\n")
    (tmp_path / "bad.json").write_text('{"interval_s": "fast"}')
    (tmp_path / "class.csv").write_text("device_id\nst-01\n")
    return tmp_path


def cases(t):
    nope = str(t / "ttyNOPE")
    ex = str(t / "exists.csv")
    return {
        "sim": [(["sim", "--hours", "-1"], 2), (["sim", "--hours", "1", "--port-link", ex], 5)],
        "pms": [(["pms", "decode", str(t / "none.bin")], 2),
                (["pms", "decode", os.path.join(EX, "pms-capture.bin"), "--out", ex], 5)],
        "build": [(["build", "--out", ex], 2), (["build", "--out", str(t / "b"), "--romfs", ex], 5)],
        "calibrate": [(["calibrate", "fit", "--sensor", str(t / "none.csv"), "--reference", str(t / "none.csv"),
                        "--out", str(t / "m.json")], 2),
                      (["calibrate", "fit", "--sensor", "x", "--out", ex], 5)],
        "ports": [(["ports", "--bogus"], 2)],
        "flash": [(["flash", "--list", "--board", "no-such-board"], 2),
                  (["flash", "--port", nope, "--board", "esp32-devkitc", "--firmware",
                    os.path.join(EX, "pms-capture.bin")], 3)],
        "deploy": [(["deploy", "--port", nope, "--config", str(t / "none.json")], 2),
                   (["deploy", "--port", nope], 3)],
        "config": [(["config", "validate", str(t / "bad.json")], 1), (["config", "show", str(t / "none.json")], 2),
                   (["config", "init", ex], 5)],
        "doctor": [(["doctor", "--port", nope, "--only", "nonsense"], 2), (["doctor", "--port", nope], 3)],
        "monitor": [(["monitor", "--port", nope, "--count", "0"], 2), (["monitor", "--port", nope], 3)],
        "provision": [(["provision", str(t / "none.csv")], 2), (["provision", str(t / "class.csv")], 3)],
        "collect": [(["collect", "--port", "99999"], 2),
                    (["collect", "--port", "0", "--db", str(t / "c.sqlite"), "--mqtt",
                      "mqtt://no-such-host.invalid/air"], 4),
                    (["collect", "export", "--db", str(t / "c.sqlite"), "--out", ex], 5)],
    }


def test_every_command_has_cases():
    assert set(cases(__import__("pathlib").Path("/x"))) == set(COMMANDS)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_exit_codes_per_command(command, files, capsys, monkeypatch):
    monkeypatch.setattr("airkit.ports.board_ports", lambda: [])       # this machine's USB: none, always
    if command == "collect":
        from airkit.collect.store import Store
        Store(str(files / "c.sqlite"))
    for argv, code in cases(files)[command]:
        got = main(argv)
        err = capsys.readouterr().err
        assert got == code, (argv, got, err)
        assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("airkit: "), (argv, err)


HANDLERS = {"sim": "airkit.simcmd.run", "pms": "airkit.pmscmd.decode", "build": "airkit.buildcmd.run",
            "calibrate": "airkit.calibrate.cli.cmd_fit", "ports": "airkit.ports.run", "flash": "airkit.flash.run",
            "deploy": "airkit.deploy.run", "config": "airkit.configcmd.run_validate", "doctor": "airkit.doctor.run",
            "monitor": "airkit.monitor.run", "provision": "airkit.provision.run",
            "collect": "airkit.collect.export"}
ARGV = {"sim": ["sim"], "pms": ["pms", "decode", "x"], "build": ["build"],
        "calibrate": ["calibrate", "fit", "--sensor", "s", "--out", "m"], "ports": ["ports"],
        "flash": ["flash", "--list"], "deploy": ["deploy", "--port", "p"], "config": ["config", "validate", "c"],
        "doctor": ["doctor", "--port", "p"], "monitor": ["monitor", "--port", "p"], "provision": ["provision", "c"],
        "collect": ["collect", "export"]}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_an_unexpected_exception_is_a_bug_with_its_traceback_in_a_file(command, capsys, monkeypatch):
    assert set(HANDLERS) == set(COMMANDS)

    def broken(args):                  # a bug deep inside: the user did nothing wrong
        raise KeyError("wifi_password=hunter2-secret")

    monkeypatch.setattr(HANDLERS[command], broken)
    assert main(ARGV[command]) == BUG_EXIT != 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bug in airkit" in err and "Traceback" not in err, err
    path = re.search(r"the details are in (\S+):", err).group(1)
    text = open(path).read()
    assert "Traceback" in text and "KeyError" in text and "hunter2" not in text
    assert os.stat(path).st_mode & 0o077 == 0
