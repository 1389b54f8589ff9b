"""What each config key means (for ``airkit config`` and the docs).

Kept apart from ``config.py`` so the descriptions never take board RAM.
"""

DESCRIPTIONS = {
    "device.id": "station id used by uplinks (default: airkit-<chip id>)",
    "device.name": "human-readable station name",
    "wifi.ssid": "WiFi network name (empty: no network)",
    "wifi.password": "WiFi password (never printed)",
    "location.lat": "latitude, decimal degrees",
    "location.lon": "longitude, decimal degrees",
    "location.alt": "altitude, metres",
    "interval_s": "seconds between readings (60..3600)",
    "pms.enabled": "a PMS5003 is attached",
    "pms.uart": "UART id for the PMS5003 (1 or 2; 0 is the USB REPL)",
    "pms.tx": "board TX pin -> PMS RX",
    "pms.rx": "board RX pin <- PMS TX",
    "pms.set": "board pin wired to PMS SET (optional; sleep also works over UART)",
    "pms.mode": "'cycle' (sleep between readings) or 'continuous'",
    "pms.warmup_s": "seconds of fan warm-up discarded after wake (>= 30)",
    "pms.reads": "passive reads aggregated per reading (3..30)",
    "pms.read_gap_ms": "pause between passive reads",
    "pms_b.enabled": "a second PMS5003 (A/B channels, PurpleAir style)",
    "pms_b.uart": "UART id for the second PMS5003",
    "pms_b.tx": "board TX pin -> second PMS RX",
    "pms_b.rx": "board RX pin <- second PMS TX",
    "pms_b.set": "board pin wired to the second PMS SET",
    "dht.enabled": "a DHT22 is attached",
    "dht.pin": "DHT22 data pin",
    "led.pin": "status LED pin (optional)",
    "watchdog_s": "hardware watchdog timeout, seconds (30..120)",
    "uplinks": "upload targets (see the uplinks documentation)",
    "correction": "calibration model applied on the device (airkit calibrate push)",
    "web.status": "serve the local status page and /data.json (airrohr's shape) on port 80 (off by default)",
    "web.password": "password for the status page (HTTP Basic, any user name; never printed); empty: open",
    "web.portal_idle_s": "the setup portal closes after this many seconds without use (60..3600)",
    "web.portal_after_s": "open the setup portal after WiFi has failed this long, seconds (0: never)",
}
