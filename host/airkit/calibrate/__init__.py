"""Calibration workbench: ingest co-location data, fit and validate corrections
honestly, report with pictures, and push the chosen correction to a board."""
