# airkit: every set-up step lives here, so a fresh clone needs only `make demo` or `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BUILD  := build

.PHONY: all setup sysdeps benchdeps demo test bench firmware clean dashboard

all: test

# System packages the tests use: real servers (Mosquitto, InfluxDB 1.x, PostgreSQL) and a
# real browser (Chromium + ChromeDriver). Installed through apt only when missing (one
# `apt-get update`); without root the tests that need them are skipped, and say so.
sysdeps:
	@missing=""; \
	command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing="$$missing mosquitto"; \
	command -v influxd >/dev/null 2>&1 || missing="$$missing influxdb"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null 2>&1 || missing="$$missing chromium-driver"; \
	[ -n "$$(fc-list :lang=zh-tw 2>/dev/null)" ] || missing="$$missing fonts-wqy-microhei"; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing (real servers and a browser for the tests)"; \
	  if [ "$$(id -u)" = 0 ]; then (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) || echo "could not install$$missing; the tests that need them are skipped"; \
	  else echo "not root: could not install$$missing; the tests that need them are skipped"; fi; \
	fi

# The 32-bit MicroPython in ../shared/tools/micropython32 (memory figures) needs the i386 C library.
benchdeps:
	@if [ -x ../shared/tools/micropython32/micropython32 ] && [ ! -e /lib/ld-linux.so.2 ] && [ "$$(id -u)" = 0 ]; then \
	  echo "installing libc6-i386 and gcc-multilib (the 32-bit MicroPython for the memory figures)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libc6-i386 gcc-multilib >/dev/null) || echo "could not install libc6-i386; the 32-bit figures are skipped"; \
	fi

# The dashboard's map library, from the npm registry at build time (never a CDN at run time);
# the copied files are committed, so this only runs when package-lock.json changes and npm exists.
DASH := host/airkit/collect
$(DASH)/static/vendor/leaflet/leaflet.js: $(DASH)/web/package.json $(DASH)/web/package-lock.json
	@if command -v npm >/dev/null 2>&1 && (cd $(DASH)/web && npm ci --no-audit --no-fund --silent); then \
	  mkdir -p $(DASH)/static/vendor/leaflet/images && \
	  cp $(DASH)/web/node_modules/leaflet/dist/leaflet.js $(DASH)/web/node_modules/leaflet/dist/leaflet.css $(DASH)/web/node_modules/leaflet/LICENSE $(DASH)/static/vendor/leaflet/ && \
	  cp $(DASH)/web/node_modules/leaflet/dist/images/*.png $(DASH)/static/vendor/leaflet/images/ && \
	  mkdir -p $(DASH)/static/vendor/markercluster && \
	  cp $(DASH)/web/node_modules/leaflet.markercluster/dist/leaflet.markercluster.js $(DASH)/web/node_modules/leaflet.markercluster/dist/MarkerCluster.css $(DASH)/web/node_modules/leaflet.markercluster/dist/MarkerCluster.Default.css $(DASH)/web/node_modules/leaflet.markercluster/MIT-LICENCE.txt $(DASH)/static/vendor/markercluster/ && touch $@; \
	else echo "npm (or the npm registry) not available: using the committed copy of leaflet and leaflet.markercluster in $(DASH)/static/vendor"; fi

dashboard: $(DASH)/static/vendor/leaflet/leaflet.js

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $(STAMP)

setup: $(STAMP) sysdeps dashboard

# Compile the firmware to .mpy (what `airkit deploy` sends to a board).
firmware: $(STAMP)
	$(BIN)/airkit build --out $(BUILD)/firmware

demo: setup
	$(BIN)/python -m airkit.demo

test: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider

bench: setup benchdeps
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(BUILD) $(VENV) demo-out
