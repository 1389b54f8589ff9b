"""esptool paths: profile-driven chip/offset/image choice, wrong-chip refusal, SHA-256 cache,
and esptool's real error messages (from a pseudo-terminal that is not an ESP32) mapped to remedies."""

import hashlib
import json
import os
import pty
import threading
import time
import tty

import pytest
from flash_helpers import merged_image

from airkit.cli import main
from airkit.configcmd import load_profile
from airkit.errors import UserError
from airkit.flash import check_image_for_chip, flash_board, flash_offset, resolve_image


def esp_image(chip_id: int, size: int = 4096) -> bytes:
    """An ESP image header (magic 0xE9, extended header with the chip id) plus payload."""
    head = bytes([0xE9, 3, 2, 0x20]) + (0x40080000).to_bytes(4, "little") + bytes([0xEE, 0, 0, 0])
    head += chip_id.to_bytes(2, "little") + bytes(10)
    return head + bytes((i * 7) & 0xFF for i in range(size - len(head)))


@pytest.fixture
def pinned(tmp_path, monkeypatch):
    """A boards folder whose ESP32 profile pins a test image by SHA-256, and an empty cache."""
    boards = tmp_path / "boards"
    boards.mkdir()
    img = merged_image("ESP32")
    prof = load_profile("esp32-devkitc")
    prof["firmware"] = {"recommended": "9.9.9", "oldest": "1.23.0", "images": {"9.9.9": {
        "file": "ESP32_GENERIC-20990101-v9.9.9.bin", "sha256": hashlib.sha256(img).hexdigest()}}}
    (boards / "esp32-devkitc.json").write_text(json.dumps(prof))
    (boards / "esp32-c3-devkitm.json").write_text(json.dumps(load_profile("esp32-c3-devkitm")))
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "ESP32_GENERIC-20990101-v9.9.9.bin").write_bytes(img)
    monkeypatch.setenv("AIRKIT_BOARDS_DIR", str(boards))
    monkeypatch.setenv("AIRKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("AIRKIT_FIRMWARE_URL", "https://127.0.0.1:9")     # never reached in these tests
    return {"profile": prof, "bundle": bundle, "image": img, "cache": tmp_path / "cache" / "firmware"}


def test_offsets_and_chips_from_profiles():
    esp32, c3 = load_profile("esp32-devkitc"), load_profile("esp32-c3-devkitm")
    assert flash_offset(esp32) == 0x1000 and flash_offset(c3) == 0x0
    bad = dict(esp32, flash_offset=0)
    with pytest.raises(UserError, match="boots from 0x1000"):
        flash_offset(bad)


def test_wrong_chip_image_is_refused(tmp_path):
    c3_img = tmp_path / "c3.bin"
    c3_img.write_bytes(esp_image(5))
    check_image_for_chip(c3_img, "ESP32-C3")
    with pytest.raises(UserError, match="built for ESP32-C3.*refusing"):
        check_image_for_chip(c3_img, "ESP32")
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"<html>not found</html>" * 10)
    with pytest.raises(UserError, match="not an ESP32 firmware image"):
        check_image_for_chip(junk, "ESP32")


def test_cache_from_bundle_and_corruption_detected(pinned):
    path, version, sha = resolve_image(pinned["profile"], None, str(pinned["bundle"]))
    assert version == "9.9.9" and path.parent == pinned["cache"] and path.read_bytes() == pinned["image"]
    again, _, _ = resolve_image(pinned["profile"], "9.9.9", allow_download=False)
    assert again == path
    # A flipped byte in the cache: detected, deleted, never flashed.
    data = bytearray(path.read_bytes())
    data[100] ^= 1
    path.write_bytes(bytes(data))
    logged = []
    with pytest.raises(UserError, match="not in the bundle .* nor in the cache"):
        resolve_image(pinned["profile"], "9.9.9", allow_download=False, log=logged.append)
    assert not path.exists() and "damaged" in logged[0]
    # The bundle (still intact) heals the cache.
    again, _, _ = resolve_image(pinned["profile"], "9.9.9", str(pinned["bundle"]))
    assert again.read_bytes() == pinned["image"]
    with pytest.raises(UserError, match="older than 1.23.0"):
        resolve_image(pinned["profile"], "1.0.0")


def test_cli_refuses_corrupted_cache_before_touching_the_port(pinned, capsys):
    resolve_image(pinned["profile"], None, str(pinned["bundle"]))
    cached = pinned["cache"] / "ESP32_GENERIC-20990101-v9.9.9.bin"
    cached.write_bytes(cached.read_bytes()[:-1] + b"\x00")
    master, slave = pty.openpty()
    port = os.ttyname(slave)
    rc = main(["flash", "--port", port, "--board", "esp32-devkitc", "--erase", "no"])
    err = capsys.readouterr().err
    assert rc == 4 and "damaged" in err and "cannot reach 127.0.0.1" in err and "Traceback" not in err
    assert not cached.exists()
    os.set_blocking(master, False)
    with pytest.raises(BlockingIOError):
        os.read(master, 100)          # not a byte went to the "board"
    os.close(master)
    os.close(slave)


def _not_an_esp32(boot_text: bytes | None):
    """A pty whose far end is silent (None) or prints a ROM boot log in the wrong boot mode."""
    master, slave = pty.openpty()
    tty.setraw(slave)
    stop = threading.Event()

    def talk():
        while not stop.is_set():
            if boot_text:
                try:
                    os.write(master, boot_text)
                except OSError:
                    return
            try:
                os.set_blocking(master, False)
                os.read(master, 4096)
            except (BlockingIOError, OSError):
                pass
            time.sleep(0.02)

    t = threading.Thread(target=talk, daemon=True)
    t.start()
    return master, slave, stop


@pytest.mark.parametrize("boot_text,needle,remedy", [
    (None, "No serial data received", "data USB cable"),
    # a board running its program (boot log, no auto-reset into the bootloader): esptool sees garbled
    # packets, the user is told to use the BOOT button
    (b"rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n", "Invalid head of packet",
     "hold the BOOT button"),
    # real line noise: garbled packets, and the noise remedy (not the BOOT button)
    (bytes([0x00, 0xFF, 0x13, 0x88, 0x5A, 0x01]) * 8, "Invalid head of packet", "--baud 115200"),
])
def test_real_esptool_errors_become_remedies(tmp_path, boot_text, needle, remedy):
    img = tmp_path / "fw.bin"
    img.write_bytes(merged_image("ESP32"))     # a complete image: the board, not the file, is what fails
    master, slave, stop = _not_an_esp32(boot_text)
    try:
        with pytest.raises(UserError) as e:
            flash_board(os.ttyname(slave), load_profile("esp32-devkitc"), img, connect_attempts=1,
                        log=lambda m: None)
    finally:
        stop.set()
        os.close(slave)
    msg = str(e.value)
    assert needle in msg and remedy in msg and "\n" not in msg
    assert ("instead of waiting in bootloader mode" in msg) == (b"boot:" in (boot_text or b""))
    assert e.value.exit_code == 3


def test_flash_cli_one_line_on_failure(tmp_path, capsys):
    img = tmp_path / "fw.bin"
    img.write_bytes(merged_image("ESP32"))     # a complete image: the board, not the file, is what fails
    master, slave, stop = _not_an_esp32(None)
    try:
        rc = main(["flash", "--port", os.ttyname(slave), "--board", "esp32-devkitc", "--firmware", str(img),
                   "--erase", "no"])
    finally:
        stop.set()
        os.close(slave)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 3 and err[-1].startswith("airkit: flashing") and "No serial data received" in err[-1]
