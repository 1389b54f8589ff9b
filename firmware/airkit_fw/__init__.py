"""airkit station firmware (MicroPython on ESP32; modules shared with the host toolkit)."""

VERSION = "0.1.0"
