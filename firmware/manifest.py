# Freeze the airkit station firmware into a custom MicroPython build (saves the most RAM):
# in your board's manifest add   include("path/to/airkit/firmware/manifest.py")
# main.py stays on the filesystem so `airkit deploy` can still manage the config.
metadata(description="airkit air-quality station firmware (PMS5003 + DHT22)", version="0.1.0")
package("airkit_fw", base_path=".")
