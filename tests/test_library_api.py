"""The library first, the command line on top: the README's API block runs as written (with PORT set
to a virtual board's port link), and api.py holds no argument parsing, argv building or output capture."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_api_block() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## The host as a library"):]
    return section[section.index("```python") + len("```python"):section.index("```\n", section.index("```python"))]


def test_api_module_is_library_code_only():
    src = (ROOT / "host" / "airkit" / "api.py").read_text()
    for banned in ("argparse", "parse_args", "parse_known_args", "redirect_stdout", "StringIO", "_workbench",
                   "_command_args", "from airkit.cli", "calibrate.cli", ".func("):
        assert banned not in src, banned


def test_library_calls_take_a_port_name(tmp_path):
    """deploy("/dev/ttyS0", ...) and run_doctor(port) used to fail with AttributeError on the str."""
    from airkit.deploy import deploy
    from airkit.doctor import run_doctor
    from airkit.errors import BoardError

    for call in (lambda: deploy(str(tmp_path / "ttyNOPE"), None), lambda: run_doctor(str(tmp_path / "ttyNOPE"))):
        with pytest.raises(BoardError, match="does not exist"):
            call()


@pytest.mark.slow
def test_the_readmes_api_examples_run_as_written(tmp_path):
    from toolkit_helpers import RunningBoard

    block = readme_api_block()
    line = next(ln for ln in block.splitlines() if ln.startswith("PORT = "))
    work = tmp_path / "work"
    (work / "examples").mkdir(parents=True)
    for name in ("sensor.csv", "reference.csv"):
        shutil.copy(ROOT / "examples" / name, work / "examples" / name)
    with RunningBoard(tmp_path, "api", firmware_from="flash") as b:
        (work / "example.py").write_text(block.replace(line, "PORT = %r" % b.port))
        p = subprocess.run([sys.executable, "example.py"], capture_output=True, text=True, timeout=300, cwd=work)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    out = p.stdout
    assert "not flashed:" in out and "class-bundle" in out                 # flash: its sentence, no traceback
    assert re.search(r"^\d+ of \d+ files sent; firmware [0-9a-f]{12}$", out, re.M), out
    assert re.search(r"^firmware True ", out, re.M) and re.search(r"^current True ", out, re.M), out
    assert "lab-1" in out and "classes" in out                               # provision's report and state
    assert "corrected hours" in out and "readings exported" in out
    assert (work / "model.json").is_file() and (work / "corrected.csv").is_file()
