"""A loopback HTTPS copy of the MicroPython download site, and real ESP images to serve from it.

The site has the official layout: ``/download/<BOARD>/`` is an HTML page whose
links point at ``/resources/firmware/<BOARD>[-VARIANT]-<date>-v<version>.bin``
(plus .app-bin/.elf/.map and release-note links, preview builds, variants).
Images are merged images built with esptool's own image classes (bootloader at
the boot offset, partition table at 0x8000, app at 0x10000), so esptool's checks
pass on an intact file and fail on a cut or altered one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pty
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

TLS = Path(__file__).resolve().parent / "data" / "tls"
CA = str(TLS / "ca.pem")


def esp_app_image(chip: str, seed: int, size: int = 6000, min_rev_full: int = 0) -> bytes:
    """A real ESP image (header, one RAM segment, checksum, SHA-256 digest) made by esptool."""
    from esptool.bin_image import ELFSection
    from esptool.targets import CHIP_DEFS

    key = chip.lower().replace("-", "")
    cls = {"esp32": "ESP32FirmwareImage", "esp32c3": "ESP32C3FirmwareImage", "esp32s3": "ESP32S3FirmwareImage"}[key]
    import esptool.bin_image as bi

    img = getattr(bi, cls)()
    img.chip_id = CHIP_DEFS[key].IMAGE_CHIP_ID
    img.entrypoint = 0x40080000
    if min_rev_full:                   # "requires chip revision vX.Y or higher", as an IDF build option sets it
        img.min_rev_full, img.max_rev_full = min_rev_full, 65535
    img.segments.append(ELFSection(b".dram0.data", 0x3FFB0000 if key == "esp32" else 0x3FC80000,
                                   bytes((i * 31 + seed) & 0xFF for i in range(size)), 0))
    return img.save(None)


def merged_image(chip: str, seed: int = 1, min_rev_full: int = 0) -> bytes:
    """What micropython.org serves: bootloader, partition table (factory app at 0x10000), app, merged."""
    off = 0x1000 if chip.upper() in ("ESP32", "ESP32-S2") else 0
    boot = esp_app_image(chip, seed, 3000, min_rev_full)
    entry = b"\xaa\x50" + bytes([0, 0]) + (0x10000).to_bytes(4, "little") + (0x1F0000).to_bytes(4, "little")
    entry += b"factory".ljust(16, b"\0") + bytes(4)
    nvs = b"\xaa\x50" + bytes([1, 2]) + (0x9000).to_bytes(4, "little") + (0x6000).to_bytes(4, "little")
    nvs += b"nvs".ljust(16, b"\0") + bytes(4)
    table = nvs + entry
    table += b"\xeb\xeb" + b"\xff" * 14 + hashlib.md5(table).digest()     # as ESP-IDF's gen_esp32part.py ends it
    app = esp_app_image(chip, seed + 7, 20000)
    out = bytearray(b"\xff" * (0x10000 - off))
    out[0:len(boot)] = boot
    out[0x8000 - off:0x8000 - off + len(table)] = table
    return bytes(out) + app


def listing_page(board: str, releases: list[tuple[str, str]], previews: list[tuple[str, str]] = (),
                 variants: tuple[str, ...] = ("SPIRAM",)) -> str:
    """The shape of micropython.org/download/<BOARD>/: release lines with .bin [.app-bin] [.elf] [.map] links."""

    def line(b, date, v, latest=False):
        base = "/resources/firmware/%s-%s-v%s" % (b, date, v)
        when = "%s-%s-%s" % (date[:4], date[4:6], date[6:])
        return ('<strong>\n<a href="%s.bin">v%s (%s) .bin</a>\n</strong>\n / <a href="%s.app-bin">[.app-bin]</a>\n'
                ' / <a href="%s.elf">[.elf]</a>\n / <a href="%s.map">[.map]</a>\n / '
                '<a href="https://github.com/micropython/micropython/releases/tag/v%s">[Release notes]</a>\n%s<br>\n'
                % (base, v, when, base, base, base, v, "(latest)" if latest else ""))

    html = ["<!DOCTYPE html><html><head><title>MicroPython - Python for microcontrollers</title></head><body>",
            '<h1>ESP32 / WROOM</h1><p>Vendor: Espressif</p><h2>Installation instructions</h2>'
            '<p>Program your board using the esptool.py program, found <a href="https://github.com/espressif/'
            'esptool">here</a>.</p>', "<h2>Firmware</h2><h3>Releases</h3><p>"]
    html += [line(board, d, v, i == 0) for i, (d, v) in enumerate(releases)]
    html.append("</p><h3>Preview builds</h3><p>")
    html += [line(board, d, v) for d, v in previews]
    html.append("</p>")
    for var in variants:
        html.append("<h2>Firmware (Support for %s)</h2><h3>Releases</h3><p>" % var)
        html += [line(board + "-" + var, d, v) for d, v in releases]
        html.append("</p>")
    html.append("</body></html>")
    return "".join(html)


@contextlib.contextmanager
def silent_port():
    """A serial port (pseudo-terminal) with nothing behind it: a board that never answers."""
    master, slave = pty.openpty()
    try:
        yield os.ttyname(slave)
    finally:
        os.close(master)
        os.close(slave)


class DownloadSite:
    """HTTPS on 127.0.0.1 (a free port), certificate from the test CA (CN=localhost)."""

    def __init__(self):
        self.pages: dict[str, str] = {}
        self.files: dict[str, bytes] = {}
        self.truncate: dict[str, int] = {}     # name -> bytes actually sent (Content-Length stays the full size)
        self.slow: dict[str, float] = {}       # name -> seconds to wait after each 4 KB (a slow line)
        self.requests: list[str] = []
        self.redirects: dict[str, str] = {}    # path -> Location (a 302 answer)
        site = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                site.requests.append(self.path)
                if self.path in site.redirects:
                    self.send_response(302)
                    self.send_header("Location", site.redirects[self.path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if self.path in site.pages:
                    body = site.pages[self.path].encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                name = self.path.rsplit("/", 1)[-1]
                if self.path.startswith("/resources/firmware/") and name in site.files:
                    body = site.files[name]
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    body = body[:site.truncate.get(name, len(body))]
                    step = 4096 if name in site.slow else len(body) or 1
                    try:
                        for i in range(0, len(body), step):
                            self.wfile.write(body[i:i + step])
                            if name in site.slow:
                                self.wfile.flush()
                                time.sleep(site.slow[name])
                    except OSError:
                        pass
                    self.close_connection = True
                    return
                self.send_error(404)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(TLS / "server.pem"), str(TLS / "server.key"))
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.url = "https://localhost:%d" % self.port
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def add_board(self, board: str, chip: str, releases, previews=(), variants=("SPIRAM",)):
        """Serve the board's page and an image for each release/preview (variants too)."""
        self.pages["/download/%s/" % board] = listing_page(board, list(releases), list(previews), variants)
        for i, (d, v) in enumerate(list(releases) + list(previews)):
            self.files["%s-%s-v%s.bin" % (board, d, v)] = merged_image(chip, seed=i + 1)
            for var in variants:
                self.files["%s-%s-%s-v%s.bin" % (board, var, d, v)] = merged_image(chip, seed=i + 50)

    def downloads(self, name: str) -> int:
        return sum(1 for p in self.requests if p.endswith("/" + name))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def app_only_image(chip: str = "ESP32", seed: int = 3) -> bytes:
    """What micropython.org serves as .app-bin: the app alone (a flash-mapped segment), no bootloader or table."""
    from esptool.bin_image import ELFSection
    from esptool.targets import CHIP_DEFS
    import esptool.bin_image as bi

    key = chip.lower().replace("-", "")
    img = bi.ESP32FirmwareImage() if key == "esp32" else getattr(bi, "ESP32%sFirmwareImage" % key[5:].upper())()
    img.chip_id = CHIP_DEFS[key].IMAGE_CHIP_ID
    img.entrypoint = 0x400D0018
    img.segments.append(ELFSection(b".flash.rodata", CHIP_DEFS[key].DROM_MAP_START + 0x20,
                                   bytes((i * 13 + seed) & 0xFF for i in range(40000)), 0))
    img.segments.append(ELFSection(b".dram0.data", 0x3FFB0000, bytes(2000), 0))
    return img.save(None)
