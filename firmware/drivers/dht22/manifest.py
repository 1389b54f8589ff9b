# DHT22 driver alone (imports nothing from airkit): datasheet timing, retries by errno
# name, stuck/implausible detection. `import dht22` once installed
# (mpremote mip install firmware/drivers/dht22/package.json).
metadata(description="DHT22 driver: bounded retries, stuck and implausible value detection", version="0.1.0")
module("dht22.py", base_path="../../airkit_fw")
