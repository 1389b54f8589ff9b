"""The built wheel works outside the checkout: firmware, main.py and board profiles are package data.

Builds the wheel, installs it (no dependencies) into a fresh venv that borrows
the project venv's third-party packages through a .pth path entry (offline,
fast), and runs the newcomer's first commands from a folder outside the
checkout.
"""

import json
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_runs_config_init_build_and_sim(tmp_path):
    wheels = tmp_path / "wheels"
    try:                                    # offline: build with this venv's setuptools when it has one
        import setuptools  # noqa: F401
        isolation = ["--no-build-isolation"]
    except ImportError:
        isolation = []
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-q",
                        "-w", str(wheels), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    wheel = next(wheels.glob("airkit-*.whl"))

    env_dir = tmp_path / "fresh"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, timeout=60).stdout.strip()
    # Third-party packages from the project venv (a plain path entry: its own .pth files, among them the
    # editable install of this checkout, are not run).
    (Path(purelib) / "zz_project_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    r = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index",
                        "-q", str(wheel)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {"PATH": "%s:%s:/usr/bin:/bin" % (env_dir / "bin", Path(sys.executable).parent), "HOME": str(tmp_path),
           "LANG": "C.UTF-8"}
    airkit = str(env_dir / "bin" / "airkit")

    def run(*args, timeout=300):
        p = subprocess.run([airkit, *args], capture_output=True, text=True, timeout=timeout, cwd=work, env=env)
        assert p.returncode == 0, (args, p.stdout, p.stderr)
        assert "Traceback" not in p.stderr
        return p

    where = subprocess.run([str(py), "-c", "import airkit, airkit_fw; from airkit import resources; "
                            "print(airkit.__file__); print(resources.firmware_dir()); print(resources.boards_dir())"],
                           capture_output=True, text=True, timeout=60, cwd=work, env=env)
    assert where.returncode == 0, where.stderr
    for line in where.stdout.split():
        assert line.startswith(purelib), "not from the installed wheel: " + line
    run("config", "init", "station.json", "--board", "esp32-devkitc")
    assert '"pms"' in (work / "station.json").read_text()
    run("build", "--out", "fw")
    assert (work / "fw" / "main.py").is_file() and (work / "fw" / "lib" / "airkit_fw" / "pms5003.mpy").is_file()
    p = subprocess.run([airkit, "build", "--package-json"], capture_output=True, text=True, timeout=60, cwd=work,
                       env=env)
    assert p.returncode == 2 and "source checkout" in p.stderr     # never writes into site-packages
    p = run("sim", "--hours", "1", "--json")
    summary = json.loads(p.stdout.splitlines()[-1])
    assert summary["summary"] and summary["readings"] >= 10
