"""The one trust chain (airkit.trust) on every path that puts code on a board: each flash defect of
issue 16 with a test that fails without its fix. Downloads come from the loopback HTTPS copy of the
download site (tests/flash_helpers.py); the flash itself runs esptool's real write_flash against a
stand-in board (an esptool ESP32ROM whose register reads answer as a chip of a given revision would)."""

import hashlib
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from flash_helpers import TLS, app_only_image, merged_image, silent_port

from airkit.cli import main
from airkit.errors import InputError, NetworkError, UserError
from airkit.flash import choose_profile, flash_board
from airkit.mpimages import LOCK_NAME
from airkit.resources import load_profile
from airkit.trust import check_image, plain_name, plain_relpath

from test_flash_images import FILE, images, site  # noqa: F401  (site is a fixture)


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("airkit: ") and "Traceback" not in "\n".join(err), err
    return err[-1]


def files_under(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


# --- names from a lock file or a bundle --------------------------------------------------------------------
@pytest.mark.parametrize("evil", ["../../x.bin", "ABS"])
def test_a_lock_naming_a_path_is_refused_and_nothing_is_written_outside(site, tmp_path, capsys, evil):
    evil = str(tmp_path / "outside" / "x.bin") if evil == "ABS" else evil
    sha = hashlib.sha256(site.files[FILE]).hexdigest()
    site.files[os.path.basename(evil)] = site.files[FILE]      # the site would even serve it
    lock = tmp_path / "class" / LOCK_NAME
    lock.parent.mkdir()
    lock.write_text(json.dumps({"images": {evil: {"board": "ESP32_GENERIC", "version": "1.28.0", "sha256": sha}}}))
    before = files_under(tmp_path)
    with pytest.raises(InputError, match="not a plain file name"):
        images(lock=lock).resolve(load_profile("esp32-devkitc"))
    with silent_port() as port:
        assert main(["flash", "--port", port, "--board", "esp32-devkitc", "--erase", "no", "--lock", str(lock)]) == 2
    msg = one_line(capsys)
    assert "not a plain file name" in msg and "nothing written" in msg
    assert files_under(tmp_path) == before and not (tmp_path / "outside").exists()
    assert site.downloads(os.path.basename(evil)) == 0


def test_a_bundle_whose_lock_names_a_path_is_refused(site, tmp_path, capsys):
    stick = tmp_path / "stick"
    stick.mkdir()
    (stick / "x.bin").write_bytes(site.files[FILE])
    sha = hashlib.sha256(site.files[FILE]).hexdigest()
    (stick / LOCK_NAME).write_text(json.dumps({"images": {"../../../x.bin": {
        "board": "ESP32_GENERIC", "version": "1.28.0", "sha256": sha}}}))
    before = files_under(tmp_path)
    with silent_port() as port:
        assert main(["flash", "--port", port, "--board", "esp32-devkitc", "--erase", "no", "--bundle",
                     str(stick)]) == 2
    assert "not a plain file name" in one_line(capsys)
    assert files_under(tmp_path) == before


def test_plain_names_and_paths():
    assert plain_name("ESP32_GENERIC-20260406-v1.28.0.bin", "x")
    assert plain_relpath("lib/airkit_fw/app.mpy", "x")
    for bad in ("../x", "/x", "a/b", "", ".hidden", "x\0y", 5, None):
        with pytest.raises(InputError):
            plain_name(bad, "x")
    for bad in ("../x", "/lib/x", "lib//x", "lib/../x", "lib/.x"):
        with pytest.raises(InputError):
            plain_relpath(bad, "x")


# --- HTTPS only, the whole way ------------------------------------------------------------------------------
class PlainSite:
    """Plain HTTP on 127.0.0.1 serving bytes: where a hostile redirect would send the download."""

    def __init__(self, files):
        self.hits = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                outer.hits.append(self.path)
                body = files.get(self.path.rsplit("/", 1)[-1])
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.t = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self.t.start()
        return self

    def __exit__(self, *a):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_redirect_to_plain_http_is_refused(site, capsys):
    with PlainSite(dict(site.files)) as plain:
        site.redirects["/resources/firmware/" + FILE] = plain.url + "/resources/firmware/" + FILE
        with pytest.raises(NetworkError, match="plain http://"):
            images().resolve(load_profile("esp32-devkitc"))
        assert plain.hits == []            # not even asked
        assert not (site.cache / FILE).exists() and not (site.cache / LOCK_NAME).exists()
        assert main(["flash", "bundle", "--out", str(site.cache.parent / "b"), "--board", "esp32-devkitc"]) == 4
        assert "redirected the download to a plain http:// address" in one_line(capsys)


def test_a_redirect_to_https_is_followed_and_reported_as_such(site):
    site.files["mirror-" + FILE] = site.files[FILE]
    site.redirects["/resources/firmware/" + FILE] = "/resources/firmware/mirror-" + FILE
    said = []
    res = images(log=said.append).resolve(load_profile("esp32-devkitc"))
    assert res.trust == "first use" and res.source.endswith("/resources/firmware/mirror-" + FILE)
    assert res.source.startswith("https://")


# --- --ca-file adds a CA --------------------------------------------------------------------------------------
def test_ca_file_adds_a_ca_to_the_trusted_set(site, monkeypatch):
    # The public CAs (here: a bundle holding the CA that signed the download site) stay trusted when a
    # school proxy's CA is added; before, --ca-file replaced them and the real site was refused.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(TLS / "ca.pem"))
    monkeypatch.setenv("AIRKIT_CA_FILE", str(TLS / "other-ca.pem"))
    res = images().resolve(load_profile("esp32-devkitc"))
    assert res.sha256 == hashlib.sha256(site.files[FILE]).hexdigest()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(TLS / "other-ca.pem"))     # neither trusts the site: refused
    (site.cache / FILE).unlink()
    with pytest.raises(NetworkError, match="could not be verified"):
        images().resolve(load_profile("esp32-devkitc"))


# --- the whole image is checked ---------------------------------------------------------------------------
def tampered(how: str) -> bytes:
    img = bytearray(merged_image("ESP32"))
    table = 0x8000 - 0x1000
    if how == "appended":
        return bytes(img) + b"\x00evil payload"
    if how == "table":                     # the factory app moved: MD5 no longer matches
        img[table + 32 + 4] ^= 0x01
    elif how == "table-md5-redone":        # moved and MD5 recomputed: the app is no longer where the table says
        img[table + 32 + 6] = 0x02
        img[table + 64 + 16:table + 64 + 32] = hashlib.md5(bytes(img[table:table + 64])).digest()
    elif how == "padding":                 # bytes hidden in the NVS area between table and app
        img[0x9000 - 0x1000 + 10] = 0x42
    elif how == "app":
        img[-100] ^= 0xFF
    return bytes(img)


@pytest.mark.parametrize("how,needle", [
    ("appended", "appended after the image"),
    ("table", "partition table"),
    ("table-md5-redone", "holds no app"),
    ("padding", "data between its parts"),
    ("app", "damaged"),
])
def test_a_tampered_first_download_is_refused(site, how, needle):
    site.files[FILE] = tampered(how)
    with pytest.raises(InputError, match=needle):
        images().resolve(load_profile("esp32-devkitc"))
    assert not (site.cache / FILE).exists() and not (site.cache / LOCK_NAME).exists()   # nothing recorded
    assert not list(site.cache.glob("*.part"))


def test_the_official_layout_passes(tmp_path):
    p = tmp_path / "ok.bin"
    p.write_bytes(merged_image("ESP32"))
    info = check_image(p, "ESP32", 0x1000)
    assert [a["label"] for a in info["apps"]] == ["factory"] and info["end"] == p.stat().st_size
    p.write_bytes(merged_image("ESP32-C3"))
    assert check_image(p, "ESP32-C3", 0)["apps"][0]["offset"] == 0x10000


# --- --firmware FILE ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["ESP32_GENERIC-20260406-v1.28.0.app-bin", "renamed.bin"])
def test_an_app_only_image_is_not_written_at_the_boot_offset(tmp_path, capsys, name):
    app = tmp_path / name
    app.write_bytes(app_only_image("ESP32"))
    with silent_port() as port:
        assert main(["flash", "--port", port, "--board", "esp32-devkitc", "--firmware", str(app),
                     "--erase", "no"]) == 2
    msg = one_line(capsys)
    assert "app-only image" in msg and "0x1000" in msg and "would not boot" in msg
    with pytest.raises(InputError, match="app-only"):
        flash_board("/dev/null", "esp32-devkitc", app, log=lambda m: None)


# --- a refused image never erases the board ----------------------------------------------------------------------
class StandInBoard:
    """An ESP32 as esptool's ESP32ROM sees it, answering register reads as a chip of revision ``rev``
    (eFuse words as in the ESP32 technical reference) with a flash of ``flash_mb``; records erases and writes."""

    def __new__(cls, rev=100, flash_mb=4):
        from esptool.targets.esp32 import ESP32ROM

        class Board(ESP32ROM):
            def __init__(self):          # no serial port
                self.secure_download_mode = False
                self.IS_STUB = True
                self.erased = False
                self.written = []
                self.bauds = []
                self.cache = {}
                self._rev = rev

            def __enter__(self):
                return self

            def __exit__(self, *a):
                pass

            def get_chip_revision(self):
                return self._rev

            def get_major_chip_version(self):
                return self._rev // 100

            def get_minor_chip_version(self):
                return self._rev % 100

            def read_reg(self, addr, *a, **kw):     # eFuses all zero: no secure boot, no encryption
                return 0

            def get_secure_boot_v1_enabled(self):
                return False

            def get_flash_encryption_enabled(self):
                return False

            def read_mac(self, *a):
                return bytes([0x24, 0x0A, 0xC4, 1, 2, 3])

            def change_baud(self, baud):
                self.bauds.append(baud)

            def flash_id(self, *a, **kw):
                return (0x16 if flash_mb == 4 else 0x14) << 16 | 0x40EF      # Winbond: type 0x40, size id (4 MB / 1 MB)

            def flash_set_parameters(self, size):
                self.flash_size = size

            def erase_flash(self):
                self.erased = True

            def flash_begin(self, *a, **kw):
                self.written.append(a)
                raise AssertionError("the stand-in stops before data is written")

        return Board()


@pytest.fixture
def board(monkeypatch):
    import esptool.cmds as cmds

    holder = {}

    def use(b):
        holder["b"] = b
        monkeypatch.setattr(cmds, "detect_chip", lambda *a, **kw: b)
        monkeypatch.setattr(cmds, "run_stub", lambda esp: esp)
        monkeypatch.setattr(cmds, "attach_flash", lambda esp, *a, **kw: None)
        return b

    return use


def test_an_image_for_a_newer_chip_revision_is_refused_before_the_erase(tmp_path, board):
    b = board(StandInBoard(rev=100))                         # an ESP32 v1.0
    img = tmp_path / "custom.bin"
    img.write_bytes(merged_image("ESP32", min_rev_full=300))  # built for v3.0 and later
    said = []
    with silent_port() as port, pytest.raises(UserError) as e:
        flash_board(port, "esp32-devkitc", img, erase=True, log=said.append)
    msg = str(e.value)
    assert "requires chip revision v3.0 or higher" in msg and "revision" in msg.split(": ", 2)[-1]
    assert "different chip" not in msg and "nothing was written" in msg
    assert not b.erased and not b.written                    # the board keeps what it had
    assert not any("retrying" in m for m in said)


def test_a_write_error_that_is_not_the_link_is_not_retried_at_115200(tmp_path, board):
    b = board(StandInBoard(flash_mb=1))                      # a 1 MB flash: the 4 MB image does not fit
    said = []
    big = tmp_path / "huge.bin"
    with silent_port() as port, pytest.raises(UserError) as e:
        flash_board(port, "esp32-devkitc", _huge_image(big), erase=True, log=said.append)
    assert "larger than this board's flash" in str(e.value)
    assert not any("retrying" in m for m in said) and not b.erased


def _huge_image(path):
    """A valid merged image whose app lies beyond 1 MB (app partition at 0x100000)."""
    from flash_helpers import esp_app_image

    off = 0x1000
    boot = esp_app_image("ESP32", 1, 3000)
    entry = b"\xaa\x50\x00\x00" + (0x100000).to_bytes(4, "little") + (0x100000).to_bytes(4, "little")
    entry += b"factory".ljust(16, b"\0") + bytes(4)
    table = entry + b"\xeb\xeb" + b"\xff" * 14 + hashlib.md5(entry).digest()
    out = bytearray(b"\xff" * (0x100000 - off))
    out[:len(boot)] = boot
    out[0x8000 - off:0x8000 - off + len(table)] = table
    path.write_bytes(bytes(out) + esp_app_image("ESP32", 8, 20000))
    return path


# --- advice that fits ---------------------------------------------------------------------------------------
def test_an_esp8266_is_not_told_to_use_firmware_and_board():
    with pytest.raises(InputError) as e:
        choose_profile("/dev/ttyUSB0", "ESP8266", interactive=False)
    msg = str(e.value)
    assert "ESP8266" in msg and "--firmware" not in msg and "ESP32" in msg
    with pytest.raises(InputError) as e:
        choose_profile("/dev/ttyUSB0", "ESP32-H2", interactive=False)
    assert "--firmware" not in str(e.value) and "profile" in str(e.value)


def test_a_read_only_bundle_folder_gets_bundle_advice_not_lock_advice(site, tmp_path, capsys, monkeypatch):
    out = tmp_path / "stick"
    out.mkdir()
    if os.geteuid() == 0:              # root writes anywhere: a read-only USB stick stands in as EROFS
        import tempfile

        import airkit.trust as trust
        real = tempfile.mkstemp

        def mkstemp(*a, **kw):
            if str(kw.get("dir", "")) == str(out):
                raise OSError(30, "Read-only file system")
            return real(*a, **kw)

        monkeypatch.setattr(trust.tempfile, "mkstemp", mkstemp)
    else:
        out.chmod(0o555)
    assert main(["flash", "bundle", "--out", str(out), "--board", "esp32-devkitc"]) == 2
    msg = one_line(capsys)
    assert "--out DIR" in msg and "--lock" not in msg
    assert site.downloads(FILE) == 0


# --- the pinned official image ------------------------------------------------------------------------------
OFFICIAL = "ESP32_GENERIC-20260406-v1.28.0.bin"


def test_the_official_1_28_0_image_is_pinned_and_a_stand_in_is_refused(site, monkeypatch, capsys):
    monkeypatch.delenv("AIRKIT_BOARDS_DIR")                   # the shipped profiles, with their pins
    prof = load_profile("esp32-devkitc")
    pin = prof["firmware"]["images"]["1.28.0"]
    assert pin["file"] == OFFICIAL and pin["size"] == 1760192
    assert pin["sha256"].startswith("cd7820d02c35") and pin["sha256"].endswith("fe240784")
    site.files[OFFICIAL] = merged_image("ESP32", seed=9)      # a well-formed image, but not the official bytes
    with pytest.raises(NetworkError, match="boards/esp32-devkitc.json expects cd7820d02c35"):
        images().resolve(prof)
    assert not (site.cache / OFFICIAL).exists() and not (site.cache / LOCK_NAME).exists()
    # the listing is not even needed: the pin names the file
    assert not any(r.startswith("/download/") for r in site.requests)
