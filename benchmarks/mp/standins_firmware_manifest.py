# The stand-ins and the firmware both frozen (the frozen/ROMFS install route, measured as a board would).
include("standins_manifest.py")
include("../../firmware/manifest.py")
