# RecLens: `make run` sets up everything and starts the app; `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8501

.PHONY: install build run test bench clean-artifacts

# Re-installs only when requirements.txt changes (the stamp is newer otherwise).
$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps recbole==1.2.1
	touch $(STAMP)

install: $(STAMP)

# Train whatever is missing for the embedded dataset (progress bars; a no-op when up to date).
build: install
	$(PY) -m recsys build

run: build
	$(PY) -m streamlit run app.py --server.port $(PORT)

test: install
	$(PY) -m pytest

bench: install
	$(PY) bench/run_all.py

clean-artifacts:
	rm -rf data/artifacts
