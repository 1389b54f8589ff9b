# What goes on a board: the only list. `airkit deploy`, `airkit build` (.mpy and ROMFS)
# and firmware/package.json (mip; regenerate with `airkit build --package-json`) are all
# made from it, and it freezes the firmware into a custom MicroPython build: in your
# board's manifest add   include("path/to/airkit/firmware/manifest.py")
# main.py (the boot entry) is not frozen: it stays on the filesystem, where `airkit deploy`
# puts it beside config.json.
# Not listed, never on a board: airkit_fw/config_doc.py (key descriptions for the host tools).
# The drivers import nothing from airkit: pms5003.py and dht22.py also install alone with
# mip (drivers/pms5003/package.json, drivers/dht22/package.json).
metadata(description="airkit air-quality station firmware (PMS5003 + DHT22)", version="0.1.0")
package("airkit_fw", base_path=".", opt=3, files=(
    "__init__.py",
    "app.py",
    "board.py",
    "common.py",
    "config.py",
    "console.py",
    "correction.py",
    "dht22.py",
    "ed25519.py",
    "flags.py",
    "journal.py",
    "ota.py",
    "otacheck.py",
    "pms5003.py",
    "sampler.py",
    "selftest.py",
    "services.py",
    "timesync.py",
    "wifi.py",
    "uplinks/__init__.py",
    "uplinks/airkit_json.py",
    "uplinks/airkit_json_spec.py",
    "uplinks/base.py",
    "uplinks/fmt.py",
    "uplinks/http.py",
    "uplinks/influx.py",
    "uplinks/influx_spec.py",
    "uplinks/lass_mqtt.py",
    "uplinks/lass_mqtt_spec.py",
    "uplinks/mqtt.py",
    "uplinks/mqtt_ha.py",
    "uplinks/mqtt_ha_spec.py",
    "uplinks/net.py",
    "uplinks/opensensemap.py",
    "uplinks/opensensemap_spec.py",
    "uplinks/registry.py",
    "uplinks/sensor_community.py",
    "uplinks/sensor_community_spec.py",
    "web/__init__.py",
    "web/page.py",
    "web/portal.py",
    "web/server.py",
    "web/status.py",
    "web/statushtml.py",
))
module("otaboot.py")      # which slot boots (application OTA); outside airkit_fw so a release cannot replace it
# Texts of the station's web pages, one small file per language, read from flash line by
# line (never held in RAM). Data, not code: `airkit deploy`/`airkit build` copy them beside
# the .mpy files; MicroPython's own manifest tool freezes only code (it has no data_files),
# so a frozen build gets them with `airkit deploy` (/lib/airkit_fw/web/).
if "data_files" in globals():
    data_files("airkit_fw", ("web/en.txt", "web/zh-TW.txt", "web/static.txt"))
