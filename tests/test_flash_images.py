"""Official images for `airkit flash`: the download site's listing, HTTPS downloads verified against the
test CA, trust on first use with airkit-images.lock, cut-off and changed files refused, bundles used
offline, the no-network sentence, and the board profile chosen from the detected chip.

Everything runs against a loopback HTTPS copy of the download site (tests/flash_helpers.py)."""

import hashlib
import json
import os

import pytest
from flash_helpers import CA, TLS, DownloadSite, listing_page, merged_image, silent_port
from uplink_helpers import free_port as closed_port   # a free port nobody listens on

from airkit.cli import main
from airkit.configcmd import load_profile
from airkit.errors import InputError, NetworkError
from airkit.flash import choose_profile
from airkit.mpimages import LOCK_NAME, Images, check_image_structure, parse_listing

RELEASES = [("20260410", "1.28.0"), ("20251209", "1.27.0"), ("20241129", "1.24.1"), ("20230426", "1.20.0"),
            ("20220117", "1.18")]
PREVIEWS = [("20261101", "1.29.0-preview.12.gabc1234"), ("20261015", "1.29.0-preview.3.g0625f07ad")]
FILE = "ESP32_GENERIC-20260410-v1.28.0.bin"


def unpinned_boards(folder):
    """The shipped profiles without their SHA-256 pins: the test site serves stand-in images, not the official
    bytes a pin names (tests/test_trust.py checks that a pin refuses them)."""
    from airkit.resources import boards_dir

    folder.mkdir()
    for f in boards_dir().glob("*.json"):
        prof = json.loads(f.read_text())
        prof.get("firmware", {})["images"] = {}
        (folder / f.name).write_text(json.dumps(prof))
    return folder


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRKIT_BOARDS_DIR", str(unpinned_boards(tmp_path / "boards-unpinned")))
    monkeypatch.setenv("AIRKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("AIRKIT_IMAGES_LOCK", raising=False)
    with DownloadSite() as s:
        s.add_board("ESP32_GENERIC", "ESP32", RELEASES, PREVIEWS)
        s.add_board("ESP32_GENERIC_C3", "ESP32-C3", RELEASES[:2], variants=())
        s.add_board("ESP32_GENERIC_S3", "ESP32-S3", RELEASES[:1], variants=("SPIRAM_OCT",))
        monkeypatch.setenv("AIRKIT_FIRMWARE_URL", s.url)
        monkeypatch.setenv("AIRKIT_CA_FILE", CA)
        s.cache = tmp_path / "cache" / "firmware"
        yield s


def images(**kw):
    kw.setdefault("progress", False)
    kw.setdefault("log", lambda m: None)
    return Images(**kw)


def leftovers(cache):
    return sorted(p.name for p in cache.glob("*") if p.name.endswith((".part", ".tmp")))


def test_listing_parsed_stable_first_variants_apart():
    page = listing_page("ESP32_GENERIC", RELEASES, PREVIEWS)
    rel = parse_listing(page, "ESP32_GENERIC", "https://micropython.org/download/ESP32_GENERIC/")
    assert [r.version for r in rel] == ["1.28.0", "1.27.0", "1.24.1", "1.20.0", "1.18.0",
                                        "1.29.0-preview.12.gabc1234", "1.29.0-preview.3.g0625f07ad"]
    assert rel[4].file == "ESP32_GENERIC-20220117-v1.18.bin"
    assert rel[0].file == FILE and rel[0].date == "2026-04-10"
    assert rel[0].url == "https://micropython.org/resources/firmware/" + FILE
    spiram = parse_listing(page, "ESP32_GENERIC-SPIRAM", "https://micropython.org/download/ESP32_GENERIC/")
    assert [r.file for r in spiram][:1] == ["ESP32_GENERIC-SPIRAM-20260410-v1.28.0.bin"]
    assert not parse_listing(page, "ESP32_GENERIC_S3", "https://x/")


def test_list_cli_from_site_then_offline_from_saved_copy(site, capsys, monkeypatch):
    assert main(["flash", "--list", "--board", "esp32-devkitc", "--json"]) == 0
    (b,) = json.loads(capsys.readouterr().out)
    assert b["micropython_board"] == "ESP32_GENERIC" and b["offline_since"] is None
    vs = {r["version"]: r["notes"] for r in b["versions"]}
    assert list(vs)[0] == "1.28.0" and "recommended" in vs["1.28.0"] and "too old for airkit" in vs["1.20.0"]
    assert "preview" in vs["1.29.0-preview.12.gabc1234"]
    monkeypatch.setenv("AIRKIT_FIRMWARE_URL", "https://localhost:%d" % closed_port())
    assert main(["flash", "--list", "--board", "esp32-devkitc", "--json"]) == 0
    (off,) = json.loads(capsys.readouterr().out)
    assert off["offline_since"] and [r["version"] for r in off["versions"]] == list(vs)


def test_first_use_records_the_hash_and_later_use_must_match(site, tmp_path):
    said = []
    res = images(log=said.append).resolve(load_profile("esp32-devkitc"))
    want = hashlib.sha256(site.files[FILE]).hexdigest()
    assert (res.version, res.trust, res.sha256) == ("1.28.0", "first use", want)
    lock = json.loads((site.cache / LOCK_NAME).read_text())["images"][FILE]
    assert lock["sha256"] == want and lock["version"] == "1.28.0" and lock["board"] == "ESP32_GENERIC"
    assert any(want in m and "recorded" in m for m in said)           # the hash is printed
    again = images().resolve(load_profile("esp32-devkitc"))
    assert again.trust == "lock" and again.source == "cache" and site.downloads(FILE) == 1
    # The file on the server changes (re-published, or altered on the way): refused, nothing kept.
    res.path.unlink()
    site.files[FILE] = merged_image("ESP32", seed=99)
    with pytest.raises(NetworkError, match="server changed or was altered.*not flashed"):
        images().resolve(load_profile("esp32-devkitc"))
    assert not (site.cache / FILE).exists() and not leftovers(site.cache)
    assert json.loads((site.cache / LOCK_NAME).read_text())["images"][FILE]["sha256"] == want


def test_teachers_lock_file_is_enforced_on_another_computer(site, tmp_path):
    teacher = tmp_path / "class" / LOCK_NAME
    images(lock=teacher).resolve(load_profile("esp32-devkitc"))
    site.files[FILE] = merged_image("ESP32", seed=42)        # what a student's computer would get later
    for p in site.cache.glob("*.bin"):
        p.unlink()
    with pytest.raises(NetworkError, match=str(teacher).replace(".", r"\.")):
        images(lock=teacher).resolve(load_profile("esp32-devkitc"))
    with silent_port() as port:           # the image is refused before the port is used
        assert main(["flash", "--port", port, "--board", "esp32-devkitc", "--lock", str(teacher),
                     "--erase", "no"]) == 4


@pytest.mark.parametrize("how", ["connection cut", "file cut on the server"])
def test_truncated_download_is_refused_and_never_cached(site, how):
    if how == "connection cut":
        site.truncate[FILE] = 40000          # Content-Length says the full size
        err, match = NetworkError, "broke off|cut short"
    else:
        site.files[FILE] = site.files[FILE][:-3000]       # a consistent but incomplete file: esptool's checks
        err, match = InputError, "not a complete ESP32 image"
    with pytest.raises(err, match=match):
        images().resolve(load_profile("esp32-devkitc"))
    assert not (site.cache / FILE).exists() and not leftovers(site.cache)
    assert not (site.cache / LOCK_NAME).exists()          # nothing trusted on a bad download


def test_pinned_hash_wins_over_first_use(site, monkeypatch, tmp_path):
    prof = load_profile("esp32-devkitc")
    prof["firmware"]["images"] = {"1.28.0": {"file": FILE, "sha256": "ab" * 32}}
    with pytest.raises(NetworkError, match="boards/esp32-devkitc.json expects abababababab"):
        images().resolve(prof)
    assert not (site.cache / LOCK_NAME).exists()
    prof["firmware"]["images"]["1.28.0"]["sha256"] = hashlib.sha256(site.files[FILE]).hexdigest()
    assert images().resolve(prof).trust == "pinned"


def test_bundle_made_online_is_used_offline_on_another_computer(site, tmp_path, monkeypatch, capsys):
    out = tmp_path / "usb-stick"
    assert main(["flash", "bundle", "--out", str(out), "--json"]) == 0          # every profile in boards/
    rows = json.loads(capsys.readouterr().out)
    assert {r["file"] for r in rows} == {FILE, "ESP32_GENERIC_C3-20260410-v1.28.0.bin",
                                         "ESP32_GENERIC-SPIRAM-20260410-v1.28.0.bin",
                                         "ESP32_GENERIC_S3-20260410-v1.28.0.bin"}
    # Run again: nothing downloaded twice, nothing overwritten.
    n = len(site.requests)
    assert main(["flash", "bundle", "--out", str(out), "--board", "esp32-devkitc", "--json"]) == 0
    assert len(site.requests) == n and json.loads(capsys.readouterr().out)[0]["trust"] == "lock"
    assert set(json.loads((out / LOCK_NAME).read_text())["images"]) == {r["file"] for r in rows}
    # A classroom computer: empty cache, no lock, no network.
    monkeypatch.setenv("AIRKIT_CACHE", str(tmp_path / "classroom"))
    monkeypatch.setenv("AIRKIT_FIRMWARE_URL", "https://localhost:%d" % closed_port())
    n = len(site.requests)
    res = images(bundle=out, allow_download=False).resolve(load_profile("esp32-c3-devkitm"))
    assert res.trust == "lock" and res.source == "bundle" and len(site.requests) == n
    local = json.loads((tmp_path / "classroom" / "firmware" / LOCK_NAME).read_text())["images"]
    assert local["ESP32_GENERIC_C3-20260410-v1.28.0.bin"]["sha256"] == res.sha256
    # provision's path (resolve_image with the bundle) and a damaged bundle copy
    from airkit.flash import resolve_image

    path, version, sha = resolve_image(load_profile("esp32-devkitc"), None, str(out), allow_download=False,
                                       log=lambda m: None)
    assert version == "1.28.0" and sha == hashlib.sha256(site.files[FILE]).hexdigest()
    spiram = out / "ESP32_GENERIC-SPIRAM-20260410-v1.28.0.bin"
    spiram.write_bytes(spiram.read_bytes()[:-1] + b"\x00")
    with pytest.raises(InputError, match="in the bundle .* damaged or another build"):
        images(bundle=out, allow_download=False).resolve(load_profile("esp32-wrover"))
    with pytest.raises(InputError, match="not in .*usb-stick.*airkit flash bundle"):
        images(bundle=out, allow_download=False).resolve(load_profile("esp32-devkitc"), "1.27.0")


def test_no_network_one_sentence_with_the_way_out(site, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("AIRKIT_FIRMWARE_URL", "https://localhost:%d" % closed_port())
    with silent_port() as port:
        rc = main(["flash", "--port", port, "--board", "esp32-devkitc"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 4 and len(err) == 1 and "--firmware FILE" in err[0] and "--bundle DIR" in err[0]
    assert "Traceback" not in err[0]
    # Once downloaded (and locked), the same version flashes offline from the cache.
    monkeypatch.setenv("AIRKIT_FIRMWARE_URL", site.url)
    images().resolve(load_profile("esp32-devkitc"))
    monkeypatch.setenv("AIRKIT_FIRMWARE_URL", "https://localhost:%d" % closed_port())
    res = images().resolve(load_profile("esp32-devkitc"))
    assert (res.source, res.trust) == ("cache", "lock")


def test_certificate_is_verified_never_skipped(site, monkeypatch, capsys):
    monkeypatch.setenv("AIRKIT_CA_FILE", str(TLS / "other-ca.pem"))
    with pytest.raises(NetworkError, match="certificate .* could not be verified.*--ca-file"):
        images().resolve(load_profile("esp32-devkitc"))
    monkeypatch.setenv("AIRKIT_FIRMWARE_URL", site.url.replace("localhost", "127.0.0.1"))   # wrong host name
    monkeypatch.setenv("AIRKIT_CA_FILE", CA)
    with pytest.raises(NetworkError, match="certificate"):
        images().resolve(load_profile("esp32-devkitc"))
    assert not any(p.endswith(".bin") for p in site.requests)


def test_esptool_image_checks_on_the_downloaded_file(site, tmp_path):
    path = images().resolve(load_profile("esp32-c3-devkitm")).path
    check_image_structure(path, "ESP32-C3", 0)
    bad = tmp_path / "bad.bin"
    data = bytearray(path.read_bytes())
    data[0x10000 + 40] ^= 0x55                # one byte in the app
    bad.write_bytes(bytes(data))
    with pytest.raises(InputError, match="damaged"):
        check_image_structure(bad, "ESP32-C3", 0)


def test_profile_from_the_detected_chip(tmp_path):
    with pytest.raises(InputError, match="fits several profiles: esp32-devkitc .*esp32-wrover.*--board NAME"):
        choose_profile("/dev/ttyUSB0", "ESP32", interactive=False)
    answers = iter(["7", "2"])
    assert choose_profile("/dev/ttyUSB0", "ESP32", True, ask=lambda q: next(answers))["name"] == "esp32-wrover"
    assert choose_profile("/dev/ttyUSB0", "ESP32-C3", interactive=False)["name"] == "esp32-c3-devkitm"
    assert choose_profile("/dev/ttyUSB0", "ESP32-S3", interactive=False)["name"] == "esp32-s3-devkitc"
    with pytest.raises(InputError, match="no profile in boards/ is for that chip"):
        choose_profile("/dev/ttyUSB0", "ESP32-P4", interactive=False)


def test_profiles_state_recommended_and_oldest_versions():
    from airkit.resources import boards_dir

    for p in sorted(boards_dir().glob("*.json")):
        fw = json.loads(p.read_text())["firmware"]
        assert fw["recommended"] == "1.28.0" and fw["oldest"] == "1.23.0", p.name
        assert "ROMFS" in fw["reason"] and fw["oldest_reason"], p.name
    readme = (boards_dir().parent / "README.md").read_text()
    assert "1.28.0" in readme and "1.23.0" in readme
    assert os.path.exists(boards_dir() / "esp32-wrover.json")


def test_blank_port_without_board_detects_first_and_downloads_nothing(site, capsys):
    """`airkit flash --port P` alone: esptool's detection runs first (here a pty printing a boot log)."""
    from test_toolkit_flash import _not_an_esp32

    master, slave, stop = _not_an_esp32(b"rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n")
    try:
        rc = main(["flash", "--port", os.ttyname(slave), "--erase", "no"])
    finally:
        stop.set()
        os.close(slave)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 3 and "hold the BOOT button" in err[-1] and "Traceback" not in "".join(err)
    assert site.requests == []


def test_version_spellings_lock_folder_and_https_only(site, tmp_path):
    lockdir = tmp_path / "class"
    lockdir.mkdir()
    assert images(lock=lockdir).resolve(load_profile("esp32-devkitc"), "v1.27").version == "1.27.0"
    pre = images(lock=lockdir).resolve(load_profile("esp32-devkitc"), "1.29.0-preview.3")
    assert pre.version == "1.29.0-preview.3.g0625f07ad"
    assert set(json.loads((lockdir / LOCK_NAME).read_text())["images"]) == {
        "ESP32_GENERIC-20251209-v1.27.0.bin", "ESP32_GENERIC-20261015-v1.29.0-preview.3.g0625f07ad.bin"}
    with pytest.raises(InputError, match="not https://"):
        images(base=site.url.replace("https:", "http:"))
    with pytest.raises(InputError, match="not published for ESP32_GENERIC .*1.28.0"):
        images().resolve(load_profile("esp32-devkitc"), "1.25.0")
    with pytest.raises(InputError, match="CA file .* does not exist"):
        images(cafile=str(tmp_path / "nope.pem"))


def test_bundle_never_overwrites_a_different_file_without_force(site, tmp_path, capsys):
    out = tmp_path / "b"
    out.mkdir()
    (out / FILE).write_bytes(b"someone else's file")
    assert main(["flash", "bundle", "--out", str(out), "--board", "esp32-devkitc"]) == 5
    assert (out / FILE).read_bytes() == b"someone else's file" and "--force" in capsys.readouterr().err
    assert main(["flash", "bundle", "--out", str(out), "--board", "esp32-devkitc", "--force"]) == 0
    assert (out / FILE).read_bytes() == site.files[FILE]


def test_boards_flashed_at_once_share_one_download(site, tmp_path):
    """provision flashes one process per board: the first fetches and records, the others wait and reuse."""
    from concurrent.futures import ThreadPoolExecutor

    lock = tmp_path / "class" / LOCK_NAME
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda i: images(lock=lock).resolve(load_profile("esp32-devkitc")), range(4)))
    assert site.downloads(FILE) == 1 and len({r.sha256 for r in got}) == 1
    assert sorted(r.trust for r in got) == ["first use", "lock", "lock", "lock"]
    assert list(json.loads(lock.read_text())["images"]) == [FILE]
