"""`airkit flash` as a new user uses it, mistakes included: a wrong port, a wrong version, folders
that cannot be written, a lock file edited by hand, Ctrl-C in the middle of a download, `--json`
that must parse, library calls with wrong arguments. Each ends in one sentence and the README's
exit code, with nothing lost and no traceback; a board that was running is left running."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from flash_helpers import merged_image, silent_port

import airkit
from airkit.cli import main
from airkit.errors import InputError
from airkit.mpimages import LOCK_NAME
from airkit.resources import load_profile

# The loopback download site and the Images helper of the image tests (same site, same files).
from test_flash_images import FILE, images, site  # noqa: E402,F401  (site is a fixture)


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("airkit: ") and "Traceback" not in "\n".join(err), err
    return err[-1]


@pytest.mark.parametrize("what", ["/dev/null", "a file", "a folder"])
def test_a_port_that_is_no_serial_port_is_refused_before_anything_else(site, tmp_path, capsys, what):
    port = {"/dev/null": "/dev/null", "a file": str(tmp_path / "notes.txt"), "a folder": str(tmp_path)}[what]
    Path(tmp_path / "notes.txt").write_text("x")
    t0 = time.monotonic()
    assert main(["flash", "--port", port, "--board", "esp32-devkitc"]) == 2
    msg = one_line(capsys)
    assert "is not a serial port" in msg and "airkit ports" in msg and "--baud" not in msg
    assert time.monotonic() - t0 < 5 and site.requests == []          # nothing downloaded for nothing
    assert main(["flash", "--port", str(tmp_path / "ttyUSB7")]) == 3
    assert "does not exist" in one_line(capsys)


def test_json_output_is_only_json_esptool_talks_on_stderr(site, capsys):
    with silent_port() as port:
        rc = main(["flash", "--port", port, "--board", "esp32-devkitc", "--erase", "no", "--json"])
    out, err = capsys.readouterr()
    assert rc == 3 and out == "" and "Connecting" in err          # esptool's chatter is not on stdout
    assert err.strip().splitlines()[-1].startswith("airkit: flashing")
    assert main(["flash", "--list", "--board", "esp32-devkitc", "--json"]) == 0
    json.loads(capsys.readouterr().out)


def test_a_board_running_micropython_gets_the_boot_remedy_and_keeps_measuring(site, tmp_path, capsys):
    """No auto-reset into the bootloader (the virtual board has none): the probe that found MicroPython
    stopped the station, so it is reset, and the user is told about the BOOT button, not the cable."""
    from toolkit_helpers import RunningBoard

    img = tmp_path / "fw.bin"
    img.write_bytes(merged_image("ESP32"))
    with RunningBoard(tmp_path, "f1", config={"device": {"id": "f1"}}, extra={"speed": 600}) as b:
        assert b.wait_line(lambda ln: ln.startswith("reading "), timeout=30)
        rc = main(["flash", "--port", b.port, "--board", "esp32-devkitc", "--firmware", str(img), "--json"])
        out, err = capsys.readouterr()
        assert rc == 3, err
        last = err.strip().splitlines()[-1]
        assert "hold the BOOT button" in last and "Traceback" not in err and "b''" not in out + err
        assert out == ""
        n = len(b.board.lines)
        assert b.wait_line(lambda ln: ln.startswith("reading "), timeout=30, start=n), b.board.lines[-5:]


@pytest.mark.parametrize("version", ["abc", "latest", "1.2.3.4"])
def test_a_word_is_not_a_version(site, version):
    with pytest.raises(InputError, match="'%s' is not a MicroPython version: give one like 1.28.0" % version):
        images().resolve(load_profile("esp32-devkitc"), version)
    assert site.requests == []


def test_an_unpublished_version_suggests_only_usable_ones(site):
    with pytest.raises(InputError, match=r"1\.99\.0 is not published") as e:
        images().resolve(load_profile("esp32-devkitc"), "1.99.0")
    assert "1.28.0" in str(e.value) and "1.20.0" not in str(e.value)        # 1.20 is too old for airkit


def test_cache_and_lock_that_cannot_be_written(site, tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("AIRKIT_CACHE", str(blocker / "cache"))
    with silent_port() as port:
        assert main(["flash", "--port", port, "--board", "esp32-devkitc", "--erase", "no"]) == 2
        msg = one_line(capsys)
        assert "image cache" in msg and "is a file, not a folder" in msg and "AIRKIT_CACHE" in msg
        assert site.downloads(FILE) == 0
        monkeypatch.setenv("AIRKIT_CACHE", str(tmp_path / "cache"))
        assert main(["flash", "--port", port, "--board", "esp32-devkitc", "--erase", "no",
                     "--lock", str(blocker / LOCK_NAME)]) == 2
        msg = one_line(capsys)
        assert "lock file" in msg and "cannot be written" in msg and "--lock FILE" in msg
        assert site.downloads(FILE) == 0                       # refused before a download was wasted
    assert main(["flash", "bundle", "--out", str(blocker), "--board", "esp32-devkitc"]) == 2
    assert "is a file, not a folder" in one_line(capsys) and blocker.read_text() == "x"
    assert main(["flash", "bundle", "--out", str(blocker / "b"), "--board", "esp32-devkitc"]) == 2
    assert "cannot be made" in one_line(capsys) and site.downloads(FILE) == 0


def test_lock_folder_given_with_a_slash_is_made(site, tmp_path):
    folder = tmp_path / "class"
    images(lock=str(folder) + os.sep).resolve(load_profile("esp32-devkitc"))
    assert (folder / LOCK_NAME).is_file()


def test_a_lock_file_edited_by_hand(site, tmp_path, capsys):
    lock = tmp_path / LOCK_NAME
    res = images(lock=lock).resolve(load_profile("esp32-devkitc"))
    doc = json.loads(lock.read_text())
    # A SHA-256 pasted from PowerShell's Get-FileHash is upper case: the same hash, accepted.
    doc["images"][FILE]["sha256"] = res.sha256.upper()
    lock.write_text(json.dumps(doc))
    again = images(lock=lock).resolve(load_profile("esp32-devkitc"))
    assert (again.trust, again.source) == ("lock", "cache") and again.path.exists()
    # Saved again by Windows Notepad: UTF-8 with a byte-order mark, CRLF line ends.
    lock.write_bytes(b"\xef\xbb\xbf" + json.dumps(doc, indent=1).replace("\n", "\r\n").encode())
    assert images(lock=lock).resolve(load_profile("esp32-devkitc")).trust == "lock"
    for bad in ("abc", {"board": "ESP32_GENERIC", "version": "1.28.0"}, {"sha256": "12ab"}, ["x"]):
        doc["images"][FILE] = bad
        lock.write_text(json.dumps(doc))
        with pytest.raises(InputError, match="has no valid SHA-256 for %s .*fix that entry or remove it" % FILE):
            images(lock=lock).resolve(load_profile("esp32-devkitc"))
    with silent_port() as port:
        assert main(["flash", "--port", port, "--board", "esp32-devkitc", "--lock", str(lock)]) == 2
    assert "no valid SHA-256" in one_line(capsys)
    assert again.path.exists() and site.downloads(FILE) == 1         # nothing deleted, nothing fetched again


def test_ctrl_c_during_a_download_keeps_nothing_half_done(site, tmp_path):
    site.slow[FILE] = 0.5                         # about 10 s for the image: Ctrl-C lands mid-download
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    out = tmp_path / "stick"
    proc = subprocess.Popen([sys.executable, "-m", "airkit.cli", "flash", "bundle", "--out", str(out),
                             "--board", "esp32-devkitc"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # even under nohup
    try:
        deadline = time.monotonic() + 60
        while not list(site.cache.glob(FILE + ".*.part")) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert list(site.cache.glob(FILE + ".*.part")), "the download never started"
        time.sleep(0.3)                            # well inside the download (about 4 s)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 130 and err.strip().splitlines()[-1] == "airkit: interrupted", (proc.returncode, err)
    assert "Traceback" not in err
    assert [p.name for p in site.cache.iterdir() if p.is_file()] == []    # no part file, no image, no lock
    assert not any(p.suffix == ".bin" for p in out.glob("*"))


def test_part_files_left_by_a_killed_airkit_are_cleared(site):
    site.cache.mkdir(parents=True)
    dead, live = site.cache / (FILE + ".k1ll3d.part"), site.cache / (FILE + ".4ct1ve.part")
    dead.write_bytes(b"x" * 1000)
    live.write_bytes(b"y")
    old = time.time() - 3600
    os.utime(dead, (old, old))
    images().resolve(load_profile("esp32-devkitc"))
    assert not dead.exists() and live.exists()        # another airkit may still be writing the recent one


def test_library_calls_with_wrong_arguments_are_one_sentence(site, tmp_path):
    with pytest.raises(InputError, match="unknown board 'None'"):
        airkit.load_profile(None)
    with pytest.raises(InputError, match="no port given"):
        airkit.flash.identify(None)
    with silent_port() as port:
        t0 = time.monotonic()
        with pytest.raises(InputError, match="firmware file .*nothing.bin does not exist"):
            airkit.flash.flash_board(port, "esp32-devkitc", tmp_path / "nothing.bin")
        assert time.monotonic() - t0 < 2              # the image is checked before esptool's connect attempts
        with pytest.raises(InputError, match="needs a board profile"):
            airkit.flash.flash_board(port, {"name": "x"}, tmp_path / "nothing.bin")
        with pytest.raises(InputError, match="is a folder: give the path of the .bin file"):
            airkit.flash.flash_board(port, "esp32-devkitc", tmp_path)
    path, version, sha = airkit.flash.resolve_image("esp32-devkitc")          # a board name is enough
    assert version == "1.28.0" and sha == hashlib.sha256(site.files[FILE]).hexdigest()


def test_a_broken_board_profile_is_one_sentence(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRKIT_BOARDS_DIR", str(tmp_path))
    (tmp_path / "mine.json").write_text('{"chip": "ESP32",')
    with pytest.raises(InputError, match="board profile file .*mine.json is not valid JSON"):
        load_profile("mine")
    (tmp_path / "mine.json").write_text('{"name": "mine"}')
    with pytest.raises(InputError, match="names no chip"):
        load_profile("mine")


@pytest.mark.parametrize("url", ["https://", "https:///firmware", "https://teacher:S3cret@localhost:99999",
                                 "https://teacher:S3cret@local host"])
def test_a_malformed_download_site_is_wrong_input_not_no_network(site, capsys, url):
    assert main(["flash", "--list", "--board", "esp32-devkitc", "--base-url", url]) == 2
    msg = one_line(capsys)
    assert "is not a valid URL" in msg and "S3cret" not in msg and "without internet" not in msg


def test_a_ca_file_that_is_no_pem_and_a_site_without_the_page(site, tmp_path, capsys):
    der = tmp_path / "proxy-ca.cer"
    der.write_bytes(b"0\x82\x03\x1a0\x82\x02\x02\xa0\x03\x02\x01\x02" + bytes(200))    # DER, as Windows exports
    assert main(["flash", "--list", "--board", "esp32-devkitc", "--ca-file", str(der)]) == 2
    assert "holds no PEM certificate" in one_line(capsys)
    assert main(["flash", "--list", "--board", "esp32-devkitc", "--base-url",
                 site.url.replace("https://", "https://teacher:S3cret@") + "/mirror"]) == 4
    msg = one_line(capsys)
    assert "has no download page" in msg and "--base-url" in msg and "S3cret" not in msg


def test_list_offline_with_a_bundle_shows_what_the_bundle_holds(site, tmp_path, monkeypatch, capsys):
    stick = tmp_path / "stick"
    assert main(["flash", "bundle", "--out", str(stick), "--board", "esp32-devkitc", "--json"]) == 0
    json.loads(capsys.readouterr().out)
    monkeypatch.setenv("AIRKIT_CACHE", str(tmp_path / "classroom-pc"))
    monkeypatch.setenv("AIRKIT_FIRMWARE_URL", "https://localhost:9")       # no internet in the classroom
    assert main(["flash", "--list", "--board", "esp32-devkitc", "--bundle", str(stick), "--json"]) == 0
    (b,) = json.loads(capsys.readouterr().out)
    assert [v["version"] for v in b["versions"]] == ["1.28.0"] and b["offline_since"] == "bundle %s" % stick


def test_readme_names_where_the_cache_and_lock_are(monkeypatch):
    from airkit.mpimages import cache_dir, default_lock

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    monkeypatch.delenv("AIRKIT_CACHE", raising=False)
    monkeypatch.delenv("AIRKIT_IMAGES_LOCK", raising=False)
    assert cache_dir() == Path.home() / ".cache" / "airkit" / "firmware" and "~/.cache/airkit/firmware/" in readme
    assert default_lock().parent == cache_dir() and "$AIRKIT_CACHE/firmware/" in readme
    assert "with `--bundle DIR`,\n     what the bundle holds" in readme


def test_flash_usage_shows_the_three_ways_to_call_it(capsys):
    with pytest.raises(SystemExit) as e:
        main(["flash", "--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0
    usage = out.split("\n\n")[0]
    # argparse's own usage ended in a bare 'bundle ...', as if every flash needed the bundle sub-command
    assert usage.startswith("usage: airkit flash --port PORT") and "airkit flash --list" in usage
    assert "airkit flash bundle --out DIR" in usage and not usage.rstrip().endswith("bundle ...")


def test_ctrl_c_while_writing_says_the_board_needs_flashing_again(tmp_path, capsys, monkeypatch):
    import airkit.flash as fl

    def interrupted(*a, **kw):            # esptool's write_flash, stopped by Ctrl-C half-way
        raise KeyboardInterrupt

    img = tmp_path / "fw.bin"
    img.write_bytes(merged_image("ESP32"))
    monkeypatch.setattr(fl, "flash_board", interrupted)
    with silent_port() as port:
        assert main(["flash", "--port", port, "--board", "esp32-devkitc", "--firmware", str(img),
                     "--erase", "yes"]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["airkit: interrupted while flashing %s: the board may hold a half-written image; run "
                   "'airkit flash --port %s' again before using it" % (port, port)]


def test_board_names_as_people_type_them():
    assert load_profile("ESP32-DevKitC")["name"] == "esp32-devkitc"
    assert load_profile("esp32-devkitc.json")["name"] == "esp32-devkitc"     # tab completion in boards/
    with pytest.raises(InputError, match=r"unknown board 'esp32-devkit' \(did you mean esp32-devkitc\?\): use one"):
        load_profile("esp32-devkit")


def test_a_full_disk_is_not_called_a_network_failure(site, tmp_path):
    """The cache's disk fills up mid-download (a file-size limit stands in for it)."""
    import resource

    def small_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)      # a write past the limit fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (40000, 40000))

    def fill_up(*argv):
        proc = subprocess.run([sys.executable, "-m", "airkit.cli", "flash", *map(str, argv)], capture_output=True,
                              text=True, timeout=120, preexec_fn=small_disk)
        err = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert err[-1].startswith("airkit: the image cache") and "cannot hold %s" % FILE in err[-1]
        assert "free some space" in err[-1] and "broke off" not in err[-1]
        assert not list(site.cache.glob("*.part")) and not (site.cache / FILE).exists()

    fill_up("bundle", "--out", tmp_path / "b", "--board", "esp32-devkitc")          # from the download site
    stick = tmp_path / "stick"
    assert main(["flash", "bundle", "--out", str(stick), "--board", "esp32-devkitc"]) == 0
    (site.cache / FILE).unlink()
    with silent_port() as port:                                                    # from a bundle
        fill_up("--port", port, "--board", "esp32-devkitc", "--bundle", stick, "--erase", "no")


def test_a_proxy_page_instead_of_the_download_page(site, capsys):
    site.pages["/download/ESP32_GENERIC/"] = "<html><body>Blocked by the school's web filter</body></html>"
    assert main(["flash", "--list", "--board", "esp32-devkitc"]) == 4
    msg = one_line(capsys)
    assert "lists no ESP32_GENERIC images" in msg and "proxy" in msg


def test_waiting_for_another_download_is_said_not_silent(site):
    import threading

    from airkit.mpimages import _locked

    said, done = [], []
    with _locked(site.cache / FILE):              # another airkit (a provision worker) is fetching the image
        t = threading.Thread(target=lambda: done.append(images(log=said.append).resolve(
            load_profile("esp32-devkitc"))), daemon=True)
        t.start()
        deadline = time.monotonic() + 20
        while not said and time.monotonic() < deadline:
            time.sleep(0.05)
        assert said and "waiting for another airkit that is fetching %s" % FILE in said[0]
    t.join(30)
    assert done and done[0].version == "1.28.0"


def test_a_busy_port_names_the_program_holding_it(tmp_path, capsys):
    img = tmp_path / "fw.bin"
    img.write_bytes(merged_image("ESP32"))
    with silent_port() as port:
        holder = subprocess.Popen([sys.executable, "-c", "import serial, sys, time\n"      # a serial monitor
                                   "s = serial.Serial(sys.argv[1], exclusive=True)\nprint('open', flush=True)\n"
                                   "time.sleep(60)\n", port], stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline().strip() == "open"
            assert main(["flash", "--port", port, "--board", "esp32-devkitc", "--firmware", str(img)]) == 3
        finally:
            holder.kill()
            holder.wait(10)
    msg = one_line(capsys)
    assert "the port is busy (held by " in msg and "pid %d" % holder.pid in msg


def test_a_damaged_saved_listing_offline(site, monkeypatch, capsys):
    assert main(["flash", "--list", "--board", "esp32-devkitc", "--json"]) == 0
    capsys.readouterr()
    saved = site.cache / "listings" / "ESP32_GENERIC.json"
    saved.write_text('{"fetched": "2026-11-29", "releases": [{"version": "1.28.0"')      # cut short
    monkeypatch.setenv("AIRKIT_FIRMWARE_URL", "https://localhost:9")
    assert main(["flash", "--list", "--board", "esp32-devkitc"]) == 4
    msg = one_line(capsys)
    assert "saved earlier was damaged" in msg and not saved.exists()
