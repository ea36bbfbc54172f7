# RecLens: `make run` sets up everything and starts the app; `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8501
API_PORT ?= 8000
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install browser build run serve test test-fast screenshots bench clean-artifacts

# Re-installs only when requirements.txt changes (the stamp is newer otherwise).
$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps recbole==1.2.1
	touch $(STAMP)

install: $(STAMP)

# Headless Chromium for the browser test (Debian packages; Playwright drives it, nothing is downloaded).
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver

browser: $(CHROMIUM)

# Train whatever is missing for the embedded dataset, or DATASET=path; MODELS=gpt,bpr for only those
# (progress bars; a no-op when up to date).
comma := ,
build: install
	$(PY) -m recsys build $(if $(DATASET),--dataset $(DATASET)) $(foreach m,$(subst $(comma), ,$(MODELS)),--model $(m))

run: build
	$(PY) -m streamlit run app.py --server.port $(PORT)

# The HTTP API over the same built models (docs at http://127.0.0.1:8000/docs).
serve: build
	$(PY) -m recsys serve --port $(API_PORT)

test: install browser
	$(PY) -m pytest

# The inner loop: everything but the slow, browser and torchrun tests (under a minute on 2 cores).
test-fast: install
	$(PY) -m pytest -m "not slow and not browser and not distributed"

# Screenshots of every page with the models `make build` trained, for the README.
screenshots: build browser
	RECLENS_BROWSER_DATA=$(CURDIR)/data RECLENS_SCREENSHOTS=$(CURDIR)/assets/screenshots \
		$(PY) -m pytest tests/test_browser.py -q

# Every benchmark (hours on 2 cores; run it alone), then the README's tables from the results.
# A subset: make bench ONLY="compress distributed"
bench: install browser
	$(PY) bench/run_all.py $(if $(ONLY),--only $(ONLY))

clean-artifacts:
	rm -rf data/artifacts
