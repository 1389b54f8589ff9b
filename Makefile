# airkit: every set-up step lives here, so a fresh clone needs only `make demo` or `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BUILD  := build

.PHONY: all setup sysdeps demo test bench firmware clean dashboard

all: test

# System packages the tests use (a real MQTT broker, a real InfluxDB 1.x). Installed only when missing.
sysdeps:
	@if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then \
	  echo "installing mosquitto (MQTT broker for the uplink tests)"; \
	  if [ "$$(id -u)" = 0 ]; then (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto >/dev/null) || echo "mosquitto could not be installed; tests fall back to the amqtt broker"; \
	  else echo "mosquitto missing and not root; tests fall back to the amqtt broker"; fi; \
	fi
	@if ! command -v influxd >/dev/null 2>&1 && [ ! -x /usr/bin/influxd ]; then \
	  echo "installing influxdb (a real InfluxDB 1.x for the uplink tests)"; \
	  if [ "$$(id -u)" = 0 ]; then (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq influxdb >/dev/null) || echo "influxdb could not be installed; the InfluxDB tests are skipped"; \
	  else echo "influxd missing and not root; the InfluxDB tests are skipped"; fi; \
	fi
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then \
	  echo "installing postgresql, chromium, chromium-driver (collector PostgreSQL and dashboard browser tests)"; \
	  if [ "$$(id -u)" = 0 ]; then (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql chromium chromium-driver >/dev/null) || echo "postgresql/chromium could not be installed; those tests will be skipped"; \
	  else echo "postgresql/chromium missing and not root; those tests will be skipped"; fi; \
	fi

# The dashboard's map library, from the npm registry at build time (never a CDN at run time);
# the copied files are committed, so this only runs when package-lock.json changes and npm exists.
DASH := host/airkit/collect
$(DASH)/static/vendor/leaflet/leaflet.js: $(DASH)/web/package.json $(DASH)/web/package-lock.json
	@if command -v npm >/dev/null 2>&1 && (cd $(DASH)/web && npm ci --no-audit --no-fund --silent); then \
	  mkdir -p $(DASH)/static/vendor/leaflet/images && \
	  cp $(DASH)/web/node_modules/leaflet/dist/leaflet.js $(DASH)/web/node_modules/leaflet/dist/leaflet.css $(DASH)/web/node_modules/leaflet/LICENSE $(DASH)/static/vendor/leaflet/ && \
	  cp $(DASH)/web/node_modules/leaflet/dist/images/*.png $(DASH)/static/vendor/leaflet/images/ && touch $@; \
	else echo "npm (or the npm registry) not available: using the committed copy of leaflet in $(DASH)/static/vendor"; fi

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

bench: setup
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(BUILD) $(VENV) demo-out
