# A custom ESP32 MicroPython image with the airkit firmware frozen in (its bytecode runs in place
# from flash: the GC heap holds only the station's objects). Used by
# .github/workflows/esp32-image.yml; by hand, from a MicroPython v1.28 checkout:
#   make -C ports/esp32 BOARD=ESP32_GENERIC FROZEN_MANIFEST=/path/to/airkit/firmware/esp32/manifest.py
# then `airkit flash --port PORT --board ESP32_GENERIC --firmware build-ESP32_GENERIC/firmware.bin`
# and `airkit deploy` (it sends main.py and config.json; the package is already in the image).
include("$(PORT_DIR)/boards/manifest.py")     # what the official image freezes (umqtt, ntptime, ...)
include("../manifest.py")                     # airkit_fw, as firmware/manifest.py lists it
