"""airkit host toolkit: flash, deploy, provision, diagnose, simulate and calibrate air-quality stations."""

__version__ = "0.1.0"
