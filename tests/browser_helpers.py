"""Headless Debian Chromium through chromedriver (Selenium), for the dashboard tests and bench."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parent.parent / "build" / "test-artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]


def chromium_paths():
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists()
                                              else None)
    return browser, driver


def start_browser(width=1200, height=900):
    """A Selenium driver on the system Chromium (never a downloaded one); caller quits it."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver = chromium_paths()
    opts = webdriver.ChromeOptions()
    opts.binary_location = browser
    for f in FLAGS:
        opts.add_argument(f)
    profile = tempfile.mkdtemp(prefix="airkit-chromium-")
    opts.add_argument("--user-data-dir=" + profile)
    opts.add_argument("--window-size=%d,%d" % (width, height))
    d = webdriver.Chrome(options=opts, service=Service(executable_path=driver))
    d.set_page_load_timeout(30)
    d.set_script_timeout(30)
    d._airkit_profile = profile
    return d


def quit_browser(d):
    try:
        d.quit()
    finally:
        shutil.rmtree(getattr(d, "_airkit_profile", ""), ignore_errors=True)


def wait_for(d, js, timeout=20):
    """Poll a JavaScript expression until it is truthy (bounded)."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(d, timeout, poll_frequency=0.1).until(lambda drv: drv.execute_script("return " + js))


def screenshot(d, name) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    p = ARTIFACTS / name
    d.save_screenshot(str(p))
    return p
