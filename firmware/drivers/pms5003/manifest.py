# Plantower PMS5003 driver alone (imports nothing from airkit): frame decoder with no
# allocation per frame, passive mode, sleep/wake with bounded waits.
# `import pms5003` once installed (mpremote mip install firmware/drivers/pms5003/package.json).
metadata(description="Plantower PMS5003 driver: zero-allocation frame decoder, passive mode, sleep/wake",
         version="0.1.0")
module("pms5003.py", base_path="../../airkit_fw")
